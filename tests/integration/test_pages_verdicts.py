"""The answer page's verdicts read back against the case's own numbers: which scheme is marked lower,
what the learner's step did, and whether the page answers "yes"."""

from __future__ import annotations

import re
from html import unescape

import pytest
from support.apps import sqlite_app

from tutor.web.pages.present import winner


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with sqlite_app(tmp_path_factory.mktemp("verdicts"), secret_key="test-secret") as app:
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


def asked(client, app, **fields) -> tuple[dict, str]:
    """The case stored for the question and its page's HTML."""
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    form = {"expression": "", "point": "", "learning_rate": "", "steps": "1", "fixed": "", "order": ""}
    response = client.post("/", data={**form, **fields, "csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    case = app.extensions["tutor"].cases.get(location.rsplit("/", 1)[1])
    return case, client.get(location).get_data(as_text=True)


def text_of(html: str, pattern: str) -> str:
    match = re.search(pattern, html, re.S)
    assert match, f"nothing matches {pattern}"
    return " ".join(unescape(re.sub(r"<[^>]+>", "", match.group(0))).split())


@pytest.mark.parametrize(
    ("expression", "point", "rate", "steps"),
    [
        ("x*y", "x=3, y=1", "3", "200"),  # the sequential trial diverges, its last finite loss is lower
        ("x**2 + y**2", "x=3, y=1", "5", "1000"),  # both diverge
        ("(x+y)*z", "x=-2, y=5, z=-4", "0.01", "2"),  # neither: sequential is lower
        ("x*y", "x=1, y=1", "0.5", "1"),  # neither: simultaneous is lower
    ],
)
def test_the_lower_flag_never_goes_to_a_comparison_with_a_diverged_trial(
    client, app, expression, point, rate, steps
):
    case, html = asked(client, app, expression=expression, point=point, learning_rate=rate, steps=steps)
    trials = {t["method"]: t for t in case["trials"]}
    marked = re.findall(r'<tr class="winner" data-trial="(\w+)">', html)
    if any(t["diverged_at"] is not None for t in trials.values()):
        assert marked == [] and winner(case) is None
        for trial in trials.values():
            if trial["diverged_at"] is not None:
                row = text_of(html, rf'<tr[^>]*data-trial="{trial["method"]}">.*?</tr>')
                assert f"at step {trial['diverged_at']}" in row
    else:
        a, b = trials["simultaneous"]["final_loss"], trials["sequential"]["final_loss"]
        assert a != b
        assert marked == ["sequential" if b < a else "simultaneous"]


@pytest.mark.parametrize(
    ("expression", "point", "rate"),
    [("sin(x)", "x=1", "13"), ("sin(x)", "x=1", "1"), ("x**2", "x=1", "1.5"), ("x**2", "x=1", "1")],
)
def test_the_rate_sentence_says_what_the_step_did(client, app, expression, point, rate):
    case, html = asked(client, app, expression=expression, point=point, learning_rate=rate)
    analysis = case["analysis"]
    sentence = text_of(html, r'<p id="rate-position">.*?</p>')
    position, outcome = sentence.split("): ", 1)  # where η sits against the bound: what the step did
    change = analysis["actual_change"]
    assert ("lowers the loss" in outcome) == (change < 0), sentence
    assert ("raises the loss" in outcome) == (change > 0), sentence
    assert ("does not change the loss" in outcome) == (change == 0), sentence
    above = analysis["learning_rate"] >= analysis["max_decreasing_learning_rate"]
    assert ("above" in position) == above
    if above and change < 0:
        assert "not a guarantee" in outcome


def test_relu_on_its_kink_is_not_answered_yes_and_the_page_says_f_is_not_smooth(client, app):
    case, html = asked(client, app, expression="relu(x)", point="x=0", learning_rate="0.1")
    assert case["analysis"]["actual_change"] == 0 and case["analysis"]["best_change"] is None
    # The short answer opens the page; the whole answer is in its Markdown copy box (as text to copy).
    verdict = text_of(html, r'<div class="verdict[^"]*" id="verdict".*?</div>')
    answer = " ".join(case["explanation"]["summary"]["text"].split())
    assert answer.startswith("No:") and answer in verdict, answer
    explanation = text_of(html, r'<textarea id="markdown".*?</textarea>')
    assert "not smooth" in explanation and "stays about the same" not in explanation


def test_the_lower_flag_goes_to_the_lowest_final_loss_of_every_trial(client, app):
    case, html = asked(
        client,
        app,
        expression="(sigmoid(w0*x0 + w1*x1 + b) - 1)**2",
        point="w0=0.5, w1=-0.3, b=0.1, x0=1, x1=2",
        learning_rate="0.5",
        steps="20",
        fixed="x0, x1",
        methods=["simultaneous", "sequential", "momentum", "adam", "rmsprop"],
    )
    finals = {t["method"]: t["final_loss"] for t in case["trials"]}
    assert len(finals) == 5 and len(set(finals.values())) == 5
    marked = re.findall(r'<tr class="winner" data-trial="(\w+)">', html)
    assert marked == [min(finals, key=finals.get)]
    assert marked != ["simultaneous"] and marked != ["sequential"]  # an optimizer ends lowest here
