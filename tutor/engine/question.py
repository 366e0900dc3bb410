"""The question a learner asks, and its validation against the expression and the limits."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tutor.config import Limits
from tutor.engine.errors import InputError
from tutor.engine.parse import Parsed, check_name

BASIC_METHODS = ("simultaneous", "sequential")


@dataclass(frozen=True)
class Question:
    expression: str
    point: Mapping[str, float]
    learning_rate: float
    steps: int = 1
    fixed: tuple[str, ...] = ()
    order: tuple[str, ...] | None = None
    methods: tuple[str, ...] = BASIC_METHODS
    # Settings of the optimizer trials (issue 6) live in here as plain values, see trials.py.
    settings: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Checked:
    """A question that passed every check, with its parsed expression."""

    question: Question
    parsed: Parsed
    point: dict[str, float]  # every symbol of the expression
    parameters: tuple[str, ...]  # the symbols that are updated, in sequential order
    fixed: tuple[str, ...]


def check_question(question: Question, parsed: Parsed, limits: Limits) -> Checked:
    point = _check_point(question.point, parsed, limits)
    rate = question.learning_rate
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate) or rate <= 0:
        raise InputError("the learning rate must be a positive number", "learning_rate")
    if rate > limits.max_learning_rate:
        raise InputError(f"the learning rate may be at most {limits.max_learning_rate:g}", "learning_rate")
    steps = question.steps
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= limits.max_steps:
        raise InputError(f"steps must be a whole number from 1 to {limits.max_steps}", "steps")

    fixed = tuple(question.fixed)
    for name in fixed:
        if name not in point:
            raise InputError(f"'{name}' is held fixed but is not in the expression", "fixed")
    if len(set(fixed)) != len(fixed):
        raise InputError("a symbol is listed twice", "fixed")
    free = tuple(name for name in point if name not in fixed)
    if not free:
        raise InputError("every symbol is fixed: nothing is left to update", "fixed")

    if question.order is None:
        order = free
    else:
        order = tuple(question.order)
        for name in order:
            if name not in free:
                why = "is held fixed" if name in fixed else "is not in the expression"
                raise InputError(f"'{name}' {why}", "order")
        missing = [name for name in free if name not in order]
        if len(set(order)) != len(order):
            raise InputError("a parameter is listed twice", "order")
        if missing:
            raise InputError(f"the order leaves out {', '.join(missing)}", "order")
    return Checked(question, parsed, point, order, fixed)


def _check_point(point: Mapping[str, float], parsed: Parsed, limits: Limits) -> dict[str, float]:
    if not isinstance(point, Mapping):
        raise InputError("the point must map each variable to a number", "point")
    values: dict[str, float] = {}
    for name, value in point.items():
        check_name(str(name), limits)
        if name not in parsed.symbols:
            raise InputError(f"'{name}' is not in the expression", "point")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InputError(f"the value of '{name}' must be a finite number", "point")
        if abs(value) > limits.max_abs_value:
            raise InputError(f"the value of '{name}' is larger than {limits.max_abs_value:g}", "point")
        values[name] = float(value)
    missing = [name for name in parsed.symbols if name not in values]
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
        what = "whole number" if kind is int else "number"
        raise InputError(f"'{str(text)[:20]}' is not a {what}", field) from None
    return value


def question_from_text(
    expression: str,
    point: str,
    learning_rate: str,
    steps: str = "",
    fixed: str = "",
    order: str = "",
    methods: str = "",
) -> Question:
    """The question from the text fields of the web form or the command line."""
    names = parse_names(methods, "methods")
    return Question(
        expression=expression,
        point=parse_point(point),
        learning_rate=parse_number(learning_rate, "learning_rate"),
        steps=int(parse_number(steps, "steps", int)) if str(steps).strip() else 1,
        fixed=parse_names(fixed, "fixed"),
        order=parse_names(order, "order") or None,
        methods=names or BASIC_METHODS,
    )
