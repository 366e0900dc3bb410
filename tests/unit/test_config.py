"""The settings from TUTOR_* variables: each read into its field, refused with a message that names it,
shown by `tutor settings`, and documented in the README by tables generated from the model."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from tutor.cli import main
from tutor.config import ConfigError, Limits, Settings, in_force, reference_table, variables


def test_the_admission_and_database_settings_are_read(monkeypatch):
    monkeypatch.setenv("TUTOR_ANALYSIS_WORKERS", "3")
    monkeypatch.setenv("TUTOR_ANALYSIS_QUEUE", "0")
    monkeypatch.setenv("TUTOR_ANALYSIS_QUEUE_PER_CLIENT", "5")
    monkeypatch.setenv("TUTOR_DATABASE_STATEMENT_TIMEOUT", "2.5")

    settings = Settings.from_env()

    assert (settings.analysis_workers, settings.analysis_queue, settings.analysis_queue_per_client) == (
        3,
        0,
        5,
    )
    assert settings.database_statement_timeout == 2.5
    assert settings.database_lock_timeout == Settings().database_lock_timeout


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TUTOR_ANALYSIS_WORKERS", "0", "TUTOR_ANALYSIS_WORKERS must be at least 1, not '0'"),
        ("TUTOR_ANALYSIS_QUEUE_PER_CLIENT", "two", "must be a whole number, not 'two'"),
        ("TUTOR_DATABASE_CONNECT_TIMEOUT", "-1", "must be at least 0.1"),
        ("TUTOR_DATABASE_POOL_TIMEOUT", "nan", "must be at least 0.1"),
    ],
)
def test_settings_that_cannot_work_are_refused_by_name(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        Settings.from_env()


# --- every variable, documented and read ---------------------------------------------------------------

README = Path(__file__).resolve().parents[2] / "README.md"
TABLES = {
    "settings": (Settings, "<!-- settings table: generated from tutor/config.py -->"),
    "limits": (Limits, "<!-- limits table: generated from tutor/config.py, see Configuration -->"),
}


def readme_table(text: str, which: str) -> tuple[int, int]:
    """Where the generated ``which`` table sits in the README: between its two marker comments."""
    start = text.index(TABLES[which][1]) + len(TABLES[which][1]) + 1
    return start, text.index(f"<!-- end of {which} table -->", start)


@pytest.mark.parametrize("which", sorted(TABLES))
def test_the_readme_tables_are_the_ones_generated_from_the_model(which):
    text = README.read_text("utf-8")
    start, end = readme_table(text, which)
    generated = reference_table(TABLES[which][0])
    if os.environ.get("UPDATE_README") and text[start:end] != generated:
        README.write_text(text[:start] + generated + text[end:], "utf-8")
        text = README.read_text("utf-8")
        start, end = readme_table(text, which)
    assert text[start:end] == generated, (
        "regenerate: UPDATE_README=1 .venv/bin/pytest tests/unit/test_config.py"
    )


def test_every_variable_named_in_the_docs_and_the_deployment_is_one_the_tutor_reads():
    root = README.parent
    texts = [README, root / "Dockerfile", root / "Makefile", *sorted((root / "deploy").rglob("*.*"))]
    named = set()
    for path in texts:
        if path.is_file() and path.suffix not in {".pyc"}:
            named |= set(
                re.findall(r"\bTUTOR_[A-Z0-9_]*[A-Z0-9]\b", path.read_text("utf-8", errors="replace"))
            )
    # Not the tutor's: the tests' own database, the limits' family name, `make prod`'s port
    # (deploy/local_topology.py) and the placeholders of the nginx template.
    template = (root / "deploy" / "nginx" / "tutor.conf.template").read_text("utf-8")
    named -= {"TUTOR_TEST_DATABASE_URL", "TUTOR_LIMIT", "TUTOR_PROD_PORT"}
    named -= set(re.findall(r"\$\{(TUTOR_\w+)\}", template))
    assert named, "the scan found no variables at all"
    assert sorted(named - set(variables())) == []


def test_every_field_has_a_meaning_and_a_variable_name_of_its_own():
    names = variables()
    assert len(names) == len(Settings.model_fields) - 1 + len(Limits.model_fields)
    for model in (Settings, Limits):
        for name, info in model.model_fields.items():
            assert info.description and not info.description.endswith("."), (model.__name__, name)


def other_value(model: type, name: str, tmp_path: Path) -> tuple[str, object]:
    """A valid value for the field other than its default: as the environment writes it, and as read."""
    info = model.model_fields[name]
    default = getattr(model(), name)
    annotation = info.annotation
    if name == "instance_path":
        return str(tmp_path), tmp_path.resolve()
    if name == "discourse_math":
        return "ON", "on"
    if annotation is int:
        return str(default + 3), default + 3
    if annotation is float:
        return repr(default * 2.5), default * 2.5
    if name.endswith("_url"):
        return "redis://127.0.0.1:6379/5", "redis://127.0.0.1:6379/5"
    return "something-else", "something-else"


@pytest.mark.parametrize("variable", sorted(variables()))
def test_each_variable_sets_its_field_and_nothing_else(monkeypatch, tmp_path, variable):
    model, name = variables()[variable]
    raw, expected = other_value(model, name, tmp_path)
    monkeypatch.setenv(variable, raw)

    settings = Settings.from_env()

    values = settings.limits if model is Limits else settings
    assert getattr(values, name) == expected
    changed = [row[0] for row in in_force(settings) if row[2]]
    # The default database lives in the instance folder, so moving the folder moves it too.
    assert set(changed) == {variable} | ({"TUTOR_DATABASE_URL"} if name == "instance_path" else set())


def test_constructing_the_models_reads_no_environment(monkeypatch):
    """The engine and the tests get the defaults they name, whatever the shell exports."""
    monkeypatch.setenv("TUTOR_WORKERS", "7")
    monkeypatch.setenv("TUTOR_LIMIT_MAX_STEPS", "5")

    assert Settings().workers == 2 and Settings().limits.max_steps == 1000 and Limits().max_steps == 1000
    assert Settings.from_env().workers == 7 and Settings.from_env().limits.max_steps == 5


def test_a_misspelt_or_impossible_setting_in_code_is_refused():
    with pytest.raises(ValidationError, match="worker"):
        Settings(worker=3)
    with pytest.raises(ValidationError, match="max_steps"):
        Limits(max_steps=0)
    with pytest.raises(ValidationError, match="proxies"):
        Settings().with_changes(proxies=-1)


def test_empty_variables_count_as_unset_and_urls_lose_a_trailing_slash(monkeypatch):
    monkeypatch.setenv("TUTOR_DISCOURSE_URL", "")
    monkeypatch.setenv("TUTOR_WORKERS", "")
    monkeypatch.setenv("TUTOR_PUBLIC_URL", "https://tutor.example/")
    settings = Settings.from_env()
    assert (settings.discourse_url, settings.workers, settings.public_url) == (
        None,
        2,
        "https://tutor.example",
    )


def test_tutor_settings_prints_what_is_in_force_and_hides_secrets():
    env = {
        "TUTOR_WORKERS": "5",
        "TUTOR_ADMIN_TOKEN": "admin-token-value",
        "TUTOR_DATABASE_URL": "postgresql+psycopg://tutor:hunter2@db.example:5432/tutor",
        "TUTOR_LIMIT_SECONDS_PER_QUESTION": "4.5",
    }
    result = CliRunner().invoke(main, ["settings"], env=env)

    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split(maxsplit=2)[1:] for line in result.stdout.splitlines()}
    assert set(lines) == set(variables())
    assert lines["TUTOR_WORKERS"] == ["set", "5"]
    assert lines["TUTOR_ANALYSIS_WORKERS"] == ["default", "2"]
    assert lines["TUTOR_ADMIN_TOKEN"] == ["set", "(set)"]
    assert lines["TUTOR_LIMIT_SECONDS_PER_QUESTION"] == ["set", "4.5"]
    assert lines["TUTOR_DATABASE_URL"] == ["set", "postgresql+psycopg://tutor:***@db.example:5432/tutor"]
    assert "hunter2" not in result.output and "admin-token-value" not in result.output


def test_tutor_settings_refuses_a_value_it_cannot_read_in_one_line():
    result = CliRunner().invoke(main, ["settings"], env={"TUTOR_DISCOURSE_MATH": "latex"})

    assert result.exit_code == 2
    assert result.stderr == "tutor: TUTOR_DISCOURSE_MATH must be off or on, not 'latex'\n"
    assert result.stdout == ""


def test_tutor_settings_reference_is_the_readme_tables():
    result = CliRunner().invoke(main, ["settings", "--reference"])

    assert result.exit_code == 0
    assert result.stdout == reference_table(Settings) + "\n" + reference_table(Limits)
    text = README.read_text("utf-8")
    assert all(text[slice(*readme_table(text, which))] in result.stdout for which in TABLES)
