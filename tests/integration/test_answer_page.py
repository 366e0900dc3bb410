"""The answer page's first screen and the ask page's order, through Flask's test client: the short answer
and the one table that shows it come first, each table once; the η control carries its curve as data;
the ask page puts the form before the examples and sends the focus to what went wrong."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from support.apps import sqlite_app

from tutor.engine.numbers import fmt
from tutor.web.pages.examples import BY_SLUG
from tutor.web.pages.present import KEY_ROWS, markdown_html, summary


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with sqlite_app(tmp_path_factory.mktemp("answer-page"), secret_key="test-secret") as app:
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


def token_of(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def ask(client, fields: dict) -> object:
    token = token_of(client.get("/").get_data(as_text=True))
    return client.post("/", data={**fields, "csrf_token": token})


@pytest.fixture(scope="module")
def cases(app) -> dict[str, str]:
    """One case per example the issue names, by slug: its address."""
    client = app.test_client()
    found = {}
    for slug in ("flip", "neuron", "momentum", "minibatch"):
        response = ask(client, BY_SLUG[slug].form_data())
        assert response.status_code == 303, response.get_data(as_text=True)
        found[slug] = response.headers["Location"]
    return found


def document_of(app, location: str) -> dict:
    return app.extensions["tutor"].cases.get(location.rsplit("/", 1)[1])


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def verdict_and_what_follows(html: str) -> tuple[str, str]:
    """The short answer's region and the page from there to the first section."""
    start = html.index('id="verdict"')
    rest = html[start:]
    return rest[: rest.index("</div>")], rest[: rest.index("<section")]


# --- the answer page -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "table"),
    [
        ("flip", "sequential-table"),
        ("neuron", "sequential-table"),
        ("momentum", "outcome-table"),
        ("minibatch", "misleading-table"),
    ],
)
def test_the_short_answer_and_its_table_come_first(client, app, cases, slug, table):
    html = client.get(cases[slug]).get_data(as_text=True)
    document = document_of(app, cases[slug])
    region, first = verdict_and_what_follows(html)
    written = document["explanation"].get("summary")
    expected = text(str(markdown_html(written["markdown"]))) if written else summary(document)
    assert text(region.split(">", 1)[1]) == expected
    assert f'<table id="{table}"' in first
    # Each table once on the whole page.
    assert html.count(f'<table id="{table}"') == 1
    ids = re.findall(r'<table id="([^"]+)"', html)
    assert len(ids) == len(set(ids)) == html.count("<table")


def test_the_flip_is_marked_in_the_table_under_the_answer(client, app, cases):
    html = client.get(cases["flip"]).get_data(as_text=True)
    _, first = verdict_and_what_follows(html)
    sequential = next(t for t in document_of(app, cases["flip"])["trials"] if t["method"] == "sequential")
    flipped = [u["parameter"] for u in sequential["steps"][0]["updates"] if u["sign_flip"]]
    assert flipped == ["y"]
    rows = re.findall(r'<tr class="flip">.*?</tr>', first, re.S)
    assert len(rows) == 1 and "<code>y</code>" in rows[0] and "sign flipped" in rows[0]
    # The simultaneous step is further down, in its own section.
    assert html.index('id="simultaneous-table"') > html.index('id="trials-heading"')


def test_the_optimizers_table_under_the_answer_counts_each_ones_rises(client, app, cases):
    html = client.get(cases["momentum"]).get_data(as_text=True)
    _, first = verdict_and_what_follows(html)
    for trial in document_of(app, cases["momentum"])["trials"]:
        cell = re.search(rf'data-up="{trial["method"]}">(.*?)</td>', first, re.S).group(1)
        up = [s for s in trial["steps"] if s["loss_went_up"]]
        assert (f"({len(up)} of {len(trial['steps'])})" in cell) if up else (cell == "never")
    assert 'id="compare-heading"' not in html  # the table is not repeated in a section of its own


