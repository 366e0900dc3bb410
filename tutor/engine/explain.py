"""The explanation: the document's numbers told as a worked answer, in Markdown and in plain text.

Both renderings come from one list of blocks so they say the same thing. Markdown puts LaTeX in
``$$`` blocks on their own lines (how Discourse's math plugin reads it) and every formula also appears
in plain text, so the answer still reads where math is not rendered. Learner-typed text only ever
appears inside code spans, where Markdown does not interpret it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from tutor.engine.numbers import denoise, fmt
from tutor.engine.question import METHODS

MAX_GRAPH_ROWS = 40
MAX_PARTIAL_BLOCKS = 6
MAX_LISTED_STEPS = 12  # step numbers named in one sentence
MAX_STEP_ROWS = 10  # rows of a per-step table
OPTIMIZERS = ("momentum", "nesterov", "adam", "rmsprop")
# gap/η² "stays about the same" over the halvings when its values are within this factor of each other:
# on a smooth f it tends to ½gᵀHg, at a kink it doubles with every halving.
STEADY_FACTOR = 2
VERDICT_VERBS = {"decreases": "lowers", "increases": "raises", "unchanged": "does not change"}


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str  # may use **bold** and `code`


@dataclass(frozen=True)
class Math:
    latex: str
    plain: str


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Heading | Paragraph | Math | Table


def code(text: str) -> str:
    return f"`{text.replace('`', '')}`"


def render_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        match block:
            case Heading(text):
                out.append(f"### {text}")
            case Paragraph(text):
                out.append(text)
            case Math(latex, plain):
                out.append(f"$$\n{latex}\n$$")
                out.append(code(plain))
            case Table(header, rows):
                lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                lines += ["| " + " | ".join(row) + " |" for row in rows]
                out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def _plain(text: str) -> str:
    """Markdown emphasis and code marks removed; inside code spans ``**`` is a power and stays."""
    parts = text.split("`")
    return "".join(part if i % 2 else part.replace("**", "") for i, part in enumerate(parts))


def render_text(blocks: list[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        match block:
            case Heading(text):
                out.append(f"{text}\n{'=' * len(text)}")
            case Paragraph(text):
                out.append(_plain(text))
            case Math(_, plain):
                out.append(f"    {plain}")
            case Table(header, rows):
                cells = [list(header)] + [list(row) for row in rows]
                cells = [[_plain(c) for c in row] for row in cells]
                widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
                lines = [
                    "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
                ]
                lines.insert(1, "  ".join("-" * w for w in widths))
                out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def _point_text(point: dict[str, float]) -> str:
    return ", ".join(f"{name}={fmt(value)}" for name, value in point.items())


def _trial(document: dict, method: str) -> dict | None:
    return next((t for t in document["trials"] if t["method"] == method), None)


def _kinds(document: dict) -> set[str]:
    return {case["kind"] for case in document["special_cases"]}


def _latex_name(name: str) -> str:
    """A symbol's name as SymPy writes it in the partials' LaTeX (w_in_1 is w_{in 1}, lambda_ is \\lambda_{}),
    so both sides of an equation name it the same way."""
    return sp.latex(sp.Symbol(name))


def build_blocks(document: dict) -> list[Block]:
    question = document["input"]
    lr = question["learning_rate"]
    blocks: list[Block] = [
        Paragraph(
            f"**f = {code(question['expression'])}** at {code(_point_text(question['point']))}, "
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
    blocks += _forward_backward(document)
    if undefined:
        blocks.append(Heading("Where this stops"))
        blocks += [Paragraph(c["message"]) for c in document["special_cases"]]
        return blocks
    blocks += _simultaneous(document)
    blocks += _sequential(document)
    blocks += _optimizers(document)
    blocks += _minibatch(document)
    blocks += _comparison(document)
    blocks += _taylor(document)
    blocks += _learning_rates(document)
    notes = [c for c in document["special_cases"] if c["kind"] != "diverged"]
    if notes:
        blocks.append(Heading("Worth knowing at this point"))
        blocks += [Paragraph(c["message"]) for c in notes]
    blocks += _answer(document)
    return blocks


def shown_values(nodes: list[dict]) -> dict[int, float | None]:
    """Each node's forward value as a person reads it: a sum or difference whose inputs cancel within
    rounding is the 0 it is (w0·x0 + w1·x1 + b at 0.5·1 − 0.3·2 + 0.1 computes as 2.8e-17)."""
    value = {node["id"]: node["value"] for node in nodes}
    shown = {}
    for node in nodes:
        inputs = [abs(value[i]) for i in node["inputs"] if value[i] is not None]
        cancels = node["op"] in ("add", "sub") and inputs
        shown[node["id"]] = denoise(node["value"], max(inputs)) if cancels else node["value"]
    return shown


def _forward_backward(document: dict) -> list[Block]:
    graph = document["graph"]
    nodes = graph["nodes"]
    shown = shown_values(nodes)
    rows = tuple(
        (str(n["id"]), n["op"], code(n["label"]), fmt(shown[n["id"]]), fmt(n["grad"]))
        for n in nodes[:MAX_GRAPH_ROWS]
    )
    row = document["graph_row"]
    if row is None:
        forward = (
            "Backprop first computes every node of the graph from its inputs, left to right; "
            f"the last node is f = **{fmt(document['loss'])}**."
        )
    else:
        output = next(n for n in nodes if n["id"] == graph["output"])
        forward = (
            f"Backprop runs once per example. Here is the graph for **data row {row}**: every node is "
            f"computed from its inputs, left to right, and the last node is that example's "
            f"f = {fmt(output['value'])}. Averaged over all {document['data_rows']} rows, "
            f"L = **{fmt(document['loss'])}**."
        )
    blocks: list[Block] = [
        Heading("Forward pass"),
        Paragraph(forward),
        Table(("node", "operation", "computes", "value", "∂f/∂node"), rows),
    ]
    if len(nodes) > MAX_GRAPH_ROWS:
        blocks.append(Paragraph(f"({len(nodes) - MAX_GRAPH_ROWS} more nodes are in the JSON document.)"))
    blocks.append(Heading("Backward pass"))
    blocks.append(
        Paragraph(
            "Then it walks the graph backwards: each node passes ∂f/∂node times its local slope to its "
            "inputs, and a variable used in several places adds up what it receives. "
            "All partial derivatives come out **at the same point**"
            + (":" if row is None else "; L's partials are the means of each example's over the rows:")
        )
    )
    gradient, partials, latex = document["gradient"], document["partials"], document["partials_latex"]
    names = list(gradient)
    for name in names[:MAX_PARTIAL_BLOCKS]:
        value = fmt(gradient[name])
        if partials[name] is None:  # a formula too long to show (see special_cases): its value only
            blocks.append(
                Math(
                    f"\\frac{{\\partial f}}{{\\partial {_latex_name(name)}}} = {value}",
                    f"∂f/∂{name} = {value}",
                )
            )
        elif row is None:
            blocks.append(
                Math(
                    f"\\frac{{\\partial f}}{{\\partial {_latex_name(name)}}} = {latex[name]} = {value}",
                    f"∂f/∂{name} = {partials[name]} = {value}",
                )
            )
        else:
            blocks.append(
                Math(
                    f"\\frac{{\\partial L}}{{\\partial {_latex_name(name)}}} = \\operatorname{{mean}}_{{rows}}"
                    f"\\left({latex[name]}\\right) = {value}",
                    f"∂L/∂{name} = mean over rows of ({partials[name]}) = {value}",
                )
            )
    if len(names) > MAX_PARTIAL_BLOCKS:
        blocks.append(
            Table(
                ("parameter", "∂f/∂parameter", "value"),
                tuple((code(n), code(partials[n] or "(not shown)"), fmt(gradient[n])) for n in names),
            )
        )
    return blocks


def _simultaneous(document: dict) -> list[Block]:
    trial = _trial(document, "simultaneous")
    if trial is None or not trial["steps"]:
        return []
    lr = document["input"]["learning_rate"]
    first = trial["steps"][0]
    rows = tuple(
        (
            code(name),
            fmt(document["input"]["point"][name]),
            fmt(first["gradient"][name]),
            fmt(first["point"][name]),
        )
        for name in document["parameters"]
    )
    change = first["loss"] - trial["initial_loss"]
    return [
        Heading("Simultaneous update (what backprop + SGD does)"),
        Paragraph(
            f"Every parameter moves at once, using the partials from that one point: p ← p − {fmt(lr)}·∂f/∂p."
        ),
        Table(("parameter", "before", "∂f/∂p", "after"), rows),
        Paragraph(
            f"The loss goes from {fmt(trial['initial_loss'])} to **{fmt(first['loss'])}** "
            f"(change {fmt(change)})."
        ),
    ]


def _sequential(document: dict) -> list[Block]:
    trial = _trial(document, "sequential")
    if trial is None or not trial["steps"]:
        return []
    first = trial["steps"][0]
    rows = tuple(
        (
            code(u["parameter"]),
            fmt(u["partial_at_start"]),
            fmt(u["partial"]) + (" **(sign flipped)**" if u["sign_flip"] else ""),
            fmt(u["value"]),
            fmt(u["loss"]),
        )
        for u in first["updates"]
    )
    flips = [u for step in trial["steps"] for u in step["updates"] if u["sign_flip"]]
    first_flips = [u for u in first["updates"] if u["sign_flip"]]
    if first_flips:
        names = ", ".join(code(u["parameter"]) for u in first_flips)
        story = (
            f"Here it happens: after the parameters before it moved, the slope of {names} changed sign, "
            "so the sequential scheme moves it the other way from backprop."
        )
    elif _slopes_interact(document):
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
        Table(("parameter", "∂f/∂p at the start", "∂f/∂p when updated", "after", "loss after"), rows),
        Paragraph(story),
    ]


def _slopes_interact(document: dict) -> bool:
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


def _losses_before(trial: dict) -> list[float]:
    """The loss before each recorded step: the initial loss, then each step's loss after."""
    return [trial["initial_loss"]] + [step["loss"] for step in trial["steps"][:-1]]


