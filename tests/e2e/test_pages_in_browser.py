"""The pages in headless Chromium against a live server: what a learner and a reviewer actually do."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tutor.engine import answer, question_from_text
from tutor.engine.numbers import fmt
from tutor.web.pages.present import markdown_html, summary

pytestmark = pytest.mark.browser

FLIP = {"expression": "x*y", "point": "x=0.1, y=0.5", "learning_rate": "1", "steps": "3"}
PHONE = {"width": 390, "height": 844}


def fill_and_submit(page, fields: dict[str, str]) -> None:
    page.goto("/")
    for name, value in fields.items():
        page.fill(f"#{name}", value)
    page.click("button[type=submit]:has-text('Answer it')")
    page.wait_for_load_state()


def expected(fields: dict[str, str]) -> dict:
    """The engine's own answer to the same question: the page must show these numbers."""
    return answer(
        question_from_text(
            fields["expression"], fields["point"], fields["learning_rate"], fields.get("steps", "1")
        )
    )


def ask_flip(page) -> str:
    fill_and_submit(page, {**FLIP, "question": "Does moving x first flip y's slope?"})
    assert re.search(r"/cases/[A-Za-z0-9_-]+$", page.url), page.url
    return page.url


def test_ask_then_read_the_numbers_on_the_answer_page(page):
    ask_flip(page)
    document = expected(FLIP)
    simultaneous, sequential = document["trials"]
    # The engine's short answer, or the headline from an engine that writes none.
    written = document["explanation"].get("summary")
    shown = " ".join(page.text_content("#verdict").split())
    assert shown == (
        " ".join(unescape(re.sub(r"<[^>]+>", " ", str(markdown_html(written["markdown"])))).split())
        if written
        else summary(document)
    )
    assert page.text_content('[data-loss="simultaneous"]').strip() == fmt(simultaneous["steps"][0]["loss"])
    assert page.text_content('[data-loss="sequential"]').strip() == fmt(sequential["steps"][0]["loss"])
    assert page.text_content('[data-final="simultaneous"]').strip() == fmt(simultaneous["final_loss"])
    assert page.text_content("#actual-change").strip() == fmt(document["analysis"]["actual_change"])
    for name, value in document["gradient"].items():
        assert page.text_content(f"#partial-{name} .formula-value").strip() == f"= {fmt(value)}"
    # Updating x first flips the sign of ∂f/∂y: the row is marked in words, not colour alone.
    assert page.locator("#sequential-table tr.flip").count() == 1
    assert "sign flipped" in page.text_content("#sequential-table tr.flip")
    assert page.locator("math").count() == 1 + len(document["parameters"])
    assert "Does moving x first flip y's slope?" in page.text_content(".learner-question")


def test_plots_load(page):
    case_url = ask_flip(page)
    images = page.locator("figure.plot img")
    # The loss plot and the contour; the η control draws the line plot's curve, whose image the forum gets.
    assert images.count() == 2
    assert page.request.get(f"{case_url}/plots/line.png").ok
    for index in range(images.count()):
        image = images.nth(index)
        image.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        assert image.evaluate("img => img.naturalWidth") > 0


def test_bad_expression_shows_the_column_and_keeps_the_input(page):
    fill_and_submit(page, {"expression": "x + * y", "point": "x=1, y=2", "learning_rate": "0.5"})
    assert urlsplit(page.url).path == "/"  # the form is shown again, not a case
    assert page.input_value("#expression") == "x + * y"
    assert page.input_value("#point") == "x=1, y=2"
    assert page.input_value("#learning_rate") == "0.5"
    message = page.text_content("#expression-error")
    assert "column 5" in message
    assert page.get_attribute("#expression", "aria-invalid") == "true"
    assert page.locator(".error-summary a[href='#expression']").count() == 1
    # The page opens at the form, past the examples: the message is on screen without scrolling.
    assert in_viewport(page, ".error-summary")


def in_viewport(page, selector: str) -> bool:
    """Whether the element is wholly on screen once the browser has scrolled to the address's anchor."""
    try:
        page.wait_for_function(
            "e => { const r = e.getBoundingClientRect(); return r.top >= -1 && r.bottom <= innerHeight + 1; }",
            arg=page.locator(selector).element_handle(),
            timeout=30_000,  # returns as soon as it holds: the bound only ends a failing wait
        )
    except PlaywrightTimeout:
        return False
    return True


def test_an_example_opens_at_its_filled_in_form(page):
    page.goto("/")
    page.click("text=Rosenbrock's valley")
    assert page.input_value("#expression") == "(1-x)**2 + 100*(y-x**2)**2"
    assert in_viewport(page, "#ask-heading") and in_viewport(page, "#expression")
    page.click("button[type=submit]:has-text('Answer it')")
    page.wait_for_load_state()
    assert re.search(r"/cases/[A-Za-z0-9]+$", page.url), page.url  # the answer's address is clean


def test_reviewer_signs_in_and_finds_the_case(page, admin_token):
    case_url = ask_flip(page)
    case_id = case_url.rsplit("/", 1)[1]
    page.goto("/cases")
    assert "/login" in page.url
    page.fill("#token", admin_token)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(re.compile(r"/cases"))
    page.fill("#search", "x*y")
    page.click("button:has-text('Filter')")
    page.wait_for_load_state()
    assert page.locator(f'#cases-table a[href="/cases/{case_id}"]').count() == 1


