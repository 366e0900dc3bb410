"""Writes a case with its trials and steps, and queries cases. Works inside a caller's session."""

from __future__ import annotations

import math
import secrets
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, insert, or_, select
from sqlalchemy.orm import Session, defer

from tutor.persistence.models import Case, Trial, TrialStep

OUTCOMES = ("sequential_better", "simultaneous_better", "tie", "diverged")

# Final losses this close count as a tie: with one parameter the two methods are the same sums, and
# rounding must not make one of them "better".
TIE_RELATIVE = 1e-12
TIE_ABSOLUTE = 1e-300


_ID_ALPHABET = string.ascii_letters + string.digits


def new_case_id() -> str:
    """12 letters and digits, 71 random bits: case links are public and must not be guessable.

    No '-' or '_': an id starting with '-' reads as an option on the command line (`tutor cases show`),
    and letters and digits select whole with a double click."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


def outcome_of(trials: list[Mapping[str, Any]]) -> str | None:
    """Which of simultaneous and sequential ended lower; "diverged" if any trial diverged; None when
    the two are not both there to compare."""
    if any(trial.get("diverged_at") is not None for trial in trials):
        return "diverged"
    final = {trial["method"]: trial.get("final_loss") for trial in trials}
    simultaneous, sequential = final.get("simultaneous"), final.get("sequential")
    if simultaneous is None or sequential is None:
        return None
    if math.isclose(simultaneous, sequential, rel_tol=TIE_RELATIVE, abs_tol=TIE_ABSOLUTE):
        return "tie"
    return "sequential_better" if sequential < simultaneous else "simultaneous_better"


@dataclass(frozen=True)
class CaseFilter:
    """What a listing keeps. Every field is optional; the ones given must all match."""

    source: str | None = None  # "api" keeps "api" and "api:<anything>"
    outcome: str | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    search: str | None = None  # in the expression as typed, the canonical one, or the question

    def __post_init__(self) -> None:
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome '{self.outcome}' (known: {', '.join(OUTCOMES)})")
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
        return query


NEWEST_FIRST = (Case.created_at.desc(), Case.id.desc())


class CaseRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(
        self,
        document: Mapping[str, Any],
        *,
        created_at: datetime,
        source: str,
        question: str | None = None,
        idempotency_key: str | None = None,
        parent_id: str | None = None,
        case_id: str | None = None,
    ) -> Case:
        """Adds the case, its trials and their steps to the session; flushed, not committed."""
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
            outcome=outcome_of(document["trials"]),
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

        # Steps go in as one executemany: a 1000-step sequential trial over 32 parameters is 33,000
        # rows, too many to build as ORM objects. A Core insert on the table, not the ORM's bulk
        # insert: the ORM splits the batch wherever a JSON column switches between NULL and a value
        # (step rows and update rows alternate), which turned one statement into hundreds.
        rows = [
            row
            for trial, data in zip(case.trials, document["trials"], strict=True)
            for row in step_rows(trial.id, data)
        ]
        if rows:
            self.session.execute(insert(TrialStep.__table__), rows)
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


def step_rows(trial_id: int, trial: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for step in trial.get("steps", []):
        yield {
            "trial_id": trial_id,
            "step": step["step"],
            "update_index": None,
            "parameter": None,
            "point": step.get("point"),
            "gradient": step.get("gradient"),
            "value": None,
            "loss": step.get("loss"),
            "partial": None,
            "partial_at_start": None,
            "sign_flip": None,
        }
        for index, update in enumerate(step.get("updates") or []):
            yield {
                "trial_id": trial_id,
                "step": step["step"],
                "update_index": index,
                "parameter": update.get("parameter"),
                "point": None,
                "gradient": None,
                "value": update.get("value"),
                "loss": update.get("loss"),
                "partial": update.get("partial"),
                "partial_at_start": update.get("partial_at_start"),
                "sign_flip": update.get("sign_flip"),
            }
