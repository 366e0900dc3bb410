"""code_span: whatever a stranger typed renders as exactly that text in one code span, never as a link,
an image, HTML, emphasis or a mention (checked with markdown-it, the renderer the pages use)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from tutor.engine.markup import code_span

_renderer = MarkdownIt("commonmark", {"html": False}).enable("table")


def rendered_code(text: str) -> str:
    """The one code span's content as rendered inside a sentence; fails if anything else appears."""
    html = _renderer.render(f"before {code_span(text)} after")
    found = re.fullmatch(r"<p>before <code>(.*)</code> after</p>\n", html, re.DOTALL)
    assert found, html
    assert "<code>" not in found.group(1)
    return unescape(found.group(1))


@pytest.mark.parametrize(
    "text",
    [
        "x*y",
        "a`b",
        "``",
        "`x`",
        " x ",
        "  ",
        "x ```` y",
        "[click](https://example.com)",
        "![image](https://example.com/i.png)",
        "<script>alert(1)</script>",
        "@admin please",
        "**bold** _it_",
        "line one\nline two\r\nthree",
        "a\n\nb",  # a blank line would end the paragraph
        "\\`not escaped",
        "$$\\frac{a}{b}$$",
    ],
)
def test_the_text_renders_literally_in_one_code_span(text):
    assert rendered_code(text) == re.sub(r"\r\n|\r|\n", " ", text)


def test_empty_text_is_still_a_code_span():
    assert rendered_code("") == " "


def test_the_fence_is_longer_than_any_backtick_run():
    assert code_span("a```b") == "````a```b````"
    assert code_span("x") == "`x`"


@given(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), min_size=1))
def test_any_text_renders_as_itself(text):
    assert rendered_code(text) == re.sub(r"\r\n|\r|\n", " ", text)
