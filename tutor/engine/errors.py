"""Errors the engine raises for input it will not work on."""

from __future__ import annotations


class InputError(ValueError):
    """The question cannot be answered as asked.

    ``field`` names the input at fault (expression, point, learning_rate, steps, fixed, order, methods,
    settings, data, batch_size, shuffle_seed); ``column`` is the 1-based column in that field's text when there is one. The
    message is a single line a learner can act on.
    """

    def __init__(self, message: str, field: str = "expression", column: int | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.column = column

    def __str__(self) -> str:
        where = f" (column {self.column})" if self.column is not None else ""
        return f"{self.field}: {self.message}{where}"

    # Worker processes send errors back by pickling them; keep the extra attributes.
    def __reduce__(self):
        return (type(self), (self.message, self.field, self.column))


class TooExpensive(InputError):
    """The question needed more time or memory than one question may use."""
