"""The question a learner asks, and its validation against the expression and the limits."""

from __future__ import annotations

import csv
import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tutor.config import Limits
from tutor.engine.errors import InputError
from tutor.engine.latex import is_latex, name_as_read
from tutor.engine.parse import Parsed, check_name

BASIC_METHODS = ("simultaneous", "sequential")

# Every trial the engine can run (trials.TRIALS implements each), with what it does in one line.
METHODS = {
    "simultaneous": "gradient descent: every parameter moves at once along −g (with data: full batch)",
    "sequential": "one parameter at a time, each partial recomputed at the partly updated point",
    "momentum": "heavy ball, as torch.optim.SGD(momentum=μ): v ← μv + g, p ← p − ηv",
    "nesterov": "as torch.optim.SGD(momentum=μ, nesterov=True): v ← μv + g, p ← p − η(g + μv)",
    "adam": "as torch.optim.Adam: running means of g and g², bias-corrected",
    "rmsprop": "as torch.optim.RMSprop: g divided by the root of a running mean of g²",
    "minibatch": "gradient descent on one batch of data rows per step (needs data and a batch size)",
}

# name: (default, lowest allowed, first value not allowed), the defaults and ranges of torch.optim.
SETTINGS = {
    "momentum": (0.9, 0.0, 1.0),
    "beta1": (0.9, 0.0, 1.0),
    "beta2": (0.999, 0.0, 1.0),
    "alpha": (0.99, 0.0, 1.0),
    "eps": (1e-8, 0.0, math.inf),
}


@dataclass(frozen=True)
class Question:
    expression: str
    point: Mapping[str, float]
    learning_rate: float
    steps: int = 1
    fixed: tuple[str, ...] = ()
    order: tuple[str, ...] | None = None
    methods: tuple[str, ...] = BASIC_METHODS
    # Settings of the optimizer trials by name (see SETTINGS); the ones left out take torch's defaults.
    settings: Mapping[str, float] = field(default_factory=dict)
    # A table of data rows {column: values}; each column is a symbol of the expression, which is then
    # the loss of one example, and the loss the trials lower is the mean over the rows.
    data: Mapping[str, Sequence[float]] | None = None
    batch_size: int | None = None  # rows per step of the minibatch trial
    shuffle_seed: int | None = None  # shuffle the rows each epoch (numpy.random.default_rng(seed))


def question_from_input(given: Mapping[str, Any], **changes: Any) -> Question:
    """The Question a saved ``document["input"]`` was asked as, with ``changes`` applied.

    Keys the Question does not know are left out, so cases saved by an older or newer engine replay
    with whatever both understand.
    """
    known = {f.name for f in dataclasses.fields(Question)}
    values = {name: value for name, value in given.items() if name in known}
    for name in ("fixed", "order", "methods"):
        if values.get(name) is not None:
            values[name] = tuple(values[name])
    values.update(changes)
    return Question(**values)


@dataclass(frozen=True)
class Checked:
    """A question that passed every check, with its parsed expression."""

    question: Question
    parsed: Parsed
    point: dict[str, float]  # every symbol of the expression except the data columns
    parameters: tuple[str, ...]  # the symbols that are updated, in sequential order
    fixed: tuple[str, ...]
    methods: tuple[str, ...]  # the trials to run, minibatch included when there is a batch size
    settings: dict[str, float]  # every setting, the learner's values over the defaults
    data: dict[str, list[float]] | None  # columns in the order given
    batch_size: int | None
    shuffle_seed: int | None


def default_order(point: Mapping[str, float], fixed: Sequence[str]) -> tuple[str, ...]:
    """The parameters, in the order of the point: the sequential order when the question gives none."""
    return tuple(name for name in point if name not in fixed)