def _step_list(numbers: list[int]) -> str:
    listed = ", ".join(str(n) for n in numbers[:MAX_LISTED_STEPS])
    return listed + (", …" if len(numbers) > MAX_LISTED_STEPS else "")


def went_up_sentence(trial: dict) -> str:
    """Which steps raised the loss, in a fixed form (the tests read it back against the numbers)."""
    up = [step["step"] for step in trial["steps"] if step["loss_went_up"]]
    total = len(trial["steps"])
    if not up:
        return f"**{trial['method']}**: the loss went down at every one of the {total} steps."
    steps = "step" if len(up) == 1 else "steps"
    return (
        f"**{trial['method']}**: the loss went up at {steps} {_step_list(up)} ({len(up)} of {total} steps)."
    )


def _settings_text(settings: dict) -> str:
    return ", ".join(
        f"{name} = {fmt(value) if value is not None else 'none'}" for name, value in settings.items()
    )


def _why_up(step: dict) -> str:
    angle = step["angle_to_negative_gradient"]
    if angle is not None and angle > 90:
        why = f"uphill: the step is {fmt(angle, 3)}° from −g, so even a short step that way raises the loss"
    else:
        shown = fmt(angle, 3) if angle is not None else "undefined"
        why = f"overshoot: downhill at first ({shown}° from −g) but too long"
    share = step.get("velocity_share")
    if share is not None and share >= 1:
        why += "; the remembered velocity is longer than the whole step"
    return why


