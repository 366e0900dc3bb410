"""PostgreSQL: compress case documents with lz4 instead of pglz.

A case document is about 100 kB of JSON, compressed out of line (TOAST) on every insert. pglz took
1.9 ms of each insert on the CI machine's PostgreSQL 15, lz4 0.55 ms, for a few percent more disk.
Needs PostgreSQL 14 built with lz4 (Debian's and the official images are); elsewhere, and on SQLite,
nothing changes. Existing rows keep their compression until they are rewritten.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("document", "input")


def _set_compression(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or bind.dialect.server_version_info < (14,):
        return
    # A server built without lz4 refuses the method: keep its default rather than fail the upgrade.
    supported = bind.execute(
        sa.text(
            "SELECT EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND :m = ANY(enumvals))"
        ),
        {"m": method},
    ).scalar()
    if supported:
        for column in COLUMNS:
            op.execute(f"ALTER TABLE cases ALTER COLUMN {column} SET COMPRESSION {method}")


def upgrade() -> None:
    _set_compression("lz4")


def downgrade() -> None:
    _set_compression("pglz")