def test_copy_button_copies_the_permalink(page, chromium, live_server):
    case_url = ask_flip(page)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    button = page.locator("button[data-copy=permalink]")
    assert button.is_visible()
    button.click()
    assert page.evaluate("navigator.clipboard.readText()") == case_url


def test_everything_works_without_javascript(chromium, live_server):
    context = chromium.new_context(java_script_enabled=False, base_url=live_server)
    page = context.new_page()
    try:
        page.goto("/?example=circuit")
        assert page.input_value("#expression") == "(x+y)*z"
        page.click("button:has-text('Answer it')")
        page.wait_for_url(re.compile(r"/cases/"))
        assert page.locator("#verdict").is_visible()
        # The copy buttons need script, so they stay hidden; the readonly fields still hold the text.
        assert not page.locator("button[data-copy=markdown]").is_visible()
        written = answer(question_from_text("(x+y)*z", "x=-2, y=5, z=-4", "0.01"))["explanation"]["markdown"]
        assert page.input_value("#markdown").startswith(written.rstrip())
        page.fill("#learning_rate", "0.5")
        page.click("button:has-text('Run again')")
        page.wait_for_url(re.compile(r"/cases/"))
        assert page.text_content("#learning-rate").strip() == "0.5"
    finally:
        context.close()


def test_keyboard_reaches_the_skip_link_first(page):
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"


@pytest.mark.parametrize("path", ["/", "/?example=rosenbrock", "/login", "/docs", "/cases/missing"])
def test_pages_fit_a_phone(chromium, live_server, path):
    context = chromium.new_context(viewport=PHONE, base_url=live_server)
    page = context.new_page()
    try:
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()


def test_answer_page_fits_a_phone_and_screenshots(page, chromium, live_server, admin_token, tmp_path):
    fill_and_submit(
        page, {"expression": "(1-x)**2 + 100*(y-x**2)**2", "point": "x=-1, y=1", "learning_rate": "0.001"}
    )
    case_url = page.url
    page.screenshot(path=tmp_path / "answer-desktop.png", full_page=True)
    context = chromium.new_context(viewport=PHONE, base_url=live_server)
    phone = context.new_page()
    try:
        phone.goto(case_url)
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        phone.screenshot(path=tmp_path / "answer-phone.png", full_page=True)
        sign_in_and_review = phone.goto("/login")
        assert sign_in_and_review.ok
        phone.fill("#token", admin_token)
        phone.click("button:has-text('Sign in')")
        phone.wait_for_url(re.compile(r"/cases"))
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()
    assert (tmp_path / "answer-desktop.png").stat().st_size > 0


def loaded(page, image) -> int:
    image.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    return image.evaluate("img => img.naturalWidth")


def test_minibatch_example_shows_the_batch_table_and_plot(page, chromium, live_server, tmp_path):
    page.goto("/?example=minibatch")
    # The example opens the optimizers part, which is otherwise closed.
    assert page.locator("details#optimizers").get_attribute("open") is not None
    assert page.is_checked("input[name=methods][value=minibatch]")
    page.click("button:has-text('Answer it')")
    page.wait_for_url(re.compile(r"/cases/[A-Za-z0-9_-]+$"))
    case_id = page.url.rsplit("/", 1)[1]
    # The numbers on the page are the saved case's, read back through the API as JSON.
    response = page.request.get(f"/api/v1/cases/{case_id}")
    assert response.ok
    minibatch = next(t for t in response.json()["trials"] if t["method"] == "minibatch")
    rows = page.locator("#batch-table tbody tr")
    assert rows.count() == min(len(minibatch["steps"]), 20)
    for step in minibatch["steps"][:20]:
        row = page.locator(f'#batch-table tr[data-step="{step["step"]}"]')
        assert row.locator("[data-batch-before]").text_content().strip() == fmt(step["batch_loss"])
        assert row.locator("[data-batch-after]").text_content().strip() == fmt(step["batch_loss_after"])
        assert row.locator("[data-full-after]").text_content().strip() == fmt(step["loss"])
        misled = step["batch_loss_after"] < step["batch_loss"] and step["loss_went_up"]
        assert ("batch down, L up" in row.text_content()) == misled
    assert page.locator("#batch-table tr.misleading").count() >= 1
    assert loaded(page, page.locator("#plot-batches")) > 0
    assert loaded(page, page.locator("#plot-loss")) > 0
    page.screenshot(path=tmp_path / "minibatch-desktop.png", full_page=True)

    context = chromium.new_context(viewport=PHONE, base_url=live_server)
    phone = context.new_page()
    try:
        phone.goto(f"/cases/{case_id}")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        phone.screenshot(path=tmp_path / "minibatch-phone.png", full_page=True)
        phone.goto("/?example=momentum")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        phone.screenshot(path=tmp_path / "ask-momentum-phone.png", full_page=True)
    finally:
        context.close()


def test_optimizers_without_javascript(chromium, live_server):
    """The optimizers part is a native <details>: it opens and submits with script off."""
    context = chromium.new_context(java_script_enabled=False, base_url=live_server)
    page = context.new_page()
    try:
        page.goto("/?example=bowl")
        assert not page.locator("#momentum").is_visible()  # closed by default
        page.click("summary:has-text('Optimizers and mini-batches')")
        page.check("input[name=methods][value=momentum]")
        page.fill("#momentum", "0.5")
        page.click("button:has-text('Answer it')")
        page.wait_for_url(re.compile(r"/cases/"))
        assert "μ = 0.5" in page.text_content('#outcome-table tr[data-trial="momentum"]')
    finally:
        context.close()
