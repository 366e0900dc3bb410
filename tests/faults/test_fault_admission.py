"""One client floods the API with questions that hold a worker as long as the test likes (they wait
at a gate): its questions beyond its share are refused at once with 503 and Retry-After, never left
to stall, and another client's small question is answered meanwhile, not after the flood."""

from __future__ import annotations

import threading

from support.analysis_workers import (
    GATED_STEPS,
    PATIENCE_SECONDS,
    open_gate,
    set_gate,
    wait_until,
    with_forked_workers,
)
from support.apps import sqlite_app
from support.questions import NORMAL

from tutor.config import Limits

FLOOD = 5


def test_a_flood_from_one_client_neither_stalls_nor_delays_another(tmp_path, monkeypatch):
    set_gate(tmp_path)
    try:
        with sqlite_app(
            tmp_path / "app",
            secret_key="test",
            admin_token="admin",
            analysis_workers=2,
            analysis_queue=4,
            analysis_queue_per_client=2,
            # Gated questions are let go by the test, never by the clock (a slow machine waits longer).
            limits=Limits(seconds_per_question=PATIENCE_SECONDS),
        ) as app:
            analyzer = with_forked_workers(app, monkeypatch)
            tokens = app.extensions["tutor_api"].tokens
            flooder = {"Authorization": f"Bearer {tokens.create('flood-bot')}"}
            learner = {"Authorization": f"Bearer {tokens.create('learner-bot')}"}
            responses = []

            def flood():
                body = {**NORMAL, "steps": GATED_STEPS}
                responses.append(app.test_client().post("/api/v1/cases", json=body, headers=flooder))

            threads = [threading.Thread(target=flood) for _ in range(FLOOD)]
            for thread in threads:
                thread.start()
            # Its share: one running (never every worker), one waiting; the rest refused at once.
            wait_until(lambda: len(responses) == FLOOD - 2, "the questions over the flood's share")
            assert analyzer.admission.snapshot() == {"running": 1, "waiting": 1}
            for refused in responses:
                assert refused.status_code == 503
                assert refused.mimetype == "application/problem+json"
                assert "already have 2 questions" in refused.json["detail"]
                assert int(refused.headers["Retry-After"]) >= 1

            # While the flood still holds its worker, another client is answered.
            answered = app.test_client().post("/api/v1/cases", json=NORMAL, headers=learner)
            assert answered.status_code == 201
            assert analyzer.admission.snapshot() == {"running": 1, "waiting": 1}

            open_gate()
            for thread in threads:
                thread.join()
            assert [r.status_code for r in responses].count(201) == 2
            assert app.extensions["tutor"].cases.list().total == 3
    finally:
        set_gate(None)
