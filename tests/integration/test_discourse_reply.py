"""The forum reply as a forum renders it (markdown-it, CommonMark with tables, as Discourse's renderer):
the short answer first, the key table, the worked numbers folded, every formula once, and with math off
no LaTeX at all."""

from __future__ import annotations

import re
from html import unescape

import pytest
import sympy as sp
from markdown_it import MarkdownIt
from support.examples import EVERY_METHOD, example_question

import tutor.engine
from tutor.config import ConfigError, Settings
from tutor.discourse import WORKED_TITLE, answer_reply
from tutor.engine import Question
from tutor.web.pages.examples import EXAMPLES

URL = "https://tutor.example/cases/abc"
_renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
# LaTeX commands the explanation's formulas use; none may reach a forum with math off.
LATEX = re.compile(r"\\(frac|partial|left|right|operatorname|lVert|rVert|tfrac|top|eta|mathrm|cdot)\b|\$")


def example_questions() -> list[tuple[str, Question]]:
    cases = [(e.slug, example_question(e.slug)) for e in EXAMPLES]
    return cases + [
        ("undefined", Question("log(x) + y", {"x": -1.0, "y": 1.0}, 0.1)),
        ("stationary", Question("x**2 - y**2", {"x": 0.0, "y": 0.0}, 0.1)),
        ("kink", Question("relu(x) + 0.1*y**2", {"x": 0.0, "y": 1.0}, 0.1)),
        ("many", Question("a*b + c*d + e*f + g*h", {k: 1.0 for k in "abcdefgh"}, 0.1)),
        ("every method", EVERY_METHOD),
    ]


QUESTIONS = example_questions()


def text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


@pytest.fixture(scope="module", params=QUESTIONS, ids=[slug for slug, _ in QUESTIONS])
def case(request) -> dict:
    return {"id": "abc", **tutor.engine.answer(request.param[1])}


@pytest.mark.parametrize("math", ["off", "on"])
def test_the_short_answer_comes_before_any_table_or_heading(case, math):
    reply = answer_reply(case, URL, math)
    html = _renderer.render(reply)
    summary = case["explanation"]["summary"]["markdown"].rstrip()
    assert reply.startswith(summary + "\n\n")
    assert len(summary) <= 600
    # The first thing a reader sees is one paragraph: the short answer, rendered.
    first = re.match(r"<p>(.*?)</p>\n", html, re.DOTALL)
    assert first and text_of(first.group(1)) == case["explanation"]["summary"]["text"].strip()
    for tag in ("<table", "<h1", "<h2", "<h3", "<pre", "<blockquote"):
        assert tag not in first.group(0)
    assert f'[details="{WORKED_TITLE}"]' in reply and reply.rstrip().endswith(f"({URL})")
    assert reply.index("[details=") < reply.index("[/details]") < reply.index(URL)


@pytest.mark.parametrize("math", ["off", "on"])
def test_every_formula_appears_once(case, math):
    html = _renderer.render(answer_reply(case, URL, math))
    text = text_of(html)
    loss = "f" if case["graph_row"] is None else "L"
    for name in case["parameters"]:
        plain = f"∂{loss}/∂{name} = "
        latex = f"{{\\partial {loss}}}{{\\partial {sp.latex(sp.Symbol(name))}}} = "
        if math == "off":
            assert text.count(plain) <= 1, name
            assert latex not in text
        else:
            assert plain not in text  # the formula is in $$ only, not repeated as code
            assert text.count(latex) <= 1, name
    assert text.count("f(x − ηg) − f(x) = ") + text.count("f(x - \\eta g) - f(x) = ") <= 1


def test_math_off_leaves_no_latex_and_math_on_writes_display_blocks(case):
    off = answer_reply(case, URL, "off")
    assert not LATEX.search(off), LATEX.search(off)
    assert not LATEX.search(text_of(_renderer.render(off)))
    on = answer_reply(case, URL, "on")
    if case["analysis"] is not None:
        blocks = re.findall(r"^\$\$\n(.+?)\n\$\$$", on, re.MULTILINE | re.DOTALL)
        assert blocks and all("\\" in block for block in blocks)
        assert on.count("$$") == 2 * len(blocks)  # every $$ is one of a pair on its own line


def test_the_summary_and_the_key_table_are_outside_the_details(case):
    reply = answer_reply(case, URL)
    head = reply.split('[details="')[0]
    tables = [line for line in head.splitlines() if line.startswith("|")]
    body = reply.split('[details="')[1]
    if case["analysis"] is None:
        assert not tables
    else:
        assert tables  # the key table is shown, not folded
        # and only once: none of its rows is repeated in the worked numbers
        assert not any(line in body for line in tables if not line.startswith("|---"))


def test_the_math_setting_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv("TUTOR_DISCOURSE_MATH", raising=False)
    assert Settings.from_env().discourse_math == "off"
    monkeypatch.setenv("TUTOR_DISCOURSE_MATH", "on")
    assert Settings.from_env().discourse_math == "on"
    monkeypatch.setenv("TUTOR_DISCOURSE_MATH", "latex")
    with pytest.raises(ConfigError, match="TUTOR_DISCOURSE_MATH must be off or on, not 'latex'"):
        Settings.from_env()


def test_the_readmes_rendered_reply_is_the_tutors_reply():
    from pathlib import Path

    from tutor.discourse import read_question

    section = (Path(__file__).parents[2] / "README.md").read_text().split("## Discourse", 1)[1]
    section = section.split("\n## ", 1)[0]
    asked = re.search(r"The flip example \(`(@tutorbot [^`]+)`\)", section).group(1)
    shown = " ".join(line[1:].strip() for line in section.splitlines() if line.startswith(">"))
    document = tutor.engine.answer(read_question(asked, "tutorbot"))
    reply = answer_reply({"id": "7f3a9c2e", **document}, URL)
    summary, key = reply.split("\n\n[details=")[0].split("\n\n", 1)
    assert " ".join(summary.split()) in shown
    for line in key.splitlines():
        assert line.strip() in shown
