"""API tokens, and Discourse posts with the tutor's replies.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 06:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name_")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash_")),
    )

    op.create_table(
        "discourse_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.Column("topic_id", sa.BigInteger(), nullable=False),
        sa.Column("post_number", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply_post_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_discourse_posts_case_id_cases"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discourse_posts")),
        sa.UniqueConstraint("event_id", name=op.f("uq_discourse_posts_event_id_")),
        sa.UniqueConstraint("post_id", name=op.f("uq_discourse_posts_post_id_")),
    )
    op.create_index(
        "ix_discourse_posts_state_next_attempt_at", "discourse_posts", ["state", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_table("discourse_posts")
    op.drop_table("api_tokens")
