"""What the answer page shows, worked out from a case document: the short answer and the one table that
shows it, the graph's layout with each edge's local slope, the first steps of both schemes, every trial
compared, the optimizers' steps that raised the loss, the mini-batch steps, the learning-rate summary and
the curve the η control moves along."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markupsafe import Markup

from tutor.engine.explain import VERDICT_VERBS, step_outcome
from tutor.engine.graph import local_slopes
from tutor.engine.numbers import fmt
from tutor.plots import misleading, went_up

# Raw HTML in Markdown is shown as text, never interpreted; links are checked by markdown-it.
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
# LaTeX needs a script to render; each $$ block in the engine's Markdown is followed by the same formula
# as plain text, so the page drops the LaTeX and keeps the text.
_LATEX_BLOCK = re.compile(r"^\$\$\n.*?\n\$\$\n?", re.DOTALL | re.MULTILINE)


def markdown_html(markdown: str) -> Markup:
    """Markdown as HTML blocks; any raw HTML in it stays text (html is off in the renderer)."""
    return Markup(_markdown.render(markdown))  # noqa: S704 - html disabled above


def inline_markdown_html(markdown: str) -> Markup:
    """One line of Markdown (code spans, emphasis) as inline HTML, raw HTML still text."""
    return Markup(_markdown.renderInline(markdown))  # noqa: S704 - html disabled above


# --- the short answer and its table ----------------------------------------------------------------


def short_answer(document: dict) -> Markup | None:
    """The engine's short answer (``explanation.summary``) as HTML, rendered as safely as any of the
    engine's Markdown; None from an engine that does not write one (the page shows ``summary`` then)."""
    written = (document.get("explanation") or {}).get("summary")
    if not written or not written.get("markdown"):
        return None
    return markdown_html(_LATEX_BLOCK.sub("", written["markdown"]))


def summary(document: dict) -> str:
    """The answer in one or two sentences, for the top of the page when the engine wrote no summary."""
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


OPTIMIZERS = ("momentum", "nesterov", "adam", "rmsprop")


def key_table(document: dict) -> str | None:
    """Which of the page's tables shows the answer, so it stands under the short answer (and only
    there): the trials compared when an optimizer ran, the mini-batch steps that misled when a
    mini-batch trial did, else step 1 of the sequential update (where a flip shows), else step 1 of the
    simultaneous one. None without trials."""
    methods = {trial["method"] for trial in document["trials"] if trial["steps"]}
    if methods & set(OPTIMIZERS):
        return "trials"
    if "minibatch" in methods:
        batches = batch_steps(document)
        return "batches" if batches and batches["misleading"] else "trials"
    if "sequential" in methods:
        return "sequential"
    if "simultaneous" in methods:
        return "simultaneous"
    return "trials" if methods else None


# --- the graph, in the style of the cs231n circuits ------------------------------------------------

OP_SYMBOLS = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "pow": "^", "neg": "−", "pos": "+"}
FUNCTION_SYMBOLS = {"sigmoid": "σ"}
COMMUTATIVE = ("add", "mul")
BOX_WIDTH, BOX_HEIGHT, MARGIN = 88, 54, 8
CHAR_WIDTH = 7.5  # of the diagram's 12 px monospace font
# Across (wide screens): columns left to right, edge labels between them. Down (phones): rows top to
# bottom, so a deep graph grows in the direction a phone scrolls.
ACROSS_GAP, ACROSS_PITCH = 84, 70  # between columns; from box to box in a column
DOWN_GAP, DOWN_SPACING = 58, 14  # between rows; between boxes in a row
# A phone's column is about this wide: a graph that fits it across needs no second layout.
PHONE_COLUMN = 358
# A diagram with more nodes than this is unreadable; the table still lists every node.
MAX_DIAGRAM_NODES = 60
EDGE_DIGITS = 3


@dataclass(frozen=True)
class Box:
    id: int
    x: float
    y: float
    width: float
    heading: str
    label: str
    value: str
    grad: str
    kind: str  # input, fixed, op or output


@dataclass(frozen=True)
class Edge:
    source: int
    target: int
    x1: float
    y1: float
    x2: float
    y2: float
    slope: float | None  # ∂target/∂source, the engine's local slope at the nodes' values
    flow: float | None  # the part of ∂f/∂source this edge carries back: ∂f/∂target × slope
    label_x: float
    label_y: float

    @property
    def slope_text(self) -> str:
        return fmt(self.slope, EDGE_DIGITS)

    @property
    def flow_text(self) -> str:
        return fmt(self.flow, EDGE_DIGITS)


