"""The ``tutor`` command. Each subcommand group lives in its own module and registers itself here."""

from __future__ import annotations

import sys

import click

from tutor import __version__


@click.group()
@click.version_option(__version__, prog_name="tutor")
def main() -> None:
    """The backprop tutor: gradient descent explained with your own numbers."""


def fail(message: str) -> None:
    """Bad input on the command line: one line on stderr, exit status 2, never a traceback."""
    click.echo(f"tutor: {message}", err=True)
    sys.exit(2)


def migrated_database():
    """The database TUTOR_DATABASE_URL names, which must be at the newest revision (else: what to run)."""
    from tutor.config import Settings
    from tutor.persistence import Database, migrate

    url = Settings.from_env().database_url
    current, head = migrate.current_revision(url), migrate.head_revision()
    if current != head:
        fail(f"the database is at revision {current or 'base (empty)'}, not {head}: run `tutor db upgrade`")
    return Database.from_url(url)


def _register() -> None:
    # Imported here, not at the top, so every module can import `main` and `fail` from this package.
    from tutor.cli import cases, db, discourse, explain, serve, tokens  # noqa: F401


_register()
