"""The story of mini-batches: each step follows the gradient of a different loss function."""

from __future__ import annotations

from tutor.engine.explain.blocks import TABLE_ABOVE, Block, Heading, Paragraph, Table
from tutor.engine.explain.common import (
    MAX_STEP_ROWS,
    losses_before,
    ran,
    rows_note,
    step_list,
    steps_word,
    went_up_sentence,
)
from tutor.engine.numbers import fmt


def against_full_loss(trial: dict) -> list[int]:
    """The steps that lowered their own batch's loss but raised the full loss L."""
    return [
        step["step"]
        for step in trial["steps"]
        if step["loss_went_up"] and step["batch_loss_after"] < step["batch_loss"]
    ]


def minibatch_table(document: dict) -> list[Block]:
    """The mini-batch steps: all of them when they fit, else the steps where the full loss went up
    (the ones the story is about), else the first ones; a note says which and how many."""
    trial = ran(document, "minibatch")
    if trial is None:
        return []
    steps = trial["steps"]
    before = dict(zip((s["step"] for s in steps), losses_before(trial), strict=True))
    up = [s for s in steps if s["loss_went_up"]]
    if len(steps) <= MAX_STEP_ROWS:
        shown, note = steps, None
    elif up:
        shown = up[:MAX_STEP_ROWS]
        note = (
            f"(The {len(up)} of {len(steps)} steps where L went up"
            + (f", the first {MAX_STEP_ROWS} of them" if len(up) > MAX_STEP_ROWS else "")
            + "; every step is in the JSON document.)"
        )
    else:
        shown, note = steps[:MAX_STEP_ROWS], rows_note(MAX_STEP_ROWS, len(steps), "steps")
    rows = tuple(
        (
            str(step["step"]),
            ", ".join(str(r) for r in step["batch"])
            if len(step["batch"]) <= 6
            else f"{len(step['batch'])} rows",
            f"{fmt(step['batch_loss'])} → {fmt(step['batch_loss_after'])}",
            f"{fmt(before[step['step']])} → {fmt(step['loss'])}"
            + (" **(up)**" if step["loss_went_up"] else ""),
            fmt(step["angle_to_full_gradient"], 3) + "°",
        )
        for step in shown
    )
    table = Table(
        ("step", "rows", "batch loss before → after", "full loss L before → after", "batch g vs full g"),
        rows,
    )
    return [table] + ([Paragraph(note)] if note else [])


def minibatch(document: dict, table_above: bool = False) -> list[Block]:
    trial = ran(document, "minibatch")
    if trial is None:
        return []
    size, seed = trial["settings"]["batch_size"], trial["settings"]["shuffle_seed"]
    order = "in row order" if seed is None else f"in a fresh shuffle each epoch (seed {seed})"
    against = against_full_loss(trial)
    blocks: list[Block] = [
        Heading("Mini-batches: a different loss function every step"),
        Paragraph(
            f"The minibatch trial takes {size} of the {document['data_rows']} rows per step, {order}, and "
            "follows the gradient of **that batch's** mean loss. Each batch's loss is a different function of "
            "the parameters from the full loss L and from the next batch's, so a step can be right for its "
            "batch and wrong for L."
        ),
        *([TABLE_ABOVE] if table_above else minibatch_table(document)),
        Paragraph(went_up_sentence(trial)),
    ]
    if against:
        blocks.append(
            Paragraph(
                f"At {steps_word(len(against))} {step_list(against)} the step lowered its own "
                "batch's loss but raised the full loss: the batch's loss function and L disagree there."
            )
        )
    angles = [
        (s["angle_to_full_gradient"], s["step"])
        for s in trial["steps"]
        if s["angle_to_full_gradient"] is not None
    ]
    if angles:
        widest, at = max(angles)
        blocks.append(
            Paragraph(
                f"The batch gradient was {fmt(sum(a for a, _ in angles) / len(angles), 3)}° from the full "
                f"gradient on average, at most {fmt(widest, 3)}° (step {at})."
            )
        )
    return blocks
