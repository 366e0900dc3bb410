"""The API's request and response bodies. The OpenAPI document is generated from these."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from tutor.services.cases import MAX_PAGE, MAX_PER_PAGE, OUTCOMES

# Request bodies are strict: a number must be a JSON number (not "0.1", not true), unknown members are
# refused, and NaN or Infinity (which Python's JSON reader accepts) are not numbers here.
STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)
DATE_TIME = {"format": "date-time"}

Name = Field(min_length=1, max_length=64)


class CaseIn(BaseModel):
    """A question: the function, the point to start from and the learning rate."""

    model_config = ConfigDict(
        **STRICT,
        json_schema_extra={
            "examples": [
                {"expression": "(x+y)*z", "point": {"x": -2, "y": 5, "z": -4}, "learning_rate": 0.01}
            ]
        },
    )

    expression: str = Field(min_length=1, max_length=10_000, description="f, e.g. `(x+y)*z`; `^` is a power")
    point: dict[str, float] = Field(
        description="the starting value of every symbol, in the order to show them"
    )
    learning_rate: float = Field(gt=0, description="η, the step size")
    steps: int = Field(1, ge=1, description="how many steps each trial runs")
    fixed: list[str] = Field(default_factory=list, description="symbols held at their value, never updated")
    order: list[str] | None = Field(None, description="the order of the one-at-a-time updates")
    question: str | None = Field(
        None, max_length=10_000, description="the question in words, kept with the case"
    )
    methods: list[str] | None = Field(
        None,
        description="trials to run: simultaneous, sequential, momentum, nesterov, adam, rmsprop, minibatch",
    )
    settings: dict[str, float] | None = Field(
        None, description="optimizer settings by name: momentum, beta1, beta2, alpha, eps"
    )
    data: dict[str, list[float]] | None = Field(
        None, description="data rows as columns {symbol: values}; f is then the loss of one row"
    )
    batch_size: int | None = Field(None, ge=1, description="rows per step of the minibatch trial")
    shuffle_seed: int | None = Field(None, ge=0, description="shuffle the rows each epoch with this seed")


class RerunIn(BaseModel):
    model_config = STRICT

    learning_rate: float = Field(gt=0, description="the new η")


class IdempotencyHeaders(BaseModel):
    # Every request header is offered to this model; only this one is read.
    model_config = ConfigDict(extra="ignore")

    idempotency_key: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Retrying with the same key returns the first answer and stores nothing new. "
        "Keys are per token.",
    )


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _rfc3339(value: object) -> object:
    """A query's date or date-time as RFC 3339 writes it, and nothing else: pydantic alone would also
    read "0.5" as a Unix time."""
    if not isinstance(value, str):
        return value
    text = value.upper()
    if _DATE.fullmatch(text):
        return date.fromisoformat(text)
    if _DATE_TIME.fullmatch(text):
        # RFC 3339 allows a leap second; Python's datetime does not.
        return datetime.fromisoformat(text[:17] + "59" + text[19:] if text[17:19] == "60" else text)
    raise ValueError("write a date as 2025-01-31, or a date and time with its offset as 2025-01-31T12:00:00Z")


Moment = Annotated[AwareDatetime | date, BeforeValidator(_rfc3339)]


class CaseQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: int = Field(1, ge=1, le=MAX_PAGE)
    per_page: int = Field(20, ge=1, le=MAX_PER_PAGE)
    source: str | None = Field(
        None, max_length=200, description='"api" (every bot), "api:NAME", "web", "discourse" ...'
    )
    outcome: Literal[OUTCOMES] | None = None  # type: ignore[valid-type]
    search: str | None = Field(None, max_length=200, description="text in the expression or the question")
    since: Moment | None = Field(None, description="created at or after (a date is midnight UTC)")
    until: Moment | None = Field(None, description="created before (a date includes that whole day, UTC)")


class SpecialCase(BaseModel):
    kind: str
    message: str


class CaseOut(BaseModel):
    """A case: the analysis document (docs/analysis-document.md) and who asked, when, and its address."""

    model_config = ConfigDict(extra="allow")

    id: str
    url: str = Field(description="the case's web page")
    created_at: str = Field(json_schema_extra=DATE_TIME)
    source: str
    question: str | None
    parent_id: str | None
    engine_version: str
    input: dict[str, Any]
    expression: dict[str, str]
    parameters: list[str]
    loss: float | None
    gradient: dict[str, float | None]
    gradient_norm: float | None
    partials: dict[str, str | None]
    hessian: list[list[float | None]] | None
    graph: dict[str, Any]
    trials: list[dict[str, Any]]
    analysis: dict[str, Any] | None
    special_cases: list[SpecialCase]
    explanation: dict[str, str]


class CaseSummaryOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    url: str
    created_at: str = Field(json_schema_extra=DATE_TIME)
    source: str
    question: str | None
    parent_id: str | None
    expression: str
    learning_rate: float
    steps: int
    outcome: str | None


class CasePageOut(BaseModel):
    items: list[CaseSummaryOut]
    total: int
    page: int
    per_page: int
    pages: int


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    field: str | None = Field(None, description="the input at fault")
    column: int | None = Field(None, description="1-based column in that input's text")