def _optimizers(document: dict) -> list[Block]:
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
    plain = _trial(document, "simultaneous")
    if plain is not None and plain["steps"]:
        blocks.append(
            Paragraph("For comparison, plain gradient descent at the same η: " + went_up_sentence(plain))
        )
    for trial in trials:
        blocks.append(
            Paragraph(
                f"{code(trial['method'])} ({METHODS[trial['method']]}; {_settings_text(trial['settings'])}). "
                + went_up_sentence(trial)
            )
        )
        before = _losses_before(trial)
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
        first, _ = up[0]
        blocks.append(Paragraph(f"Why step {first['step']} went up: {_why_up(first)}."))
    return blocks


def _minibatch(document: dict) -> list[Block]:
    trial = _trial(document, "minibatch")
    if trial is None or not trial["steps"]:
        return []
    size, seed = trial["settings"]["batch_size"], trial["settings"]["shuffle_seed"]
    rows_total = document["data_rows"]
    order = "in row order" if seed is None else f"in a fresh shuffle each epoch (seed {seed})"
    before = _losses_before(trial)
    rows = tuple(
        (
            str(step["step"]),
            ", ".join(str(r) for r in step["batch"])
            if len(step["batch"]) <= 6
            else f"{len(step['batch'])} rows",
            f"{fmt(step['batch_loss'])} → {fmt(step['batch_loss_after'])}",
            f"{fmt(loss_before)} → {fmt(step['loss'])}" + (" **(up)**" if step["loss_went_up"] else ""),
            fmt(step["angle_to_full_gradient"], 3) + "°",
        )
        for step, loss_before in list(zip(trial["steps"], before, strict=True))[:MAX_STEP_ROWS]
    )
    against = [
        step["step"]
        for step in trial["steps"]
        if step["loss_went_up"] and step["batch_loss_after"] < step["batch_loss"]
    ]
    blocks: list[Block] = [
        Heading("Mini-batches: a different loss function every step"),
        Paragraph(
            f"The minibatch trial takes {size} of the {rows_total} rows per step, {order}, and follows the "
            "gradient of **that batch's** mean loss. Each batch's loss is a different function of the "
            "parameters from the full loss L and from the next batch's, so a step can be right for its batch "
            "and wrong for L."
        ),
        Table(
            ("step", "rows", "batch loss before → after", "full loss L before → after", "batch g vs full g"),
            rows,
        ),
        Paragraph(went_up_sentence(trial)),
    ]
    if against:
        blocks.append(
            Paragraph(
                f"At {'step' if len(against) == 1 else 'steps'} {_step_list(against)} the step lowered its own "
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


def lower_scheme(simultaneous: dict, sequential: dict) -> str | None:
    """The scheme with the lower final loss; None on a tie or when either diverged, because a diverged
    trial's final loss is only its last finite one, not where it ended."""
    if simultaneous["diverged_at"] is not None or sequential["diverged_at"] is not None:
        return None
    a, b = simultaneous["final_loss"], sequential["final_loss"]
    if a == b:
        return None
    return "sequential" if b < a else "simultaneous"


def _diverged_text(trial: dict) -> str:
    return f"{trial['method']} trial **diverged at step {trial['diverged_at']}**"


def _scheme_verdict(document: dict, simultaneous: dict, sequential: dict) -> str:
    steps = document["input"]["steps"]
    after = "one step" if steps == 1 else f"{steps} steps"
    diverged = [t for t in (simultaneous, sequential) if t["diverged_at"] is not None]
    if diverged:
        finished = [t for t in (simultaneous, sequential) if t["diverged_at"] is None]
        return (
            f"After {after} neither scheme can be called lower: "
            + " and ".join(f"the {_diverged_text(t)}" for t in diverged)
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


def _comparison(document: dict) -> list[Block]:
    schemes = [_trial(document, "simultaneous"), _trial(document, "sequential")]
    compared = all(t is not None and t["steps"] for t in schemes)
    # The verdict on the two schemes names their divergence itself; the other trials get a sentence each.
    told = {"simultaneous", "sequential"} if compared else set()
    blocks: list[Block] = [
        Paragraph(f"The {_diverged_text(t)}: the values stopped being finite numbers.")
        for t in document["trials"]
        if t["diverged_at"] is not None and t["method"] not in told
    ]
    if any(t["method"] not in ("simultaneous", "sequential") for t in document["trials"]):
        blocks.insert(0, _all_trials(document))
    if not compared:
        return [Heading("Which method did better"), *blocks] if blocks else []
    return [Heading("Which scheme did better"), Paragraph(_scheme_verdict(document, *schemes)), *blocks]


def _all_trials(document: dict) -> Table:
    rows = []
    for trial in document["trials"]:
        up = sum(1 for step in trial["steps"] if step.get("loss_went_up"))
        rows.append(
            (
                code(trial["method"]),
                _settings_text(trial["settings"]) or "–",
                fmt(trial["final_loss"]),
                str(up) if trial["method"] != "sequential" else "–",
                str(trial["diverged_at"]) if trial["diverged_at"] is not None else "no",
            )
        )
    return Table(
        ("method", "settings", "final loss", "steps where the loss went up", "diverged at"), tuple(rows)
    )


def _taylor(document: dict) -> list[Block]:
    analysis = document["analysis"]
    lr = fmt(analysis["learning_rate"])
    blocks: list[Block] = [
        Heading("Why the first step goes the way it does"),
        Paragraph(
            "For a step −η·g, the change in f is a first-order part, which is never positive, plus the rest:"
        ),
        Math(
            "f(x - \\eta g) - f(x) = -\\eta\\,\\lVert g \\rVert^2 + \\tfrac12 \\eta^2\\, g^\\top H g + O(\\eta^3)",
            "f(x − ηg) − f(x) = −η·‖g‖² + ½·η²·gᵀHg + O(η³)",
        ),
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
    if "kink" in _kinds(document):
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


def _learning_rates(document: dict) -> list[Block]:
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


def _lowered(analysis: dict) -> list[bool]:
    """For each step size the document tried along −g (the learner's η and its halvings), whether it
    lowered the loss."""
    changes = [analysis["actual_change"], *(row["actual"] for row in analysis["shrinking"])]
    return [change is not None and change < 0 for change in changes]


def _direct_answer(document: dict) -> str:
    """Yes only where the numbers show small steps going down: a bound below which every η lowers the
    loss, or (with no bound) every step size tried lowering it away from a kink."""
    analysis = document["analysis"]
    bound = analysis["max_decreasing_learning_rate"]
    reason = analysis["max_decreasing_reason"]
    yours = (
        f"At your η = {fmt(analysis['learning_rate'])} the loss changed by {fmt(analysis['actual_change'])}."
    )
    if "stationary" in _kinds(document):
        return (
            "No step lowers the loss from here: the gradient is zero, so backprop has no direction to offer."
        )
    lowered = _lowered(analysis)
    if bound is not None:
        small_enough = (
            f"Yes, for this function at this point: every η below {fmt(bound)} lowers the loss in one "
            f"simultaneous step, even though each partial assumed the other weights stay put."
        )
        if analysis["verdict"] != "decreases":
            # The guarantee is for small enough steps; the learner's own step was not one of them.
            return (
                f"{small_enough} But not at your η = {fmt(analysis['learning_rate'])}: it is past that bound, "
                f"and {step_outcome(analysis)}."
            )
        return f"{small_enough} {yours}"
    if not any(lowered) and analysis["best_change"] is None:
        return f"No: {reason}. {yours}"
    if "kink" in _kinds(document):
        return (
            "Not guaranteed: f sits on a kink here, where the gradient averages the slopes on either side, so "
            f"it does not promise that a small step lowers the loss; {reason}. {yours}"
        )
    if all(lowered):
        return f"Yes: {reason}. {yours}"
    return f"Not guaranteed: {reason}. {yours}"


def _answer(document: dict) -> list[Block]:
    answer = _direct_answer(document)
    caveat = (
        "All of this is about plain gradient descent on this one loss. Momentum and Adam take steps that no "
        "longer follow the current gradient, and each mini-batch is a different loss function, so there the "
        "loss can go up now and then."
    )
    evidence = [
        went_up_sentence(t)
        for t in document["trials"]
        if t["method"] in (*OPTIMIZERS, "minibatch") and t["steps"]
    ]
    if evidence:
        caveat += " Here, with your numbers: " + " ".join(evidence)
    return [Heading("Is the loss guaranteed to go down?"), Paragraph(answer), Paragraph(caveat)]


def explain(document: dict) -> dict:
    blocks = build_blocks(document)
    return {"markdown": render_markdown(blocks), "text": render_text(blocks)}