@dataclass(frozen=True)
class Layout:
    direction: str  # across or down
    width: float
    height: float
    boxes: list[Box]
    edges: list[Edge]


@dataclass(frozen=True)
class Diagram:
    across: Layout
    down: Layout | None  # None when the across layout fits a phone as it is
    box_height: int = BOX_HEIGHT


def folded(nodes: list[dict]) -> dict[int, bool]:
    """Which nodes are constants: numbers, and operations on numbers only. The diagram writes them
    into the operation that uses them (× 10, ^ 2) instead of drawing a box that backprop sends nothing."""
    constant: dict[int, bool] = {}
    for node in nodes:  # topological order: inputs come first
        inputs = node["inputs"]
        constant[node["id"]] = node["op"] == "const" or (
            node["op"] != "input" and bool(inputs) and all(constant[i] for i in inputs)
        )
    return constant


def _constant_text(node: dict) -> str:
    return _shorten(node["label"].replace(" ", ""), 8)


def _heading(node: dict, by_id: dict[int, dict], constant: dict[int, bool]) -> str:
    """An operation's symbol with its constants written in: "+", "× 10", "^ 2", "1 −", "max(0, ·)"."""
    op = node["op"]
    if op in ("input", "const"):
        return _shorten(node["label"], 12)
    constants = [_constant_text(by_id[i]) if constant[i] else None for i in node["inputs"]]
    if op in OP_SYMBOLS:
        symbol = OP_SYMBOLS[op]
        if len(constants) == 2 and any(c is not None for c in constants):
            first, second = constants
            if second is not None or op in COMMUTATIVE:
                return f"{symbol} {second if second is not None else first}"
            return f"{first} {symbol}"
        return symbol
    name = FUNCTION_SYMBOLS.get(op, op)
    if any(c is not None for c in constants):
        return _shorten(f"{name}({', '.join(c if c is not None else '·' for c in constants)})", 12)
    return name


def edge_slope(node: dict, position: int, by_id: dict[int, dict]) -> float | None:
    """∂node/∂(its input at ``position``) at the document's node values, by the engine's own rule for
    the operation (the one its backward pass uses); None where it is not a finite number."""
    args = [_number(by_id[i]["value"]) for i in node["inputs"]]
    slope = local_slopes(node["op"], args, _number(node["value"]))[position]
    return slope if math.isfinite(slope) else None


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)


def diagram(
    graph: dict, values: dict[int, float | None], fixed: list[str] | tuple[str, ...] = ()
) -> Diagram | None:
    """The graph as boxes and arrows: each box an input or an operation (constants written into their
    operation) with its value and ∂f/∂node, each arrow labelled with the local slope ∂node/∂input and
    the gradient it carries back. ``values`` are the nodes' values as shown (``shown_values``), the same
    as in the table; ``fixed`` are the inputs that are data. Laid out across, and also down when the
    across layout is wider than a phone."""
    nodes = graph["nodes"]
    constant = folded(nodes)
    shown = [node for node in nodes if not constant[node["id"]]]
    if not shown or len(shown) > MAX_DIAGRAM_NODES:
        return None
    by_id = {node["id"]: node for node in nodes}
    sources = {node["id"]: [i for i in node["inputs"] if not constant[i]] for node in shown}
    depth = _depths(shown, sources)
    order = _order(graph["output"], by_id, sources)
    boxes = {}
    for node in shown:
        if node["id"] == graph["output"]:
            kind = "output"
        elif node["op"] == "input":
            kind = "fixed" if node["label"] in fixed else "input"
        else:
            kind = "op"
        heading = _heading(node, by_id, constant)
        boxes[node["id"]] = Box(
            node["id"],
            0,
            0,
            max(BOX_WIDTH, CHAR_WIDTH * len(heading) + 12),
            heading,
            node["label"],
            fmt(values[node["id"]]),
            fmt(node["grad"]),
            kind,
        )
    slopes = {}
    for node in shown:
        for position, source in enumerate(node["inputs"]):
            if not constant[source]:
                slope = edge_slope(node, position, by_id)
                # A node backprop never reached (∂f/∂node is 0) sends nothing back, whatever its slope.
                flow = 0.0 if node["grad"] == 0 else (node["grad"] * slope if slope is not None else None)
                slopes[(source, node["id"])] = (slope, flow)
    across = _layout("across", boxes, depth, order, sources, slopes)
    down = None if across.width <= PHONE_COLUMN else _layout("down", boxes, depth, order, sources, slopes)
    return Diagram(across, down)


