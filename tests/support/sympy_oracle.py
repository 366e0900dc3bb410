"""An independent oracle: the parser's checked tree rebuilt as a SymPy expression (SymPy's own
derivatives, lambdify, mpmath at 50 digits). The engine computes its numbers from code generated from the
same tree, and its formulas through SymEngine; neither goes through this."""

from __future__ import annotations

import sympy as sp

from tutor.engine.parse import Node

_SYMPY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "neg": lambda a: -a,
    "pos": lambda a: a,
    "exp": sp.exp,
    "log": sp.log,
    "sqrt": sp.sqrt,
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "tanh": sp.tanh,
    "sinh": sp.sinh,
    "cosh": sp.cosh,
    "atan": sp.atan,
    "sigmoid": lambda a: 1 / (1 + sp.exp(-a)),
    "softplus": lambda a: sp.log(1 + sp.exp(a)),
    "relu": lambda a: sp.Max(0, a),
    "abs": sp.Abs,
    "max": sp.Max,
    "min": sp.Min,
}


def to_sympy(node: Node, symbols: dict[str, sp.Symbol]) -> sp.Expr:
    """The tree as SymPy, over ``symbols`` (name -> SymPy symbol)."""
    if node.op == "input":
        return symbols[node.name]
    if node.op == "const":
        return sp.Rational(node.value.numerator, node.value.denominator)
    return _SYMPY[node.op](*(to_sympy(child, symbols) for child in node.children))
