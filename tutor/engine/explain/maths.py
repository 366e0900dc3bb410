"""Every formula the explanation displays, in one place.

The partials come from the document's ``partials`` (plain) and ``partials_latex``; formulas written as
the learner wrote them (tutor/engine/display.py) replace them here, and only here.
"""

from __future__ import annotations

import sympy as sp

from tutor.engine.explain.blocks import Math
from tutor.engine.numbers import fmt


def latex_name(name: str) -> str:
    """A symbol's name as SymPy writes it in the partials' LaTeX (w_in_1 is w_{in 1}, lambda_ is \\lambda_{}),
    so both sides of an equation name it the same way."""
    return sp.latex(sp.Symbol(name))


def partial_formula(document: dict, name: str) -> str:
    """∂f/∂name as plain text over the learner's names."""
    return document["partials"][name]


def partial(document: dict, name: str) -> Math:
    """∂f/∂name = formula = value (with data: L's partial, the mean over the rows of f's)."""
    value = fmt(document["gradient"][name])
    latex = document["partials_latex"][name]
    if document["graph_row"] is None:
        return Math(
            f"\\frac{{\\partial f}}{{\\partial {latex_name(name)}}} = {latex} = {value}",
            f"∂f/∂{name} = {partial_formula(document, name)} = {value}",
        )
    return Math(
        f"\\frac{{\\partial L}}{{\\partial {latex_name(name)}}} = \\operatorname{{mean}}_{{rows}}"
        f"\\left({latex}\\right) = {value}",
        f"∂L/∂{name} = mean over rows of ({partial_formula(document, name)}) = {value}",
    )


TAYLOR = Math(
    "f(x - \\eta g) - f(x) = -\\eta\\,\\lVert g \\rVert^2 + \\tfrac12 \\eta^2\\, g^\\top H g + O(\\eta^3)",
    "f(x − ηg) − f(x) = −η·‖g‖² + ½·η²·gᵀHg + O(η³)",
)
