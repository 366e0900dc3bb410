"""Database fixtures: every test that takes one runs on SQLite (a temp file) and on PostgreSQL.

PostgreSQL is TUTOR_TEST_DATABASE_URL; each test gets a fresh schema (through the connection's
search_path, so the code under test needs nothing special) and the schema is dropped afterwards.
Without the URL the PostgreSQL runs are skipped, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from support.ci import skip_or_fail_in_ci

import tutor.engine
from tutor.persistence import Database, migrate
from tutor.services.cases import CaseService

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def postgres_base_url() -> str:
    url = os.environ.get("TUTOR_TEST_DATABASE_URL")
    if not url:
        skip_or_fail_in_ci(
            "set TUTOR_TEST_DATABASE_URL to run the PostgreSQL tests",
            ci_reason="CI=true but TUTOR_TEST_DATABASE_URL is not set: the PostgreSQL tests must run in CI",
        )
    return url


def url_with_schema(base: str, schema: str) -> str:
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=BACKENDS)
def empty_database_url(request, tmp_path) -> Iterator[str]:
    """A database with no tables, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'instance' / 'tutor.sqlite3'}"
        return
    base = postgres_base_url()
    schema = f"tutor_test_{secrets.token_hex(6)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield url_with_schema(base, schema)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def database_url(empty_database_url) -> str:
    """A database migrated to the newest revision."""
    migrate.upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture
def database(database_url) -> Iterator[Database]:
    db = Database.from_url(database_url)
    yield db
    db.dispose()


@pytest.fixture
def service(database) -> CaseService:
    # The engine itself, in this process: the sandbox's worker pool is not what these tests test.
    return CaseService(database, tutor.engine)
