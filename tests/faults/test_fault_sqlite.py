"""An SQLite file made read-only, under a running app and before another starts, then writable again.

Before: connections opened while the file was read-only stayed read-only after its permissions came
back (6 of 16 writes still failed), and a server started on a read-only database answered 500 even to
reads. Now: reads keep working, each write is a 503 that says the database is read-only (refused
before any analysis is worked out), the state is reported when a server starts, and writes work again
as soon as the file does, without a restart."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.apps import app_for, migrated_sqlite
from support.ci import skip_or_fail_in_ci
from support.questions import NORMAL

import tutor.engine
from tutor.config import Settings


class CountingEngine:
    """The engine in this process, counting the questions it is asked."""

    def __init__(self):
        self.asked = 0

    def answer(self, question):
        self.asked += 1
        return tutor.engine.answer(question)


def set_read_only(file: Path, read_only: bool) -> None:
    """chmod for ordinary users; root writes whatever the mode says, so for root the file is also made
    immutable (chattr +i), which even root cannot write."""
    if read_only:
        file.chmod(0o444)
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if chattr is None:
            skip_or_fail_in_ci("running as root without chattr: a file cannot be made read-only for root")
        done = subprocess.run(
            [chattr, "+i" if read_only else "-i", str(file)], capture_output=True, text=True
        )
        if done.returncode != 0:
            skip_or_fail_in_ci(f"chattr cannot make {file} immutable here: {done.stderr.strip()}")
    if not read_only:
        file.chmod(0o644)


@pytest.fixture
def database_file(tmp_path):
    url = migrated_sqlite(tmp_path)
    file = tmp_path / "tutor.sqlite3"
    yield url, file
    set_read_only(file, False)


def app_on(url: str, root: Path):
    settings = Settings(database_url=url, secret_key="test", admin_token="admin")
    return app_for(settings, root, TESTING=True, RATELIMIT_ENABLED=False)


def ask(app, token):
    return app.test_client().post("/api/v1/cases", json=NORMAL, headers={"Authorization": f"Bearer {token}"})


def assert_read_only_refusal(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert "database is read-only" in response.json["detail"]
    assert int(response.headers["Retry-After"]) >= 1


def test_a_read_only_file_is_read_refused_for_writes_and_written_again_when_it_can_be(
    database_file, tmp_path, caplog
):
    url, file = database_file
    with app_on(url, tmp_path / "running") as running:
        engine = running.extensions["tutor"].cases.analyzer = CountingEngine()
        token = running.extensions["tutor_api"].tokens.create("bot")
        first = ask(running, token)
        assert first.status_code == 201

        set_read_only(file, True)
        # A server started now says so, and reads (its connections are opened read-only).
        with caplog.at_level(logging.WARNING), app_on(url, tmp_path / "started") as started:
            assert "read-only" in caplog.text
            started.extensions["tutor"].cases.analyzer = engine
            for app in (running, started):
                client = app.test_client()
                assert client.get(f"/api/v1/cases/{first.json['id']}").status_code == 200
                assert client.get(f"/cases/{first.json['id']}").status_code == 200
                assert (
                    client.get("/api/v1/cases", headers={"Authorization": "Bearer admin"}).json["total"] == 1
                )
                assert_read_only_refusal(ask(app, token))
            assert engine.asked == 1  # nothing was worked out that could not be saved

            set_read_only(file, False)
            # The first write of each goes through, even one that is not tried twice, on connections
            # opened while the file was read-only.
            deleted = started.test_client().delete(
                f"/api/v1/cases/{first.json['id']}", headers={"Authorization": "Bearer admin"}
            )
            assert deleted.status_code == 204
            assert ask(started, token).status_code == 201
            assert ask(running, token).status_code == 201
            assert running.extensions["tutor"].cases.list().total == 2
