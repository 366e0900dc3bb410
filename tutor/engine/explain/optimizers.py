"""The story of momentum and the adaptive optimizers: steps that no longer follow the current gradient."""

from __future__ import annotations

import math

import numpy as np

from tutor.engine.explain.blocks import Block, Heading, Paragraph, Table, code
from tutor.engine.explain.common import (
    MAX_STEP_ROWS,
    OPTIMIZERS,
    losses_before,
    ran,
    rows_note,
    settings_text,
    step_list,
    steps_word,
    went_up_sentence,
)
from tutor.engine.numbers import fmt
from tutor.engine.question import METHODS


def angle_rounding(step: dict) -> float:
    """How far rounding alone can turn a step's measured direction, in degrees: each coordinate of the
    point after it is off by up to half its float64 spacing, which against a very short step is a
    real angle (a step of 1e-16 at p = 1 has no direction worth the name)."""
    spacing = math.hypot(*(float(np.spacing(abs(v))) for v in step["point"].values()))
    length = math.hypot(*step["update"].values())
    if length == 0:
        return math.inf
    return math.degrees(min(math.pi, spacing / length)) + 1e-9


def _why_up(step: dict) -> str:
    angle = step["angle_to_negative_gradient"]
    tolerance = angle_rounding(step)
    if angle is None:
        why = "the gradient was 0 there, so the whole step came from the remembered velocity"
    elif angle > 90 + tolerance:
        why = f"uphill: the step is {fmt(angle, 3)}° from −g, so even a short step that way raises the loss"
    elif angle >= 90 - tolerance:
        why = (
            f"the step is {fmt(angle, 3)}° from −g, which is 90° within rounding (±{fmt(tolerance, 2)}° for a step "
            "this short): to first order it neither lowers nor raises the loss, and the rest raised it"
        )
    else:
        why = f"overshoot: downhill at first ({fmt(angle, 3)}° from −g) but too long"
    share = step.get("velocity_share")
    if share is not None and share >= 1:
        why += "; the remembered velocity is longer than the whole step"
    return why


def lost_to_rounding(trial: dict) -> Paragraph | None:
    """The steps whose computed move of some parameter was below its float64 spacing: the parameter
    did not move, so their update (the displacement made) is 0 there."""
    lost = [
        (step["step"], step["lost_to_rounding"]) for step in trial["steps"] if step.get("lost_to_rounding")
    ]
    if not lost:
        return None
    names = sorted({name for _, names in lost for name in names})
    return Paragraph(
        f"At {steps_word(len(lost))} {step_list([s for s, _ in lost])} the computed move of "
        f"{', '.join(code(n) for n in names)} was smaller than the gap between float64 numbers at its value, so "
        "it was lost to rounding: the parameter did not move, and the recorded update is the move actually made."
    )


def optimizers(document: dict) -> list[Block]:
    trials = [t for t in document["trials"] if t["method"] in OPTIMIZERS and t["steps"]]
    if not trials:
        return []
    blocks: list[Block] = [
        Heading("Momentum and adaptive optimizers: steps that do not follow the gradient"),
        Paragraph(
            "These optimizers remember earlier gradients, so a step is no longer −η·g at the current "
            "point. Each step below records the angle between the step and −g (0° is plain gradient "
            "descent, above 90° the step climbs) and, for momentum, the velocity share: the length of "
            "the part of the step that comes from the remembered velocity (η·μ·v for momentum, η·μ²·v "
            "for Nesterov) over the length of the whole step."
        ),
    ]
    plain = ran(document, "simultaneous")
    if plain is not None:
        blocks.append(
            Paragraph("For comparison, plain gradient descent at the same η: " + went_up_sentence(plain))
        )
    for trial in trials:
        blocks.append(
            Paragraph(
                f"{code(trial['method'])} ({METHODS[trial['method']]}; {settings_text(trial['settings'])}). "
                + went_up_sentence(trial)
            )
        )
        lost = lost_to_rounding(trial)
        if lost is not None:
            blocks.append(lost)
        before = losses_before(trial)
        up = [(step, before[k]) for k, step in enumerate(trial["steps"]) if step["loss_went_up"]]
        if not up:
            largest = max(
                (
                    s["angle_to_negative_gradient"]
                    for s in trial["steps"]
                    if s["angle_to_negative_gradient"] is not None
                ),
                default=None,
            )
            if largest is not None:
                blocks.append(Paragraph(f"Its steps were at most {fmt(largest, 3)}° from −g."))
            continue
        momentum = "velocity_share" in trial["steps"][0]
        header = ("step", "loss before", "loss after", "angle to −g") + (
            ("velocity share",) if momentum else ()
        )
        rows = tuple(
            (
                str(step["step"]),
                fmt(loss_before),
                fmt(step["loss"]),
                fmt(step["angle_to_negative_gradient"], 3) + "°",
                *((fmt(step["velocity_share"], 3),) if momentum else ()),
            )
            for step, loss_before in up[:MAX_STEP_ROWS]
        )
        blocks.append(Table(header, rows))
        note = rows_note(len(rows), len(up), "steps where the loss went up")
        if note:
            blocks.append(Paragraph(note))
        first, _ = up[0]
        blocks.append(Paragraph(f"Why step {first['step']} went up: {_why_up(first)}."))
    return blocks
