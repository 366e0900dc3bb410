"""The pages through Flask's test client, on a migrated SQLite database and the real analysis workers.

CSRF stays on: every POST carries the token the page gave out, as a browser's would.
"""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from sqlalchemy import delete
from support.apps import migrated_sqlite, sqlite_app

from tutor.config import ConfigError, Settings
from tutor.persistence.shared import StoredPlot
from tutor.services.cases import CaseNotFound
from tutor.web import create_app
from tutor.web.pages.examples import BY_SLUG, EXAMPLES
from tutor.web.pages.present import settings_text

ADMIN_TOKEN = "reviewer-token-for-tests"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with sqlite_app(
        tmp_path_factory.mktemp("pages"),
        secret_key="test-secret",
        admin_token=ADMIN_TOKEN,
        public_url="https://tutor.example",
    ) as app:
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1) or match.group(2)


def input_tag(html: str, field: str) -> str:
    match = re.search(rf'<(?:input|textarea)[^>]*\bid="{field}"[^>]*>', html)
    assert match, f"no input {field}"
    return match.group(0)


def ask(client, **fields) -> object:
    token = csrf_token(client.get("/").get_data(as_text=True))
    form = {"expression": "", "point": "", "learning_rate": "", "steps": "1", "fixed": "", "order": ""}
    form.update(fields)
    return client.post("/", data={**form, "csrf_token": token})


def asked_case(client, **fields) -> str:
    response = ask(client, **fields)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def case_of(app, location: str) -> dict:
    return app.extensions["tutor"].cases.get(location.rsplit("/", 1)[1])


def textarea(html: str, field: str) -> str:
    match = re.search(rf'<textarea[^>]*\bid="{field}"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, f"no textarea {field}"
    return unescape(match.group(1)).removeprefix("\r\n").removeprefix("\n")


def checked_methods(html: str) -> list[str]:
    tags = re.findall(r'<input[^>]*name="methods"[^>]*>', html)
    return [re.search(r'value="([^"]*)"', tag).group(1) for tag in tags if " checked" in tag]


def row_of(html: str, table: str, step: int) -> str:
    body = re.search(rf'<table id="{table}".*?</table>', html, re.S)
    assert body, f"no table {table}"
    row = re.search(rf'<tr data-step="{step}"[^>]*>.*?</tr>', body.group(0), re.S)
    assert row, f"no step {step} in {table}"
    return row.group(0)


def shown(value) -> str:
    return f'<span class="num">{fmt(value)}</span>'


def sign_in(client) -> None:
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"token": ADMIN_TOKEN, "csrf_token": token})
    assert response.status_code == 303


# --- the ask page ---------------------------------------------------------------------------------


def test_ask_page_has_labelled_fields_and_examples(client):
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for name in ("expression", "point", "learning_rate", "steps", "fixed", "order", "question"):
        assert f'<label for="{name}">' in html
        assert f'name="{name}"' in html
    for example in EXAMPLES:
        # The anchor scrolls past the examples to the filled-in form.
        assert f'href="/?example={example.slug}#ask-heading"' in html


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.slug)
def test_example_link_prefills_the_form(client, example):
    html = client.get(f"/?example={example.slug}").get_data(as_text=True)
    for name in ("expression", "point", "learning_rate", "steps", "fixed"):
        value = re.search(r'value="([^"]*)"', input_tag(html, name))
        assert value and unescape(value.group(1)) == getattr(example, name)


def test_optimizers_and_batches_are_closed_by_default_and_labelled(client):
    html = client.get("/").get_data(as_text=True)
    assert (
        '<details class="advanced" id="optimizers">' in html
    )  # closed: the simple form stays simple, no script needed
    assert "<summary>Optimizers and mini-batches</summary>" in html
    assert checked_methods(html) == ["simultaneous", "sequential"]
    for index, method in enumerate(("simultaneous", "sequential", "momentum", "nesterov", "adam", "rmsprop")):
        assert f'<label for="methods-{index}"><code>{method}</code></label>' in html
    for name in ("momentum", "beta1", "beta2", "eps", "alpha", "data", "batch_size", "shuffle_seed"):
        assert f'<label for="{name}">' in html and f'name="{name}"' in html
    assert "Blank: 0.999, torch&#39;s default." in html  # β2's hint says its default


