"""Numbers from SymPy formulas: each formula compiled once with ``lambdify`` (and ``cse``), cached by
its canonical form, so a trial of a thousand steps calls compiled NumPy code instead of ``subs``."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from tutor.engine.parse import Parsed


@dataclass(frozen=True)
class Compiled:
    """f, its gradient and its Hessian for one expression, over ``names`` (all its symbols), and the
    formulas as text and LaTeX: printing SymPy expressions costs more than a whole trial, so each is
    printed once here and reused by every question on the same expression."""

    names: tuple[str, ...]
    partials: tuple[sp.Expr, ...]  # one per name
    partials_text: tuple[str, ...]
    partials_latex: tuple[str, ...]
    _loss: Callable[..., object]
    _loss_and_gradient: Callable[..., Sequence[object]]

    # The scalar forms are what the trials call thousands of times: plain floats, no array set-up and
    # no error-state switching per call. Their callers run under np.errstate(all="ignore") (answer()
    # and every trial do), because NaN and infinity are answers here, not errors to warn about.

    # Arguments stay NumPy scalars: as Python floats, 1/0 and overflow would raise instead of giving
    # infinity, which the trials report as divergence.

    def loss(self, values: np.ndarray) -> float:
        return float(self._loss(*values))

    def loss_and_gradient(self, values: np.ndarray) -> tuple[float, np.ndarray]:
        out = self._loss_and_gradient(*values)
        return float(out[0]), np.array(out[1:], dtype=float)

    def loss_along(self, columns: np.ndarray) -> np.ndarray:
        """f at many points at once: ``columns`` has one row per symbol and one column per point."""
        return self.loss_at(columns)

    def hessian(self, values: np.ndarray, rows: tuple[int, ...]) -> np.ndarray:
        """The Hessian over the symbols at positions ``rows`` (the parameters), in that order."""
        return self.hessian_at(values, rows)

    # The *_at forms take one argument per symbol, each a number or an array; the arrays broadcast
    # (a data column against the rows, a grid of learning rates against the points) and the result
    # has the broadcast shape: the gradient and the Hessian put the symbol axes first.

    def loss_at(self, args: Sequence[object]) -> np.ndarray:
        return _real(_call(self._loss, args), _shape(args))

    def loss_and_gradient_at(self, args: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
        shape = _shape(args)
        out = _call(self._loss_and_gradient, args)
        return _real(out[0], shape), np.array([_real(v, shape) for v in out[1:]])

    def hessian_at(self, args: Sequence[object], rows: tuple[int, ...]) -> np.ndarray:
        shape = _shape(args)
        out = _call(_hessian_function(self, tuple(rows)), args)
        return np.array([[_real(v, shape) for v in row] for row in out])


def _shape(args: Sequence[object]) -> tuple[int, ...]:
    return np.broadcast_shapes(*(np.shape(a) for a in args))


def _call(function: Callable[..., object], args: Sequence[object]) -> object:
    # NaN and infinity are answers here (outside the domain, overflow), not errors to warn about.
    with np.errstate(all="ignore"):
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
def differentiate(expr: sp.Expr, names: tuple[str, ...]) -> tuple[sp.Expr, ...]:
    """∂expr/∂name for each name, symbolically. Cached on its own so that the benchmarks can time
    differentiating apart from compiling."""
    return tuple(sp.diff(expr, sp.Symbol(name, real=True)) for name in names)


@lru_cache(maxsize=256)
def _compile(expr: sp.Expr, names: tuple[str, ...]) -> Compiled:
    # SymPy expressions hash and compare structurally, so equal formulas share one compiled entry.
    symbols = [sp.Symbol(name, real=True) for name in names]
    partials = differentiate(expr, names)
    return Compiled(
        names,
        partials,
        tuple(sp.sstr(partial) for partial in partials),
        tuple(sp.latex(partial) for partial in partials),
        _lambdify(symbols, expr),
        _lambdify(symbols, [expr, *partials]),
    )


@lru_cache(maxsize=256)
def _hessian_function(compiled: Compiled, rows: tuple[int, ...]) -> Callable[..., Sequence[Sequence[object]]]:
    # Only the parameters' rows and columns: differentiating and compiling the data and fixed
    # symbols' second derivatives would be most of the work for a neuron, and none is used.
    symbols = [sp.Symbol(name, real=True) for name in compiled.names]
    matrix = [[_without_delta(sp.diff(compiled.partials[i], symbols[j])) for j in rows] for i in rows]
    return _lambdify(symbols, matrix)


def _without_delta(expr: sp.Expr) -> sp.Expr:
    """The curvature of abs, relu, max and min: 0 off the kink (the kink itself is flagged elsewhere).

    SymPy writes the second derivative of a kink as DiracDelta, which has no numeric value."""
    return expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)


def _lambdify(symbols: list[sp.Symbol], expr: object) -> Callable[..., object]:
    function = sp.lambdify(symbols, expr, modules="numpy", cse=True)
    # The generated code takes the learner's names as its arguments, so a variable called `exp`,
    # `numpy` or `print` would shadow what the code calls. Renaming every symbol (dummify) makes that
    # impossible but costs four times the compile, so it is done only when a name collides.
    # (cse's own temporaries x0, x1, ... already skip names the expression uses.)
    if any(symbol.name in function.__globals__ or symbol.name in _BUILTINS for symbol in symbols):
        function = sp.lambdify(symbols, expr, modules="numpy", cse=True, dummify=True)
    return function


_BUILTINS = frozenset(dir(builtins))
