"""One checked question made numeric: the compiled functions, where each symbol lives in a vector, and
the loss the trials lower.

Without data that loss is f itself. With data, f is the loss of one example and the loss is the mean
of f over the table's rows: the compiled per-example function is called once with whole data columns
(NumPy broadcasts the parameters against the rows) and averaged, instead of building a SymPy sum of
one copy of f per row. ``rows`` restricts the mean to some rows: a mini-batch's loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tutor.engine.compiled import Compiled, compile_parsed
from tutor.engine.question import Checked

Rows = Sequence[int] | np.ndarray | None

# Up to this many data rows, each row is evaluated on its own in plain floats (about 60 ns per
# operation) rather than all at once in NumPy (about a microsecond per operation, then a few ns a row).
ROW_BY_ROW = 24
# The most points × rows evaluated in one vectorised call: the generated code keeps one array of that
# size per operation alive, so 65536 (512 kB an array) bounds a 1000-operation graph near 0.5 GB.
CHUNK_ELEMENTS = 65536


@dataclass(frozen=True)
class Problem:
    checked: Checked
    compiled: Compiled
    # Every symbol's value, in compiled.names order; a data column's place holds NaN (its values are
    # the rows), so a value that wrongly stood in for the data would show as undefined, not as a number.
    start: np.ndarray
    parameter_index: np.ndarray  # positions of the updated parameters, in sequential order
    data_index: np.ndarray  # positions of the data columns
    data: np.ndarray | None  # one row per data column, one column per data row

    @classmethod
    def from_checked(cls, checked: Checked) -> Problem:
        compiled = compile_parsed(checked.parsed)
        start = np.array([checked.point.get(name, np.nan) for name in compiled.names], dtype=float)
        index = np.array([compiled.names.index(name) for name in checked.parameters], dtype=int)
        columns = checked.data or {}
        data_index = np.array([compiled.names.index(name) for name in columns], dtype=int)
        data = np.array(list(columns.values()), dtype=float) if columns else None
        return cls(checked, compiled, start, index, data_index, data)

    @property
    def parameters(self) -> tuple[str, ...]:
        return self.checked.parameters

    @property
    def learning_rate(self) -> float:
        return float(self.checked.question.learning_rate)

    @property
    def settings(self) -> dict[str, float]:
        return self.checked.settings

    @property
    def rows(self) -> int:
        return 0 if self.data is None else self.data.shape[1]

    def point_of(self, values: np.ndarray) -> dict[str, float]:
        """The parameters' values (fixed symbols never change, so they are not repeated per step)."""
        return dict(zip(self.parameters, values[self.parameter_index].tolist(), strict=True))

    def gradient_of(self, gradient: np.ndarray) -> dict[str, float]:
        """The full gradient restricted to the parameters, by name."""
        return dict(zip(self.parameters, gradient[self.parameter_index].tolist(), strict=True))

    def _args(self, values: np.ndarray, rows: Rows) -> list[object]:
        """One argument per symbol: the values, with each data column's rows on a new last axis."""
        columns = self.data if rows is None else self.data[:, rows]
        args: list[object] = [value[..., None] for value in values]
        for i, column in zip(self.data_index, columns, strict=True):
            args[i] = column
        return args

    # The loss and its gradient at ``values`` (every symbol, as ``start``); with data, means
    # over the rows (all of them unless ``rows`` picks some).

    def loss(self, values: np.ndarray, rows: Rows = None) -> float:
        if self.data is None:
            return self.compiled.loss(values)
        if self._row_by_row(rows):
            return self.compiled.mean_loss_rows(self._points(values, rows))
        return float(np.mean(self.compiled.loss_at(self._args(values, rows))))

    def row_losses(self, values: np.ndarray, rows: Rows = None) -> np.ndarray:
        """f for each data row on its own."""
        if self._row_by_row(rows):
            return self.compiled.loss_rows(self._points(values, rows))
        return self.compiled.loss_at(self._args(values, rows))

    def loss_and_gradient(self, values: np.ndarray, rows: Rows = None) -> tuple[float, np.ndarray]:
        if self.data is None:
            return self.compiled.loss_and_gradient(values)
        if self._row_by_row(rows):
            return self.compiled.mean_loss_and_gradient_rows(self._points(values, rows))
        loss, gradient = self.compiled.loss_and_gradient_at(self._args(values, rows))
        return float(np.mean(loss)), np.mean(gradient, axis=-1)

    def _row_by_row(self, rows: Rows) -> bool:
        count = self.rows if rows is None else len(rows)
        return count <= ROW_BY_ROW

    def _points(self, values: np.ndarray, rows: Rows) -> np.ndarray:
        """One point per data row: the values, with the row's data in the data columns' places."""
        columns = self.data if rows is None else self.data[:, rows]
        points = np.empty((columns.shape[1], len(values)))
        points[:] = values
        points[:, self.data_index] = columns.T
        return points

    def loss_along(self, columns: np.ndarray) -> np.ndarray:
        """The loss at many points: ``columns`` has one row per symbol and one column per point."""
        if self.data is None:
            return self.compiled.loss_along(columns)
        # Points × rows at once, in chunks: every operation keeps an array of that size alive.
        size = max(1, CHUNK_ELEMENTS // self.rows)
        return np.concatenate(
            [
                np.mean(self.compiled.loss_at(self._args(columns[:, first : first + size], None)), axis=-1)
                for first in range(0, columns.shape[1], size)
            ]
        )

    # Second order, over the parameters: forward-over-reverse through the generated code.

    def hessian_vector(self, values: np.ndarray, direction: np.ndarray) -> np.ndarray:
        """H·d over the parameters, without forming H: ``direction`` and the result are over the
        parameters, in their order (the data and fixed symbols do not move)."""
        return self._hessian_times(values, self._tangents(direction))

    def curvature(self, values: np.ndarray, direction: np.ndarray) -> float:
        """dᵀHd over the parameters: f's second derivative along d (without forming H)."""
        direction = np.asarray(direction, dtype=float)
        return float(direction @ self.hessian_vector(values, direction))

    def hessian(self, values: np.ndarray) -> np.ndarray:
        """Over the parameters only, in their order: H times each unit vector, vectorised (in chunks of
        directions, each direction × data rows at most CHUNK_ELEMENTS)."""
        n = len(self.parameter_index)
        size = max(1, CHUNK_ELEMENTS // max(self.rows, 1))
        return np.concatenate(
            [
                self._hessian_times(values, self._tangents(np.eye(n)[first : first + size], stacked=True))
                for first in range(0, n, size)
            ],
            axis=1,
        )

    def _tangents(self, direction: np.ndarray, stacked: bool = False) -> list[object]:
        """One tangent per symbol: the direction's entries at the parameters, 0 elsewhere. ``stacked``
        directions (one per row) get their own leading axis, broadcast against any data rows."""
        tangents: list[object] = [0.0] * len(self.start)
        for k, i in enumerate(self.parameter_index):
            column = direction[:, k] if stacked else direction[k]
            tangents[i] = column[:, None] if stacked and self.data is not None else column
        return tangents

    def _hessian_times(self, values: np.ndarray, tangents: list[object]) -> np.ndarray:
        if self.data is None:
            args: list[object] = list(values)
        else:
            args = self._args(values, None)
        _, _, product = self.compiled.hessian_vector_at(args, tangents)
        product = product[self.parameter_index]
        return np.mean(product, axis=-1) if self.data is not None else product