@pytest.mark.parametrize("slug", ["momentum", "minibatch"])
def test_optimizer_examples_prefill_the_advanced_fields_and_open_them(client, slug):
    example = BY_SLUG[slug]
    html = client.get(f"/?example={slug}").get_data(as_text=True)
    assert '<details class="advanced" id="optimizers" open>' in html
    assert checked_methods(html) == list(example.methods)
    for name, value in example.settings.items():
        assert f'value="{value}"' in input_tag(html, name)
    assert textarea(html, "data") == example.data
    assert f'value="{example.batch_size}"' in input_tag(html, "batch_size")


def test_momentum_example_raises_the_loss_where_plain_descent_does_not(client, app):
    example = BY_SLUG["momentum"]
    location = asked_case(client, **example.form_data())
    case = case_of(app, location)
    trials = {trial["method"]: trial for trial in case["trials"]}
    assert not any(step["loss_went_up"] for step in trials["simultaneous"]["steps"])
    assert any(step["loss_went_up"] for step in trials["momentum"]["steps"])


def test_minibatch_example_has_a_step_that_lowers_its_batch_but_raises_the_full_loss(client, app):
    location = asked_case(client, **BY_SLUG["minibatch"].form_data())
    minibatch = next(t for t in case_of(app, location)["trials"] if t["method"] == "minibatch")
    assert any(s["batch_loss_after"] < s["batch_loss"] and s["loss_went_up"] for s in minibatch["steps"])


def test_query_string_prefills_the_form(client):
    html = client.get("/?expression=x*y&point=x%3D1,y%3D2&learning_rate=0.1").get_data(as_text=True)
    assert 'value="x*y"' in html and 'value="x=1,y=2"' in html and 'value="0.1"' in html


def test_query_string_prefills_methods_and_settings(client):
    html = client.get("/?expression=x*y&methods=simultaneous,adam&beta1=0.5").get_data(as_text=True)
    assert checked_methods(html) == ["simultaneous", "adam"]
    assert 'value="0.5"' in input_tag(html, "beta1")
    assert '<details class="advanced" id="optimizers" open>' in html


def test_asking_stores_the_case_and_redirects_to_it(client, app):
    location = asked_case(client, expression="(x+y)*z", point="x=-2, y=5, z=-4", learning_rate="0.01")
    assert re.fullmatch(r"/cases/[A-Za-z0-9_-]+", location)
    case = app.extensions["tutor"].cases.get(location.rsplit("/", 1)[1])
    assert case["source"] == "web"
    assert case["input"]["expression"] == "(x+y)*z"


def test_bad_expression_keeps_the_input_and_shows_the_column(client):
    response = ask(client, expression="x + * y", point="x=1, y=2", learning_rate="0.5", question="why?")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="x + * y"' in html and 'value="x=1, y=2"' in html and 'value="0.5"' in html
    assert "why?</textarea>" in html
    error = re.search(r'<div class="error" id="expression-error">(.*?)</div>', html, re.S)
    assert error and "(column 5)" in error.group(1)
    assert 'aria-invalid="true"' in html
    assert "x + * y\n    ^</pre>" in html


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"expression": "x*y", "point": "x=1", "learning_rate": "0.1"}, "point"),
        ({"expression": "x*y", "point": "x=1, y=2", "learning_rate": "fast"}, "learning_rate"),
        ({"expression": "x*y", "point": "x=1, y=2", "learning_rate": "0.1", "steps": "0"}, "steps"),
        ({"expression": "x*y", "point": "x=1, y=2", "learning_rate": "0.1", "fixed": "x, y"}, "fixed"),
        ({"expression": "x*y", "point": "x=1, y=2", "learning_rate": "0.1", "order": "q"}, "order"),
        ({"expression": "", "point": "x=1", "learning_rate": "0.1"}, "expression"),
    ],
)
def test_each_bad_field_gets_its_own_message(client, fields, field):
    response = ask(client, **fields)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in html
    assert 'aria-invalid="true"' in input_tag(html, field)


