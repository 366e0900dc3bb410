"""f along the step in 50 significant digits, for the changes float64 cannot resolve.

Near f = 1e9, float64 numbers are 1.19e-7 apart, so a change of f smaller than a few of those steps is
rounding, not mathematics (1e9 + x² at x = 0.001 can fall by 1e-6 at most: 8 steps). The analysis then
evaluates φ(η) = f(p − ηg) − f(p) here instead: mpmath at 50 digits over the learner's own tree, each
operation as written (so x/x at x = 0 is undefined here too, as in the graph). Only the few evaluations
the analysis needs run here; the trials stay in float64, as an optimizer would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mpmath
import numpy as np

from tutor.engine.parse import Node

DIGITS = 50


class _Undefined(Exception):
    """The value is not a real number (log of a negative number, 0/0, ...)."""


def _pow(base: mpmath.mpf, exponent: mpmath.mpf) -> mpmath.mpf:
    if base == 0 and exponent < 0:
        raise _Undefined
    if base < 0 and exponent != mpmath.floor(exponent):
        raise _Undefined
    return mpmath.power(base, exponent)


def _div(a: mpmath.mpf, b: mpmath.mpf) -> mpmath.mpf:
    if b == 0:
        raise _Undefined
    return a / b


def _log(a: mpmath.mpf) -> mpmath.mpf:
    if a < 0:
        raise _Undefined
    return mpmath.log(a) if a > 0 else mpmath.ninf  # log 0 is -∞: f falls without bound there


def _sqrt(a: mpmath.mpf) -> mpmath.mpf:
    if a < 0:
        raise _Undefined
    return mpmath.sqrt(a)


# One entry per operation of parse.Node, with the real-valued meaning graph.float_op gives it.
_OPERATIONS: dict[str, Callable[..., mpmath.mpf]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": _div,
    "pow": _pow,
    "neg": lambda a: -a,
    "pos": lambda a: a,
    "exp": mpmath.exp,
    "log": _log,
    "sqrt": _sqrt,
    "sin": mpmath.sin,
    "cos": mpmath.cos,
    "tan": mpmath.tan,
    "tanh": mpmath.tanh,
    "sinh": mpmath.sinh,
    "cosh": mpmath.cosh,
    "atan": mpmath.atan,
    "sigmoid": lambda a: 1 / (1 + mpmath.exp(-a)),
    "softplus": lambda a: mpmath.log1p(mpmath.exp(a)),
    "relu": lambda a: max(a, mpmath.mpf(0)),
    "abs": abs,
    "max": max,
    "min": min,
}


@dataclass(frozen=True)
class _Step:
    op: str
    inputs: tuple[int, ...]  # positions of earlier steps
    symbol: int | None  # for an input: its position in the names
    constant: tuple[int, int] | None  # for a constant: numerator, denominator


def _steps(tree: Node, names: Sequence[str]) -> list[_Step]:
    """The tree in evaluation order (inputs before the operations that use them)."""
    steps: list[_Step] = []
    done: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(tree, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in done:
            continue
        if node.op == "input":
            step = _Step("input", (), names.index(node.name), None)
        elif node.op == "const":
            step = _Step("const", (), None, (node.value.numerator, node.value.denominator))
        elif not expanded:
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.children))
            continue
        else:
            step = _Step(node.op, tuple(done[id(child)] for child in node.children), None, None)
        done[id(node)] = len(steps)
        steps.append(step)
    return steps


class PreciseLoss:
    """The loss at points given in float64, computed at DIGITS significant digits; with data, the mean
    over the rows. None where f has no real value."""

    def __init__(self, tree: Node, names: Sequence[str], data_index: Sequence[int], data: np.ndarray | None):
        self._steps = _steps(tree, list(names))
        self._data_index = [int(i) for i in data_index]
        self._rows = [] if data is None else [[float(v) for v in row] for row in data.T]

    @property
    def cost(self) -> int:
        """Operations per evaluation: what one call of ``loss`` costs, in tree steps."""
        return len(self._steps) * max(1, len(self._rows))

    def loss(self, values: Sequence[mpmath.mpf]) -> mpmath.mpf | None:
        with mpmath.workdps(DIGITS):
            if not self._rows:
                return self._value(values)
            total = mpmath.mpf(0)
            for row in self._rows:
                values = list(values)
                for i, value in zip(self._data_index, row, strict=True):
                    values[i] = mpmath.mpf(value)
                value = self._value(values)
                if value is None:
                    return None
                total += value
            return total / len(self._rows)

    def _value(self, values: Sequence[mpmath.mpf]) -> mpmath.mpf | None:
        results: list[mpmath.mpf] = []
        try:
            for step in self._steps:
                if step.op == "input":
                    results.append(values[step.symbol])
                elif step.op == "const":
                    results.append(mpmath.mpf(step.constant[0]) / step.constant[1])
                else:
                    results.append(_OPERATIONS[step.op](*(results[i] for i in step.inputs)))
        except (_Undefined, ZeroDivisionError, ValueError):
            return None
        value = results[-1]
        return value if isinstance(value, mpmath.mpf) and not mpmath.isnan(value) else None


class PreciseLine:
    """φ(η) = f(p − ηg) − f(p) along a float64 direction, with p, η and g taken as the exact binary
    numbers they are; returned as the nearest float64 (±inf beyond its range, NaN where undefined)."""

    def __init__(self, loss: PreciseLoss, start: np.ndarray, direction: np.ndarray):
        self._loss = loss
        with mpmath.workdps(DIGITS):
            self._start = [mpmath.mpf(float(v)) if np.isfinite(v) else mpmath.mpf(0) for v in start]
            self._direction = [mpmath.mpf(float(v)) for v in direction]
            self.at_start = loss.loss(self._start)

    @property
    def cost(self) -> int:
        return self._loss.cost

    def change(self, rate: float) -> float:
        if self.at_start is None:
            return float("nan")
        with mpmath.workdps(DIGITS):
            eta = mpmath.mpf(rate)
            point = [p - eta * d for p, d in zip(self._start, self._direction, strict=True)]
            value = self._loss.loss(point)
            if value is None:
                return float("nan")
            return float(value - self.at_start)
