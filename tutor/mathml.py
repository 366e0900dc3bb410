"""f and its partial derivatives as presentation MathML, which browsers render without JavaScript.

The expressions come only from the engine's parser and its symbolic partials, never from the
learner's raw text, so the markup holds nothing but what SymPy's printer writes: symbol names the parser
has checked (ASCII identifiers), numbers and operators. That is why pages may mark it safe.

Differentiating can take long on a large expression, so pages run ``formulas`` in the analysis workers
(``Analyzer.run``), under the same time and memory limits as the question itself.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp
from sympy.printing.mathml import mathml

from tutor.config import Limits
from tutor.engine import parse_expression
from tutor.engine.symbolic import differentiate, partials, to_sympy


def to_mathml(expr: sp.Expr) -> str:
    return f'<math display="block">{mathml(expr, printer="presentation")}</math>'


@lru_cache(maxsize=256)
def formulas(expression: str, parameters: tuple[str, ...], limits: Limits | None = None) -> dict[str, str]:
    """``{"f": <math>, name: <math> of ∂f/∂name, ...}`` for each updated parameter."""
    parsed = parse_expression(expression, limits or Limits())
    result = {"f": to_mathml(to_sympy(parsed.symbolic))}
    shown = partials(parsed.symbolic, parameters).text
    for name in parameters:
        # A formula too long to read is left out here as in the document (its value is on the page).
        result[name] = (
            "" if shown[name] is None else to_mathml(to_sympy(differentiate(parsed.symbolic, name)))
        )
    return result
