"""Discourse posts by version: an edited post is answered again, once per version of its text.

A row is now one version of a post: Discourse's version number and the SHA-256 of the raw text (edits in
Discourse's grace period keep the version number, so the text tells them apart). The unique post id
becomes unique (post id, version, text).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

posts = sa.table(
    "discourse_posts",
    sa.column("id", sa.Integer()),
    sa.column("raw", sa.Text()),
    sa.column("raw_sha256", sa.String(64)),
)


def upgrade() -> None:
    with op.batch_alter_table("discourse_posts") as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("raw_sha256", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    for row_id, raw in connection.execute(sa.select(posts.c.id, posts.c.raw)).all():
        digest = hashlib.sha256(raw.encode()).hexdigest()
        connection.execute(posts.update().where(posts.c.id == row_id).values(raw_sha256=digest))
    with op.batch_alter_table("discourse_posts") as batch_op:
        batch_op.alter_column("raw_sha256", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint("uq_discourse_posts_post_id_", type_="unique")
        batch_op.create_unique_constraint(
            "uq_discourse_posts_post_id_version", ["post_id", "version", "raw_sha256"]
        )


def downgrade() -> None:
    # Back to one row per post: the first version of each post is kept, later ones are dropped.
    op.execute(
        "DELETE FROM discourse_posts WHERE id NOT IN (SELECT min(id) FROM discourse_posts GROUP BY post_id)"
    )
    with op.batch_alter_table("discourse_posts") as batch_op:
        batch_op.drop_constraint("uq_discourse_posts_post_id_version", type_="unique")
        batch_op.create_unique_constraint("uq_discourse_posts_post_id_", ["post_id"])
        batch_op.drop_column("raw_sha256")
        batch_op.drop_column("version")