def check_question(question: Question, parsed: Parsed, limits: Limits) -> Checked:
    data = _check_data(question.data, parsed, limits)
    point = _check_point(question.point, parsed, limits, data or {})
    rate = question.learning_rate
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate) or rate <= 0:
        raise InputError("the learning rate must be a positive number", "learning_rate")
    if rate < limits.min_learning_rate:
        raise InputError(f"the learning rate must be at least {limits.min_learning_rate:g}", "learning_rate")
    if rate > limits.max_learning_rate:
        raise InputError(f"the learning rate may be at most {limits.max_learning_rate:g}", "learning_rate")
    steps = question.steps
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= limits.max_steps:
        raise InputError(f"steps must be a whole number from 1 to {limits.max_steps}", "steps")

    fixed = tuple(question.fixed)
    for name in fixed:
        if data and name in data:
            raise InputError(f"'{name}' is a data column: it is never updated anyway", "fixed")
        if name not in point:
            raise InputError(f"'{name}' is held fixed but is not in the expression", "fixed")
    if len(set(fixed)) != len(fixed):
        raise InputError("a symbol is listed twice", "fixed")
    free = default_order(point, fixed)
    if not free:
        if data:
            raise InputError("every symbol is fixed or a data column: nothing is left to update", "point")
        raise InputError("every symbol is fixed: nothing is left to update", "fixed")

    if question.order is None:
        order = free
    else:
        order = tuple(question.order)
        for name in order:
            if name not in free:
                why = (
                    "is held fixed"
                    if name in fixed
                    else "is a data column"
                    if data and name in data
                    else "is not in the expression"
                )
                raise InputError(f"'{name}' {why}", "order")
        missing = [name for name in free if name not in order]
        if len(set(order)) != len(order):
            raise InputError("a parameter is listed twice", "order")
        if missing:
            raise InputError(f"the order leaves out {', '.join(missing)}", "order")

    batch_size, shuffle_seed = _check_batches(question, data)
    methods = _check_methods(question.methods, batch_size)
    settings = _check_settings(question.settings)
    return Checked(question, parsed, point, order, fixed, methods, settings, data, batch_size, shuffle_seed)


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def _is_whole(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int)


def _check_methods(methods: Sequence[str], batch_size: int | None) -> tuple[str, ...]:
    if isinstance(methods, str) or not isinstance(methods, Sequence):
        raise InputError("the methods must be a list of names", "methods")
    methods = tuple(methods)
    for method in methods:
        if not isinstance(method, str) or method not in METHODS:
            raise InputError(f"unknown method '{str(method)[:20]}' (known: {', '.join(METHODS)})", "methods")
    if len(set(methods)) != len(methods):
        raise InputError("a method is listed twice", "methods")
    if "minibatch" in methods and batch_size is None:
        raise InputError("the minibatch trial needs data and a batch size", "methods")
    if batch_size is not None and "minibatch" not in methods:
        methods += ("minibatch",)
    if not methods:
        raise InputError("choose at least one method", "methods")
    return methods


def _check_settings(settings: Mapping[str, float]) -> dict[str, float]:
    if not isinstance(settings, Mapping):
        raise InputError("the settings must map each name to a number", "settings")
    checked = {name: default for name, (default, _, _) in SETTINGS.items()}
    for name, value in settings.items():
        if name not in SETTINGS:
            raise InputError(f"unknown setting '{str(name)[:20]}' (known: {', '.join(SETTINGS)})", "settings")
        _, low, high = SETTINGS[name]
        if not _is_number(value) or not math.isfinite(value):
            raise InputError(f"the setting {name} must be a finite number", "settings")
        # eps is a divisor's floor: it must be positive; the rates may be 0 but not 1 or more.
        if not (low < value if name == "eps" else low <= value) or not value < high:
            allowed = "more than 0" if name == "eps" else f"from {low:g} up to but not including {high:g}"
            raise InputError(f"the setting {name} must be {allowed}", "settings")
        checked[name] = float(value)
    return checked


