"""Writes a case with its trials and steps, and queries cases. Works inside a caller's session."""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, delete, func, or_, select
from sqlalchemy.orm import Session, defer

from tutor import json_text
from tutor.engine.question import METHODS
from tutor.persistence.derived import OUTCOMES, SPECIAL_CASES, review_columns
from tutor.persistence.models import FEATURE_INDEXES, Case, Trial

_ID_ALPHABET = string.ascii_letters + string.digits


def new_case_id() -> str:
    """12 letters and digits, 71 random bits: case links are public and must not be guessable.

    No '-' or '_': an id starting with '-' reads as an option on the command line (`tutor cases show`),
    and letters and digits select whole with a double click."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


def _feature(name: str, present: bool | None, column) -> list[ColumnElement[bool]]:
    """The conditions for "has" (with the partial index's own predicate, so that SQLite's planner,
    which matches it as text, uses the index) or "has not" a feature; none when it does not matter."""
    if present is None:
        return []
    if present:
        return [FEATURE_INDEXES[name], column if column.type.python_type is bool else column > 0]
    return [column.is_(False) if column.type.python_type is bool else column == 0]


@dataclass(frozen=True)
class CaseFilter:
    """What a listing keeps. Every field is optional; the ones given must all match."""

    source: str | None = None  # "api" keeps "api" and "api:<anything>"
    outcome: str | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    search: str | None = None  # in the expression as typed, the canonical one, or the question
    sign_flip: bool | None = None  # a sequential update flipped a partial's sign (False: none did)
    loss_went_up: bool | None = None  # some step of some trial raised the loss (False: none did)
    diverged: bool | None = None  # some trial diverged (False: none did)
    method: str | None = None  # this trial ran
    special_case: str | None = None  # stationary, kink or undefined

    def __post_init__(self) -> None:
        for name, value, known in (
            ("outcome", self.outcome, OUTCOMES),
            ("method", self.method, tuple(METHODS)),
            ("special case", self.special_case, SPECIAL_CASES),
        ):
            if value is not None and value not in known:
                raise ValueError(f"unknown {name} '{value}' (known: {', '.join(known)})")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")

    def apply(self, query: Select) -> Select:
        if self.source:
            # Sources are "kind" or "kind:detail": "api" means every API client, while "discourse:1"
            # must not take in "discourse:12".
            prefix = self.source if self.source.endswith(":") else self.source + ":"
            condition = Case.source.startswith(prefix, autoescape=True)
            if not self.source.endswith(":"):
                condition = or_(Case.source == self.source, condition)
            query = query.where(condition)
        if self.outcome:
            query = query.where(Case.outcome == self.outcome)
        if self.since is not None:
            query = query.where(Case.created_at >= self.since)
        if self.until is not None:
            query = query.where(Case.created_at < self.until)
        if self.search:
            # ILIKE on PostgreSQL, lower() LIKE lower() on SQLite; % and _ in the text are literal.
            query = query.where(
                or_(
                    Case.expression.icontains(self.search, autoescape=True),
                    Case.canonical_expression.icontains(self.search, autoescape=True),
                    Case.question.icontains(self.search, autoescape=True),
                )
            )
        query = query.where(
            *_feature("sign_flips", self.sign_flip, Case.sign_flips),
            *_feature("loss_increases", self.loss_went_up, Case.loss_increases),
            *_feature("diverged", self.diverged, Case.diverged),
        )
        if self.special_case:
            query = query.where(*_feature("special", True, getattr(Case, self.special_case)))
        if self.method:
            # The trials table has a row per trial run, indexed by method.
            ran = select(Trial.id).where(Trial.case_id == Case.id, Trial.method == self.method)
            query = query.where(ran.exists())
        return query


NEWEST_FIRST = (Case.created_at.desc(), Case.id.desc())


class CaseRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(
        self,
        document: Mapping[str, Any],
        *,
        steps: Sequence[Sequence[tuple]],
        created_at: datetime,
        source: str,
        question: str | None = None,
        idempotency_key: str | None = None,
        parent_id: str | None = None,
        case_id: str | None = None,
    ) -> Case:
        """Adds the case, its trials and their steps to the session; flushed, not committed. ``steps``
        is ``step_values(document)``, built by the caller before it took the write turn."""
        given = document["input"]
        point = dict(given["point"])
        case = Case(
            id=case_id or new_case_id(),
            created_at=created_at,
            source=source,
            question=question,
            idempotency_key=idempotency_key,
            parent_id=parent_id,
            engine_version=document["engine_version"],
            expression=given["expression"],
            canonical_expression=document["expression"]["canonical"],
            parameters=list(document["parameters"]),
            fixed={name: point.get(name) for name in given.get("fixed", [])},
            point=point,
            learning_rate=given["learning_rate"],
            steps=given["steps"],
            order=list(given.get("order") or document["parameters"]),
            **review_columns(document),
            input=dict(given),
            document=dict(document),
        )
        for position, trial in enumerate(document["trials"]):
            case.trials.append(
                Trial(
                    position=position,
                    method=trial["method"],
                    learning_rate=trial["learning_rate"],
                    settings=dict(trial.get("settings") or {}),
                    initial_loss=trial.get("initial_loss"),
                    final_loss=trial.get("final_loss"),
                    diverged_at=trial.get("diverged_at"),
                )
            )
        self.session.add(case)
        self.session.flush()  # the trials' ids, for their steps
        insert_step_rows(
            self.session.connection(),
            ((trial.id, *values) for trial, rows in zip(case.trials, steps, strict=True) for values in rows),
        )
        return case

    def get(self, case_id: str) -> Case | None:
        return self.session.get(Case, case_id)

    def by_idempotency_key(self, source: str, key: str) -> Case | None:
        return self.session.scalars(
            select(Case).where(Case.source == source, Case.idempotency_key == key)
        ).one_or_none()

    def page(self, where: CaseFilter, *, offset: int, limit: int) -> tuple[list[Case], int]:
        """The cases on one page, newest first, without their documents; and how many match in all."""
        total = self.session.scalar(where.apply(select(func.count()).select_from(Case)))
        query = (
            where.apply(select(Case))
            .options(defer(Case.document), defer(Case.input))
            .order_by(*NEWEST_FIRST)
            .offset(offset)
            .limit(limit)
        )
        return list(self.session.scalars(query)), total or 0

    def each(self, where: CaseFilter, *, batch: int = 100) -> Iterator[Case]:
        """Every matching case with its document, newest first, loaded a batch at a time."""
        query = where.apply(select(Case)).order_by(*NEWEST_FIRST).execution_options(yield_per=batch)
        yield from self.session.scalars(query)

    def delete(self, case_id: str) -> bool:
        """Deletes the case; its trials and steps go with it (ON DELETE CASCADE), and re-runs of it
        keep existing with their parent_id cleared (ON DELETE SET NULL)."""
        result = self.session.execute(delete(Case).where(Case.id == case_id))
        return result.rowcount == 1


# The trial_steps columns a case writes: the trial's id, then the values step_rows makes, in this order.
STEP_COLUMNS = (
    "trial_id",
    "step",
    "update_index",
    "parameter",
    "point",
    "gradient",
    "value",
    "loss",
    "partial",
    "partial_at_start",
    "sign_flip",
    "batch",
    "batch_loss",
    "batch_loss_after",
)
_COLUMN_LIST = ", ".join(f'"{name}"' for name in STEP_COLUMNS)
# Built from the fixed names above; the values always travel as parameters.
_COPY_STEPS = f"COPY trial_steps ({_COLUMN_LIST}) FROM STDIN"
_INSERT_STEPS = f"INSERT INTO trial_steps ({_COLUMN_LIST}) VALUES ({', '.join('?' for _ in STEP_COLUMNS)})"  # noqa: S608


def insert_step_rows(connection: Connection, rows: Iterable[tuple]) -> None:
    """Writes step rows through the database driver, in the caller's transaction.

    A case of 100 steps has about 500 step rows (one per step and one per sequential update; a
    1000-step trial over 32 parameters has 33,000). Through SQLAlchemy they cost more than the whole
    analysis: its parameter processing runs per row and value, and psycopg sends one pipelined
    statement per row. So they skip it: PostgreSQL takes them as one COPY, SQLite as one executemany
    of plain tuples. JSON values arrive as text from ``tutor.json_text``, as the JSON columns' own
    serializer writes them, so the ORM reads these rows like any other.
    """
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.cursor()
        try:
            with cursor.copy(_COPY_STEPS) as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()
        return
    batch = list(rows)
    if batch:
        connection.exec_driver_sql(_INSERT_STEPS, batch)


def _json(value: Any) -> str | None:
    return None if value is None else json_text.dumps(value)


def step_values(document: Mapping[str, Any]) -> list[list[tuple]]:
    """Each trial's step rows in STEP_COLUMNS order, all but the first column (the trial's id, known
    once the trial is written). The service builds them, their JSON included, before it takes the
    database's write turn, which on SQLite every other writer waits for (for the largest answers the
    limits allow, about a tenth of the turn)."""
    return [list(step_rows(trial)) for trial in document["trials"]]


def step_rows(trial: Mapping[str, Any]) -> Iterator[tuple]:
    """The trial's step rows without the trial's id: each step, then its sequential updates."""
    for step in trial.get("steps", []):
        number = step["step"]
        point, gradient = _json(step.get("point")), _json(step.get("gradient"))
        batch = _json(step.get("batch"))
        yield (
            number,
            None,
            None,
            point,
            gradient,
            None,
            step.get("loss"),
            None,
            None,
            None,
            batch,
            step.get("batch_loss"),
            step.get("batch_loss_after"),
        )
        for index, update in enumerate(step.get("updates") or []):
            yield (
                number,
                index,
                update.get("parameter"),
                None,
                None,
                update.get("value"),
                update.get("loss"),
                update.get("partial"),
                update.get("partial_at_start"),
                update.get("sign_flip"),
                None,
                None,
                None,
            )
