"""Hostile input through the API, answered by the real sandbox (worker processes with time limits):
always a 4xx, and the service goes on answering everyone else. The time limit is the calibrated budget
(support.calibration), so no outcome depends on how fast or busy the machine is."""

from __future__ import annotations

import threading

import pytest
from support import calibration
from support.apps import sqlite_app
from support.questions import NORMAL


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with sqlite_app(
        tmp_path_factory.mktemp("hostile"),
        secret_key="test",
        admin_token="admin",
        analysis_workers=2,
        limits=calibration.limits(),
    ) as app:
        # Started now: a pool starting inside the first question would eat into its budget.
        app.extensions["tutor"].analyzer.start()
        yield app


def bearer(app, name: str) -> dict:
    return {"Authorization": f"Bearer {app.extensions['tutor_api'].tokens.create(name)}"}


@pytest.fixture(scope="module")
def headers(app):
    return bearer(app, "hostile-bot")


def ask(app, headers, body):
    return app.test_client().post("/api/v1/cases", json=body, headers=headers)


@pytest.mark.parametrize(
    "expression",
    [
        "9**9**9",
        "x**-(9**9)",
        "(x*(" * 50 + "x" + "))" * 50,
        "-" * 400 + "x",
        "exp(" * 60 + "x" + ")" * 60,
        "+".join(f"x{i}" for i in range(100)),
        "__import__('os').system('true')",
        "x" * 400,
        "\u202ex\u0000",
    ],
)
def test_hostile_expressions_are_refused_by_the_checks_not_the_clock(app, headers, expression):
    response = ask(app, headers, {"expression": expression, "point": {"x": 1}, "learning_rate": 0.1})

    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert response.json["field"] in ("expression", "point")
    assert "took longer than" not in response.json["detail"]


def test_too_expensive_is_a_422_and_others_are_answered_meanwhile(app, headers):
    slow_answer = {}
    slow_question = calibration.slow_question_over_budget()

    def ask_slow():
        slow_answer["response"] = ask(app, headers, slow_question)

    slow = threading.Thread(target=ask_slow)
    slow.start()
    # Another client: one client's question never makes another's wait.
    normal = ask(app, bearer(app, "another-bot"), NORMAL)
    slow.join()

    assert normal.status_code == 201, normal.json
    response = slow_answer["response"]
    assert response.status_code == 422, response.json
    assert f"longer than {calibration.budget():g} seconds" in response.json["detail"]
    assert response.json["field"] == "expression"
    # The worker that was killed has been replaced.
    assert ask(app, headers, NORMAL).status_code == 201


def test_a_huge_body_is_refused_before_anything_reads_it(app, headers):
    body = b'{"expression": "' + b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1) + b'"}'
    response = app.test_client().post(
        "/api/v1/cases", data=body, headers={**headers, "Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
