"""Analysis workers killed with SIGKILL (the OOM killer, an operator), idle and busy, and the fork
server they come from: the service answers again without a restart, and a question whose worker died
is a 503 the client may retry, never a 422 that blames the learner."""

from __future__ import annotations

import multiprocessing.forkserver
import threading

import pytest
from support.analysis_workers import (
    GATED_STEPS,
    PATIENCE_SECONDS,
    gone,
    kill,
    open_gate,
    set_gate,
    wait_until,
    with_forked_workers,
    worker_pids,
)
from support.apps import sqlite_app
from support.questions import NORMAL

from tutor.config import Limits


def make_app(root, workers: int):
    # Questions are let go by the test, never by the clock (a slow machine only waits longer).
    return sqlite_app(
        root,
        secret_key="test",
        admin_token="admin",
        analysis_workers=workers,
        limits=Limits(seconds_per_question=PATIENCE_SECONDS),
    )


def bearer(app, name: str) -> dict:
    return {"Authorization": f"Bearer {app.extensions['tutor_api'].tokens.create(name)}"}


def assert_answers_normally(app, headers) -> None:
    """A new question is answered and saved, and its page (MathML and a plot, worked out in the
    workers too) is served."""
    client = app.test_client()
    response = client.post("/api/v1/cases", json=NORMAL, headers=headers)
    assert response.status_code == 201, response.get_json()
    case_id = response.json["id"]
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert "<math" in page.get_data(as_text=True)  # formulas from a worker, not the fallback
    assert client.get(f"/cases/{case_id}/plots/loss.png").status_code == 200


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_killed_while_idle_are_replaced_without_a_restart(tmp_path, workers):
    # The production pool (forkserver). Once every worker is gone, pebble's pool refused every task
    # with a plain RuntimeError: 31 of 40 requests were 500s a minute later.
    with make_app(tmp_path, workers) as app:
        headers = bearer(app, "bot")
        analyzer = app.extensions["tutor"].analyzer
        analyzer.start()
        killed = worker_pids(analyzer)
        for pid in killed:
            kill(pid)

        assert_answers_normally(app, headers)
        replacements = worker_pids(analyzer)  # a full set of live workers again
        assert replacements.isdisjoint(killed)
        assert not any(gone(pid) for pid in replacements)


def test_the_fork_server_and_its_workers_killed_are_started_again(tmp_path):
    with make_app(tmp_path, 2) as app:
        headers = bearer(app, "bot")
        analyzer = app.extensions["tutor"].analyzer
        analyzer.start()
        server = multiprocessing.forkserver._forkserver._forkserver_pid
        assert server is not None
        kill(server)
        for pid in worker_pids(analyzer):
            kill(pid)

        assert_answers_normally(app, headers)


def test_a_question_whose_worker_is_killed_is_a_503_to_retry_and_the_next_is_answered(tmp_path, monkeypatch):
    set_gate(tmp_path)
    try:
        with make_app(tmp_path / "app", 1) as app:
            headers = bearer(app, "bot")
            with_forked_workers(app, monkeypatch)
            answered = {}

            def ask_gated():
                body = {**NORMAL, "steps": GATED_STEPS}
                answered["response"] = app.test_client().post("/api/v1/cases", json=body, headers=headers)

            asking = threading.Thread(target=ask_gated)
            asking.start()
            # The worker has the question (it marks it) and is still working on it.
            wait_until(lambda: list(tmp_path.glob("started-*")), "the worker to start on the question")
            [marker] = tmp_path.glob("started-*")
            kill(int(marker.name.removeprefix("started-")))
            asking.join()

            response = answered["response"]
            assert response.status_code == 503, response.get_json()
            assert response.mimetype == "application/problem+json"
            assert int(response.headers["Retry-After"]) >= 1
            assert "stopped (killed by SIGKILL)" in response.json["detail"]
            assert "Send the question again" in response.json["detail"]
            open_gate()
            # Retried as the 503 invites, it is answered, and nothing else was saved meanwhile.
            retried = app.test_client().post(
                "/api/v1/cases", json={**NORMAL, "steps": GATED_STEPS}, headers=headers
            )
            assert retried.status_code == 201
            assert app.extensions["tutor"].cases.list().total == 1
            assert_answers_normally(app, headers)
    finally:
        set_gate(None)
