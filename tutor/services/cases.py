"""Cases: ask a question and keep the answer; list, search, show, delete and re-run saved cases.

Used by the CLI now and the HTTP API and web pages later; nothing here knows about HTTP.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError

from tutor.config import Settings
from tutor.engine import BASIC_METHODS, InputError, Question
from tutor.engine.question import default_order, question_from_input
from tutor.persistence.database import Database, DatabaseTimeouts, DatabaseUnavailable
from tutor.persistence.derived import OUTCOMES, SPECIAL_CASES
from tutor.persistence.models import Case
from tutor.persistence.repository import CaseFilter, CaseRepository, new_case_id, step_values

log = logging.getLogger(__name__)

__all__ = [
    "OUTCOMES",
    "SPECIAL_CASES",
    "Analyzer",
    "CaseFilter",
    "CaseNotFound",
    "CasePage",
    "CaseService",
    "IdempotencyConflict",
    "created_between",
    "case_document",
    "case_summary",
    "first_words",
    "question_from_input",
]

MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000  # far past any real listing, and an offset every database can take
# Listings take dates in these years: a day either side of them, with a time zone, has no datetime.
FIRST_DAY, LAST_DAY = date(1, 1, 2), date(9998, 12, 30)


class Analyzer(Protocol):
    def answer(self, question: Question) -> dict: ...


class IdempotencyConflict(ValueError):
    """An idempotency key came back with another question than the one it first asked."""

    def __init__(self, key: str, case_id: str):
        super().__init__(f"the idempotency key '{key}' was used before for another question (case {case_id})")
        self.key = key
        self.case_id = case_id


class CaseNotFound(LookupError):
    def __init__(self, case_id: str):
        super().__init__(f"no case with id '{case_id}'")
        self.case_id = case_id


@dataclass(frozen=True)
class CasePage:
    items: list[dict[str, Any]]  # case summaries, newest first
    total: int  # matching cases on every page
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
        }


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _who_and_when(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "created_at": iso(case.created_at),
        "source": case.source,
        "question": case.question,
        "parent_id": case.parent_id,
    }


def case_document(case: Case) -> dict[str, Any]:
    """The case document: the analysis document as saved, plus who asked, when, and its parent."""
    return {**_who_and_when(case), **case.document}


def case_summary(case: Case) -> dict[str, Any]:
    """A listing's row: the case's columns, not its document."""
    return {
        **_who_and_when(case),
        "engine_version": case.engine_version,
        "expression": case.expression,
        "canonical_expression": case.canonical_expression,
        "parameters": case.parameters,
        "fixed": case.fixed,
        "point": case.point,
        "learning_rate": case.learning_rate,
        "steps": case.steps,
        "order": case.order,
        "outcome": case.outcome,
        "methods": case.methods.split(),
        "sign_flips": case.sign_flips,
        "loss_increases": case.loss_increases,
        "diverged": case.diverged,
        "stationary": case.stationary,
        "kink": case.kink,
        "undefined": case.undefined,
    }


def first_words(text: str | None, limit: int = 60) -> str:
    """The start of a question for a listing: whole words up to ``limit`` characters, then "…"."""
    words = " ".join((text or "").split())
    if len(words) <= limit:
        return words
    cut = words[: limit + 1].rsplit(" ", 1)[0] if " " in words[:limit] else words[:limit]
    return cut.rstrip(" ,;:.") + "…"


def created_between(
    since: date | datetime | None, until: date | datetime | None
) -> tuple[datetime | None, datetime | None]:
    """A listing's bounds in UTC from what a reviewer gave (the API, the review page, the CLI alike).

    A date starts at midnight UTC, and a date as ``until`` includes that whole day; a date and time
    without an offset is UTC; ``until`` as a moment is exclusive. Raises InputError for a date outside
    the years a datetime can hold once it is moved to UTC."""

    def bound(value: date | datetime | None, name: str, end_of_day: bool) -> datetime | None:
        if value is None:
            return None
        day = value.date() if isinstance(value, datetime) else value
        if not FIRST_DAY <= day <= LAST_DAY:
            raise InputError(f"{name} must be a date from {FIRST_DAY} to {LAST_DAY}", name)
        if isinstance(value, datetime):
            return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        return datetime.combine(value + timedelta(days=1 if end_of_day else 0), time(), UTC)

    return bound(since, "since", False), bound(until, "until", True)


def asked_the_same(
    case: Mapping[str, Any], question: Question, question_text: str | None, parent_id: str | None
) -> bool:
    """Whether ``question`` (with its text, re-running ``parent_id``) is what ``case`` was asked.

    The saved input has the engine's defaults filled in; a question that leaves them out asks for
    the same defaults: the engine's default order, and the basic trials (the minibatch trial comes
    with a batch size either way)."""
    given = case["input"]
    order = question.order if question.order is not None else default_order(question.point, question.fixed)

    def trials(methods: Iterable[str]) -> list[str]:
        return [method for method in methods if method != "minibatch"]

    return (
        given["expression"] == question.expression
        and list(given["point"].items()) == [(name, float(v)) for name, v in question.point.items()]
        and given["learning_rate"] == question.learning_rate
        and given["steps"] == question.steps
        and sorted(given["fixed"]) == sorted(question.fixed)
        and given["order"] == list(order)
        and trials(given.get("methods", BASIC_METHODS)) == trials(question.methods)
        and given.get("settings", {}) == {name: float(v) for name, v in question.settings.items()}
        and given.get("data") == (dict(question.data) if question.data is not None else None)
        and given.get("batch_size") == question.batch_size
        and given.get("shuffle_seed") == question.shuffle_seed
        and case["question"] == question_text
        and case["parent_id"] == parent_id
    )


class CaseService:
    def __init__(self, database: Database, analyzer: Analyzer, *, clock=None):
        self.database = database
        self.analyzer = analyzer
        self._clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def from_settings(cls, settings: Settings, analyzer: Analyzer) -> CaseService:
        """The service on the database ``settings.database_url`` names (migrated with `tutor db upgrade`)."""
        timeouts = DatabaseTimeouts(
            connect=settings.database_connect_timeout,
            statement=settings.database_statement_timeout,
            lock=settings.database_lock_timeout,
            pool=settings.database_pool_timeout,
        )
        return cls(Database.from_url(settings.database_url, timeouts=timeouts), analyzer)

    def close(self) -> None:
        self.database.dispose()

    def ask(
        self,
        question: Question,
        *,
        source: str,
        question_text: str | None = None,
        idempotency_key: str | None = None,
        parent_id: str | None = None,
    ) -> dict[str, Any]:
        """Answers the question and saves the case; returns the case document.

        With an idempotency key already used by this source, returns that case instead: no second
        answer, no second row, even when two requests with the key race each other.
        Raises InputError for a question the engine refuses, CaseNotFound for an unknown parent,
        DatabaseUnavailable (DatabaseReadOnly) when the case cannot be saved.
        """
        # The columns' sizes, checked here because SQLite would store longer text without complaint.
        if not source or len(source) > 200:
            raise ValueError("a case needs a source of 1 to 200 characters")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
            raise ValueError("an idempotency key must have 1 to 200 characters")
        asked = (question, question_text, parent_id)
        if idempotency_key is not None:
            existing = self._by_idempotency_key(source, idempotency_key, asked)
            if existing is not None:
                return existing
        if parent_id is not None:
            self.get(parent_id)
        # No answer is worked out that could not be saved.
        self.database.check_writable()
        document = self.analyzer.answer(question)
        row = {
            "case_id": new_case_id(),
            "created_at": self._clock(),
            "source": source,
            "question": question_text,
            "idempotency_key": idempotency_key,
            "parent_id": parent_id,
            # Built here, not in the write turn that every other writer of an SQLite file waits for.
            "steps": step_values(document),
        }
        try:
            return self._save(document, row, asked)
        except DatabaseUnavailable as error:
            # The answer took real work: it is saved once more, on a fresh connection (the database
            # may be back, or only that connection was lost), before the client hears of the failure.
            log.warning("saving case %s failed (%s); trying once more", row["case_id"], error.reason)
            self.database.discard_connections()
            return self._save(document, row, asked)

    def _save(
        self, document: dict[str, Any], row: dict[str, Any], asked: tuple[Question, str | None, str | None]
    ) -> dict[str, Any]:
        try:
            with self.database.session(write=True) as session:
                return case_document(CaseRepository(session).add(document, **row))
        except IntegrityError:
            # The session has rolled back. An earlier attempt may have been saved after all (its
            # commit reached the database, its answer did not): then that case is the answer.
            with self.database.session() as session:
                saved = CaseRepository(session).get(row["case_id"])
                if saved is not None:
                    return case_document(saved)
            # Another request with this key won the race: its case is the answer. Anything else
            # (the parent deleted meanwhile) is a real error.
            if row["idempotency_key"] is not None:
                winner = self._by_idempotency_key(row["source"], row["idempotency_key"], asked)
                if winner is not None:
                    return winner
            raise

    def _by_idempotency_key(
        self, source: str, key: str, asked: tuple[Question, str | None, str | None]
    ) -> dict[str, Any] | None:
        """The case this source's key made, if any. Raises IdempotencyConflict when that case
        answered another question: a retry must repeat the request, not change it."""
        with self.database.session() as session:
            case = CaseRepository(session).by_idempotency_key(source, key)
            if case is None:
                return None
            document = case_document(case)
        if not asked_the_same(document, *asked):
            raise IdempotencyConflict(key, document["id"])
        return document

    def get(self, case_id: str) -> dict[str, Any]:
        with self.database.session() as session:
            case = CaseRepository(session).get(case_id)
            if case is None:
                raise CaseNotFound(case_id)
            return case_document(case)

    def list(self, where: CaseFilter | None = None, *, page: int = 1, per_page: int = 20) -> CasePage:
        """One page of case summaries, newest first. ``page`` counts from 1."""
        if not 1 <= page <= MAX_PAGE:
            raise ValueError(f"the page must be from 1 to {MAX_PAGE}")
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per page must be from 1 to {MAX_PER_PAGE}")
        with self.database.session() as session:
            cases, total = CaseRepository(session).page(
                where or CaseFilter(), offset=(page - 1) * per_page, limit=per_page
            )
            return CasePage([case_summary(case) for case in cases], total, page, per_page)

    def each(self, where: CaseFilter | None = None) -> Iterator[dict[str, Any]]:
        """Every matching case document, newest first, read in batches (for exports)."""
        with self.database.session() as session:
            for case in CaseRepository(session).each(where or CaseFilter()):
                yield case_document(case)
                session.expunge(case)  # an export of every case must not keep every case in memory

    def delete(self, case_id: str) -> None:
        with self.database.session(write=True) as session:
            if not CaseRepository(session).delete(case_id):
                raise CaseNotFound(case_id)

    def rerun(
        self,
        case_id: str,
        learning_rate: float,
        *,
        source: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """The same question with another learning rate, saved as a new case whose parent is this one.

        ``source`` is who asked for the re-run; by default the parent's. The idempotency key works
        as in ``ask``.
        """
        parent = self.get(case_id)
        try:
            question = question_from_input(parent["input"], learning_rate=learning_rate)
        except TypeError as error:
            raise InputError(f"this case cannot be replayed by this engine: {error}", "input") from None
        return self.ask(
            question,
            source=source or parent["source"],
            question_text=parent["question"],
            idempotency_key=idempotency_key,
            parent_id=case_id,
        )
