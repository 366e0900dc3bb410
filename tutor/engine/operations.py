"""How each operation computes in floats: its value, its local slopes and how those slopes change.

One table serves every numeric path: the parser folds constant sub-expressions with it, the backprop
walk (graph.py) steps through the learner's graph with it, and the code generator (compiled.py) writes
straight-line Python from it. Each entry is a template of Python source over a few helper names; the
same source runs on plain floats (``SCALAR``, the trials' hot loop) and on NumPy arrays (``ARRAY``,
data rows and grids of learning rates).

The semantics are IEEE float64 (NumPy's): NaN where a value is not a real number (sqrt or log of a
negative, a fractional power of a negative base, 0/0), ±inf on overflow and for a nonzero number over
0 (log(0) is -inf). Plain floats raise instead (ZeroDivisionError, OverflowError, ValueError), so a
scalar evaluation that raises is done again with NumPy, whose answer is the one that counts.

At a kink (abs and relu at 0, max and min at a tie) the slope is the average of the one-sided slopes,
as SymPy's Heaviside(0) = 1/2 gives, and its own slope (the curvature) is 0, dropping SymPy's DiracDelta.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

NAN = math.nan

# Template placeholders: {0} and {1} the arguments, {out} the value, {s0} and {s1} the slopes.


@dataclass(frozen=True)
class Operation:
    arity: int
    value: str
    # d(value)/d(argument j), one per argument
    slopes: tuple[str, ...]
    # How slope j changes: a sum of (coefficient, which tangent) where the tangent is "d0", "d1"
    # (the arguments') or "dout" (the value's). No term: the slope is constant (or a kink's step).
    slope_changes: tuple[tuple[tuple[str, str], ...], ...]


def _unary(value: str, slope: str, *change: tuple[str, str]) -> Operation:
    return Operation(1, value, (slope,), (tuple(change),))


OPERATIONS: dict[str, Operation] = {
    "add": Operation(2, "{0} + {1}", ("1.0", "1.0"), ((), ())),
    "sub": Operation(2, "{0} - {1}", ("1.0", "-1.0"), ((), ())),
    "mul": Operation(2, "{0} * {1}", ("{1}", "{0}"), ((("1.0", "d1"),), (("1.0", "d0"),))),
    "div": Operation(
        2,
        "{0} / {1}",
        ("1.0 / {1}", "-{0} / ({1} * {1})"),
        ((("-{s0} * {s0}", "d1"),), (("-{s0} * {s0}", "d0"), ("-2.0 * {s1} * {s0}", "d1"))),
    ),
    # A power whose exponent varies; a constant exponent is written by power_by_constant below.
    "pow": Operation(
        2,
        "power({0}, {1})",
        ("power_base_slope({0}, {1})", "power_exponent_slope({0}, {1}, {out})"),
        (
            (("power_base_curvature({0}, {1})", "d0"), ("power_cross({0}, {1})", "d1")),
            (("power_cross({0}, {1})", "d0"), ("{s1} * log_or_nan({0})", "d1")),
        ),
    ),
    "neg": _unary("-{0}", "-1.0"),
    "pos": _unary("{0}", "1.0"),
    "exp": _unary("exp({0})", "{out}", ("1.0", "dout")),
    "log": _unary("log({0})", "1.0 / {0}", ("-{s0} * {s0}", "d0")),
    "sqrt": _unary("sqrt({0})", "0.5 / {out}", ("-{s0} / {out}", "dout")),
    "sin": _unary("sin({0})", "cos({0})", ("-{out}", "d0")),
    "cos": _unary("cos({0})", "-sin({0})", ("-{out}", "d0")),
    "tan": _unary("tan({0})", "1.0 + {out} * {out}", ("2.0 * {out}", "dout")),
    "tanh": _unary("tanh({0})", "1.0 - {out} * {out}", ("-2.0 * {out}", "dout")),
    "sinh": _unary("sinh({0})", "cosh({0})", ("{out}", "d0")),
    "cosh": _unary("cosh({0})", "sinh({0})", ("{out}", "d0")),
    "atan": _unary("atan({0})", "1.0 / (1.0 + {0} * {0})", ("-2.0 * {0} * {s0} * {s0}", "d0")),
    "sigmoid": _unary("sigmoid({0})", "{out} * (1.0 - {out})", ("1.0 - 2.0 * {out}", "dout")),
    "softplus": _unary("softplus({0})", "sigmoid({0})", ("{s0} * (1.0 - {s0})", "d0")),
    "relu": _unary("relu({0})", "step({0})"),
    "abs": _unary("abs({0})", "sign({0})"),
    "max": Operation(2, "maximum({0}, {1})", ("step({0} - {1})", "step({1} - {0})"), ((), ())),
    "min": Operation(2, "minimum({0}, {1})", ("step({1} - {0})", "step({0} - {1})"), ((), ())),
}


def power_by_constant(exponent: float) -> Operation:
    """x**c for a constant c: its exponent gets no gradient (constants never do), so only the base's
    slope is written, and the common squares without a pow call."""
    c = repr(float(exponent))
    if exponent == 2:
        return Operation(2, "{0} * {0}", ("2.0 * {0}", "0.0"), ((("2.0", "d0"),), ()))
    if exponent == 1:
        return Operation(2, "power({0}, 1.0)", ("1.0", "0.0"), ((), ()))
    if exponent == 0:
        return Operation(2, "power({0}, 0.0)", ("0.0", "0.0"), ((), ()))
    curvature = f"{repr(exponent * (exponent - 1))} * power({{0}}, {repr(exponent - 2)})"
    return Operation(
        2,
        f"power({{0}}, {c})",
        (f"{c} * power({{0}}, {repr(exponent - 1)})", "0.0"),
        (((curvature, "d0"),), ()),
    )


# ---------------------------------------------------------------------------------------------------
# The helpers the templates call, for plain floats and for NumPy arrays. Plain-float helpers raise
# where the float maths is exceptional; the caller then redoes the evaluation with the array ones.


def _sigmoid(a: float) -> float:
    # Written to avoid overflow in exp for large |a|.
    e = math.exp(-abs(a))
    return 1.0 / (1.0 + e) if a >= 0.0 else e / (1.0 + e)


def _softplus(a: float) -> float:
    return (a if a > 0.0 else 0.0) + math.log1p(math.exp(-abs(a)))


def _relu(a: float) -> float:
    return a if a > 0.0 else 0.0 if a <= 0.0 else a  # NaN stays NaN


def _step(a: float) -> float:
    """The slope of relu: 1 above 0, 0 below, 1/2 at the kink."""
    return 1.0 if a > 0.0 else 0.0 if a < 0.0 else 0.5 if a == 0.0 else NAN


def _sign(a: float) -> float:
    """The slope of abs: the average of -1 and 1 at the kink is 0."""
    return 1.0 if a > 0.0 else -1.0 if a < 0.0 else 0.0 if a == 0.0 else NAN


def _maximum(a: float, b: float) -> float:
    return a if a > b else b if b > a else a if a == b else NAN


def _minimum(a: float, b: float) -> float:
    return a if a < b else b if b < a else a if a == b else NAN


def _power_base_slope(a: float, b: float) -> float:
    return b * math.pow(a, b - 1.0) if b != 0.0 else 0.0


def _power_exponent_slope(a: float, b: float, out: float) -> float:
    # out·log(a); at a = 0 the power is 0 on one side for b > 0, so the slope is 0; below 0 not real.
    return out * math.log(a) if a > 0.0 else 0.0 if a == 0.0 and b > 0.0 else NAN


def _power_base_curvature(a: float, b: float) -> float:
    return b * (b - 1.0) * math.pow(a, b - 2.0) if b != 0.0 and b != 1.0 else 0.0


def _power_cross(a: float, b: float) -> float:
    """d²(a**b)/da db = a**(b-1)·(1 + b·log a)."""
    return math.pow(a, b - 1.0) * (1.0 + b * math.log(a)) if a > 0.0 else NAN


def _log_or_nan(a: float) -> float:
    return math.log(a) if a > 0.0 else NAN


def _array_sigmoid(a):
    e = np.exp(-np.abs(a))
    return np.where(a >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def _array_softplus(a):
    return np.maximum(a, 0.0) + np.log1p(np.exp(-np.abs(a)))


def _array_step(a):
    return np.where(a > 0.0, 1.0, np.where(a < 0.0, 0.0, np.where(a == 0.0, 0.5, np.nan)))


def _array_sign(a):
    return np.sign(a) + 0.0  # NaN stays NaN; 0 at the kink


def _array_power_base_slope(a, b):
    return np.where(b != 0.0, b * np.power(a, b - 1.0), 0.0)


def _array_power_exponent_slope(a, b, out):
    return np.where(a > 0.0, out * np.log(a), np.where((a == 0.0) & (b > 0.0), 0.0, np.nan))


def _array_power_base_curvature(a, b):
    return np.where((b != 0.0) & (b != 1.0), b * (b - 1.0) * np.power(a, b - 2.0), 0.0)


def _array_power_cross(a, b):
    return np.where(a > 0.0, np.power(a, b - 1.0) * (1.0 + b * np.log(a)), np.nan)


def _array_log_or_nan(a):
    return np.where(a > 0.0, np.log(a), np.nan)


SCALAR: dict[str, object] = {
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "tanh": math.tanh,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "atan": math.atan,
    "power": math.pow,
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "relu": _relu,
    "step": _step,
    "sign": _sign,
    "maximum": _maximum,
    "minimum": _minimum,
    "power_base_slope": _power_base_slope,
    "power_exponent_slope": _power_exponent_slope,
    "power_base_curvature": _power_base_curvature,
    "power_cross": _power_cross,
    "log_or_nan": _log_or_nan,
    "NAN": NAN,
}

ARRAY: dict[str, object] = {
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "tanh": np.tanh,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "atan": np.arctan,
    "power": np.power,
    "abs": np.abs,
    "sigmoid": _array_sigmoid,
    "softplus": _array_softplus,
    "relu": lambda a: np.maximum(a, 0.0),
    "step": _array_step,
    "sign": _array_sign,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "power_base_slope": _array_power_base_slope,
    "power_exponent_slope": _array_power_exponent_slope,
    "power_base_curvature": _array_power_base_curvature,
    "power_cross": _array_power_cross,
    "log_or_nan": _array_log_or_nan,
    "NAN": NAN,
}

# What plain floats raise where NumPy gives NaN or ±inf.
FLOAT_EXCEPTIONS = (ArithmeticError, ValueError)


def _fill(template: str, args: list[str], **named: str) -> str:
    return template.format(*args, **named)


def _compiled(operation: Operation) -> tuple[Callable[..., float], Callable[..., tuple[float, ...]]]:
    """The value and the slopes of one operation as functions on floats, from its templates."""
    args = [f"a{j}" for j in range(operation.arity)]
    value = f"lambda {', '.join(args)}: {_fill(operation.value, args)}"
    slopes = ", ".join(_fill(s, args, out="out") for s in operation.slopes)
    slope = f"lambda {', '.join(args)}, out: ({slopes},)"
    pair = []
    for namespace in (SCALAR, ARRAY):
        pair.append((eval(value, dict(namespace)), eval(slope, dict(namespace))))  # noqa: S307 - our templates
    (scalar_value, scalar_slopes), (array_value, array_slopes) = pair

    def value_of(*values: float) -> float:
        try:
            return float(scalar_value(*values))
        except FLOAT_EXCEPTIONS:
            with np.errstate(all="ignore"):
                return float(array_value(*map(np.float64, values)))

    def slopes_of(*values: float) -> tuple[float, ...]:
        try:
            return tuple(float(s) for s in scalar_slopes(*values))
        except FLOAT_EXCEPTIONS:
            with np.errstate(all="ignore"):
                return tuple(float(s) for s in array_slopes(*map(np.float64, values)))

    return value_of, slopes_of


_FLOAT = {op: _compiled(operation) for op, operation in OPERATIONS.items()}


def float_op(op: str, args: list[float]) -> float:
    """The value of one operation in floats: NaN where it is not a real number, ±inf on overflow."""
    return _FLOAT[op][0](*args)


def local_slopes(op: str, args: list[float], out: float) -> tuple[float, ...]:
    """d(out)/d(arg) for each argument of one operation, at ``args`` where it computed ``out``."""
    return _FLOAT[op][1](*args, out)
