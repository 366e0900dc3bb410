"""State shared by every instance: the signing key, each case's plots, and the forum's Retry-After.

Several web instances and workers share nothing but the database and Redis. The key that signs
sessions and forms is kept here (unless TUTOR_SECRET_KEY is set), plots are drawn once and stored with
their case, and a forum's Retry-After is stored with the post that got it, so that every worker waits.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shared_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_shared_secrets")),
    )
    op.create_table(
        "plots",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("drawing_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_plots_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", "name", name=op.f("pk_plots")),
    )
    with op.batch_alter_table("discourse_posts") as batch_op:
        batch_op.add_column(sa.Column("forum_hold_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("sending_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_discourse_posts_forum_hold_until", ["forum_hold_until"])


def downgrade() -> None:
    with op.batch_alter_table("discourse_posts") as batch_op:
        batch_op.drop_index("ix_discourse_posts_forum_hold_until")
        batch_op.drop_column("sending_since")
        batch_op.drop_column("forum_hold_until")
    op.drop_table("plots")
    op.drop_table("shared_secrets")
