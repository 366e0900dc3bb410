"""What the answer page shows, worked out from a case document: the graph's layout, the first steps of
both schemes side by side, every trial compared, the optimizers' steps that raised the loss, the
mini-batch steps, the learning-rate summary, and the explanation as HTML."""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markupsafe import Markup

from tutor.engine.explain import VERDICT_VERBS, step_outcome
from tutor.engine.numbers import fmt
from tutor.plots import misleading

OP_SYMBOLS = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "pow": "^", "neg": "−", "pos": "+"}
BOX_WIDTH, BOX_HEIGHT, GAP_X, GAP_Y, MARGIN = 124, 60, 44, 14, 8
# A diagram with more nodes than this is unreadable; the table still lists every node.
MAX_DIAGRAM_NODES = 60

# Raw HTML in Markdown is shown as text, never interpreted; links are checked by markdown-it.
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
# LaTeX needs a script to render; each $$ block in the explanation is followed by the same formula as
# plain text, so the page drops the LaTeX and keeps the text.
_LATEX_BLOCK = re.compile(r"^\$\$\n.*?\n\$\$\n?", re.DOTALL | re.MULTILINE)


def markdown_html(markdown: str) -> Markup:
    """Markdown as HTML blocks; any raw HTML in it stays text (html is off in the renderer)."""
    return Markup(_markdown.render(markdown))  # noqa: S704 - html disabled above


def inline_markdown_html(markdown: str) -> Markup:
    """One line of Markdown (code spans, emphasis) as inline HTML, raw HTML still text."""
    return Markup(_markdown.renderInline(markdown))  # noqa: S704 - html disabled above


def explanation_html(markdown: str) -> Markup:
    return markdown_html(_LATEX_BLOCK.sub("", markdown))


@dataclass(frozen=True)
class Box:
    id: int
    x: int
    y: int
    heading: str
    label: str
    value: str
    grad: str
    kind: str  # input, const, op or output


@dataclass(frozen=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True)
class Diagram:
    width: int
    height: int
    boxes: list[Box]
    edges: list[Edge]