OPTIMIZER_QUESTION = {
    "expression": "(w*x + b - y)**2",
    "point": "w=0.5, b=0",
    "learning_rate": "0.02",
    "steps": "6",
    "methods": ["simultaneous", "momentum", "adam"],
    "momentum": "0.8",
    "beta2": "0.99",
    # Pasted from a spreadsheet: tab-separated cells.
    "data": "x\ty\n0\t1\n1\t3.1\n2\t4.9\n3\t7.2\n",
    "batch_size": "2",
    "shuffle_seed": "7",
}


def test_methods_settings_and_pasted_data_reach_the_engine_and_the_page(client, app):
    location = asked_case(client, **OPTIMIZER_QUESTION)
    case = case_of(app, location)
    given = case["input"]
    assert given["methods"] == ["simultaneous", "momentum", "adam", "minibatch"]  # a batch size adds it
    assert given["settings"] == {"momentum": 0.8, "beta2": 0.99}
    assert given["data"] == {"x": [0.0, 1.0, 2.0, 3.0], "y": [1.0, 3.1, 4.9, 7.2]}
    assert (given["batch_size"], given["shuffle_seed"]) == (2, 7)
    html = client.get(location).get_data(as_text=True)
    for trial in case["trials"]:
        row = re.search(rf'<tr[^>]*data-trial="{trial["method"]}">.*?</tr>', html, re.S)
        assert row, trial["method"]
        assert re.search(
            rf'data-final="{trial["method"]}">{re.escape(shown(trial["final_loss"]))}', row.group(0)
        )
        assert unescape(settings_text(trial)) in unescape(row.group(0))
    assert "μ = 0.8" in html and "β2 = 0.99" in html
    assert 'id="data-table"' in html and 'id="batch-table"' in html
    assert f'src="{location}/plots/batches.png"' in html


def test_each_rise_of_an_optimizer_is_listed_with_its_angle_and_velocity_share(client, app):
    location = asked_case(client, **BY_SLUG["momentum"].form_data())
    momentum = next(t for t in case_of(app, location)["trials"] if t["method"] == "momentum")
    html = client.get(location).get_data(as_text=True)
    rises = [step for step in momentum["steps"] if step["loss_went_up"]]
    up_cell = re.search(r'data-up="momentum">(.*?)</td>', html, re.S).group(1)
    assert f"({len(rises)} of {len(momentum['steps'])})" in up_cell
    assert re.search(r'data-up="simultaneous">never</td>', html)
    for step in rises[:20]:
        row = row_of(html, "rises-momentum", step["step"])
        assert f"{shown(step['angle_to_negative_gradient'])}°" in row
        assert f'<td class="n" data-velocity>{shown(step["velocity_share"])}</td>' in row
    table = re.search(r'<table id="rises-momentum".*?</table>', html, re.S).group(0)
    assert table.count('<tr data-step="') == min(len(rises), 20)


