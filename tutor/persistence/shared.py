"""State every process and every instance of the service shares through the database: the key that
signs sessions and forms, and each case's plots, drawn once and then served by any instance."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from tutor.persistence.database import Database
from tutor.persistence.models import Base, UTCDateTime


class SharedSecret(Base):
    """A random secret made once and read by every instance (``session``: Flask's SECRET_KEY when
    TUTOR_SECRET_KEY is not set)."""

    __tablename__ = "shared_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class StoredPlot(Base):
    """One plot of one case. The row is made by the process that draws it, holding a lease
    (``drawing_until``) while it does; the others wait for ``png``, or take over once the lease has run
    out (the drawing process died). A plot that cannot be drawn keeps the reason in ``error`` and is
    not tried again."""

    __tablename__ = "plots"

    case_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    png: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(Text)
    drawing_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def shared_secret(database: Database, name: str) -> str:
    """The secret called ``name``: made at random by whichever process asks first, then the same for
    every process and instance on this database."""
    with database.session() as session:
        found = session.get(SharedSecret, name)
        if found is not None:
            return found.value
    try:
        with database.session(write=True) as session:
            session.add(SharedSecret(name=name, value=secrets.token_hex(32), created_at=datetime.now(UTC)))
    except IntegrityError:
        pass  # another process made it first: theirs is the one
    with database.session() as session:
        return session.get(SharedSecret, name).value
