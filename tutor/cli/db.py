"""``tutor db upgrade [REV]`` and ``tutor db downgrade REV``: migrate the database TUTOR_DATABASE_URL names."""

from __future__ import annotations

import click
from alembic.util.exc import CommandError

from tutor.cli import fail, main
from tutor.config import Settings
from tutor.persistence import migrate


@main.group()
def db() -> None:
    """Create and migrate the database (TUTOR_DATABASE_URL; default: an SQLite file in ./instance)."""


def _run(action, url: str, revision: str) -> None:
    try:
        action(url, revision)
    except CommandError as error:
        # Alembic's message for an unknown or ambiguous revision, on one line.
        fail(" ".join(str(error).split()))
    click.echo(f"database at revision {migrate.current_revision(url) or 'base (empty)'}")


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Migrate up to REVISION (default: head, the newest)."""
    _run(migrate.upgrade, Settings.from_env().database_url, revision)


@db.command()
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Migrate down to REVISION ("base" removes every table)."""
    _run(migrate.downgrade, Settings.from_env().database_url, revision)


@db.command()
def current() -> None:
    """Print the database's revision and the newest one."""
    url = Settings.from_env().database_url
    click.echo(f"database at revision {migrate.current_revision(url) or 'base (empty)'}")
    click.echo(f"newest revision {migrate.head_revision()}")
