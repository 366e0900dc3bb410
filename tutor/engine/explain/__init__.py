"""The explanation: the document's numbers told as a worked answer, in Markdown and in plain text.

Both renderings come from one list of blocks (blocks.py) so they say the same thing; render.py turns
blocks into Markdown or text; each section's story lives in its own module; every displayed formula
comes from maths.py. Learner-typed text only ever appears inside code spans.
"""

from __future__ import annotations

import re

from tutor.engine.explain.blocks import Block, Heading, Math, Paragraph, Table, code
from tutor.engine.explain.common import lower_scheme, point_text, went_up_sentence
from tutor.engine.explain.first_step import VERDICT_VERBS, answer, learning_rates, step_outcome, taylor
from tutor.engine.explain.minibatch import minibatch
from tutor.engine.explain.optimizers import optimizers
from tutor.engine.explain.passes import forward_backward, shown_values
from tutor.engine.explain.render import render_markdown, render_text
from tutor.engine.explain.schemes import comparison, sequential, simultaneous
from tutor.engine.numbers import fmt

__all__ = [
    "VERDICT_VERBS",
    "Block",
    "Heading",
    "Math",
    "Paragraph",
    "Table",
    "build_blocks",
    "explain",
    "lower_scheme",
    "shown_values",
    "step_outcome",
    "went_up_sentence",
]

_MESSAGE_CODE = re.compile(r"`([^`]*)`")


def note(message: str) -> Paragraph:
    """A special case's message (the document writes the learner's text in it between backticks)."""
    return Paragraph(_MESSAGE_CODE.sub(lambda found: code(found.group(1)), message))


def build_blocks(document: dict) -> list[Block]:
    question = document["input"]
    lr = question["learning_rate"]
    blocks: list[Block] = [
        Paragraph(
            f"**f = {code(question['expression'])}** at {code(point_text(question['point']))}, "
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
    undefined = [c for c in document["special_cases"] if c["kind"] == "undefined"]
    blocks += forward_backward(document)
    if undefined:
        blocks.append(Heading("Where this stops"))
        blocks += [note(c["message"]) for c in document["special_cases"]]
        return blocks
    blocks += simultaneous(document)
    blocks += sequential(document)
    blocks += optimizers(document)
    blocks += minibatch(document)
    blocks += comparison(document)
    blocks += taylor(document)
    blocks += learning_rates(document)
    notes = [c for c in document["special_cases"] if c["kind"] != "diverged"]
    if notes:
        blocks.append(Heading("Worth knowing at this point"))
        blocks += [note(c["message"]) for c in notes]
    blocks += answer(document)
    return blocks


def explain(document: dict) -> dict:
    blocks = build_blocks(document)
    return {"markdown": render_markdown(blocks), "text": render_text(blocks)}
