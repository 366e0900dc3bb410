"""Mini-batch steps as rows: the batch's row indices and its loss before and after the update.

With them a reviewer asks in SQL which steps lowered their batch's loss while the full loss rose.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 09:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("trial_steps") as batch_op:
        batch_op.add_column(sa.Column("batch", sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column("batch_loss", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("batch_loss_after", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trial_steps") as batch_op:
        batch_op.drop_column("batch_loss_after")
        batch_op.drop_column("batch_loss")
        batch_op.drop_column("batch")
