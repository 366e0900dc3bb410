"""Cases, their trials, and the trials' steps.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 05:30:25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Json = sa.JSON(none_as_null=True)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.Column("engine_version", sa.String(length=32), nullable=False),
        sa.Column("expression", sa.Text(), nullable=False),
        sa.Column("canonical_expression", sa.Text(), nullable=False),
        sa.Column("parameters", Json, nullable=False),
        sa.Column("fixed", Json, nullable=False),
        sa.Column("point", Json, nullable=False),
        sa.Column("learning_rate", sa.Double(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("order", Json, nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("input", Json, nullable=False),
        sa.Column("document", Json, nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["cases.id"], name=op.f("fk_cases_parent_id_cases"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("source", "idempotency_key", name=op.f("uq_cases_source_idempotency_key")),
    )
    op.create_index("ix_cases_created_at_id", "cases", ["created_at", "id"])
    op.create_index("ix_cases_outcome_created_at", "cases", ["outcome", "created_at"])
    op.create_index(op.f("ix_cases_parent_id"), "cases", ["parent_id"])
    op.create_index("ix_cases_source_created_at", "cases", ["source", "created_at"])

    op.create_table(
        "trials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("learning_rate", sa.Double(), nullable=False),
        sa.Column("settings", Json, nullable=False),
        sa.Column("initial_loss", sa.Double(), nullable=True),
        sa.Column("final_loss", sa.Double(), nullable=True),
        sa.Column("diverged_at", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_trials_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trials")),
        sa.UniqueConstraint("case_id", "position", name=op.f("uq_trials_case_id_position")),
    )
    op.create_index("ix_trials_method_diverged_at", "trials", ["method", "diverged_at"])

    op.create_table(
        "trial_steps",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("update_index", sa.Integer(), nullable=True),
        sa.Column("parameter", sa.String(length=64), nullable=True),
        sa.Column("point", Json, nullable=True),
        sa.Column("gradient", Json, nullable=True),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("loss", sa.Double(), nullable=True),
        sa.Column("partial", sa.Double(), nullable=True),
        sa.Column("partial_at_start", sa.Double(), nullable=True),
        sa.Column("sign_flip", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_trial_steps_trial_id_trials"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_steps")),
    )
    op.create_index("ix_trial_steps_trial_id_step", "trial_steps", ["trial_id", "step", "update_index"])


def downgrade() -> None:
    op.drop_table("trial_steps")
    op.drop_table("trials")
    op.drop_table("cases")
