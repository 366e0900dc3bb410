"""The story of the first simultaneous step: Taylor's split of the change, the halvings, the learning
rates that still lower the loss, and the learner's own η against them. Each claim is made only where
its numbers hold: not at a kink (no Taylor expansion there), not from rounding (called rounding), not
for steps that leave f's domain (said so)."""

from __future__ import annotations

from tutor.engine.analysis import RESOLVED_ULPS
from tutor.engine.explain import maths
from tutor.engine.explain.blocks import Block, Heading, Paragraph, Table, code
from tutor.engine.explain.common import kink_labels
from tutor.engine.numbers import denoise, fmt

# gap/η² "stays about the same" over the halvings when its values are within this factor of each other:
# on a smooth f it tends to ½gᵀHg, at a kink it doubles with every halving.
STEADY_FACTOR = 2
VERDICT_VERBS = {"decreases": "lowers", "increases": "raises", "unchanged": "does not change"}
NOT_APPLICABLE = "not applicable (kink)"


def _resolution(analysis: dict) -> dict:
    # Documents saved before the analysis reported its resolution were all computed in float64.
    return analysis.get("resolution") or {"high_precision": False, "change_noise": 0.0}


def taylor(document: dict) -> list[Block]:
    analysis = document["analysis"]
    lr = fmt(analysis["learning_rate"])
    applies = analysis.get("taylor_applies", True)
    parts = (
        ("first order −η·‖g‖²", "first_order_change"),
        ("second order: each parameter's own curvature", "second_order_own"),
        ("second order: interplay between parameters", "second_order_interplay"),
        ("everything beyond second order", "remainder"),
        ("**actual change**", "actual_change"),
    )
    first = analysis["first_order_change"]
    blocks: list[Block] = [Heading("Why the first step goes the way it does")]
    if applies:
        blocks += [
            Paragraph(
                "For a step −η·g, the change in f is a first-order part, which is never positive, plus the rest:"
            ),
            maths.TAYLOR,
        ]
    else:
        kinks = ", ".join(code(label) for label in kink_labels(document))
        blocks.append(
            Paragraph(
                f"f is not smooth here ({kinks} on its kink, where f is not differentiable), so Taylor's expansion "
                "does not apply: the "
                "gradient is an average of the slopes on either side, and f has no second-order model at this "
                "point. The split below is **not applicable**; only the first-order prediction from that "
                "averaged gradient and the actual change are numbers of this case."
            )
        )
    blocks.append(
        Table(
            ("part", f"at η = {lr}"),
            tuple(
                (
                    label,
                    NOT_APPLICABLE
                    if not applies and key not in ("first_order_change", "actual_change")
                    else fmt(denoise(analysis[key], first)),
                )
                for label, key in parts
            ),
        )
    )
    interplay = analysis["second_order_interplay"]
    if applies and interplay is not None and denoise(interplay, first) != 0:
        effect = "raises" if interplay > 0 else "lowers"
        blocks.append(
            Paragraph(
                f"The interplay term is the effect the question is about — moving one parameter changes the "
                f"others' slopes. Here it {effect} the loss by {fmt(abs(interplay))}, while the first-order "
                f"gain is {fmt(first)}."
            )
        )
    rows = tuple(
        (
            fmt(r["learning_rate"]),
            fmt(r["predicted"]),
            fmt(r["actual"]) if r.get("inside_domain", True) else "outside f's domain",
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


def _inside(analysis: dict) -> list[dict]:
    return [row for row in analysis["shrinking"] if row.get("inside_domain", row["actual"] is not None)]


def _gap_ratios(analysis: dict) -> list[float | None]:
    """gap/η² of each halving inside f's domain; a gap that is only rounding (within the noise of a
    change, or of the prediction) counts as 0: on a linear f it would otherwise grow like noise/η²."""
    noise = _resolution(analysis)["change_noise"] or 0.0
    return [
        0.0
        if row["gap"] is not None and (abs(row["gap"]) <= noise or denoise(row["gap"], row["predicted"]) == 0)
        else row["gap_over_lr_squared"]
        for row in _inside(analysis)
    ]


def _steady(ratios: list[float | None]) -> bool:
    if not ratios or any(r is None for r in ratios):
        return False
    if all(r == 0 for r in ratios):
        return True
    sizes = [abs(r) for r in ratios]
    same_sign = len({r > 0 for r in ratios}) == 1
    return min(sizes) > 0 and same_sign and max(sizes) <= STEADY_FACTOR * min(sizes)


def _left_domain(analysis: dict) -> str:
    outside = [row["learning_rate"] for row in analysis["shrinking"] if row not in _inside(analysis)]
    if not outside:
        return ""
    listed = ", ".join(fmt(rate) for rate in outside)
    return (
        f"At η = {listed} the step leaves f's domain (f has no real value there), so the halving goes on "
        f"until {len(_inside(analysis))} steps stay inside it. "
    )


def _shrinking_story(document: dict) -> str:
    """What the halvings table shows: the first-order picture is only claimed where its numbers hold."""
    analysis = document["analysis"]
    prefix = _left_domain(analysis)
    ratios = _gap_ratios(analysis)
    if not ratios:
        return (
            prefix + "No halving of η stays inside f's domain, so the table has no actual change to compare."
        )
    if not analysis.get("taylor_applies", True):
        return prefix + (
            f"Here gap/η² goes from {fmt(ratios[0])} to {fmt(ratios[-1])} as η shrinks: at a kink the gap "
            "shrinks only about as fast as the first-order gain, so the gradient does not promise that a small "
            "step lowers the loss."
        )
    if _steady(ratios):
        return prefix + (
            "Halving η halves the first-order gain but quarters the gap to the actual change "
            "(gap/η² stays about the same, up to rounding): for a small enough step the gain wins, as it must "
            "when g ≠ 0 and f is smooth."
        )
    return prefix + (
        f"Here gap/η² is not steady yet (from {fmt(ratios[0])} to {fmt(ratios[-1])} as η shrinks, well above "
        f"the rounding of {fmt(_resolution(analysis)['change_noise'])} in a change): at these step sizes the "
        "terms beyond second order still matter. f is smooth here, so for smaller steps gap/η² settles and "
        "the first-order gain wins."
    )


def _precision_note(document: dict) -> Paragraph | None:
    """Where float64 cannot resolve the changes: say why, what was computed at 50 digits, and what
    float64 itself gives."""
    analysis = document["analysis"]
    resolution = _resolution(analysis)
    if not resolution["high_precision"]:
        return None
    spacing = resolution["loss_spacing"]
    in_float = resolution["float64_actual_change"]
    actual = analysis["actual_change"]
    if actual is not None and abs(actual) >= RESOLVED_ULPS * spacing:
        # Not f's own spacing: terms far larger than f cancel in the step's evaluation.
        cause = (
            "in float64 this step is computed from terms far larger than the change, which cancel and leave "
            "mostly rounding"
        )
    else:
        gaps = f" (your step is {fmt(abs(in_float) / spacing, 3)} of those gaps)" if in_float else ""
        cause = (
            f"near f = {fmt(document['loss'])} float64 numbers are {fmt(spacing)} apart, and the changes of f "
            f"along −g here are too few of those gaps for float64 to tell them from rounding{gaps}"
        )
    what = (
        "the changes, the bound and the best η"
        if resolution.get("precise_search")
        else "your step and its halvings"
    )
    text = (
        f"**At float64's resolution.** {cause[0].upper()}{cause[1:]}. So φ(η) = f(p − ηg) − f(p) was evaluated "
        f"with 50 significant digits, over the expression as written: {what} above are those. In float64 "
        f"your step changes f by {fmt(in_float)}, which is what the trials, computed in float64 like an "
        "optimizer, show."
    )
    estimate = analysis["quadratic_estimate"]
    if estimate is not None:
        text += f" The exact quadratic model gives a bound of {fmt(estimate)} and a best η of {fmt(estimate / 2)}."
    return Paragraph(text)


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
    elif not analysis.get("taylor_applies", True):
        blocks.append(Paragraph("No quadratic estimate: at a kink f has no quadratic model."))
    if analysis["best_learning_rate"] is not None:
        where = analysis.get("best_reason", "")
        edge = f", {where}" if where.startswith("at the edge") else ""
        blocks.append(
            Paragraph(
                f"The step that lowers f the most along −g uses η ≈ {fmt(analysis['best_learning_rate'])} "
                f"(change {fmt(analysis['best_change'])}){edge}."
            )
        )
    elif analysis.get("best_reason"):
        reason = analysis["best_reason"]
        blocks.append(Paragraph(reason[0].upper() + reason[1:] + "."))
    note = _precision_note(document)
    if note is not None:
        blocks.append(note)
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
