"""Hostile input through the API, answered by the real sandbox (worker processes with time limits):
always a 4xx within seconds, and the service goes on answering everyone else."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest
from support.apps import sqlite_app
from support.questions import NORMAL, slow_question

from tutor.config import Limits


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with sqlite_app(
        tmp_path_factory.mktemp("hostile"),
        secret_key="test",
        admin_token="admin",
        analysis_workers=2,
        limits=dataclasses.replace(Limits(), seconds_per_question=0.5),
    ) as app:
        yield app


@pytest.fixture(scope="module")
def headers(app):
    return {"Authorization": f"Bearer {app.extensions['tutor_api'].tokens.create('hostile-bot')}"}


def ask(app, headers, body):
    started = time.monotonic()
    response = app.test_client().post("/api/v1/cases", json=body, headers=headers)
    return response, time.monotonic() - started


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
def test_hostile_expressions_are_refused_in_seconds(app, headers, expression):
    response, seconds = ask(app, headers, {"expression": expression, "point": {"x": 1}, "learning_rate": 0.1})

    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert response.json["field"] in ("expression", "point")
    assert seconds < 5


def test_too_expensive_is_a_422_and_others_are_answered_meanwhile(app, headers):
    slow_answer = {}

    def ask_slow():
        slow_answer["response"], slow_answer["seconds"] = ask(app, headers, slow_question())

    slow = threading.Thread(target=ask_slow)
    slow.start()
    normal, _ = ask(app, headers, NORMAL)
    slow.join(30)

    assert normal.status_code == 201
    response = slow_answer["response"]
    assert response.status_code == 422
    assert "longer than 0.5 seconds" in response.json["detail"]
    assert response.json["field"] == "expression"
    assert slow_answer["seconds"] < 10
    # The worker that was killed has been replaced.
    after, _ = ask(app, headers, NORMAL)
    assert after.status_code == 201


def test_a_huge_body_is_refused_before_anything_reads_it(app, headers):
    body = b'{"expression": "' + b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1) + b'"}'
    response = app.test_client().post(
        "/api/v1/cases", data=body, headers={**headers, "Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
