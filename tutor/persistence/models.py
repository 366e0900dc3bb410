"""The tables: a case (one question and its full answer), its trials, and their steps as rows.

The analysis document is stored whole for exact replay; the columns beside it repeat what reviewers
filter and group on, so questions like "which cases diverged?" are plain SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Explicit constraint names, so migrations can drop and alter them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s_%(column_1_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Plain JSON on PostgreSQL too, not JSONB: JSONB reorders object keys, and the order of a point's
# symbols is part of the question (it is the default sequential order).
Json = JSON(none_as_null=True)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key for the steps,
# the one table that grows by thousands of rows per case.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    SQLite has no time zones: the value is stored as naive UTC (so text order is time order) and
    comes back marked UTC. PostgreSQL stores timestamptz and may return it in the session's zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware one (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# The partial indexes of the review filters: name -> the rows each one holds.
FEATURE_INDEXES = {
    "sign_flips": text("sign_flips > 0"),
    "loss_increases": text("loss_increases > 0"),
    "diverged": text("diverged"),
    "special": text("(stationary OR kink OR undefined)"),
}


class Case(Base):
    __tablename__ = "cases"

    # Random and URL-safe: case links are shared publicly and must not be enumerable.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # Who asked: "web", "cli", "api:<client>", "discourse:<post id>".
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    question: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    engine_version: Mapped[str] = mapped_column(String(32), nullable=False)

    expression: Mapped[str] = mapped_column(Text, nullable=False)  # as typed
    canonical_expression: Mapped[str] = mapped_column(Text, nullable=False)
    parameters: Mapped[list[str]] = mapped_column(Json, nullable=False)  # in update order
    fixed: Mapped[dict[str, float]] = mapped_column(Json, nullable=False)  # symbol: its value
    point: Mapped[dict[str, float]] = mapped_column(Json, nullable=False)
    learning_rate: Mapped[float] = mapped_column(Double, nullable=False)
    steps: Mapped[int] = mapped_column(Integer, nullable=False)
    order: Mapped[list[str]] = mapped_column(Json, nullable=False)
    # Derived from the document on save (tutor.persistence.derived) for reviewers to filter on.
    # "sequential_better", "simultaneous_better", "tie", "loss_went_up", "diverged"; null when there
    # is nothing to compare (the point is outside the domain, or only one of the two trials ran).
    outcome: Mapped[str | None] = mapped_column(String(32))
    methods: Mapped[str] = mapped_column(String(200), nullable=False)  # the trials run, space-separated
    sign_flips: Mapped[int] = mapped_column(Integer, nullable=False)  # sequential updates that flipped
    loss_increases: Mapped[int] = mapped_column(Integer, nullable=False)  # steps that raised the loss
    diverged: Mapped[bool] = mapped_column(Boolean, nullable=False)  # a trial stopped on non-finite values
    stationary: Mapped[bool] = mapped_column(Boolean, nullable=False)  # the gradient is zero at the start
    kink: Mapped[bool] = mapped_column(Boolean, nullable=False)  # abs/relu/max/min exactly at a corner
    undefined: Mapped[bool] = mapped_column(Boolean, nullable=False)  # f or a partial not finite there

    input: Mapped[dict[str, Any]] = mapped_column(Json, nullable=False)  # document["input"], whole
    document: Mapped[dict[str, Any]] = mapped_column(Json, nullable=False)

    trials: Mapped[list[Trial]] = relationship(
        back_populates="case",
        order_by="Trial.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    __table_args__ = (
        UniqueConstraint("source", "idempotency_key"),
        # Newest first, with the id as tie-breaker so pages never overlap.
        Index("ix_cases_created_at_id", "created_at", "id"),
        Index("ix_cases_source_created_at", "source", "created_at"),
        Index("ix_cases_outcome_created_at", "outcome", "created_at"),
        # The review filters: each a small partial index of the cases that have the feature, newest
        # first (the features are rare, and "without" needs no index to be fast).
        *(
            Index(
                f"ix_cases_{name}_created_at", "created_at", "id", sqlite_where=where, postgresql_where=where
            )
            for name, where in FEATURE_INDEXES.items()
        ),
    )


class Trial(Base):
    __tablename__ = "trials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("cases.id", ondelete="CASCADE"), nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)  # index in document["trials"]
    method: Mapped[str] = mapped_column(String(32), nullable=False)
    learning_rate: Mapped[float] = mapped_column(Double, nullable=False)
    settings: Mapped[dict[str, Any]] = mapped_column(Json, nullable=False)
    initial_loss: Mapped[float | None] = mapped_column(Double)
    final_loss: Mapped[float | None] = mapped_column(Double)  # at the last finite step
    diverged_at: Mapped[int | None] = mapped_column(Integer)

    case: Mapped[Case] = relationship(back_populates="trials")

    __table_args__ = (
        UniqueConstraint("case_id", "position"),
        Index("ix_trials_method_diverged_at", "method", "diverged_at"),
    )


class TrialStep(Base):
    """One row per step of a trial (update_index null), and one per sequential update within it."""

    __tablename__ = "trial_steps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    trial_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("trials.id", ondelete="CASCADE"), nullable=False
    )
    step: Mapped[int] = mapped_column(Integer, nullable=False)
    update_index: Mapped[int | None] = mapped_column(Integer)
    parameter: Mapped[str | None] = mapped_column(String(64))  # the parameter an update moved
    # Step rows: the point after the step and the gradient it used; update rows: the moved
    # parameter's new value in `value`.
    point: Mapped[dict[str, float | None] | None] = mapped_column(Json)
    gradient: Mapped[dict[str, float | None] | None] = mapped_column(Json)
    value: Mapped[float | None] = mapped_column(Double)
    loss: Mapped[float | None] = mapped_column(Double)
    partial: Mapped[float | None] = mapped_column(Double)
    partial_at_start: Mapped[float | None] = mapped_column(Double)
    sign_flip: Mapped[bool | None] = mapped_column(Boolean)
    # Mini-batch steps: the rows of the batch and the batch's own loss before and after the update
    # (`loss` is the full loss after it).
    batch: Mapped[list[int] | None] = mapped_column(Json)
    batch_loss: Mapped[float | None] = mapped_column(Double)
    batch_loss_after: Mapped[float | None] = mapped_column(Double)

    __table_args__ = (
        # Also the index for the foreign key (a trial's steps in order).
        Index("ix_trial_steps_trial_id_step", "trial_id", "step", "update_index"),
    )
