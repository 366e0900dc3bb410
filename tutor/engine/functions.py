"""The functions a learner may call, in one table: arity, SymPy form, float value and local slopes.

The SymPy form is used for the symbolic partials; the float value and slopes are used by the
backprop walk (graph.py), which computes the same gradients a second, independent way. At a kink
(abs or relu at 0, max/min at a tie) both use the average of the one-sided slopes, which is also what
SymPy's Heaviside(0) = 1/2 gives, so the two methods agree everywhere they are defined.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

NAN = float("nan")


def _guard(fn: Callable[..., float]) -> Callable[..., float]:
    """Float maths that returns NaN (not real / undefined) or ±inf (overflow) instead of raising."""

    def guarded(*args: float) -> float:
        try:
            value = fn(*args)
        except OverflowError:
            return math.inf
        except (ValueError, ZeroDivisionError):
            return NAN
        return value if isinstance(value, float) else NAN if isinstance(value, complex) else float(value)

    return guarded


def _sigmoid(a: float) -> float:
    # Written to avoid overflow in exp for large |a|.
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def _softplus(a: float) -> float:
    return max(a, 0.0) + math.log1p(math.exp(-abs(a)))


def _step(a: float) -> float:
    """Slope of relu: 1 above 0, 0 below, 1/2 at the kink."""
    return 1.0 if a > 0 else 0.0 if a < 0 else 0.5


def _sign(a: float) -> float:
    return 1.0 if a > 0 else -1.0 if a < 0 else 0.0 if a == 0 else NAN


@dataclass(frozen=True)
class Function:
    name: str
    arity: int
    sympy: Callable[..., sp.Expr]
    value: Callable[..., float]
    # (inputs..., output) -> one local slope per input
    slopes: Callable[..., tuple[float, ...]]
    # input values at which the function has a kink (not differentiable)
    kink: Callable[..., bool] = lambda *args: False


def _table() -> dict[str, Function]:
    fns = [
        Function("exp", 1, sp.exp, math.exp, lambda a, out: (out,)),
        Function("log", 1, sp.log, math.log, lambda a, out: (1.0 / a,)),
        Function("sqrt", 1, sp.sqrt, math.sqrt, lambda a, out: (0.5 / out,)),
        Function("sin", 1, sp.sin, math.sin, lambda a, out: (math.cos(a),)),
        Function("cos", 1, sp.cos, math.cos, lambda a, out: (-math.sin(a),)),
        Function("tan", 1, sp.tan, math.tan, lambda a, out: (1.0 + out * out,)),
        Function("tanh", 1, sp.tanh, math.tanh, lambda a, out: (1.0 - out * out,)),
        Function("sinh", 1, sp.sinh, math.sinh, lambda a, out: (math.cosh(a),)),
        Function("cosh", 1, sp.cosh, math.cosh, lambda a, out: (math.sinh(a),)),
        Function("atan", 1, sp.atan, math.atan, lambda a, out: (1.0 / (1.0 + a * a),)),
        Function("sigmoid", 1, lambda a: 1 / (1 + sp.exp(-a)), _sigmoid, lambda a, out: (out * (1.0 - out),)),
        Function("softplus", 1, lambda a: sp.log(1 + sp.exp(a)), _softplus, lambda a, out: (_sigmoid(a),)),
        Function(
            "relu",
            1,
            lambda a: sp.Max(0, a),
            lambda a: max(a, 0.0),
            lambda a, out: (_step(a),),
            kink=lambda a: a == 0,
        ),
        Function("abs", 1, sp.Abs, abs, lambda a, out: (_sign(a),), kink=lambda a: a == 0),
        Function(
            "max",
            2,
            sp.Max,
            max,
            lambda a, b, out: (_step(a - b), _step(b - a)),
            kink=lambda a, b: a == b,
        ),
        Function(
            "min",
            2,
            sp.Min,
            min,
            lambda a, b, out: (_step(b - a), _step(a - b)),
            kink=lambda a, b: a == b,
        ),
    ]
    return {
        f.name: Function(f.name, f.arity, f.sympy, _guard(f.value), _guard_slopes(f.slopes), f.kink)
        for f in fns
    }


def _guard_slopes(fn: Callable[..., tuple[float, ...]]) -> Callable[..., tuple[float, ...]]:
    def guarded(*args: float) -> tuple[float, ...]:
        try:
            return tuple(float(s) for s in fn(*args))
        except (OverflowError, ValueError, ZeroDivisionError):
            return tuple(NAN for _ in args[:-1])

    return guarded


FUNCTIONS: dict[str, Function] = _table()
# Other names learners write for the same functions: ln(x) is log(x) (the node is a log node).
ALIASES = {"ln": "log", "arctan": "atan"}
FUNCTIONS.update({alias: FUNCTIONS[name] for alias, name in ALIASES.items()})
