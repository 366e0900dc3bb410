"""Formulas for people: f and its partial derivatives as text and LaTeX, through SymEngine.

No number the engine reports comes from here (those come from the code compiled from the tree, see
compiled.py); this is only what a learner reads. SymEngine (SymPy's C++ core) differentiates and
prints in well under a millisecond what SymPy needs tens of milliseconds for, and its automatic
simplification folds the same things SymPy's does (x - x is 0, 1/0 is zoo), which the parser uses to
refuse an operation that is undefined for every value.

SymEngine does not differentiate abs, max and min; their derivatives are written here the way SymPy
writes them: sign(a) for abs, Heaviside(a - b) for max (Heaviside(0) = 1/2, the tutor's convention at
a kink). A formula is left out (None, with a note) when it is too long to read or when printing the
partials runs over its time budget; the numbers never wait for it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

import symengine as se

from tutor.engine.display import latex_name

HEAVISIDE = se.Function("Heaviside")
# A printed partial longer than this is not shown: nobody reads it, and printing it costs.
MAX_FORMULA_CHARACTERS = 2000
# Time for all the partials of one expression; past it the rest are left out with a note.
SECONDS_FOR_FORMULAS = 1.0


def symbol(name: str) -> se.Symbol:
    return se.Symbol(name)


def operation(op: str, args: list[se.Basic]) -> se.Basic:
    """One operation of the parser's tree as a SymEngine expression."""
    match op:
        case "add":
            return args[0] + args[1]
        case "sub":
            return args[0] - args[1]
        case "mul":
            return args[0] * args[1]
        case "div":
            return args[0] / args[1]
        case "pow":
            return args[0] ** args[1]
        case "neg":
            return -args[0]
        case "pos":
            return args[0]
        case "sigmoid":
            return 1 / (1 + se.exp(-args[0]))
        case "softplus":
            return se.log(1 + se.exp(args[0]))
        case "relu":
            return se.Max(0, args[0])
        case "abs":
            return se.Abs(args[0])
        case "max":
            return se.Max(*args)
        case "min":
            return se.Min(*args)
    return _FUNCTIONS[op](*args)


_FUNCTIONS = {
    "exp": se.exp,
    "log": se.log,
    "sqrt": se.sqrt,
    "sin": se.sin,
    "cos": se.cos,
    "tan": se.tan,
    "tanh": se.tanh,
    "sinh": se.sinh,
    "cosh": se.cosh,
    "atan": se.atan,
}

UNDEFINED = (se.zoo, se.oo, -se.oo, se.nan)


def is_undefined(expr: se.Basic) -> bool:
    return any(expr.has(value) for value in UNDEFINED)


def differentiate(expr: se.Basic, name: str) -> se.Basic:
    """∂expr/∂name, with the kinks' derivatives written out (SymEngine leaves them unevaluated)."""
    variable = symbol(name)
    result = expr.diff(variable)
    for _ in range(64):  # each round writes out the outermost unevaluated derivatives
        pending = [d for d in result.atoms(se.Derivative) if d.args[-1] == variable]
        if not pending:
            return result
        result = result.subs({d: _kink_derivative(d.args[0], variable) for d in pending})
    return result


def _kink_derivative(kink: se.Basic, variable: se.Symbol) -> se.Basic:
    """The chain rule through abs, max or min, with the averaged slope at the corner."""
    args = kink.args
    if isinstance(kink, se.Abs):
        return se.sign(args[0]) * args[0].diff(variable)
    if isinstance(kink, se.Max | se.Min):
        total = se.Integer(0)
        for j, arg in enumerate(args):
            slope = se.Integer(1)
            for k, other in enumerate(args):
                if k != j:
                    slope *= HEAVISIDE(arg - other if isinstance(kink, se.Max) else other - arg)
            total += slope * arg.diff(variable)
        return total
    return se.Derivative(kink, variable)  # nothing else is left unevaluated by SymEngine


@dataclass(frozen=True)
class Formulas:
    """The partials of f over some parameters as text and LaTeX (None where left out), and why."""

    text: dict[str, str | None]
    latex: dict[str, str | None]
    note: str | None


def latex(expr: se.Basic) -> str:
    """LaTeX of an expression, each symbol's name exactly as typed (display.latex_name: w_in_1 stays
    w_in_1, where SymPy would write w_{in 1})."""
    names = {s: se.Symbol(latex_name(s.name)) for s in expr.free_symbols}
    return se.latex(expr.xreplace(names) if names else expr)


def text(expr: se.Basic) -> str:
    return str(expr)


@lru_cache(maxsize=256)
def partials(expr: se.Basic, names: tuple[str, ...]) -> Formulas:
    """∂f/∂name for each name as text and LaTeX, within the length and time budgets."""
    started = time.perf_counter()
    texts: dict[str, str | None] = {}
    latexes: dict[str, str | None] = {}
    long, late = [], []
    for name in names:
        if time.perf_counter() - started > SECONDS_FOR_FORMULAS:
            late.append(name)
            texts[name] = latexes[name] = None
            continue
        partial = differentiate(expr, name)
        written = text(partial)
        if len(written) > MAX_FORMULA_CHARACTERS:
            long.append(name)
            texts[name] = latexes[name] = None
            continue
        texts[name], latexes[name] = written, latex(partial)
    notes = []
    if long:
        notes.append(
            f"The formula of ∂f/∂{', ∂f/∂'.join(long)} is longer than {MAX_FORMULA_CHARACTERS} characters, "
            "so it is not shown; its value is."
        )
    if late:
        notes.append(
            f"Writing out the formulas took longer than {SECONDS_FOR_FORMULAS:g} s, so those of "
            f"{', '.join(late)} are not shown; their values are."
        )
    return Formulas(texts, latexes, " ".join(notes) or None)
