"""Numbers from SymPy formulas: each formula compiled once with ``lambdify`` (and ``cse``), cached by
its canonical form, so a trial of a thousand steps calls compiled NumPy code instead of ``subs``."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from tutor.engine.parse import Parsed


@dataclass(frozen=True)
class Compiled:
    """f, its gradient and its Hessian for one expression, over ``names`` (all its symbols)."""

    names: tuple[str, ...]
    partials: tuple[sp.Expr, ...]  # one per name
    _loss: Callable[..., object]
    _loss_and_gradient: Callable[..., Sequence[object]]
    _hessian_exprs: tuple[tuple[sp.Expr, ...], ...] | None

    # The scalar forms are what the trials call thousands of times: plain floats, no array set-up.

    def loss(self, values: np.ndarray) -> float:
        return _real_number(_call(self._loss, values))

    def loss_along(self, columns: np.ndarray) -> np.ndarray:
        """f at many points at once: ``columns`` has one row per symbol and one column per point."""
        return self.loss_at(columns)

    def loss_and_gradient(self, values: np.ndarray) -> tuple[float, np.ndarray]:
        out = _call(self._loss_and_gradient, values)
        return _real_number(out[0]), np.array([_real_number(v) for v in out[1:]], dtype=float)

    def hessian(self, values: np.ndarray) -> np.ndarray:
        return self.hessian_at(values)

    # The *_at forms take one argument per symbol, each a number or an array; the arrays broadcast
    # (a data column against the rows, a grid of learning rates against the points) and the result
    # has the broadcast shape: the gradient and the Hessian put the symbol axes first.

    def loss_at(self, args: Sequence[object]) -> np.ndarray:
        return _real(_call(self._loss, args), _shape(args))

    def loss_and_gradient_at(self, args: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
        shape = _shape(args)
        out = _call(self._loss_and_gradient, args)
        return _real(out[0], shape), np.array([_real(v, shape) for v in out[1:]])

    def hessian_at(self, args: Sequence[object]) -> np.ndarray:
        shape = _shape(args)
        out = _call(_hessian_function(self), args)
        return np.array([[_real(v, shape) for v in row] for row in out])


def _shape(args: Sequence[object]) -> tuple[int, ...]:
    return np.broadcast_shapes(*(np.shape(a) for a in args))


def _call(function: Callable[..., object], args: Sequence[object]) -> object:
    # NaN and infinity are answers here (outside the domain, overflow), not errors to warn about.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args)


def _real(value: object, shape: tuple[int, ...]) -> np.ndarray:
    """Finite or infinite reals, NaN where the value is complex or undefined, in the given shape."""
    array = np.asarray(value)
    if array.dtype == object:
        array = np.vectorize(_real_number, otypes=[float])(array)
    elif np.iscomplexobj(array):
        array = np.where(array.imag == 0, array.real, np.nan)
    return np.broadcast_to(array.astype(float), shape).copy()


def _real_number(value: object) -> float:
    try:
        number = complex(value)
    except (TypeError, ValueError):
        return float("nan")
    return number.real if number.imag == 0 else float("nan")


def compile_parsed(parsed: Parsed) -> Compiled:
    return _compile(parsed.expr, parsed.symbols)


@lru_cache(maxsize=256)
def _compile(expr: sp.Expr, names: tuple[str, ...]) -> Compiled:
    # SymPy expressions hash and compare structurally, so equal formulas share one compiled entry.
    symbols = [sp.Symbol(name, real=True) for name in names]
    partials = tuple(sp.diff(expr, symbol) for symbol in symbols)
    loss = _lambdify(symbols, expr)
    loss_and_gradient = _lambdify(symbols, [expr, *partials])
    return Compiled(names, partials, loss, loss_and_gradient, None)


@lru_cache(maxsize=256)
def _hessian_function(compiled: Compiled) -> Callable[..., Sequence[Sequence[object]]]:
    symbols = [sp.Symbol(name, real=True) for name in compiled.names]
    rows = [[_without_delta(sp.diff(partial, symbol)) for symbol in symbols] for partial in compiled.partials]
    return _lambdify(symbols, rows)


def _without_delta(expr: sp.Expr) -> sp.Expr:
    """The curvature of abs, relu, max and min: 0 off the kink (the kink itself is flagged elsewhere).

    SymPy writes the second derivative of a kink as DiracDelta, which has no numeric value."""
    return expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)


def _lambdify(symbols: list[sp.Symbol], expr: object) -> Callable[..., object]:
    # dummify: the generated code must not use the learner's names (a variable called `numpy`
    # would otherwise shadow the module inside the generated function).
    return sp.lambdify(symbols, expr, modules="numpy", cse=True, dummify=True)