def _check_data(
    data: Mapping[str, Sequence[float]] | None, parsed: Parsed, limits: Limits
) -> dict[str, list[float]] | None:
    if data is None:
        return None
    if not isinstance(data, Mapping) or not data:
        raise InputError("the data must map each column name to a list of numbers", "data")
    columns: dict[str, list[float]] = {}
    for name, values in data.items():
        check_name(str(name), limits, "data")
        if name not in parsed.symbols:
            raise InputError(f"the column '{name}' is not a symbol of the expression", "data")
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise InputError(f"the column '{name}' must be a list of numbers", "data")
        if not 1 <= len(values) <= limits.max_data_rows:
            raise InputError(f"the data must have from 1 to {limits.max_data_rows} rows", "data")
        for row, value in enumerate(values):
            if not _is_number(value) or not math.isfinite(value) or abs(value) > limits.max_abs_value:
                raise InputError(
                    f"row {row} of column '{name}' must be a finite number of size at most "
                    f"{limits.max_abs_value:g}",
                    "data",
                )
        columns[name] = [float(value) for value in values]
    if len({len(values) for values in columns.values()}) > 1:
        raise InputError("every data column must have the same number of rows", "data")
    return columns


def _check_batches(question: Question, data: dict[str, list[float]] | None) -> tuple[int | None, int | None]:
    batch_size, seed = question.batch_size, question.shuffle_seed
    if batch_size is not None:
        if data is None:
            raise InputError("a batch size needs data to take the batches from", "batch_size")
        rows = len(next(iter(data.values())))
        if not _is_whole(batch_size) or not 1 <= batch_size <= rows:
            raise InputError(
                f"the batch size must be a whole number from 1 to {rows} (the rows)", "batch_size"
            )
    if seed is not None:
        if batch_size is None:
            raise InputError("shuffling needs a batch size: only the minibatch trial uses it", "shuffle_seed")
        if not _is_whole(seed) or not 0 <= seed < 2**63:
            raise InputError("the shuffle seed must be a whole number, 0 or more", "shuffle_seed")
    return batch_size, seed


def _check_point(
    point: Mapping[str, float], parsed: Parsed, limits: Limits, data: Mapping[str, list[float]]
) -> dict[str, float]:
    if not isinstance(point, Mapping):
        raise InputError("the point must map each variable to a number", "point")
    values: dict[str, float] = {}
    for name, value in point.items():
        check_name(str(name), limits)
        if name not in parsed.symbols:
            raise InputError(f"'{name}' is not in the expression", "point")
        if name in data:
            raise InputError(f"'{name}' is a data column: its values come from the data", "point")
        if not _is_number(value) or not math.isfinite(value):
            raise InputError(f"the value of '{name}' must be a finite number", "point")
        if abs(value) > limits.max_abs_value:
            raise InputError(f"the value of '{name}' is larger than {limits.max_abs_value:g}", "point")
        values[name] = float(value)
    missing = [name for name in parsed.symbols if name not in values and name not in data]
    if missing:
        raise InputError(f"give a value for {', '.join(missing)}", "point")
    return values


_ASSIGNMENT = re.compile(r"\s*([^=,;\s]+)\s*=\s*([^,;\s]+)\s*")


def parse_point(text: str) -> dict[str, float]:
    """``"x=-2, y=5, z=-4"`` (commas, semicolons or spaces between) into ``{"x": -2.0, ...}``."""
    point: dict[str, float] = {}
    position = 0
    text = text or ""
    while position < len(text):
        if text[position] in ",; \t\n\r":
            position += 1
            continue
        match = _ASSIGNMENT.match(text, position)
        if not match:
            if _decimal_comma_before(text, position):
                raise InputError("use a point as the decimal separator (w=0.5, not w=0,5)", "point", position)
            raise InputError("write the point as name=value pairs, e.g. x=-2, y=5", "point", position + 1)
        name, raw = match.group(1), match.group(2)
        try:
            value = float(raw)
        except ValueError:
            raise InputError(f"'{raw}' is not a number", "point", match.start(2) + 1) from None
        if name in point:
            raise InputError(f"'{name}' is given twice", "point", match.start(1) + 1)
        point[name] = value
        position = match.end()
    if not point:
        raise InputError("give a value for every variable, e.g. x=-2, y=5", "point")
    return point


