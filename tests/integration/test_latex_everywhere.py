"""LaTeX wherever an expression is accepted: the ask form, the API and the command line read it the same
way, show it as written and as read, and refuse it at the column of the LaTeX."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from support.apps import sqlite_app

import tutor.engine
from tutor.cli import main
from tutor.engine import Question

ADMIN = "admin-token-for-latex-tests"
WRITTEN = r"$\frac{1}{2}(\sigma(w_0 x_0 + b) - \hat{y})^2$"
READ_AS = "(1/2)*(sigmoid(w0*x0+b)-y_hat)**2"
TYPED = "0.5*(sigmoid(w0*x0 + b) - y_hat)**2"
POINT = {"w0": 0.5, "x0": 1.5, "b": -0.2, "y_hat": 1.0}
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with sqlite_app(tmp_path_factory.mktemp("latex"), secret_key="test", admin_token=ADMIN) as app:
        app.extensions["tutor"].cases.analyzer = tutor.engine
        yield app


@pytest.fixture(scope="module")
def typed():
    return tutor.engine.answer(Question(TYPED, POINT, 0.1))


def ask(client, **fields):
    match = CSRF.search(client.get("/").get_data(as_text=True))
    token = match.group(1) or match.group(2)
    form = {"expression": "", "point": "", "learning_rate": "", "steps": "1", "fixed": "", "order": ""}
    return client.post("/", data={**form, **fields, "csrf_token": token})


def test_the_form_reads_latex_with_the_names_as_written_and_shows_both(app, typed):
    client = app.test_client()

    response = ask(
        client, expression=WRITTEN, point=r"w_0=0.5, x_0=1.5, b=-0.2, \hat{y}=1", learning_rate="0.1"
    )

    assert response.status_code == 303, response.get_data(as_text=True)
    case = app.extensions["tutor"].cases.get(response.headers["Location"].rsplit("/", 1)[1])
    assert case["input"]["expression"] == WRITTEN and case["input"]["point"] == POINT
    assert (case["loss"], case["gradient"]) == (typed["loss"], typed["gradient"])
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f'<code class="expr" id="read-as">{READ_AS}</code>' in html


def test_the_form_points_at_the_latex_column(app):
    response = ask(
        app.test_client(), expression=r"\frac{1}{2} x^{10} + \sigmoit(x)", point="x=1", learning_rate="0.1"
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "did you mean \\sigmoid?" in html and "(column 22)" in html


def test_the_api_reads_latex_and_refuses_it_at_its_column(app, typed):
    client = app.test_client()
    bot = {"Authorization": f"Bearer {app.extensions['tutor_api'].tokens.create('latex-bot')}"}
    point = {"w_0": 0.5, "x_0": 1.5, "b": -0.2, "\\hat{y}": 1.0}

    created = client.post(
        "/api/v1/cases", json={"expression": WRITTEN, "point": point, "learning_rate": 0.1}, headers=bot
    )

    assert created.status_code == 201, created.json
    assert created.json["expression"]["notation"] == "latex"
    assert created.json["expression"]["read_as"] == READ_AS
    assert created.json["gradient"] == typed["gradient"]
    refused = client.post(
        "/api/v1/cases", json={"expression": "$x^10$", "point": {"x": 1}, "learning_rate": 0.1}, headers=bot
    )
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert (refused.json["field"], refused.json["column"]) == ("expression", 4)
    assert "write ^{10}" in refused.json["detail"]


def test_the_command_line_reads_latex(typed):
    result = CliRunner().invoke(
        main, ["explain", WRITTEN, "--at", r"w_0=0.5, x_0=1.5, b=-0.2, \hat{y}=1", "--lr", "0.1"]
    )

    assert result.exit_code == 0, result.output
    assert f"read as `{READ_AS}`" in result.output
    refused = CliRunner().invoke(main, ["explain", r"\frac{1}{x", "--at", "x=1", "--lr", "0.1"])
    assert refused.exit_code == 2
    assert "expression: this { is not closed (column 9)" in refused.output