def _depths(shown: list[dict], sources: dict[int, list[int]]) -> dict[int, int]:
    """Each operation one column past its deepest input; each input just before its first use, so a
    bias added late enters late (as in the cs231n circuits) instead of crossing the whole graph."""
    depth: dict[int, int] = {}
    for node in shown:
        depth[node["id"]] = 1 + max((depth[i] for i in sources[node["id"]]), default=-1)
    consumers: dict[int, list[int]] = {}
    for node in shown:
        for source in sources[node["id"]]:
            consumers.setdefault(source, []).append(node["id"])
    for node in shown:
        if node["op"] == "input" and node["id"] in consumers:
            depth[node["id"]] = min(depth[c] for c in consumers[node["id"]]) - 1
    return depth


def _order(output: int, by_id: dict[int, dict], sources: dict[int, list[int]]) -> dict[int, int]:
    """Each node's place in a walk from f back to the inputs, first inputs first: the inputs of one
    operation sit next to each other, so few arrows cross."""
    order: dict[int, int] = {}
    stack: list[tuple[int, bool]] = [(output, False)]
    while stack:
        node, expanded = stack.pop()
        if node in order:
            continue
        if expanded or not sources.get(node):
            order[node] = len(order)
            continue
        stack.append((node, True))
        stack.extend((source, False) for source in reversed(sources[node]) if source not in order)
    return order


def _layout(
    direction: str,
    boxes: dict[int, Box],
    depth: dict[int, int],
    order: dict[int, int],
    sources: dict[int, list[int]],
    slopes: dict[tuple[int, int], tuple[float | None, float | None]],
) -> Layout:
    """Depth runs across (x) or down (y); the other axis places each input in walk order and each
    operation at the mean of its inputs, then pushes apart boxes that would overlap."""
    across = direction == "across"
    widest = max(box.width for box in boxes.values())
    spacing = ACROSS_PITCH if across else widest + DOWN_SPACING
    ids = sorted(boxes, key=lambda i: order.get(i, len(order)))
    place: dict[int, float] = {}
    inputs = [i for i in ids if not sources[i]]
    for rank, node in enumerate(inputs):
        place[node] = rank * spacing
    for node in sorted((i for i in ids if sources[i]), key=lambda i: depth[i]):
        place[node] = sum(place[s] for s in sources[node]) / len(sources[node])
    columns: dict[int, list[int]] = {}
    for node in ids:
        columns.setdefault(depth[node], []).append(node)
    for members in columns.values():
        members.sort(key=lambda i: (place[i], order.get(i, 0)))
        for before, after in zip(members, members[1:], strict=False):
            place[after] = max(place[after], place[before] + spacing)
    low = min(place.values())
    deepest = max(depth.values())
    if across:
        # Each column as wide as its widest box.
        widths = [
            max(boxes[i].width for i in columns.get(c, [])) if c in columns else BOX_WIDTH
            for c in range(deepest + 1)
        ]
        starts = [MARGIN + sum(widths[:c]) + c * ACROSS_GAP for c in range(deepest + 1)]
        spots = {
            i: (starts[depth[i]] + (widths[depth[i]] - boxes[i].width) / 2, MARGIN + place[i] - low)
            for i in ids
        }
        width = starts[-1] + widths[-1] + MARGIN
        height = MARGIN * 2 + max(place.values()) - low + BOX_HEIGHT
    else:
        spots = {
            i: (
                MARGIN + place[i] - low + (widest - boxes[i].width) / 2,
                MARGIN + depth[i] * (BOX_HEIGHT + DOWN_GAP),
            )
            for i in ids
        }
        width = MARGIN * 2 + max(place.values()) - low + widest
        height = MARGIN * 2 + deepest * (BOX_HEIGHT + DOWN_GAP) + BOX_HEIGHT
    placed = {i: _moved(boxes[i], *spots[i]) for i in ids}
    edges = []
    for target in ids:
        for source in sources[target]:
            a, b = placed[source], placed[target]
            if across:
                x1, y1, x2, y2 = a.x + a.width, a.y + BOX_HEIGHT / 2, b.x, b.y + BOX_HEIGHT / 2
            else:
                x1, y1, x2, y2 = a.x + a.width / 2, a.y + BOX_HEIGHT, b.x + b.width / 2, b.y
            # Nearer the source than the target, where arrows into one box are still apart.
            label_x, label_y = x1 + 0.4 * (x2 - x1), y1 + 0.4 * (y2 - y1)
            slope, flow = slopes[(source, target)]
            edges.append(Edge(source, target, x1, y1, x2, y2, slope, flow, label_x, label_y))
    return Layout(direction, width, height, [placed[i] for i in sorted(placed)], edges)


