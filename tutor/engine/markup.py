"""Text from strangers inside Markdown, where it can only ever be read, never rendered.

A forum renders Markdown, HTML, BBCode and @mentions in what the bot posts. Text taken from a post (or any
input) goes into a reply only through these functions: inside a code span or a fenced code block, whose
fence is longer than any run of backticks in the text, so that nothing in it can end the code early and
become a link, an image, HTML, a mention or a group ping (CommonMark: code content is literal).
"""

from __future__ import annotations

import re

_BACKTICKS = re.compile(r"`+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def code_span(text: str) -> str:
    """``text`` as an inline code span that shows it literally.

    The fence is one backtick longer than the longest backtick run in ``text``. A space pads each side
    when the text starts or ends with a backtick (which would otherwise join the fence) or starts and ends
    with a space (one of which CommonMark strips from each side). Line breaks become spaces, as a code span
    shows them anyway: a line break could let a new line start a heading or a list before the span is read.
    Empty text is a span of one space.
    """
    text = _LINE_BREAK.sub(" ", text)
    if not text:
        return "` `"
    fence = "`" * (_longest_backtick_run(text) + 1)
    padded = text[0] == "`" or text[-1] == "`" or (text[0] == " " and text[-1] == " " and text.strip(" "))
    pad = " " if padded else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_block(text: str, info: str = "text") -> str:
    """``text`` as a fenced code block (ending in a line break): a fence of at least three backticks and
    longer than any backtick run in ``text``, so that no line of it can close the block."""
    text = _LINE_BREAK.sub("\n", text)
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return f"{fence}{info}\n{text.rstrip(chr(10))}\n{fence}\n"
