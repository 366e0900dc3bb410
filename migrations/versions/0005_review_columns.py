"""Review columns on cases: trials run, sign flips, rises of the loss, divergence, special cases.

Derived from each case's stored document (tutor.persistence.derived, a pure function the repository
also uses on save) and backfilled here, a batch of cases at a time. `outcome` is recomputed too: a
pair of trials whose loss rose is now "loss_went_up", never a "tie"; the downgrade gives those cases
back the comparison of final losses they had.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import sqlalchemy as sa
from alembic import op

from tutor.persistence.derived import outcome_of, review_columns

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 200
COUNTS = ("sign_flips", "loss_increases")
FLAGS = ("diverged", "stationary", "kink", "undefined")
# The partial indexes of the review filters (as tutor.persistence.models.FEATURE_INDEXES).
INDEXES = {
    "sign_flips": "sign_flips > 0",
    "loss_increases": "loss_increases > 0",
    "diverged": "diverged",
    "special": "(stationary OR kink OR undefined)",
}

cases = sa.table(
    "cases",
    sa.column("id", sa.String),
    sa.column("document", sa.JSON(none_as_null=True)),
    sa.column("outcome", sa.String),
    sa.column("methods", sa.String),
    *(sa.column(name, sa.Integer) for name in COUNTS),
    *(sa.column(name, sa.Boolean) for name in FLAGS),
)


def documents(where: sa.ColumnElement[bool] | None = None) -> Iterator[list[tuple[str, dict]]]:
    """(id, document) of every case (or those ``where`` keeps), a batch at a time in id order."""
    bind = op.get_bind()
    last = ""
    while True:
        query = sa.select(cases.c.id, cases.c.document).where(cases.c.id > last)
        if where is not None:
            query = query.where(where)
        rows = bind.execute(query.order_by(cases.c.id).limit(BATCH)).all()
        if not rows:
            return
        yield [(row.id, row.document) for row in rows]
        last = rows[-1].id


def upgrade() -> None:
    # On SQLite, before the documents: it reads a row's columns in order, so a column after the
    # 100 kB document would cost a walk through the document's pages. PostgreSQL keeps the
    # document out of line and adds columns in place.
    sqlite = op.get_bind().dialect.name == "sqlite"
    place = {"insert_before": "input"} if sqlite else {}
    with op.batch_alter_table("cases", recreate="always" if sqlite else "auto") as batch_op:
        batch_op.add_column(sa.Column("methods", sa.String(200), nullable=True), **place)
        for name in COUNTS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True), **place)
        for name in FLAGS:
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=True), **place)

    update = (
        sa.update(cases)
        .where(cases.c.id == sa.bindparam("case_id"))
        .values({name: sa.bindparam(name) for name in ("outcome", "methods", *COUNTS, *FLAGS)})
    )
    for batch in documents():
        op.get_bind().execute(
            update, [{"case_id": case_id, **review_columns(document)} for case_id, document in batch]
        )

    with op.batch_alter_table("cases") as batch_op:
        for name in ("methods", *COUNTS, *FLAGS):
            batch_op.alter_column(name, existing_type=cases.c[name].type, nullable=False)
    for name, where in INDEXES.items():
        op.create_index(
            f"ix_cases_{name}_created_at",
            "cases",
            ["created_at", "id"],
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(f"ix_cases_{name}_created_at", table_name="cases")
    # Before 0005 the comparison of final losses alone decided: without the steps, outcome_of
    # cannot see the loss rise, and these cases never diverged.
    update = sa.update(cases).where(cases.c.id == sa.bindparam("case_id")).values(outcome=sa.bindparam("o"))
    for batch in documents(cases.c.outcome == "loss_went_up"):
        op.get_bind().execute(
            update,
            [
                {"case_id": case_id, "o": outcome_of([{**t, "steps": []} for t in document["trials"]])}
                for case_id, document in batch
            ],
        )
    with op.batch_alter_table("cases") as batch_op:
        for name in reversed(("methods", *COUNTS, *FLAGS)):
            batch_op.drop_column(name)
