"""The block model: what an answer says, before it is rendered as Markdown or plain text.

A story is a list of blocks. Text in a Paragraph or a Table cell is prose with two marks: ``**bold**``
and code, written with ``code(text)``. Code holds whatever came from the learner (names, the expression,
the graph's labels, formulas over their names): the renderers turn it into a safe code span in Markdown
and into the bare text in plain text, so nothing a stranger typed is ever read as Markdown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# Code is wrapped in two private-use characters that neither the learner (the parser admits ASCII only)
# nor the stories ever write; ``code`` drops them from its text all the same.
_CODE_OPEN, _CODE_CLOSE = "\ue000", "\ue001"
_CODE = re.compile(f"{_CODE_OPEN}(.*?){_CODE_CLOSE}", re.DOTALL)


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str  # may use **bold** and code()


@dataclass(frozen=True)
class Math:
    """A displayed formula: LaTeX for a page or forum that renders math, the same in plain text."""

    latex: str
    plain: str


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Heading | Paragraph | Math | Table


def code(text: str) -> str:
    """Learner-typed (or learner-named) text, to be shown literally."""
    return _CODE_OPEN + text.replace(_CODE_OPEN, "").replace(_CODE_CLOSE, "") + _CODE_CLOSE


def map_marked(text: str, prose: Callable[[str], str], literal: Callable[[str], str]) -> str:
    """``text`` with each stretch of prose passed through ``prose`` and each code through ``literal``."""
    out: list[str] = []
    position = 0
    for match in _CODE.finditer(text):
        out.append(prose(text[position : match.start()]))
        out.append(literal(match.group(1)))
        position = match.end()
    out.append(prose(text[position:]))
    return "".join(out)


# Where a section's table is the answer's key table, shown once at the top, the section points to it.
TABLE_ABOVE = Paragraph("(This table is at the top of the answer.)")
