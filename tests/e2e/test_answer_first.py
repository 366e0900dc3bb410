"""The answer first, in Chromium at a laptop's and a phone's size: the short answer and the table that
shows it on the first screen, the graph inside the column with f in view, the η control moving to the
document's numbers, and the ask page's form before anything else.

Screenshots go to the test's temporary folder (pytest prints it on failure); page heights are measured
here and recorded in the README."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from support.examples import example_document

from tutor.engine.numbers import fmt
from tutor.web.pages.present import KEY_ROWS, markdown_html, summary

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SIZES = {"laptop": LAPTOP, "phone": PHONE}
EXAMPLES = ("flip", "neuron", "momentum", "minibatch")
# The flip example's whole page at 1280 px with every <details> closed.
FLIP_PAGE_HEIGHT = 4000


def expected_answer(document: dict) -> str:
    """The short answer's text as the page shows it: the engine's summary, or the headline before it."""
    written = document["explanation"].get("summary")
    if written:
        return words(re.sub(r"<[^>]+>", " ", str(markdown_html(written["markdown"]))))
    return words(summary(document))


def words(text: str) -> str:
    return " ".join(unescape(text).split())


@pytest.fixture(scope="module")
def example_cases(chromium, live_server) -> dict[str, str]:
    """Each example asked once through the form: its case's address."""
    context = chromium.new_context(base_url=live_server)
    page = context.new_page()
    found = {}
    try:
        for slug in EXAMPLES:
            page.goto(f"/?example={slug}")
            page.click("button:has-text('Answer it')")
            page.wait_for_url(re.compile(r"/cases/[A-Za-z0-9_-]+$"))
            found[slug] = page.url
    finally:
        context.close()
    return found


@pytest.fixture
def sized(chromium, live_server, request):
    """A page at the size the test is parametrized with ("laptop" or "phone")."""
    context = chromium.new_context(viewport=SIZES[request.param], base_url=live_server)
    page = context.new_page()
    yield page
    context.close()


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def on_first_screen(page, selector: str) -> bool:
    """Wholly inside the first viewport, the page unscrolled."""
    found = box(page, selector)
    size = page.viewport_size
    return found is not None and found["y"] >= 0 and found["y"] + found["height"] <= size["height"]


@pytest.mark.parametrize("sized", ["laptop", "phone"], indirect=True)
@pytest.mark.parametrize("slug", EXAMPLES)
def test_the_first_screen_answers_the_question(sized, example_cases, slug, tmp_path):
    page = sized
    page.goto(example_cases[slug])
    document = example_document(slug)
    assert words(page.text_content("#verdict")) == expected_answer(document)
    assert on_first_screen(page, "#verdict")
    key = {"flip": "#sequential-table", "neuron": "#sequential-table", "momentum": "#outcome-table"}
    table = key.get(slug, "#misleading-table")
    assert on_first_screen(page, table)
    # The table sits in its scroll box: it must fit the phone's width too, not only scroll.
    assert (
        page.evaluate(f"document.querySelector('{table}').getBoundingClientRect().right")
        <= page.viewport_size["width"]
    )
    if slug == "flip":
        flipped = page.locator("#sequential-table tr.flip")
        assert flipped.count() == 1 and "sign flipped" in flipped.text_content()
        assert on_first_screen(page, "#sequential-table tr.flip")
    if slug == "momentum":
        for trial in document["trials"]:
            assert page.locator(f'#outcome-table tr[data-trial="{trial["method"]}"]').is_visible()
    if slug == "minibatch":
        minibatch = next(t for t in document["trials"] if t["method"] == "minibatch")
        misled = [
            s["step"]
            for s in minibatch["steps"]
            if s["batch_loss_after"] < s["batch_loss"] and s["loss_went_up"]
        ]
        shown = page.locator("#misleading-table tbody tr")
        assert [int(shown.nth(i).get_attribute("data-step")) for i in range(shown.count())] == misled[
            :KEY_ROWS
        ]
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    size = "laptop" if page.viewport_size == LAPTOP else "phone"
    page.screenshot(path=tmp_path / f"{slug}-{size}-first-screen.png")


