"""The ``tutor`` command. Each subcommand group lives in its own module and registers itself here."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from tutor import __version__
from tutor.config import ConfigError


def fail(message: str) -> NoReturn:
    """Bad input on the command line: one line on stderr, exit status 2, never a traceback."""
    click.echo(f"tutor: {message}", err=True)
    sys.exit(2)


class TutorCommand(click.Group):
    """Every error a user can cause ends as ``fail`` does: click's usage errors (three lines of usage
    and hint by default), a configuration that cannot be read, a database that cannot be reached."""

    def main(self, *args, **kwargs):
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

        from tutor.persistence.database import DatabaseReadOnly, DatabaseUnavailable
        from tutor.sandbox import AnalysisUnavailable

        try:
            return super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except click.UsageError as error:
            fail(_usage_message(error))
        except click.ClickException as error:
            fail(error.format_message())
        except ConfigError as error:
            fail(str(error))
        except (ArgumentError, NoSuchModuleError) as error:
            fail(f"TUTOR_DATABASE_URL is not a database URL this tutor can use: {error}")
        except OperationalError as error:
            fail(f"the database cannot be reached: {str(error.orig).strip().splitlines()[0]}")
        except DatabaseReadOnly as error:
            fail(f"the database is read-only: {error.reason}")
        except DatabaseUnavailable as error:
            fail(f"the database is unavailable: {error.reason}")
        except AnalysisUnavailable as error:
            fail(error.detail)


def _usage_message(error: click.UsageError) -> str:
    names, context = [], error.ctx
    while context is not None and context.parent is not None:  # the subcommands, without `tutor`
        names.insert(0, context.info_name)
        context = context.parent
    command = " ".join(names)
    message = error.format_message()
    if isinstance(error, click.NoSuchOption) and command == "explain":
        # An expression such as -x*y reads as an option.
        message += (
            " (an expression that starts with '-' goes after `--`: tutor explain --at ... --lr ... -- '-x*y')"
        )
    return f"{command}: {message}" if command else message


@click.group(cls=TutorCommand)
@click.version_option(__version__, prog_name="tutor")
def main() -> None:
    """The backprop tutor: gradient descent explained with your own numbers."""


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
    from tutor.cli import cases, db, discourse, explain, serve, settings, tokens, worker  # noqa: F401


_register()
