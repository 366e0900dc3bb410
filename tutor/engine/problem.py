"""One checked question made numeric: the compiled functions and where each symbol lives in a vector."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tutor.engine.compiled import Compiled, compile_parsed
from tutor.engine.question import Checked


@dataclass(frozen=True)
class Problem:
    checked: Checked
    compiled: Compiled
    start: np.ndarray  # every symbol's value, in compiled.names order
    parameter_index: np.ndarray  # positions of the updated parameters, in sequential order

    @classmethod
    def from_checked(cls, checked: Checked) -> Problem:
        compiled = compile_parsed(checked.parsed)
        start = np.array([checked.point[name] for name in compiled.names], dtype=float)
        index = np.array([compiled.names.index(name) for name in checked.parameters], dtype=int)
        return cls(checked, compiled, start, index)

    @property
    def parameters(self) -> tuple[str, ...]:
        return self.checked.parameters

    @property
    def learning_rate(self) -> float:
        return float(self.checked.question.learning_rate)

    def point_of(self, values: np.ndarray) -> dict[str, float]:
        """The parameters' values (fixed symbols never change, so they are not repeated per step)."""
        return {name: float(values[i]) for name, i in zip(self.parameters, self.parameter_index, strict=True)}

    def gradient_of(self, gradient: np.ndarray) -> dict[str, float]:
        """The full gradient restricted to the parameters, by name."""
        return {
            name: float(gradient[i]) for name, i in zip(self.parameters, self.parameter_index, strict=True)
        }
