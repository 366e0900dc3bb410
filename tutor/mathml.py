"""f, its named parts and its partial derivatives as presentation MathML, which browsers render without
JavaScript: the learner's own notation and the chain rule along the learner's graph (tutor.engine.display).

The markup is written by display's MathML printer from the engine's parsed tree, never from the learner's
raw text: names the parser has checked (ASCII identifiers, escaped all the same), numbers and operators.
That is why pages may mark it safe.

Parsing (with its SymEngine checks) and the chain rule of a large expression take a while, so pages run
``formulas`` in the analysis workers (``Analyzer.run``), under the same time and memory limits as the
question itself.
"""

from __future__ import annotations

from functools import lru_cache

from tutor.config import Limits
from tutor.engine import parse_expression
from tutor.engine.display import Formula, MathMLPrinter
from tutor.engine.display import formulas as written

TOO_LONG = "<mtext>(too long to write out; its value is below)</mtext>"


def math(content: str) -> str:
    return f'<math display="block">{content}</math>'


def _equal(*sides: str) -> str:
    return "<mrow>" + "<mo>=</mo>".join(sides) + "</mrow>"


@lru_cache(maxsize=256)
def formulas(expression: str, parameters: tuple[str, ...], limits: Limits | None = None) -> dict:
    """``{"f": <math>, "definitions": [<math> of "z = …", …], "partials": {name: <math>, …}}``: each
    partial of an updated parameter in chain-rule form (followed by "= the same with every name
    replaced by its definition" where that is short)."""
    parsed = parse_expression(expression, limits or Limits())
    shown = written(parsed.tree, parameters)
    partials = {}
    for name, partial in shown.partials.items():
        full: Formula | None = shown.substituted[name]
        if partial is None:
            partials[name] = math(TOO_LONG)
        else:
            partials[name] = math(_equal(partial.mathml, full.mathml) if full else partial.mathml)
    return {
        "f": math(shown.expression.mathml),
        "definitions": [
            math(_equal(MathMLPrinter().name(name).text, formula.mathml))
            for name, formula in shown.definitions
        ],
        "partials": partials,
    }