def test_the_minibatch_table_under_the_answer_shows_the_steps_that_misled(client, app, cases):
    html = client.get(cases["minibatch"]).get_data(as_text=True)
    _, first = verdict_and_what_follows(html)
    minibatch = next(t for t in document_of(app, cases["minibatch"])["trials"] if t["method"] == "minibatch")
    losses = [minibatch["initial_loss"]] + [s["loss"] for s in minibatch["steps"]]
    misled = [
        (s, losses[i])
        for i, s in enumerate(minibatch["steps"])
        if s["batch_loss_after"] < s["batch_loss"] and s["loss"] > losses[i]
    ]
    rows = re.findall(r'<tr data-step="(\d+)">(.*?)</tr>', first, re.S)
    assert [int(step) for step, _ in rows] == [s["step"] for s, _ in misled[:KEY_ROWS]]
    for (_, row), (step, before) in zip(rows, misled, strict=False):
        assert f"{fmt(step['batch_loss'])} → {fmt(step['batch_loss_after'])}" in text(row)
        assert f"{fmt(before)} → {fmt(step['loss'])}" in text(row)
    assert f": {len(misled)} of {len(minibatch['steps'])}" in text(first)


def test_the_engines_short_answer_replaces_the_headline_safely(client, app, cases, monkeypatch):
    service = app.extensions["tutor"].cases
    saved = service.get

    def with_summary(case_id: str) -> dict:
        case = saved(case_id)
        written = {
            "markdown": "**Yes**: `x` moved first, so <em>y</em> flipped.",
            "text": "Yes: x moved first.",
        }
        return {**case, "explanation": {**case["explanation"], "summary": written}}

    monkeypatch.setattr(service, "get", with_summary)
    html = client.get(cases["flip"]).get_data(as_text=True)
    region, _ = verdict_and_what_follows(html)
    assert "<strong>Yes</strong>: <code>x</code> moved first, so &lt;em&gt;y&lt;/em&gt; flipped." in region
    assert summary(saved(cases["flip"].rsplit("/", 1)[1])) not in html


def test_the_eta_control_carries_its_curve_and_starts_at_the_learners_rate(client, app, cases):
    html = client.get(cases["flip"]).get_data(as_text=True)
    document = document_of(app, cases["flip"])
    analysis = document["analysis"]
    data = json.loads(
        re.search(r'<script type="application/json" id="eta-data">(.*?)</script>', html, re.S).group(1)
    )
    start = data["samples"][data["start"]]
    assert start["rate"] == analysis["learning_rate"]
    assert start["change"] == fmt(analysis["actual_change"])
    assert re.search(rf'id="eta-change">{re.escape(fmt(analysis["actual_change"]))}<', html)
    assert re.search(rf'id="eta-rate">{re.escape(fmt(analysis["learning_rate"]))}<', html)
    assert f'value="{data["start"]}"' in re.search(r'<input type="range"[^>]*>', html).group(0)
    # The slider needs its script: hidden until the script shows it.
    assert '<div class="eta-control" hidden>' in html
    assert '<script src="/static/eta.js" defer></script>' in html
    assert "η is below the largest η that still lowers the loss, 5.2." in text(html)


def test_worked_numbers_are_there_but_closed(client, cases):
    html = client.get(cases["momentum"]).get_data(as_text=True)
    for table in ("rises-momentum", "taylor-table", "shrink-table", "graph-table"):
        start = html.index(f'<table id="{table}"')
        opened = html.rfind("<details", 0, start)
        assert opened > html.rfind("</details>", 0, start), table  # inside a <details> ...
        assert html[opened : html.index(">", opened)].endswith('"worked"'), table  # ... that starts closed


# --- the ask page -----------------------------------------------------------------------------------


def test_the_form_comes_before_the_examples(client):
    html = client.get("/").get_data(as_text=True)
    assert html.index("<form") < html.index('class="examples"')
    # Only the site's links stand between the skip link and the first field.
    before_form = html[html.index('id="main"') : html.index('id="expression"')]
    assert "<a " not in before_form
    assert '<details class="advanced" id="variables">' in html  # held fixed and order: closed


def test_an_example_with_held_fixed_inputs_opens_their_part(client):
    html = client.get("/?example=neuron").get_data(as_text=True)
    assert '<details class="advanced" id="variables" open>' in html


def test_a_refused_question_puts_the_focus_on_what_went_wrong(client):
    response = ask(
        client, {"expression": "x + * y", "point": "x=1, y=2", "learning_rate": "0.5", "steps": "1"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    tag = re.search(r'<div class="error-summary"[^>]*>', html).group(0)
    assert 'tabindex="-1"' in tag and "autofocus" in tag
    assert html.count("autofocus") == 1
    # And a bad order, in the closed part, opens it.
    response = ask(client, {"expression": "x*y", "point": "x=1, y=2", "learning_rate": "0.5", "order": "q"})
    assert '<details class="advanced" id="variables" open>' in response.get_data(as_text=True)
