"""The app as the in-process tests build it: on a migrated SQLite database or one they are given, with
its instance folder where the test says, and closed (its analysis workers stopped) afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from tutor.config import Settings
from tutor.persistence.migrate import upgrade
from tutor.web import create_app


def migrated_sqlite(root: Path) -> str:
    """A new SQLite database in ``root``, migrated to the newest revision: its URL."""
    database_url = f"sqlite:///{root / 'tutor.sqlite3'}"
    upgrade(database_url)
    return database_url


def new_app(settings: Settings, instance: Path, **config) -> Flask:
    """``create_app(settings, **config)`` with its instance folder at ``instance``. The caller closes
    the app."""
    return create_app(settings.with_changes(instance_path=instance), **config)


@contextmanager
def app_for(settings: Settings, instance: Path, **config) -> Iterator[Flask]:
    """``new_app``, closed when the block ends."""
    app = new_app(settings, instance, **config)
    try:
        yield app
    finally:
        app.extensions["tutor"].close()


@contextmanager
def sqlite_app(root: Path, **settings) -> Iterator[Flask]:
    """An app on a migrated SQLite database in ``root``, its instance folder there too, in testing mode
    and without rate limits: ``Settings(**settings)`` for the rest."""
    settings = Settings(database_url=migrated_sqlite(root), **settings)
    with app_for(settings, root / "instance", TESTING=True, RATELIMIT_ENABLED=False) as app:
        yield app
