"""The service's settings from TUTOR_* variables: read, or refused with a message that names them."""

from __future__ import annotations

import pytest

from tutor.config import ConfigError, Settings


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
    assert settings.database_lock_timeout == Settings.database_lock_timeout


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
