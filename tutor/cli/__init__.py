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


def _register() -> None:
    # Imported here, not at the top, so every module can import `main` and `fail` from this package.
    from tutor.cli import cases, db, discourse, explain, serve, tokens  # noqa: F401


_register()
