"""Every formula the explanation displays, in one place.

f's partials are written as the learner would write them (tutor/engine/display.py: names exactly as
typed, σ kept, chain-rule form over named parts of f). A document without ``display`` (saved before it
existed) or a partial too long to write out falls back to SymEngine's formula in ``partials``.
"""

from __future__ import annotations

from tutor.engine import display
from tutor.engine.explain.blocks import Math
from tutor.engine.numbers import fmt

latex_name = display.latex_name


def definitions(document: dict) -> list[Math]:
    """The named parts of f (z = …) that the chain-rule partials are written in."""
    shown = document.get("display")
    return [Math(latex, text) for latex, text in display.equations(shown).definitions] if shown else []


def _formula(document: dict, name: str) -> tuple[str, str] | None:
    """∂f/∂name's right-hand side as (LaTeX, text): the chain-rule form (and the substituted form where
    it is short), else SymEngine's; None when both were too long to write out (special_cases says so)."""
    shown = (document.get("display") or {}).get("partials", {}).get(name)
    if not shown:
        if document["partials"][name] is None:
            return None
        return document["partials_latex"][name], document["partials"][name]
    latex, text = shown["latex"], shown["text"]
    if shown.get("substituted"):
        latex += f" = {shown['substituted']['latex']}"
        text += f" = {shown['substituted']['text']}"
    return latex, text


def partial_formula(document: dict, name: str) -> str:
    """∂f/∂name as plain text over the learner's names."""
    formula = _formula(document, name)
    return "(too long to write out)" if formula is None else formula[1]


def partial(document: dict, name: str) -> Math:
    """∂f/∂name = formula = value (with data: L's partial, the mean over the rows of f's)."""
    value = fmt(document["gradient"][name])
    formula = _formula(document, name)
    if formula is None:  # its value only
        of = "f" if document["graph_row"] is None else "L"
        return Math(
            f"\\frac{{\\partial {of}}}{{\\partial {latex_name(name)}}} = {value}", f"∂{of}/∂{name} = {value}"
        )
    formula_latex, formula_text = formula
    if document["graph_row"] is None:
        return Math(
            f"\\frac{{\\partial f}}{{\\partial {latex_name(name)}}} = {formula_latex} = {value}",
            f"∂f/∂{name} = {formula_text} = {value}",
        )
    return Math(
        f"\\frac{{\\partial L}}{{\\partial {latex_name(name)}}} = \\operatorname{{mean}}_{{rows}}"
        f"\\left({formula_latex}\\right) = {value}",
        f"∂L/∂{name} = mean over rows of ({formula_text}) = {value}",
    )


TAYLOR = Math(
    "f(x - \\eta g) - f(x) = -\\eta\\,\\lVert g \\rVert^2 + \\tfrac12 \\eta^2\\, g^\\top H g + O(\\eta^3)",
    "f(x − ηg) − f(x) = −η·‖g‖² + ½·η²·gᵀHg + O(η³)",
)