def diagram(graph: dict, values: dict[int, float | None]) -> Diagram | None:
    """Inputs on the left, f on the right; each node one column right of its deepest input. ``values``
    are the nodes' values as shown (``shown_values``), the same as in the table beside it."""
    nodes = graph["nodes"]
    if not nodes or len(nodes) > MAX_DIAGRAM_NODES:
        return None
    depth: dict[int, int] = {}
    for node in nodes:  # topological order: inputs come first
        depth[node["id"]] = 1 + max((depth[i] for i in node["inputs"]), default=-1)
    # A constant sits just left of the node that uses it, not with the variables in the first column,
    # so its edge is short and does not cross the rest of the graph.
    consumers: dict[int, list[int]] = {}
    for node in nodes:
        for source in node["inputs"]:
            consumers.setdefault(source, []).append(node["id"])
    for node in nodes:
        if node["op"] == "const" and node["id"] in consumers:
            depth[node["id"]] = min(depth[c] for c in consumers[node["id"]]) - 1
    rows: dict[int, int] = {}
    position: dict[int, tuple[int, int]] = {}
    for node in nodes:
        column = depth[node["id"]]
        row = rows.get(column, 0)
        rows[column] = row + 1
        position[node["id"]] = (MARGIN + column * (BOX_WIDTH + GAP_X), MARGIN + row * (BOX_HEIGHT + GAP_Y))
    boxes = []
    for node in nodes:
        x, y = position[node["id"]]
        if node["id"] == graph["output"]:
            kind = "output"
        elif node["op"] in ("input", "const"):
            kind = node["op"]
        else:
            kind = "op"
        heading = node["label"] if kind in ("input", "const") else OP_SYMBOLS.get(node["op"], node["op"])
        boxes.append(
            Box(
                node["id"],
                x,
                y,
                _shorten(heading, 14),
                node["label"],
                fmt(values[node["id"]]),
                fmt(node["grad"]),
                kind,
            )
        )
    edges = []
    for node in nodes:
        x2, y2 = position[node["id"]]
        for source in node["inputs"]:
            x1, y1 = position[source]
            edges.append(Edge(x1 + BOX_WIDTH, y1 + BOX_HEIGHT // 2, x2, y2 + BOX_HEIGHT // 2))
    width = MARGIN * 2 + (max(depth.values()) + 1) * (BOX_WIDTH + GAP_X) - GAP_X
    height = MARGIN * 2 + max(rows.values()) * (BOX_HEIGHT + GAP_Y) - GAP_Y
    return Diagram(width, height, boxes, edges)


def _shorten(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def first_steps(document: dict) -> dict[str, dict]:
    """Step 1 of each scheme by method, for the side-by-side tables."""
    return {trial["method"]: trial for trial in document["trials"] if trial["steps"]}


def sign_flips(document: dict) -> list[dict]:
    """Every sequential update whose slope changed sign because an earlier update moved, with its step."""
    flips = []
    for trial in document["trials"]:
        for step in trial["steps"]:
            for update in step.get("updates", []):
                if update["sign_flip"]:
                    flips.append({"method": trial["method"], "step": step["step"], **update})
    return flips


def winner(document: dict) -> str | None:
    """The trial with the lowest final loss, flagged "lower" in the comparison of every trial. None with
    fewer than two trials, when the lowest is shared, or when a trial diverged (its last finite loss is
    not where it ended, so no ranking is fair)."""
    trials = [trial for trial in document["trials"] if trial["steps"]]
    if len(trials) < 2 or any(trial["diverged_at"] is not None for trial in trials):
        return None
    first, second = sorted(trials, key=lambda trial: trial["final_loss"])[:2]
    return None if first["final_loss"] == second["final_loss"] else first["method"]


def learning_rate_position(analysis: dict) -> dict | None:
    """The learner's η against the largest decreasing η, for the meter and its sentence; what the step
    did comes from the actual change, since above the bound the loss can still go down."""
    bound = analysis.get("max_decreasing_learning_rate")
    if bound is None:
        return None
    rate = analysis["learning_rate"]
    return {
        "rate": rate,
        "bound": bound,
        "ratio": rate / bound,
        "below": rate < bound,
        "outcome": step_outcome(analysis),
    }


def summary(document: dict) -> str:
    """The answer in one or two sentences, for the top of the page and the review list."""
    analysis = document.get("analysis")
    if analysis is None:
        return (
            "f or one of its partial derivatives has no finite value at this point, so no step can be taken."
        )
    if not document["gradient_norm"]:
        return "The gradient is zero here, so gradient descent does not move, whatever the learning rate."
    rate = fmt(analysis["learning_rate"])
    verb = VERDICT_VERBS.get(analysis["verdict"])
    if verb is None:
        first = f"At η = {rate} the loss after one simultaneous step is not a finite number."
    else:
        after = document["loss"] + analysis["actual_change"]
        first = f"At η = {rate} one simultaneous step {verb} the loss, from {fmt(document['loss'])} to {fmt(after)}."
    bound = analysis["max_decreasing_learning_rate"]
    if bound is None:
        reason = analysis["max_decreasing_reason"].rstrip(".")
        return f"{first} {reason[:1].upper()}{reason[1:]}."
    return f"{first} Every η below {fmt(bound)} lowers it."


# --- every trial, the optimizers' rises and the mini-batch steps -----------------------------------

OPTIMIZERS = ("momentum", "nesterov", "adam", "rmsprop")
SETTING_SYMBOLS = {"momentum": "μ", "beta1": "β1", "beta2": "β2", "eps": "ε", "alpha": "α"}
# The step tables stop here: enough to see the pattern, short enough to read on a phone.
TABLE_STEPS = 20
STEP_RUNS_SHOWN = 12


def settings_text(trial: dict) -> str:
    """A trial's settings in words: "μ = 0.9", "batch size 2, rows in order", "" for plain descent."""
    settings = trial.get("settings") or {}
    if trial["method"] == "minibatch":
        seed = settings.get("shuffle_seed")
        order = "rows in order" if seed is None else f"rows shuffled each epoch, seed {seed}"
        return f"batch size {settings.get('batch_size')}, {order}"
    return ", ".join(f"{SETTING_SYMBOLS.get(name, name)} = {fmt(value)}" for name, value in settings.items())


def went_up(trial: dict) -> list[int]:
    """The steps after which the loss was higher than before. Trials record it as loss_went_up; the
    sequential trial does not, so its losses are compared the same way (strictly higher)."""
    if all("loss_went_up" in step for step in trial["steps"]):
        return [step["step"] for step in trial["steps"] if step["loss_went_up"]]
    losses = [trial["initial_loss"]] + [step["loss"] for step in trial["steps"]]
    return [
        step["step"]
        for step, before, after in zip(trial["steps"], losses, losses[1:], strict=False)
        if before is not None and after is not None and after > before
    ]


def step_runs(steps: list[int], shown: int = STEP_RUNS_SHOWN) -> str:
    """[3, 4, 5, 9] as "3–5, 9"; after ``shown`` runs, the rest as "…"."""
    runs: list[list[int]] = []
    for step in steps:
        if runs and step == runs[-1][-1] + 1:
            runs[-1].append(step)
        else:
            runs.append([step])
    text = ", ".join(f"{run[0]}–{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs[:shown])
    return text + (", …" if len(runs) > shown else "")


def comparison(document: dict) -> list[dict]:
    """One row per trial: what it ran with, where it ended, and the steps where the loss went up."""
    rows = []
    for trial in document["trials"]:
        up = went_up(trial)
        rows.append({**trial, "settings_text": settings_text(trial), "up": up, "up_text": step_runs(up)})
    return rows


def rises(document: dict, shown: int = TABLE_STEPS) -> list[dict]:
    """For each optimizer trial, its steps where the loss went up (the first ``shown``), each with the
    loss before and after, the angle between the step and −g and, for momentum and Nesterov, the
    share of the step that is remembered velocity."""
    found = []
    for trial in document["trials"]:
        if trial["method"] not in OPTIMIZERS:
            continue
        losses = [trial["initial_loss"]] + [step["loss"] for step in trial["steps"]]
        up = [
            {**step, "loss_before": losses[index]}
            for index, step in enumerate(trial["steps"])
            if step.get("loss_went_up")
        ]
        found.append(
            {
                "method": trial["method"],
                "settings_text": settings_text(trial),
                "taken": len(trial["steps"]),
                "count": len(up),
                "steps": up[:shown],
                "velocity": trial["method"] in ("momentum", "nesterov"),
            }
        )
    return found


def batch_steps(document: dict, shown: int = TABLE_STEPS) -> dict | None:
    """The minibatch trial's first ``shown`` steps: each batch's loss before and after its step next to
    the full loss L before and after, and which steps lowered their batch's loss but raised L."""
    trial = next((t for t in document["trials"] if t["method"] == "minibatch"), None)
    if trial is None or not trial["steps"]:
        return None
    losses = [trial["initial_loss"]] + [step["loss"] for step in trial["steps"]]
    rows = [
        {**step, "loss_before": losses[index], "misleading": misleading(step)}
        for index, step in enumerate(trial["steps"])
    ]
    return {
        "settings_text": settings_text(trial),
        "taken": len(rows),
        "misleading": [row["step"] for row in rows if row["misleading"]],
        "steps": rows[:shown],
    }
