"""Migrations: empty to head and back to base on every backend, and the models agree with them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from case_samples import DIVERGES, FLIPS, KINK, RISES, UNDEFINED, question
from sqlalchemy import Column, Integer, MetaData, inspect

import tutor.engine
from tutor.persistence import Base, make_engine, migrate
from tutor.persistence.derived import review_columns

TABLES = {"cases", "trials", "trial_steps"}
REPOSITORY = Path(__file__).resolve().parents[2]


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def differences(url: str, metadata: MetaData = Base.metadata) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()


def test_upgrade_from_empty_to_head_and_down_to_base(empty_database_url):
    assert migrate.current_revision(empty_database_url) is None
    assert not table_names(empty_database_url) & TABLES

    migrate.upgrade(empty_database_url)
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()
    assert TABLES <= table_names(empty_database_url)

    migrate.downgrade(empty_database_url, "base")
    assert migrate.current_revision(empty_database_url) is None
    assert table_names(empty_database_url) <= {"alembic_version"}

    # And up again: the downgrade left nothing behind that the upgrade trips over.
    migrate.upgrade(empty_database_url)
    assert TABLES <= table_names(empty_database_url)


def test_models_and_migrations_agree(database_url):
    assert differences(database_url) == []


def test_a_model_change_without_a_migration_is_noticed(database_url):
    # The check above can fail: a column the migrations do not create shows up as a difference.
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["cases"].append_column(Column("not_migrated", Integer))
    found = differences(database_url, changed)
    assert [d[0] for d in found] == ["add_column"]
    assert found[0][3].name == "not_migrated"


def test_every_revision_has_a_working_downgrade(empty_database_url):
    script = ScriptDirectory.from_config(migrate.alembic_config(empty_database_url))
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    for revision in revisions:
        migrate.upgrade(empty_database_url, revision)
        assert migrate.current_revision(empty_database_url) == revision
    for revision in reversed(revisions[:-1]):
        migrate.downgrade(empty_database_url, revision)
        assert migrate.current_revision(empty_database_url) == revision


def test_tutor_db_upgrade_runs_from_any_working_directory(empty_database_url, tmp_path):
    # No alembic.ini in the working directory: the configuration is built in code.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    tutor = Path(sys.executable).with_name("tutor")
    env = {**os.environ, "TUTOR_DATABASE_URL": empty_database_url}
    done = subprocess.run(
        [str(tutor), "db", "upgrade"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert migrate.head_revision() in done.stdout
    assert TABLES <= table_names(empty_database_url)
    assert list(elsewhere.iterdir()) == []


def test_the_default_database_is_an_sqlite_file_in_a_new_instance_folder(tmp_path):
    instance = tmp_path / "new" / "instance"
    env = {k: v for k, v in os.environ.items() if k != "TUTOR_DATABASE_URL"}
    env["TUTOR_INSTANCE_PATH"] = str(instance)
    tutor = Path(sys.executable).with_name("tutor")
    done = subprocess.run(
        [str(tutor), "db", "upgrade"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert TABLES <= table_names(f"sqlite:///{instance / 'tutor.sqlite3'}")


@pytest.mark.slow
def test_the_wheel_ships_the_migrations(tmp_path):
    # Built from a copy, so the build leaves nothing in the working tree.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPOSITORY / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("tutor", "migrations"):
        shutil.copytree(REPOSITORY / name, source / name, ignore=ignore)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    revisions = {p.name for p in (REPOSITORY / "migrations" / "versions").glob("[0-9]*.py")}
    assert revisions
    expected = {"migrations/__init__.py", "migrations/env.py", "migrations/script.py.mako"}
    expected |= {f"migrations/versions/{name}" for name in revisions}
    assert expected <= names, sorted(expected - names)


def test_postgresql_compresses_case_documents_with_lz4(empty_database_url):
    def compression() -> dict[str, str]:
        engine = make_engine(empty_database_url)
        try:
            with engine.connect() as connection:
                if connection.dialect.name != "postgresql":
                    return {}
                rows = connection.exec_driver_sql(
                    "SELECT attname, attcompression FROM pg_attribute "
                    "WHERE attrelid = 'cases'::regclass AND attname IN ('document', 'input')"
                )
                return dict(rows.all())
        finally:
            engine.dispose()

    migrate.upgrade(empty_database_url, "0002")
    before = compression()
    migrate.upgrade(empty_database_url)
    after = compression()
    migrate.downgrade(empty_database_url, "0002")
    if not before:  # SQLite: the revision changes nothing and goes both ways
        assert compression() == {}
        return
    assert before == {"document": "", "input": ""}  # the server's default (pglz)
    assert after == {"document": "l", "input": "l"}
    assert compression() == {"document": "p", "input": "p"}


def _old_case(case_id: str, document: dict, outcome: str | None) -> dict:
    """A `cases` row as revision 0004 stored it."""
    given = document["input"]
    return {
        "id": case_id,
        "created_at": datetime(2025, 1, 1, tzinfo=UTC),
        "source": "cli",
        "engine_version": document["engine_version"],
        "expression": given["expression"],
        "canonical_expression": document["expression"]["canonical"],
        "parameters": document["parameters"],
        "fixed": {},
        "point": given["point"],
        "learning_rate": given["learning_rate"],
        "steps": given["steps"],
        "order": given["order"],
        "outcome": outcome,
        "input": given,
        "document": document,
    }


def test_the_review_columns_are_backfilled_from_the_documents_and_removed_cleanly(empty_database_url):
    samples = {"rises": RISES, "flips": FLIPS, "kink": KINK, "undefined": UNDEFINED, "diverges": DIVERGES}
    documents = {name: tutor.engine.answer(question(*sample)) for name, sample in samples.items()}
    # What 0004 computed: the final losses alone (the rising pair was a "tie").
    before = {
        "rises": "tie",
        "flips": "sequential_better",
        "kink": "tie",
        "undefined": None,
        "diverges": "diverged",
    }
    migrate.upgrade(empty_database_url, "0004")
    engine = make_engine(empty_database_url)
    json = sa.JSON(none_as_null=True)
    old_cases = sa.table(
        "cases",
        *(sa.column(name) for name in ("id", "created_at", "source", "engine_version", "expression")),
        *(sa.column(name) for name in ("canonical_expression", "learning_rate", "steps", "outcome")),
        *(sa.column(name, json) for name in ("parameters", "fixed", "point", "order", "input", "document")),
    )
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.insert(old_cases), [_old_case(name, documents[name], before[name]) for name in samples]
            )

        migrate.upgrade(empty_database_url)
        with engine.connect() as connection:
            rows = {row.id: row for row in connection.execute(sa.text("SELECT * FROM cases")).mappings()}
        for name, document in documents.items():
            assert {column: rows[name][column] for column in review_columns(document)} == review_columns(
                document
            ), name
        assert rows["rises"]["outcome"] == "loss_went_up" and rows["rises"]["loss_increases"] == 6
        assert rows["flips"]["sign_flips"] == 1 and rows["kink"]["kink"] and rows["undefined"]["undefined"]
        assert rows["undefined"]["methods"] == "" and rows["diverges"]["diverged"]

        migrate.downgrade(empty_database_url, "0004")
        with engine.connect() as connection:
            outcomes = dict(connection.execute(sa.text("SELECT id, outcome FROM cases")).all())
            columns = {column["name"] for column in inspect(connection).get_columns("cases")}
        assert outcomes == before
        assert not columns & {"methods", "sign_flips", "loss_increases", "diverged", "kink", "undefined"}
    finally:
        engine.dispose()
