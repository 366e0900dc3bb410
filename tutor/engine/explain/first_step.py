"""The story of the first simultaneous step: Taylor's split of the change, the halvings, the learning
rates that still lower the loss, and the learner's own η against them."""

from __future__ import annotations

from tutor.engine.explain import maths
from tutor.engine.explain.blocks import Block, Heading, Paragraph, Table
from tutor.engine.explain.common import kinds
from tutor.engine.numbers import denoise, fmt

# gap/η² "stays about the same" over the halvings when its values are within this factor of each other:
# on a smooth f it tends to ½gᵀHg, at a kink it doubles with every halving.
STEADY_FACTOR = 2
VERDICT_VERBS = {"decreases": "lowers", "increases": "raises", "unchanged": "does not change"}


def taylor(document: dict) -> list[Block]:
    analysis = document["analysis"]
    lr = fmt(analysis["learning_rate"])
    blocks: list[Block] = [
        Heading("Why the first step goes the way it does"),
        Paragraph(
            "For a step −η·g, the change in f is a first-order part, which is never positive, plus the rest:"
        ),
        maths.TAYLOR,
        Table(
            ("part", f"at η = {lr}"),
            tuple(
                (label, fmt(denoise(analysis[key], analysis["first_order_change"])))
                for label, key in (
                    ("first order −η·‖g‖²", "first_order_change"),
                    ("second order: each parameter's own curvature", "second_order_own"),
                    ("second order: interplay between parameters", "second_order_interplay"),
                    ("everything beyond second order", "remainder"),
                    ("**actual change**", "actual_change"),
                )
            ),
        ),
    ]
    interplay = analysis["second_order_interplay"]
    if interplay is not None and interplay != 0:
        effect = "raises" if interplay > 0 else "lowers"
        blocks.append(
            Paragraph(
                f"The interplay term is the effect the question is about — moving one parameter changes the "
                f"others' slopes. Here it {effect} the loss by {fmt(abs(interplay))}, while the first-order "
                f"gain is {fmt(analysis['first_order_change'])}."
            )
        )
    rows = tuple(
        (
            fmt(r["learning_rate"]),
            fmt(r["predicted"]),
            fmt(r["actual"]),
            fmt(r["gap"]),
            fmt(r["gap_over_lr_squared"]),
        )
        for r in analysis["shrinking"]
    )
    blocks += [
        Paragraph(_shrinking_story(document)),
        Table(("η", "predicted −η·‖g‖²", "actual change", "gap", "gap / η²"), rows),
    ]
    return blocks


def _gap_ratios(analysis: dict) -> list[float | None]:
    """gap/η² of each halving; a gap that is only the rounding noise of the prediction counts as 0 (on a
    linear f it would otherwise grow like noise/η²)."""
    return [
        0.0 if denoise(row["gap"], row["predicted"]) == 0 else row["gap_over_lr_squared"]
        for row in analysis["shrinking"]
    ]


def _steady(ratios: list[float | None]) -> bool:
    if any(r is None for r in ratios):
        return False
    if all(r == 0 for r in ratios):
        return True
    sizes = [abs(r) for r in ratios]
    same_sign = len({r > 0 for r in ratios}) == 1
    return min(sizes) > 0 and same_sign and max(sizes) <= STEADY_FACTOR * min(sizes)


def _shrinking_story(document: dict) -> str:
    """What the halvings table shows: the first-order picture is only claimed where its numbers hold."""
    ratios = _gap_ratios(document["analysis"])
    if _steady(ratios):
        return (
            "Halving η halves the first-order gain but quarters the gap to the actual change "
            "(gap/η² stays about the same): for a small enough step the gain always wins when g ≠ 0."
        )
    span = f"from {fmt(ratios[0])} to {fmt(ratios[-1])}"
    if "kink" in kinds(document):
        return (
            f"Here gap/η² does not stay the same ({span} as η shrinks): the gap shrinks only about as fast as "
            "the first-order gain. f is not smooth here (it sits on a kink, see below), so the first-order "
            "picture does not apply: the gradient does not promise that a small step lowers the loss."
        )
    return (
        f"Here gap/η² is not steady yet ({span} as η shrinks): at these step sizes the terms beyond second "
        "order still matter. f has no kink here, so for smaller steps gap/η² settles and the first-order "
        "gain wins when g ≠ 0."
    )


def learning_rates(document: dict) -> list[Block]:
    analysis = document["analysis"]
    lr = analysis["learning_rate"]
    bound = analysis["max_decreasing_learning_rate"]
    blocks: list[Block] = [Heading("Which learning rates still lower the loss")]
    if bound is None:
        blocks.append(Paragraph(f"No upper bound found: {analysis['max_decreasing_reason']}."))
        position = ""
    else:
        blocks.append(
            Paragraph(
                f"Along −g the loss goes down for every η up to **{fmt(bound)}** ({analysis['max_decreasing_reason']}, "
                "found on f itself by bracketing and bisection)."
            )
        )
        if lr < bound:
            position = f" is below it ({fmt(lr / bound * 100, 3)}% of the bound)"
        else:
            position = f" is **above it** ({fmt(lr / bound)} times the bound)"
    # What the step did is read from the actual change, whichever side of the bound η is on.
    blocks.append(Paragraph(f"Your η = {fmt(lr)}{position}: {step_outcome(analysis)}."))
    estimate = analysis["quadratic_estimate"]
    if estimate is not None:
        text = f"The quadratic model's estimate 2gᵀg / gᵀHg is {fmt(estimate)}"
        if bound is None:
            text += "."
        elif abs(estimate / bound - 1) < 1e-6:
            text += ": the same, because f is quadratic along −g."
        else:
            text += f", off by {fmt(abs(estimate / bound - 1) * 100, 3)}%."
        blocks.append(Paragraph(text))
    if analysis["best_learning_rate"] is not None:
        blocks.append(
            Paragraph(
                f"The step that lowers f the most along −g uses η ≈ {fmt(analysis['best_learning_rate'])} "
                f"(change {fmt(analysis['best_change'])})."
            )
        )
    return blocks


def step_outcome(analysis: dict) -> str:
    """What the learner's step did to the loss, read from the actual change. Being above the bound does
    not decide it: past the first η where the loss stops going down, f can come back down (sin does)."""
    verb = VERDICT_VERBS.get(analysis["verdict"])
    if verb is None:
        return "after this step the loss is not a finite number"
    change = fmt(analysis["actual_change"])
    bound = analysis["max_decreasing_learning_rate"]
    if analysis["verdict"] == "decreases" and bound is not None and analysis["learning_rate"] >= bound:
        return (
            f"this step still lowers the loss (change {change}); it overshoots past the bound yet lands lower, "
            "which is luck of this function, not a guarantee"
        )
    return f"this step {verb} the loss (change {change})"
