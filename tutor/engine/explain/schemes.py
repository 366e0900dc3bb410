"""The stories of the two schemes the thread compares: every parameter at once (backprop + SGD) and one
parameter at a time, where a slope can flip before its parameter moves; and which one ended lower."""

from __future__ import annotations

import re

from tutor.engine.explain.blocks import TABLE_ABOVE, Block, Heading, Paragraph, Table, code
from tutor.engine.explain.common import diverged_text, lower_scheme, ran, settings_text
from tutor.engine.explain.optimizers import lost_to_rounding
from tutor.engine.numbers import fmt


def simultaneous_table(document: dict) -> Table | None:
    """Step 1 of the simultaneous update: each parameter before, its partial, after."""
    trial = ran(document, "simultaneous")
    if trial is None:
        return None
    first = trial["steps"][0]
    return Table(
        ("parameter", "before", "∂f/∂p", "after"),
        tuple(
            (
                code(name),
                fmt(document["input"]["point"][name]),
                fmt(first["gradient"][name]),
                fmt(first["point"][name]),
            )
            for name in document["parameters"]
        ),
    )


def simultaneous(document: dict, table_above: bool = False) -> list[Block]:
    trial = ran(document, "simultaneous")
    if trial is None:
        return []
    lr = document["input"]["learning_rate"]
    first = trial["steps"][0]
    # The change as the analysis measured it (the same step): in 50 digits too where float64 cannot
    # resolve it.
    analysis = document["analysis"]
    resolution = analysis.get("resolution") or {}
    if resolution.get("high_precision"):
        change = (
            f"change {fmt(resolution['float64_actual_change'])} in float64, {fmt(analysis['actual_change'])} "
            "at 50 digits"
        )
    else:
        change = f"change {fmt(analysis['actual_change'])}"
    return [
        Heading("Simultaneous update (what backprop + SGD does)"),
        Paragraph(
            f"Every parameter moves at once, using the partials from that one point: p ← p − {fmt(lr)}·∂f/∂p."
        ),
        TABLE_ABOVE if table_above else simultaneous_table(document),
        Paragraph(f"The loss goes from {fmt(trial['initial_loss'])} to **{fmt(first['loss'])}** ({change})."),
        *([lost] if (lost := lost_to_rounding({**trial, "steps": trial["steps"][:1]})) else []),
    ]


def sequential_table(document: dict) -> Table | None:
    """Step 1 of the sequential update, each parameter's slope at the start and when it moved, a
    flipped sign marked."""
    trial = ran(document, "sequential")
    if trial is None:
        return None
    return Table(
        ("parameter", "∂f/∂p at the start", "∂f/∂p when updated", "after", "loss after"),
        tuple(
            (
                code(u["parameter"]),
                fmt(u["partial_at_start"]),
                fmt(u["partial"]) + (" **(sign flipped)**" if u["sign_flip"] else ""),
                fmt(u["value"]),
                fmt(u["loss"]),
            )
            for u in trial["steps"][0]["updates"]
        ),
    )


def sequential(document: dict, table_above: bool = False) -> list[Block]:
    trial = ran(document, "sequential")
    if trial is None:
        return []
    first = trial["steps"][0]
    flips = [u for step in trial["steps"] for u in step["updates"] if u["sign_flip"]]
    first_flips = [u for u in first["updates"] if u["sign_flip"]]
    if first_flips:
        names = ", ".join(code(u["parameter"]) for u in first_flips)
        story = (
            f"Here it happens: after the parameters before it moved, the slope of {names} changed sign, "
            "so the sequential scheme moves it the other way from backprop."
        )
    elif slopes_interact(document):
        story = (
            "No slope changed sign in the first step: the parameters updated first did not move far enough."
        )
    else:
        story = (
            "No slope changed sign in the first step, and none can: with this f no parameter's slope depends on "
            "another's, so moving one first leaves the others' slopes as they were."
        )
    if len(flips) > len(first_flips):
        story += f" Over all {len(trial['steps'])} steps, {len(flips)} updates used a slope whose sign had flipped."
    return [
        Heading("Sequential update (one parameter at a time)"),
        Paragraph(
            "The scheme the question imagines: move one parameter, recompute the next partial at the partly "
            f"updated point, move the next, in the order {code(', '.join(document['parameters']))}."
        ),
        TABLE_ABOVE if table_above else sequential_table(document),
        Paragraph(story),
    ]


def slopes_interact(document: dict) -> bool:
    """Whether moving one parameter can change another's slope: some partial's formula names another
    parameter. (The Hessian at the start is not enough: for x²y² at x = 0 it has no off-diagonal entry,
    yet ∂f/∂y = 2x²y changes as soon as x moves.)"""
    parameters = set(document["parameters"])
    return any(
        # A formula left out (too long) may name any parameter.
        parameters
        & (set(re.findall(r"[A-Za-z_]\w*", document["partials"][name] or " ".join(parameters))) - {name})
        for name in parameters
    )


def _scheme_verdict(document: dict, simultaneous: dict, sequential: dict) -> str:
    steps = document["input"]["steps"]
    after = "one step" if steps == 1 else f"{steps} steps"
    diverged = [t for t in (simultaneous, sequential) if t["diverged_at"] is not None]
    if diverged:
        finished = [t for t in (simultaneous, sequential) if t["diverged_at"] is None]
        return (
            f"After {after} neither scheme can be called lower: "
            + " and ".join(f"the {diverged_text(t)}" for t in diverged)
            + ". A diverged trial's values stopped being finite numbers, so its last finite loss is not where "
            "it ended."
            + "".join(
                f" The {t['method']} trial ran every step and ends at {fmt(t['final_loss'])}."
                for t in finished
            )
        )
    a, b = simultaneous["final_loss"], sequential["final_loss"]
    winner = lower_scheme(simultaneous, sequential)
    if winner is None:
        return f"After {after} both schemes reach the same loss, {fmt(a)}."
    return (
        f"After {after} the simultaneous update reaches {fmt(a)} and the sequential one {fmt(b)}: "
        f"**{winner} is lower by {fmt(abs(a - b))}**."
    )


def comparison(document: dict, table_above: bool = False) -> list[Block]:
    schemes = [ran(document, "simultaneous"), ran(document, "sequential")]
    compared = all(t is not None for t in schemes)
    # The verdict on the two schemes names their divergence itself; the other trials get a sentence each.
    told = {"simultaneous", "sequential"} if compared else set()
    blocks: list[Block] = [
        Paragraph(f"The {diverged_text(t)}: the values stopped being finite numbers.")
        for t in document["trials"]
        if t["diverged_at"] is not None and t["method"] not in told
    ]
    if any(t["method"] not in ("simultaneous", "sequential") for t in document["trials"]):
        blocks.insert(0, TABLE_ABOVE if table_above else all_trials(document))
    if not compared:
        return [Heading("Which method did better"), *blocks] if blocks else []
    return [Heading("Which scheme did better"), Paragraph(_scheme_verdict(document, *schemes)), *blocks]


def all_trials(document: dict) -> Table:
    rows = []
    for trial in document["trials"]:
        up = sum(1 for step in trial["steps"] if step.get("loss_went_up"))
        rows.append(
            (
                code(trial["method"]),
                settings_text(trial["settings"]) or "–",
                fmt(trial["final_loss"]),
                str(up) if trial["method"] != "sequential" else "–",
                str(trial["diverged_at"]) if trial["diverged_at"] is not None else "no",
            )
        )
    return Table(
        ("method", "settings", "final loss", "steps where the loss went up", "diverged at"), tuple(rows)
    )
