"""The renderers: one list of blocks as Markdown (math off or on) and as plain text.

Markdown with math "off" (the default, and what the document stores) is Unicode and code only: each
formula is shown once, in its plain form, in a code span, so it reads the same on every forum whether
or not it renders LaTeX (raw LaTeX in Markdown loses its backslashes: ``\\,`` becomes ``,``).
With math "on" each formula is a ``$$`` block on its own lines (what Discourse's math plugin and
MathJax read) and nothing else: no second copy in code.
"""

from __future__ import annotations

from typing import Literal

from tutor.engine.explain.blocks import Block, Heading, Math, Paragraph, Table, map_marked
from tutor.engine.markup import code_span

MathMode = Literal["off", "on"]
MATH_MODES: tuple[MathMode, ...] = ("off", "on")


def _markdown_inline(text: str) -> str:
    return map_marked(text, lambda prose: prose, code_span)


def _markdown_cell(text: str) -> str:
    # A pipe splits a table row even inside a code span unless escaped (GFM drops the backslash).
    return _markdown_inline(text).replace("|", "\\|")


def render_markdown(blocks: list[Block], math: MathMode = "off") -> str:
    if math not in MATH_MODES:
        raise ValueError(f"math must be one of {MATH_MODES}, not {math!r}")
    out: list[str] = []
    for block in blocks:
        match block:
            case Heading(text):
                out.append(f"### {_markdown_inline(text)}")
            case Paragraph(text):
                out.append(_markdown_inline(text))
            case Math(latex, plain):
                out.append(f"$$\n{latex}\n$$" if math == "on" else code_span(plain))
            case Table(header, rows):
                lines = ["| " + " | ".join(map(_markdown_cell, header)) + " |", "|" + "---|" * len(header)]
                lines += ["| " + " | ".join(map(_markdown_cell, row)) + " |" for row in rows]
                out.append("\n".join(lines))
    return "\n\n".join(out) + "\n" if out else ""


def plain(text: str) -> str:
    """Prose without its Markdown marks; code as the bare text (where ``**`` is a power and stays)."""
    return map_marked(text, lambda prose: prose.replace("**", ""), lambda literal: literal)


def render_text(blocks: list[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        match block:
            case Heading(text):
                title = plain(text)
                out.append(f"{title}\n{'=' * len(title)}")
            case Paragraph(text):
                out.append(plain(text))
            case Math(_, formula):
                out.append(f"    {formula}")
            case Table(header, rows):
                cells = [[plain(c) for c in row] for row in (header, *rows)]
                widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
                lines = [
                    "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
                ]
                lines.insert(1, "  ".join("-" * w for w in widths))
                out.append("\n".join(lines))
    return "\n\n".join(out) + "\n" if out else ""