def test_minibatch_steps_show_batch_and_full_loss_and_say_which_misled(client, app):
    location = asked_case(client, **BY_SLUG["minibatch"].form_data())
    minibatch = next(t for t in case_of(app, location)["trials"] if t["method"] == "minibatch")
    html = client.get(location).get_data(as_text=True)
    for step in minibatch["steps"][:20]:
        row = row_of(html, "batch-table", step["step"])
        assert f"data-batch-before>{shown(step['batch_loss'])}<" in row
        assert f"data-batch-after>{shown(step['batch_loss_after'])}<" in row
        assert f"data-full-after>{shown(step['loss'])}<" in row
        misled = step["batch_loss_after"] < step["batch_loss"] and step["loss_went_up"]
        # Said in words, not by the row's colour alone.
        assert ("batch down, L up" in row) == misled
        assert ('class="misleading"' in row) == misled
    response = client.get(f"{location}/plots/batches.png")
    assert response.status_code == 200 and response.data.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"beta1": "1.5"}, "settings", "the setting beta1 must be from 0 up to but not including 1"),
        ({"eps": "tiny"}, "settings", "&#39;tiny&#39; is not a number"),
        ({"data": "x,y\n1,2\n3\n"}, "data", "line 3 has 1 values but the header has 2"),
        ({"data": "x,q\n1,2\n"}, "data", "the column &#39;q&#39; is not a symbol of the expression"),
        ({"data": "", "point": "w=1, x=1, y=2"}, "batch_size", "a batch size needs data"),
        ({"batch_size": "9"}, "batch_size", "from 1 to 3 (the rows)"),
        ({"batch_size": "", "methods": ["minibatch"]}, "methods", "needs data and a batch size"),
    ],
)
def test_bad_optimizer_fields_are_422_at_the_field_with_everything_kept(client, fields, field, message):
    question = {
        "expression": "(w*x - y)**2",
        "point": "w=1",
        "learning_rate": "0.1",
        "methods": ["simultaneous", "adam"],
        "beta2": "0.95",
        "data": "x y\n1 2\n2 4\n3 7",  # typed with spaces
        "batch_size": "1",
        **fields,
    }
    response = ask(client, **question)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    error = re.search(rf'<div class="error" id="{field}-error">(.*?)</div>', html, re.S)
    assert error and message in error.group(1)
    assert f'<a href="#{field}">' in html  # the summary links to the field or its fieldset
    assert '<details class="advanced" id="optimizers" open>' in html  # nothing typed there is hidden
    assert checked_methods(html) == question["methods"]
    assert textarea(html, "data") == question["data"]
    for name in ("beta1", "beta2", "eps", "batch_size"):
        if question.get(name):
            assert f'value="{question[name]}"' in input_tag(html, name)


def test_missing_csrf_token_is_refused(client):
    response = client.post("/", data={"expression": "x", "point": "x=1", "learning_rate": "0.1"})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)


def test_question_text_is_escaped_everywhere(client):
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    location = asked_case(client, expression="x*y", point="x=1, y=2", learning_rate="0.1", question=attack)
    html = client.get(location).get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


# --- the answer page ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flip_case(app):
    client = app.test_client()
    return asked_case(
        client, expression="x*y", point="x=0.1, y=0.5", learning_rate="1", question="Does z flip y?"
    )


def test_answer_page_shows_the_numbers_of_the_case(client, app, flip_case):
    case = app.extensions["tutor"].cases.get(flip_case.rsplit("/", 1)[1])
    html = client.get(flip_case).get_data(as_text=True)
    assert "<math" in html and "<mi>y</mi>" in html  # f and its partials as MathML
    assert '<svg class="graph graph-across"' in html and 'id="graph-table"' in html
    assert 'id="simultaneous-table"' in html and 'id="sequential-table"' in html
    # Each table once: no rendered copy of the explanation repeats them (its Markdown is in the copy box).
    tables = re.findall(r"<table\b[^>]*>", html)
    ids = [re.search(r'id="([^"]+)"', tag).group(1) for tag in tables]
    assert len(ids) == len(set(ids)) == len(tables)
    assert textarea(html, "markdown").startswith(case["explanation"]["markdown"].rstrip())
    assert 'class="flip"' in html and "sign flipped" in html  # updating x flips ∂f/∂y
    simultaneous = case["trials"][0]["steps"][0]["loss"]
    assert re.search(
        rf'data-loss="simultaneous"><span class="num">{re.escape(fmt(simultaneous))}</span>', html
    )
    assert "Does z flip y?" in html
    assert "https://tutor.example" + flip_case in html  # the permalink uses the configured address
    assert '<textarea id="markdown" readonly' in html
    for name in ("loss", "contour"):
        assert f'src="{flip_case}/plots/{name}.png"' in html
    # The η control draws the line plot's curve on the page; forums get the image.
    assert f'src="{flip_case}/plots/line.png"' not in html
    assert f"({'https://tutor.example' + flip_case}/plots/line.png)" in textarea(html, "markdown")


