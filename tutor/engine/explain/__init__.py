"""The explanation: the document's numbers told as an answer, in Markdown and in plain text.

An answer has three parts: the short answer (summary.py: two to five sentences with this case's
numbers), the one table that shows it (the key table), and the worked numbers. Both renderings come
from one list of blocks per part (blocks.py) so they say the same thing; render.py turns blocks into
Markdown (math off or on) or text; each section's story lives in its own module; every displayed
formula comes from maths.py. Learner-typed text only ever appears inside code spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tutor.engine.explain.blocks import Block, Heading, Math, Paragraph, Table, code
from tutor.engine.explain.common import (
    OPTIMIZERS,
    is_stationary,
    lower_scheme,
    point_text,
    ran,
    went_up_sentence,
)
from tutor.engine.explain.first_step import VERDICT_VERBS, learning_rates, step_outcome, taylor
from tutor.engine.explain.minibatch import minibatch, minibatch_table
from tutor.engine.explain.optimizers import optimizers
from tutor.engine.explain.passes import forward_backward, shown_values
from tutor.engine.explain.render import MathMode, render_markdown, render_text
from tutor.engine.explain.schemes import (
    all_trials,
    comparison,
    sequential,
    sequential_table,
    simultaneous,
    simultaneous_table,
)
from tutor.engine.explain.stationary import eigen_table, stationary_section
from tutor.engine.explain.summary import summary_paragraph
from tutor.engine.numbers import fmt

__all__ = [
    "VERDICT_VERBS",
    "AnswerParts",
    "Block",
    "Heading",
    "Math",
    "Paragraph",
    "Rendered",
    "Table",
    "build_blocks",
    "explain",
    "lower_scheme",
    "render_answer",
    "shown_values",
    "step_outcome",
    "went_up_sentence",
]

_MESSAGE_CODE = re.compile(r"`([^`]*)`")


@dataclass(frozen=True)
class Rendered:
    markdown: str
    text: str


@dataclass(frozen=True)
class AnswerParts:
    summary: Rendered  # the short answer: one paragraph, no heading or table
    key_table: Rendered | None  # the one table that shows the answer, with its caption
    worked: Rendered  # the worked numbers, section by section


def note(message: str) -> Paragraph:
    """A special case's message (the document writes the learner's text in it between backticks)."""
    return Paragraph(_MESSAGE_CODE.sub(lambda found: code(found.group(1)), message))


def summary_blocks(document: dict) -> list[Block]:
    return [summary_paragraph(document)]


def key_table(document: dict) -> tuple[str, list[Block]] | None:
    """Which section's table shows the answer, and that table with its caption: the mini-batch steps,
    else every trial side by side when an optimizer ran, else step 1 one parameter at a time (a flipped
    slope marked), else step 1 of the simultaneous update."""
    if document["analysis"] is None:
        return None
    if is_stationary(document):
        table = eigen_table(document)
        if not table:
            return None
        caption = "**The Hessian's directions** at this point, and f's curvature along each:"
        return "stationary", [Paragraph(caption), *table]
    trial = ran(document, "minibatch")
    if trial is not None:
        rows = document["data_rows"]
        caption = (
            f"**Mini-batch steps**: each batch's loss, and the loss L over all {rows} rows, before → after."
        )
        return "minibatch", [Paragraph(caption), *minibatch_table(document)]
    if any(ran(document, method) for method in OPTIMIZERS):
        lr = fmt(document["input"]["learning_rate"])
        caption = f"**Every method from the same start** at η = {lr}:"
        return "trials", [Paragraph(caption), all_trials(document)]
    if ran(document, "sequential") is not None:
        order = code(", ".join(document["parameters"]))
        caption = (
            f"**Step 1, one parameter at a time** (in the order {order}): each slope at the start of the step "
            "and when its parameter was updated."
        )
        return "sequential", [Paragraph(caption), sequential_table(document)]
    caption = "**Step 1, every parameter at once** from the same partials:"
    return "simultaneous", [Paragraph(caption), simultaneous_table(document)]


def worked_blocks(document: dict, key: str | None = None) -> list[Block]:
    """The worked numbers; the section whose table is the key table (``key``) points to it instead of
    repeating it."""
    question = document["input"]
    lr = question["learning_rate"]
    read_as = document["expression"].get("read_as", question["expression"])
    blocks: list[Block] = [
        Paragraph(
            f"**f = {code(question['expression'])}**"
            + (f" (read as {code(read_as)})" if read_as != question["expression"] else "")
            + f" at {code(point_text(question['point']))}, "
            f"learning rate η = {fmt(lr)}"
            + (f", data held fixed: {code(', '.join(question['fixed']))}" if question["fixed"] else "")
            + "."
        )
    ]
    if question["data"]:
        blocks.append(
            Paragraph(
                f"f is the loss of **one example**; the data table has {document['data_rows']} rows of "
                f"{code(', '.join(question['data']))}, and the loss L that every trial lowers is the "
                "**mean of f over all rows**. The loss, the gradient and the analysis below are L's."
            )
        )
    blocks += forward_backward(document)
    if document["analysis"] is None:
        blocks.append(Heading("Where this stops"))
        blocks += [note(c["message"]) for c in document["special_cases"]]
        return blocks
    blocks += simultaneous(document, table_above=key == "simultaneous")
    blocks += sequential(document, table_above=key == "sequential")
    blocks += optimizers(document)
    blocks += minibatch(document, table_above=key == "minibatch")
    blocks += comparison(document, table_above=key == "trials")
    if is_stationary(document):
        blocks += stationary_section(document, table_above=key == "stationary")
    else:
        blocks += taylor(document)
        blocks += learning_rates(document)
    # Diverged trials and a classified stationary point are told in their own sections.
    told = {"diverged", "stationary"} if is_stationary(document) else {"diverged"}
    notes = [c for c in document["special_cases"] if c["kind"] not in told]
    if notes:
        blocks.append(Heading("Worth knowing at this point"))
        blocks += [note(c["message"]) for c in notes]
    return blocks


def build_blocks(document: dict) -> list[Block]:
    """The whole answer as one list of blocks: the summary, the key table, the worked numbers."""
    key = key_table(document)
    return [*summary_blocks(document), *(key[1] if key else ()), *worked_blocks(document, key and key[0])]


def _rendered(blocks: list[Block], math: MathMode) -> Rendered:
    return Rendered(render_markdown(blocks, math), render_text(blocks))


def render_answer(document: dict, math: MathMode = "off") -> AnswerParts:
    """The answer's three parts, each as Markdown (with ``math`` "off": Unicode and code only; "on":
    formulas as ``$$`` blocks) and as plain text."""
    key = key_table(document)
    return AnswerParts(
        summary=_rendered(summary_blocks(document), math),
        key_table=_rendered(key[1], math) if key else None,
        worked=_rendered(worked_blocks(document, key and key[0]), math),
    )


def explain(document: dict) -> dict:
    """``document["explanation"]``: the summary, and the whole answer starting with it (math off)."""
    parts = render_answer(document)
    pieces = [parts.summary, *([parts.key_table] if parts.key_table else []), parts.worked]
    return {
        "summary": {"markdown": parts.summary.markdown, "text": parts.summary.text},
        "markdown": "\n".join(piece.markdown for piece in pieces),
        "text": "\n".join(piece.text for piece in pieces),
    }