def _decimal_comma_before(text: str, position: int) -> bool:
    """Whether the digits at ``position`` follow a comma right after a digit: "w=0,5" read as w=0 and 5."""
    return (
        position >= 2
        and text[position].isdigit()
        and text[position - 1] == ","
        and text[position - 2].isdigit()
    )


def parse_names(text: str | Sequence[str] | None, field: str) -> tuple[str, ...]:
    """``"z, y, x"`` into ``("z", "y", "x")``."""
    if text is None:
        return ()
    items = text if not isinstance(text, str) else re.split(r"[,;\s]+", text)
    names = tuple(item.strip() for item in items if item and item.strip())
    for name in names:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InputError(f"'{name[:20]}' is not a variable name", field)
    return names


def parse_number(text: str | float, field: str, kind: type = float) -> float:
    try:
        value = kind(str(text).strip())
    except (TypeError, ValueError):
        if re.fullmatch(r"\s*[-+]?\d+,\d+\s*", str(text)):
            raise InputError("use a point as the decimal separator (0.01, not 0,01)", field) from None
        what = "whole number" if kind is int else "number"
        raise InputError(f"'{str(text)[:20]}' is not a {what}", field) from None
    return value


def parse_data(text: str) -> dict[str, list[float]]:
    """CSV text with a header of symbol names, one data row per line, into ``{column: values}``."""
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise InputError("the data is empty: write a header of symbol names, then one row per line", "data")
    header = [name.strip() for name in next(csv.reader([lines[0][1]]))]
    if len(set(header)) != len(header):
        raise InputError("a column name is given twice in the header", "data")
    columns: dict[str, list[float]] = {name: [] for name in header}
    for number, line in lines[1:]:
        cells = next(csv.reader([line]))
        if len(cells) != len(header):
            raise InputError(
                f"line {number} has {len(cells)} values but the header has {len(header)}", "data"
            )
        for name, cell in zip(header, cells, strict=True):
            try:
                columns[name].append(float(cell))
            except ValueError:
                raise InputError(f"'{cell.strip()[:20]}' in line {number} is not a number", "data") from None
    return columns


def question_from_text(
    expression: str,
    point: str,
    learning_rate: str,
    steps: str = "",
    fixed: str = "",
    order: str = "",
    methods: str = "",
    *,
    settings: Mapping[str, str] | None = None,
    data: str = "",
    batch_size: str = "",
    shuffle_seed: str = "",
) -> Question:
    """The question from the text fields of the web form or the command line. ``settings`` maps a
    setting's name to its text (empty text: the default); ``data`` is CSV text (see parse_data). With a
    LaTeX expression the variables may be named as in it (see with_latex_names)."""
    names = parse_names(methods, "methods")
    question = Question(
        expression=expression,
        point=parse_point(point),
        learning_rate=parse_number(learning_rate, "learning_rate"),
        steps=int(parse_number(steps, "steps", int)) if str(steps).strip() else 1,
        fixed=parse_names(fixed, "fixed"),
        order=parse_names(order, "order") or None,
        methods=names or BASIC_METHODS,
        settings={
            name: parse_number(text, "settings")
            for name, text in (settings or {}).items()
            if str(text).strip()
        },
        data=parse_data(data) if data.strip() else None,
        batch_size=int(parse_number(batch_size, "batch_size", int)) if batch_size.strip() else None,
        shuffle_seed=int(parse_number(shuffle_seed, "shuffle_seed", int)) if shuffle_seed.strip() else None,
    )
    return with_latex_names(question)


def with_latex_names(question: Question) -> Question:
    """The question with its variables named as its LaTeX expression reads them: a point, data, fixed
    and order may name them as the formula writes them (w_0, w_{12}, \\hat{y} for w0, w12, y_hat). The
    question itself for an expression in the text grammar."""
    if not is_latex(question.expression):
        return question
    return dataclasses.replace(
        question,
        point={name_as_read(name): value for name, value in question.point.items()},
        data=None
        if question.data is None
        else {name_as_read(name): rows for name, rows in question.data.items()},
        fixed=tuple(map(name_as_read, question.fixed)),
        order=None if question.order is None else tuple(map(name_as_read, question.order)),
    )