def _moved(box: Box, x: float, y: float) -> Box:
    return Box(
        box.id, round(x, 1), round(y, 1), box.width, box.heading, box.label, box.value, box.grad, box.kind
    )


def _shorten(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def node_slopes(graph: dict) -> dict[int, list[tuple[str, float | None]]]:
    """For the graph table: each operation's local slope to each of its inputs that is not a constant,
    as (input's label, slope)."""
    nodes = graph["nodes"]
    constant = folded(nodes)
    by_id = {node["id"]: node for node in nodes}
    return {
        node["id"]: [
            (by_id[source]["label"], edge_slope(node, position, by_id))
            for position, source in enumerate(node["inputs"])
            if not constant[source]
        ]
        for node in nodes
        if node["inputs"]
    }


# --- the first step and the learning rates ---------------------------------------------------------


def first_steps(document: dict) -> dict[str, dict]:
    """Step 1 of each scheme by method, for the step tables."""
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
    """The learner's η against the largest decreasing η, for its sentence; what the step did comes from
    the actual change, since above the bound the loss can still go down."""
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


# --- the η control ------------------------------------------------------------------------------

# In the SVG's own units; the chart scales to the column (up to this width), the slider under it is
# inset by CHART_LEFT and CHART_RIGHT in the same proportions (tutor.css), so it runs under the plot area.
CHART_WIDTH, CHART_HEIGHT = 560, 250
CHART_LEFT, CHART_RIGHT, CHART_TOP, CHART_BOTTOM = 70, 14, 12, 42
# The curve the page carries: enough points for a smooth line and a fine slider, few enough bytes.
PAGE_SAMPLES = 200


@dataclass(frozen=True)
class Tick:
    at: float
    text: str


@dataclass(frozen=True)
class EtaChart:
    """The change in the loss against η as SVG coordinates, and for each sample what the readout shows."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    curve: str  # SVG path data, broken where the change is not a finite number
    first_order: str  # SVG path data of the tangent −η‖g‖², clipped to the chart (curved on a log axis)
    zero: float | None  # y of the zero line, if in view
    rate_x: float
    bound_x: float | None
    best: tuple[float, float] | None
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    samples: list[dict]  # per η: x, y, and the texts: eta, loss, change, first, side
    start: int  # the sample at the learner's η
    loss_name: str  # f, or L with data
    bound_text: str  # the bound in words, or why there is none
    x_label: str

    @property
    def data(self) -> dict:
        """What the page carries for the script (a JSON data block): nothing to request per move."""
        return {"start": self.start, "samples": self.samples}

    @property
    def shown(self) -> dict:
        return self.samples[self.start]


def eta_chart(document: dict, curve: dict) -> EtaChart | None:
    """The η control's chart and readouts from ``plots.loss_change_curve``: at each sampled η the loss
    after the step f(p − ηg), the change, the first-order prediction −η‖g‖² and whether η is below the
    largest η that still lowers the loss. At the rates the analysis worked out (the learner's, the best,
    the halvings) these are the document's own numbers."""
    analysis = document.get("analysis")
    rates, changes = curve["rates"], curve["changes"]
    if analysis is None or analysis["learning_rate"] not in rates:
        return None
    finite = [c for c in changes if c is not None]
    if not finite:
        return None
    squared_norm = document["gradient_norm"] ** 2
    low, high = min(finite), max(finite)
    pad = 0.08 * (high - low) or 0.1 * max(abs(low), 1e-12)
    low, high = low - pad, high + pad
    lower, upper = rates[0], rates[-1]
    logarithmic = curve["scale"] == "log"  # then every rate is positive (plots.rate_scale)
    left, right = CHART_LEFT, CHART_WIDTH - CHART_RIGHT
    top, bottom = CHART_TOP, CHART_HEIGHT - CHART_BOTTOM

    def x_of(rate: float) -> float:
        if logarithmic:
            share = math.log(rate / lower) / math.log(upper / lower)
        else:
            share = rate / upper
        return round(left + (right - left) * share, 1)

    def y_of(change: float) -> float:
        return round(bottom - (bottom - top) * (change - low) / (high - low), 1)

    path: list[str] = []
    pen_down = False
    for rate, change in zip(rates, changes, strict=True):
        if change is None:
            pen_down = False
            continue
        path.append(f"{'L' if pen_down else 'M'}{x_of(rate)} {y_of(change)}")
        pen_down = True
    # The tangent runs from the left edge until it leaves the chart at the bottom: a straight line from
    # (0, 0), or on a log axis a curve through the sampled rates.
    end = upper if squared_norm == 0 else min(upper, max(lower, -low / squared_norm))
    tangent = [rate for rate in rates if rate < end] + [end] if logarithmic else [lower, end]
    first_order = " ".join(
        f"{'M' if index == 0 else 'L'}{x_of(rate)} {y_of(-rate * squared_norm)}"
        for index, rate in enumerate(tangent)
    )
    bound = analysis["max_decreasing_learning_rate"]
    best = analysis["best_learning_rate"]
    name = "L" if document.get("data_rows") else "f"
    samples = []
    for rate, change in zip(rates, changes, strict=True):
        if bound is None:
            side = None
        else:
            side = "below" if rate < bound else "at" if rate == bound else "above"
        samples.append(
            {
                "x": x_of(rate),
                "y": None if change is None else y_of(change),
                "rate": rate,
                "eta": fmt(rate),
                "loss": fmt(None if change is None else document["loss"] + change),
                "change": fmt(change),
                "first": fmt(-rate * squared_norm),
                "side": side,
            }
        )
    if bound is None:
        bound_text = analysis["max_decreasing_reason"].rstrip(".")
    else:
        bound_text = f"the largest η that still lowers the loss, {fmt(bound)}"
    return EtaChart(
        CHART_WIDTH,
        CHART_HEIGHT,
        left,
        right,
        top,
        bottom,
        " ".join(path),
        first_order,
        y_of(0.0) if low <= 0 <= high else None,
        x_of(analysis["learning_rate"]),
        x_of(bound) if bound is not None else None,
        (x_of(best), y_of(analysis["best_change"]))
        if best is not None and analysis["best_change"] is not None
        else None,
        [
            Tick(x_of(value), fmt(value))
            for value in (decades(lower, upper) if logarithmic else nice_ticks(0.0, upper))
        ],
        [Tick(y_of(value), fmt(value)) for value in nice_ticks(low, high)],
        samples,
        rates.index(analysis["learning_rate"]),
        name,
        bound_text,
        "learning rate η (logarithmic)" if logarithmic else "learning rate η",
    )


def decades(low: float, high: float) -> list[float]:
    """The powers of ten from low to high (both positive): a log axis's ticks."""
    return [10.0**power for power in range(math.ceil(math.log10(low)), math.floor(math.log10(high)) + 1)]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round values (steps of 1, 2, 2.5 or 5 times a power of ten) from low to high."""
    if not high > low:
        return [low]
    rough = (high - low) / count
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= rough)
    first = math.ceil(low / step)
    ticks = []
    for index in range(first, math.floor(high / step) + 1):
        # Through the shortest decimal: 3 × 0.1 is 0.3, not 0.30000000000000004.
        ticks.append(float(f"{index * step:.12g}"))
    return ticks


# --- every trial, the optimizers' rises and the mini-batch steps -----------------------------------

SETTING_SYMBOLS = {"momentum": "μ", "beta1": "β1", "beta2": "β2", "eps": "ε", "alpha": "α"}
# The step tables stop here: enough to see the pattern, short enough to read on a phone.
TABLE_STEPS = 20
STEP_RUNS_SHOWN = 12
# The misleading mini-batch steps shown under the short answer; all of them are in the step table.
KEY_ROWS = 4


def settings_text(trial: dict) -> str:
    """A trial's settings in words: "μ = 0.9", "batch size 2, rows in order", "" for plain descent."""
    settings = trial.get("settings") or {}
    if trial["method"] == "minibatch":
        seed = settings.get("shuffle_seed")
        order = "rows in order" if seed is None else f"rows shuffled each epoch, seed {seed}"
        return f"batch size {settings.get('batch_size')}, {order}"
    return ", ".join(f"{SETTING_SYMBOLS.get(name, name)} = {fmt(value)}" for name, value in settings.items())


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
    the full loss L before and after, and which steps lowered their batch's loss but raised L (the first
    KEY_ROWS of those also on their own, for the table under the short answer)."""
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
        "misleading_rows": [row for row in rows if row["misleading"]][:KEY_ROWS],
        "steps": rows[:shown],
    }