def test_the_taylor_table_shows_rounding_noise_as_the_zero_it_is(client, app, flip_case):
    # f = x*y is its own quadratic model: nothing is left beyond second order but float noise.
    analysis = case_of(app, flip_case)["analysis"]
    assert abs(analysis["remainder"]) <= 1e-12 * abs(analysis["first_order_change"])
    html = client.get(flip_case).get_data(as_text=True)
    table = re.search(r'<table id="taylor-table">.*?</table>', html, re.S).group(0)
    row = re.search(r"beyond second order</th>(.*?)</tr>", table, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", row).strip() == "0"
    assert "e-1" not in table


def fmt(value):
    from tutor.engine.numbers import fmt as engine_fmt

    return engine_fmt(value)


def test_formulas_and_plots_are_worked_out_in_the_analysis_workers(client, app, flip_case, monkeypatch):
    # SymPy work on a saved expression runs under the workers' time and memory limits, never in a
    # server thread: broken here in the server process, the page still gets its MathML and its plot.
    import tutor.mathml
    import tutor.plots

    def not_here(*args, **kwargs):
        raise AssertionError("SymPy work in the web process")

    monkeypatch.setattr(tutor.mathml, "parse_expression", not_here)
    monkeypatch.setattr(tutor.plots, "figure", not_here)
    tutor.mathml.formulas.cache_clear()
    html = client.get(flip_case).get_data(as_text=True)
    assert "<math" in html
    case_id = flip_case.rsplit("/", 1)[1]
    with app.extensions["tutor"].cases.database.session(write=True) as session:
        session.execute(delete(StoredPlot).where(StoredPlot.case_id == case_id))  # drawn now
    response = client.get(f"{flip_case}/plots/line.png")
    assert response.status_code == 200 and response.data.startswith(b"\x89PNG")


@pytest.mark.parametrize("name", ["loss", "line", "contour"])
def test_plots_are_png_and_cached(client, app, flip_case, name):
    response = client.get(f"{flip_case}/plots/{name}.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data.startswith(b"\x89PNG")
    assert app.extensions["tutor"].plots.stored(flip_case.rsplit("/", 1)[1], name) == response.data


def test_unknown_plot_and_unknown_case_are_404_pages(client, flip_case):
    assert client.get(f"{flip_case}/plots/nothing.png").status_code == 404
    response = client.get("/cases/doesnotexist")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "There is nothing here" in response.get_data(as_text=True)
    assert client.get("/cases/..%2Fetc").status_code == 404


def test_rerun_makes_a_new_case_with_the_new_rate(client, app, flip_case):
    token = csrf_token(client.get(flip_case).get_data(as_text=True))
    response = client.post(f"{flip_case}/rerun", data={"learning_rate": "0.25", "csrf_token": token})
    assert response.status_code == 303
    new = app.extensions["tutor"].cases.get(response.headers["Location"].rsplit("/", 1)[1])
    assert new["input"]["learning_rate"] == 0.25
    assert new["parent_id"] == flip_case.rsplit("/", 1)[1]


def test_rerun_with_a_bad_rate_reshows_the_case(client, flip_case):
    token = csrf_token(client.get(flip_case).get_data(as_text=True))
    response = client.post(f"{flip_case}/rerun", data={"learning_rate": "-1", "csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="learning_rate-error"' in html and 'value="-1"' in html
    # The message also stands first on the page, linked to the field: the form is far below.
    summary = html.index('class="error-summary"')
    assert summary < html.index("<h1>") and '<a href="#learning_rate">' in html[summary:]
    # Reloading that address (a GET) goes back to the case's form instead of a 405.
    again = client.get(f"{flip_case}/rerun")
    assert again.status_code == 303 and again.headers["Location"].endswith(f"{flip_case}#rerun-heading")


def test_undefined_point_still_answers_without_plots(client):
    location = asked_case(client, expression="log(x)", point="x=-1", learning_rate="0.1")
    html = client.get(location).get_data(as_text=True)
    # The short answer says so, naming the operation that has no value.
    assert "Not at this point: f is not a finite real number" in html and "log(x)" in html
    assert "/plots/" not in html.split('id="share-heading"')[0]


# --- review ---------------------------------------------------------------------------------------


def test_review_requires_sign_in(client):
    response = client.get("/cases?search=x")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_wrong_token_is_refused(client):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"token": "guess", "csrf_token": token})
    assert response.status_code == 403
    assert "not the admin token" in response.get_data(as_text=True)
    assert client.get("/cases").status_code == 302


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(client):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login?next=/cases?page=1", data={"token": ADMIN_TOKEN, "csrf_token": token})
    assert response.headers["Location"] == "/cases?page=1"
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").get_data(as_text=True))})
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login?next=//evil.example/", data={"token": ADMIN_TOKEN, "csrf_token": token})
    assert response.headers["Location"] == "/cases"


@pytest.mark.parametrize("query", ["until=9999-12-31", "since=0001-01-01", "page=99999999999999999999"])
def test_review_survives_dates_and_pages_past_the_calendar(client, query):
    sign_in(client)
    response = client.get(f"/cases?{query}")
    assert response.status_code == 200


def test_reviewer_finds_filters_and_deletes_a_case_after_confirming(client, app):
    location = asked_case(
        client, expression="x**2 + 100*y**2", point="x=1, y=1", learning_rate="0.011", steps="3"
    )
    case_id = location.rsplit("/", 1)[1]
    sign_in(client)
    html = client.get("/cases?search=100*y").get_data(as_text=True)
    assert f'href="/cases/{case_id}"' in html
    assert "x**2 + 100*y**2" in html
    html = client.get("/cases?source=api").get_data(as_text=True)
    assert f'href="/cases/{case_id}"' not in html
    client.get(f"{location}/plots/loss.png")
    assert app.extensions["tutor"].plots.stored(case_id, "loss") is not None

    # The list has no delete button, only a link to a page that asks first (no script needed).
    html = client.get("/cases?search=100*y").get_data(as_text=True)
    assert f'action="/cases/{case_id}/delete"' not in html
    confirm_url = unescape(re.search(rf'href="(/cases/{case_id}/delete\?[^"]*)"', html).group(1))
    confirm = client.get(confirm_url)
    assert confirm.status_code == 200
    page = confirm.get_data(as_text=True)
    assert "Delete this case?" in page and "cannot be undone" in page and "x**2 + 100*y**2" in page
    assert 'href="/cases?search=100*y">Keep it' in unescape(page)
    assert client.get(location).status_code == 200  # looking at the question deletes nothing

    sent_next = re.search(r'name="next" value="([^"]*)"', page).group(1)
    response = client.post(
        f"/cases/{case_id}/delete", data={"csrf_token": csrf_token(page), "next": unescape(sent_next)}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/cases?search=100*y"  # back to the filtered list
    assert "Deleted the case" in client.get(response.headers["Location"]).get_data(as_text=True)
    # Somewhere off the site is never where a delete returns to, nor where "Keep it" leads.
    other = asked_case(client, expression="x**2 + 100*y**2", point="x=2, y=1", learning_rate="0.011")
    other_id = other.rsplit("/", 1)[1]
    page = client.get(f"/cases/{other_id}/delete?next=https://evil.example/").get_data(as_text=True)
    assert "evil.example" not in page
    away = client.post(
        f"/cases/{other_id}/delete",
        data={"csrf_token": csrf_token(html), "next": "https://evil.example/"},
    )
    assert away.headers["Location"] == "/cases"
    assert client.get(location).status_code == 404
    with pytest.raises(CaseNotFound):
        app.extensions["tutor"].cases.get(case_id)
    assert app.extensions["tutor"].plots.stored(case_id, "loss") is None  # gone with its case
    assert client.get(f"/cases/{case_id}/delete").status_code == 404


def test_review_list_filters_on_flips_rises_and_trials_and_shows_what_stands_out(client):
    flips = asked_case(
        client, expression="x*y", point="x=0.01, y=1", learning_rate="0.1", question="Why does " + "y " * 40
    )
    rises = asked_case(
        client, expression="x**2 + 100*y**2", point="x=1, y=1", learning_rate="0.011", steps="3"
    )
    adam = asked_case(client, expression="x**2", point="x=1", learning_rate="0.1", methods=["adam"])
    sign_in(client)

    def listed(query: str) -> set[str]:
        html = client.get(f"/cases?{query}").get_data(as_text=True)
        found = set(re.findall(r'href="(/cases/[A-Za-z0-9]+)"', html))
        return {name for name, url in (("flips", flips), ("rises", rises), ("adam", adam)) if url in found}

    assert listed("sign_flip=yes") == {"flips"}
    assert listed("sign_flip=no") == {"rises", "adam"}
    assert listed("loss_went_up=yes") == {"rises"}
    assert listed("outcome=loss_went_up") == {"rises"}
    assert listed("method=adam") == {"adam"}
    assert listed("diverged=yes") == set()
    assert listed("sign_flip=maybe&method=sgd") == {"flips", "rises", "adam"}  # unknown values: no filter

    html = client.get("/cases").get_data(as_text=True)
    row = html.split(f'href="{flips}"')[1].split("</tr>")[0]
    assert "1 sign flip" in row
    assert "“Why does y y y" in row and "…”" in row  # the question's first words
    row = html.split(f'href="{rises}"')[1].split("</tr>")[0]
    assert "loss went up 6×" in row and "loss went up</td>" in row
    row = html.split(f'href="{adam}"')[1].split("</tr>")[0]
    assert '<li class="badge badge-method">adam</li>' in row
    # The filters keep their values and the pages keep the filters.
    html = client.get("/cases?sign_flip=yes&method=sequential").get_data(as_text=True)
    assert '<option value="yes" selected>yes</option>' in html
    assert '<option value="sequential" selected>sequential</option>' in html


def test_delete_needs_csrf_and_a_reviewer(client, flip_case):
    case_id = flip_case.rsplit("/", 1)[1]
    token = csrf_token(client.get("/").get_data(as_text=True))
    response = client.post(f"/cases/{case_id}/delete", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    sign_in(client)
    assert client.post(f"/cases/{case_id}/delete").status_code == 400
    assert client.get(flip_case).status_code == 200


def test_bearer_token_opens_the_review_list(client):
    assert client.get("/cases", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200
    assert client.get("/cases", headers={"Authorization": "Bearer wrong"}).status_code == 302


# --- the foundation: headers, errors, API docs --------------------------------------------------


def test_every_response_carries_the_security_headers(client, flip_case):
    for path in ("/", flip_case, f"{flip_case}/plots/loss.png", "/cases/missing", "/static/tutor.css"):
        headers = client.get(path).headers
        policy = headers["Content-Security-Policy"]
        for directive in (
            "default-src 'self'",
            "img-src 'self' data:",
            "style-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ):
            assert directive in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"]


def test_pages_have_no_inline_script_or_style(client, flip_case):
    for path in ("/", flip_case, "/login", "/docs"):
        html = client.get(path).get_data(as_text=True)
        # Script only from files; JSON data blocks (the η control's curve) are data, never run.
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*\btype=\"application/json\")", html)
        for block in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S):
            json.loads(block)
        assert "<style" not in html and " style=" not in html
        # Nothing is loaded from elsewhere: every src and stylesheet is a path on this site.
        assert all(url.startswith("/") for url in re.findall(r'\bsrc="([^"]*)"', html))
        assert all(url.startswith("/") for url in re.findall(r'<link[^>]*href="([^"]*)"', html))


def test_api_paths_get_problem_json(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 404 and body["title"] == "Not found"
    assert body["type"] == "https://tutor.example/docs#not-found"  # the configured public URL's /docs
    assert "detail" in body
    response = client.get("/integrations/nothing")
    assert response.mimetype == "application/problem+json"


def test_too_large_request_is_413_not_500(client):
    response = client.post("/", data={"question": "x" * 70_000})
    assert response.status_code == 413
    assert "Content-Security-Policy" in response.headers


def test_method_not_allowed_is_a_page(client):
    response = client.delete("/")
    assert response.status_code == 405
    assert response.mimetype == "text/html"


def test_openapi_and_docs_are_local(client):
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    assert spec.get_json()["info"]["title"] == "The backprop tutor API"
    docs = client.get("/docs").get_data(as_text=True)
    assert "/openapi.json" in docs
    assert "cdn" not in docs.lower()


def test_docs_show_each_body_field_and_who_may_call(client):
    spec = client.get("/openapi.json").get_json()
    docs = unescape(client.get("/docs").get_data(as_text=True))
    case_in = spec["components"]["schemas"]["CaseIn"]
    create = docs.split('<span class="method">POST</span> <code>/api/v1/cases</code>')[1]
    create = create.split('<section class="operation"')[0]
    # Every member of the question's body, and which of them are required, from the schema itself.
    for name in case_in["properties"]:
        row = re.search(rf"<tr>\s*<td><code>{name}</code>(.*?)</tr>", create, re.S)
        assert row, f"no body field {name}"
        assert ("required" in row.group(1).split("</td>")[0]) == (name in case_in["required"])
    assert "a bot's token or the admin token" in create and "Authorization: Bearer" in docs
    listing = docs.split('<span class="method">GET</span> <code>/api/v1/cases</code>')[1]
    assert "the admin token only" in listing.split('<section class="operation"')[0]
    reading = docs.split('<span class="method">GET</span> <code>/api/v1/cases/{case_id}</code>')[1]
    assert "public, no token" in reading.split('<section class="operation"')[0]
    # Each operation's parameters say what they mean, and its answers come with an example.
    assert "<code>sign_flip</code> (query, boolean): true: a sequential update flipped" in listing
    assert "<code>case_id</code> (path, string, required): the case's id" in reading
    assert create.count('<pre class="example">') >= 3  # two questions and the case
    # The rate limits and every schema the answers use.
    assert "60 per minute" in docs and 'id="limits"' in docs
    for name in spec["components"]["schemas"]:
        assert f'id="schema-{name}"' in docs
    # Descriptions are Markdown: code spans become <code>, never stay as backticks.
    assert "`" not in re.sub(r"<pre.*?</pre>", "", docs, flags=re.S)


def test_rate_limit_answers_429(tmp_path):
    limited = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
            instance_path=tmp_path,
            secret_key="s",
            rate_limit="2 per minute",
        ),
        TESTING=True,
    )
    client = limited.test_client()
    statuses = [client.get("/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited.extensions["tutor"].close()


def test_without_a_secret_key_every_instance_on_one_database_signs_with_one_key(tmp_path):
    # Two apps with their own instance folders stand for two instances on two machines (or a restart):
    # a form one serves must validate in the other, so they share the key through the database.
    database_url = migrated_sqlite(tmp_path)
    first = create_app(Settings(database_url=database_url, instance_path=tmp_path / "one"))
    second = create_app(Settings(database_url=database_url, instance_path=tmp_path / "two"))
    assert len(first.secret_key) == 64 and first.secret_key == second.secret_key
    assert (tmp_path / "one").is_dir() and not (tmp_path / "one" / "secret_key").exists()

    page = first.test_client().get("/")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)
    other = second.test_client()
    other.set_cookie("session", page.headers["Set-Cookie"].split("session=", 1)[1].split(";", 1)[0])
    answer = other.post(
        "/", data={"csrf_token": token, "expression": "x**2", "point": "x=1", "learning_rate": "0.1"}
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)[:500]

    (tmp_path / "elsewhere").mkdir()
    elsewhere = create_app(
        Settings(database_url=migrated_sqlite(tmp_path / "elsewhere"), instance_path=tmp_path / "elsewhere")
    )
    assert elsewhere.secret_key != first.secret_key
    configured = create_app(
        Settings(database_url=database_url, instance_path=tmp_path / "one", secret_key="from-the-environment")
    )
    assert configured.secret_key == "from-the-environment"
    for app in (first, second, elsewhere, configured):
        app.extensions["tutor"].close()


def test_without_a_secret_key_an_unmigrated_database_is_a_clear_refusal(tmp_path):
    with pytest.raises(
        ConfigError, match=r"TUTOR_SECRET_KEY is not set .*run `tutor db upgrade`.*no such table"
    ):
        create_app(Settings(database_url=f"sqlite:///{tmp_path / 'empty.sqlite3'}", instance_path=tmp_path))