def test_the_flip_page_is_short_with_its_details_closed(chromium, live_server, example_cases, tmp_path):
    context = chromium.new_context(viewport=LAPTOP, base_url=live_server)
    page = context.new_page()
    try:
        page.goto(example_cases["flip"])
        assert page.evaluate("[...document.querySelectorAll('details')].every(d => !d.open)")
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height <= FLIP_PAGE_HEIGHT, height
        page.screenshot(path=tmp_path / "flip-laptop-page.png", full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize("sized", ["laptop", "phone"], indirect=True)
def test_the_graph_fits_the_column_with_f_in_view(sized, example_cases):
    page = sized
    page.goto(example_cases["neuron"])
    document = example_document("neuron")
    graph = page.locator("svg.graph:visible")
    assert graph.count() == 1
    graph.scroll_into_view_if_needed()
    column = box(page, "#graph-heading")
    drawn = graph.bounding_box()
    assert drawn["x"] >= column["x"] - 1 and drawn["x"] + drawn["width"] <= column["x"] + column["width"] + 1
    output = graph.locator(".node-output").bounding_box()
    assert output["x"] >= drawn["x"] and output["x"] + output["width"] <= drawn["x"] + drawn["width"] + 1
    # Numbers are written into their operation: no box for a constant.
    nodes = document["graph"]["nodes"]
    assert graph.locator("g.node").count() == len([n for n in nodes if n["op"] != "const"])
    headings = graph.locator("g.node text.heading").all_text_contents()
    assert "− 1" in headings and "^ 2" in headings
    # Local slopes by hand at the neuron's values: ∂(w0·x0)/∂w0 = x0 = 1, σ'(0) = 1/4, d(u²)/du = 2u = −1.
    by_label = {n["label"]: n["id"] for n in nodes}
    node = {n["id"]: n for n in nodes}
    z = by_label["w0 * x0 + w1 * x1 + b"]
    sigma = by_label["sigmoid(w0 * x0 + w1 * x1 + b)"]
    u = by_label["sigmoid(w0 * x0 + w1 * x1 + b) - 1"]
    square = document["graph"]["output"]
    s = 1 / (1 + 2.718281828459045 ** (-node[z]["value"]))
    for source, target, slope in (
        (by_label["w0"], by_label["w0 * x0"], node[by_label["x0"]]["value"]),
        (z, sigma, s * (1 - s)),
        (u, square, 2 * node[u]["value"]),
    ):
        edge = graph.locator(f'g.edge[data-source="{source}"][data-target="{target}"]')
        assert edge.get_attribute("data-slope") == fmt(slope)
        assert edge.get_attribute("data-flow") == fmt(node[target]["grad"] * slope)
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_the_eta_control_moves_to_the_documents_numbers(page, example_cases):
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(example_cases["flip"])
    document = example_document("flip")
    analysis = document["analysis"]
    slider = page.locator("#eta-slider")
    assert slider.is_visible()  # the script showed it
    samples = json.loads(page.text_content("#eta-data"))["samples"]
    index = {sample["rate"]: i for i, sample in enumerate(samples)}
    squared_norm = document["gradient_norm"] ** 2
    marker_at = page.get_attribute("#eta-marker", "cx")
    stops = [(row["learning_rate"], row["actual"]) for row in analysis["shrinking"]]
    stops.append((analysis["best_learning_rate"], analysis["best_change"]))
    for rate, change in stops:
        slider.fill(str(index[rate]))
        assert page.text_content("#eta-rate") == fmt(rate)
        assert page.text_content("#eta-change") == fmt(change)
        assert page.text_content("#eta-loss") == fmt(document["loss"] + change)
        assert page.text_content("#eta-first") == fmt(-rate * squared_norm)
        side = "below" if rate < analysis["max_decreasing_learning_rate"] else "above"
        assert page.text_content("#eta-side").startswith(f"η is {side} the largest η")
        assert page.get_attribute("#eta-slider", "aria-valuetext") == f"η = {fmt(rate)}"
    assert page.get_attribute("#eta-marker", "cx") != marker_at
    # Past the bound: x*y after a step of η along −g, by its closed form.
    beyond = next(
        i for i, s in enumerate(samples) if s["rate"] > 1.1 * analysis["max_decreasing_learning_rate"]
    )
    slider.fill(str(beyond))
    rate = samples[beyond]["rate"]
    x, y = document["input"]["point"]["x"], document["input"]["point"]["y"]
    gx, gy = document["gradient"]["x"], document["gradient"]["y"]
    assert float(page.text_content("#eta-change")) == pytest.approx(
        (x - rate * gx) * (y - rate * gy) - x * y, rel=1e-5
    )
    assert page.text_content("#eta-side").startswith("η is above")
    assert not [m for m in console if "Content Security Policy" in m]


def test_without_javascript_the_readout_shows_the_learners_step(chromium, live_server, example_cases):
    context = chromium.new_context(java_script_enabled=False, viewport=LAPTOP, base_url=live_server)
    page = context.new_page()
    try:
        page.goto(example_cases["flip"])
        analysis = example_document("flip")["analysis"]
        assert not page.locator("#eta-slider").is_visible()
        assert page.text_content("#eta-rate") == fmt(analysis["learning_rate"])
        assert page.text_content("#eta-change") == fmt(analysis["actual_change"])
        assert page.locator("#eta-marker").is_visible()
    finally:
        context.close()


# --- the ask page -----------------------------------------------------------------------------------


@pytest.mark.parametrize("sized", ["laptop", "phone"], indirect=True)
def test_the_ask_form_is_on_the_first_screen(sized, tmp_path):
    page = sized
    page.goto("/")
    for field in ("#expression", "#point", "#learning_rate"):
        assert on_first_screen(page, field), field
    if page.viewport_size == LAPTOP:
        assert on_first_screen(page, "button:has-text('Answer it')")
        # The examples stand beside the form.
        assert box(page, ".examples")["x"] > box(page, "#expression")["x"] + box(page, "#expression")["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    page.screenshot(path=tmp_path / "ask-first-screen.png")


def test_the_keyboard_reaches_the_form_before_any_example(page):
    page.goto("/")
    for presses in range(1, 8):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "expression":
            break
        assert not page.evaluate("!!document.activeElement.closest('.examples')")
    assert page.evaluate("document.activeElement.id") == "expression"
    assert presses <= 6  # the skip link and the site's four links at most


@pytest.mark.parametrize("script", [True, False], ids=["with-javascript", "without-javascript"])
def test_a_refused_question_moves_the_focus_to_the_error_summary(chromium, live_server, script):
    context = chromium.new_context(java_script_enabled=script, viewport=PHONE, base_url=live_server)
    page = context.new_page()
    try:
        page.goto("/")
        page.fill("#expression", "x + * y")
        page.fill("#point", "x=1, y=2")
        page.fill("#learning_rate", "0.5")
        page.click("button:has-text('Answer it')")
        page.wait_for_load_state()
        assert page.evaluate("document.activeElement.id") == "error-summary"
        assert on_first_screen(page, "#error-summary")
        page.keyboard.press("Tab")  # on to the link to the field at fault
        assert page.evaluate("document.activeElement.getAttribute('href')") == "#expression"
    finally:
        context.close()
