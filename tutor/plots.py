"""Plots of an analysis document as PNG bytes (matplotlib, Agg). No web code here.

``available(document)`` names the plots that make sense for a document, ``render(document, name)`` draws
one as PNG bytes and ``figure(document, name)`` returns the figure before it is saved (for tests that
look at what was drawn); ``caption(document, name)`` says in words what that plot shows of this
document, and ``loss_change_curve(document)`` gives the line plot's numbers to pages that draw the curve
themselves. Figures are built with matplotlib's object API rather than pyplot, whose global state is not
safe to share between a web server's threads; each draws on its own Agg canvas, so no global backend is
chosen here (a notebook that imports this keeps its own).

The two plots over the function itself (the loss along −g and the contour map) evaluate the loss with
the engine's own Problem, built from the engine's parser from the saved document's input: never from the
raw text by any other means, and without the service layer.
With data that loss is the mean of f over the rows, exactly as the trials lowered it. Building that
Problem parses, differentiates and compiles, so pages draw plots in the analysis workers
(``Analyzer.run``), under the same time and memory limits as the question itself.
"""

from __future__ import annotations

import io
import math

import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FixedLocator, FormatStrFormatter  # noqa: E402

from tutor.config import Limits  # noqa: E402
from tutor.engine import parse_expression  # noqa: E402
from tutor.engine.numbers import fmt  # noqa: E402
from tutor.engine.problem import Problem  # noqa: E402
from tutor.engine.question import check_question, question_from_input  # noqa: E402

TITLES = {
    "loss": "Loss after each step",
    "line": "Change in the loss along −g as a function of the learning rate",
    "contour": "Contour map with every trajectory",
    "batches": "Each mini-batch's own loss against the full loss",
}
# Every trial differs by line style and marker as well as by colour (dark enough on white), never by
# colour alone. Where paths coincide, the wider sequential line stays visible under the others.
STYLE = {
    "simultaneous": {"color": "#0b57d0", "linestyle": "-", "marker": "o", "zorder": 3, "linewidth": 1.4},
    "sequential": {"color": "#b3400c", "linestyle": "--", "marker": "s", "zorder": 2, "linewidth": 3.0},
    "momentum": {"color": "#007a5a", "linestyle": "-.", "marker": "^", "zorder": 4, "linewidth": 1.6},
    "nesterov": {"color": "#a23b72", "linestyle": (0, (6, 2, 1, 2, 1, 2)), "marker": "v", "zorder": 4},
    "adam": {"color": "#8a6200", "linestyle": ":", "marker": "D", "zorder": 4, "linewidth": 2.0},
    "rmsprop": {"color": "#3d3d3d", "linestyle": (0, (9, 3)), "marker": "P", "zorder": 4},
    "minibatch": {"color": "#6a3d9a", "linestyle": (0, (4, 2, 1, 2)), "marker": "X", "zorder": 4},
}
# The same styles in words, for the captions.
STYLE_WORDS = {
    "simultaneous": "solid with circles",
    "sequential": "dashed with squares, moving one axis at a time",
    "momentum": "dash-dot with triangles",
    "nesterov": "dash-dot-dot with downward triangles",
    "adam": "dotted with diamonds",
    "rmsprop": "long dashes with plus signs",
    "minibatch": "dash-dot with crosses",
}
# A method a newer engine added, in a case saved by it.
OTHER_STYLE = {"linestyle": ":", "marker": "*", "linewidth": 1.4}
OTHER_WORDS = "dotted with stars"
RING = {"linestyle": "none", "marker": "o", "markerfacecolor": "none", "markeredgecolor": "#111111"}
RING_LABEL = "the loss went up at this step"
MISLEADING = {"facecolor": "#f2c14e", "alpha": 0.35, "hatch": "//", "edgecolor": "#8a6200", "linewidth": 0}
LEARNER = "#1b7a2f"
BOUND = "#8a1c7c"
LINE_SAMPLES = 400
# Marked learning rates spread wider than this (the largest over the smallest) are drawn on a log axis:
# on a linear one a learner's η of 0.001 beside a bound of 1 sits on the axis itself.
LOG_SPREAD = 100
GRID_SIZE = 160
# A trajectory point further than this (in units of the start's size) is off any useful map.
FAR_AWAY = 1e4
# Losses beyond this are drawn as leaving the plot: an axis cannot span up to 1e308.
LOSS_CEILING = 1e100
# The contour map's axes area is about this much wider than tall. Both axes get the same scale (so −g
# looks perpendicular to the level sets) when that needs the map widened or heightened around the paths
# by at most MAX_STRETCH times; beyond that the paths would shrink to a corner of the map.
AXES_ASPECT = 1.5
MAX_STRETCH = 4.0
COLORBAR_TICKS = 6
# With data each point costs one evaluation per row; points go through in chunks of at most this many
# evaluations, so a contour over a thousand rows does not hold hundreds of megabytes at once.
EVALUATIONS_PER_CHUNK = 1_000_000


def available(document: dict) -> list[str]:
    names = []
    if document.get("trials"):
        names.append("loss")
    analysis = document.get("analysis")
    if analysis is not None and document.get("gradient_norm"):
        names.append("line")
    if document.get("trials") and len(document.get("parameters", [])) == 2:
        names.append("contour")
    if _minibatch(document) is not None:
        names.append("batches")
    return names


def render(document: dict, name: str, limits: Limits | None = None) -> bytes:
    """The PNG of plot ``name``; ValueError for a name that ``available`` does not list."""
    buffer = io.BytesIO()
    figure(document, name, limits).savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def figure(document: dict, name: str, limits: Limits | None = None) -> Figure:
    """The drawn figure of plot ``name``, not yet saved; ValueError as for ``render``."""
    if name not in available(document):
        raise ValueError(f"no plot '{name}' for this document")
    drawing = Figure(figsize=(7.2, 4.4), dpi=110, layout="constrained")
    FigureCanvasAgg(drawing)
    axes = drawing.add_subplot()
    if name == "loss":
        _draw_loss(axes, document)
    elif name == "batches":
        _draw_batches(axes, _minibatch(document))
    elif name == "line":
        _draw_line(axes, document, _problem(document, limits))
    else:
        _draw_contour(drawing, axes, document, _problem(document, limits))
    axes.set_title(TITLES[name], fontsize=11)
    return drawing


def caption(document: dict, name: str) -> str:
    """What plot ``name`` shows of this document, in words: its trials, its marks and its rings, so a
    page never names a path or a mark the plot does not have. ValueError as for ``render``."""
    if name not in available(document):
        raise ValueError(f"no plot '{name}' for this document")
    trials = [trial for trial in document["trials"] if trial["steps"]]
    if name == "loss":
        styles = "; ".join(f"{t['method']} {STYLE_WORDS.get(t['method'], OTHER_WORDS)}" for t in trials)
        return f"The {_loss_label(document)} after each step of every trial ({styles}). {_rings_text(trials)}"
    if name == "line":
        return _line_caption(document)
    if name == "contour":
        names = document["parameters"]
        _, _, equal = _contour_box(document)
        scale = "both axes on the same scale" if equal else "the axes on different scales"
        paths = "; ".join(f"{t['method']} {STYLE_WORDS.get(t['method'], OTHER_WORDS)}" for t in trials)
        return (
            f"Contour lines of the {_loss_label(document)} over {names[0]} and {names[1]} ({scale}), with "
            f"every trial's path from the start (the star): {paths}. {_rings_text(trials)}"
        )
    misled = [step["step"] for step in _minibatch(document)["steps"] if misleading(step)]
    bands = (
        f"Hatched bands mark the {_count(len(misled), 'step')} that lowered their batch's loss but raised L."
        if misled
        else "No step lowered its batch's loss while raising L."
    )
    return (
        "The full loss L after each step (solid line) and, for each step, the loss of that step's own "
        f"batch before and after it (a dashed segment). {bands}"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _rings_text(trials: list[dict]) -> str:
    rises = sum(len(went_up(trial)) for trial in trials)
    if not rises:
        return "No step raised the loss."
    return f"A ring marks each of the {_count(rises, 'step')} after which the loss was higher than before."


def _line_caption(document: dict) -> str:
    analysis = document["analysis"]
    name = "L" if document.get("data_rows") else "f"
    marks = [f"your η = {fmt(analysis['learning_rate'])} (solid)"]
    if analysis["max_decreasing_learning_rate"] is not None:
        marks.append(
            f"the largest η that still lowers the loss, {fmt(analysis['max_decreasing_learning_rate'])} (dashed)"
        )
    if analysis["best_learning_rate"] is not None:
        marks.append(f"the η that lowers it most, {fmt(analysis['best_learning_rate'])} (triangle)")
    listed = ", ".join(marks[:-1]) + (" and " if len(marks) > 1 else "") + marks[-1]
    span = "on a logarithmic axis" if rate_scale(document) == "log" else "from 0 up"
    return (
        f"The change in {name} after one simultaneous step of size η along −g, for η {span}: {listed}. "
        "The dotted line is the first-order prediction −η‖g‖²."
    )


def _minibatch(document: dict) -> dict | None:
    return next((t for t in document.get("trials") or [] if t["method"] == "minibatch" and t["steps"]), None)


def _problem(document: dict, limits: Limits | None) -> Problem:
    """The engine's numeric problem for the saved question: f, or with data the mean of f over the rows."""
    limits = limits or Limits()
    question = question_from_input(document["input"])
    checked = check_question(question, parse_expression(question.expression, limits), limits)
    return Problem.from_checked(checked)


def _loss_at(problem: Problem, columns: np.ndarray) -> np.ndarray:
    """The loss at many points (one column each, one row per symbol), in chunks when there is data."""
    rows = max(problem.rows, 1)
    chunk = max(1, EVALUATIONS_PER_CHUNK // rows)
    return np.concatenate(
        [problem.loss_along(columns[:, first : first + chunk]) for first in range(0, columns.shape[1], chunk)]
    )


def _loss_label(document: dict) -> str:
    return "loss L (mean of f over the rows)" if document.get("data_rows") else "loss f"


def _draw_loss(axes: Axes, document: dict) -> None:
    everything = []
    ups: list[tuple[int, float]] = []
    many = max(len(t["steps"]) for t in document["trials"]) > 30
    for trial in document["trials"]:
        steps = [0] + [s["step"] for s in trial["steps"]]
        losses = [trial["initial_loss"]] + [s["loss"] for s in trial["steps"]]
        style = STYLE.get(trial["method"], OTHER_STYLE)
        off_scale = next((i for i, v in enumerate(losses) if v is not None and abs(v) > LOSS_CEILING), None)
        note = None
        if off_scale is not None:
            note = f"{trial['method']}: loss above {LOSS_CEILING:.0e} from step {steps[off_scale]}"
            steps, losses = steps[:off_scale], losses[:off_scale]
        elif trial["diverged_at"] is not None:
            note = f"{trial['method']} diverged at step {trial['diverged_at']}"
        everything += [v for v in losses if v is not None]
        axes.plot(steps, losses, label=trial["method"], markersize=3 if many else 5, **style)
        # Up to the last step drawn: past LOSS_CEILING the line is cut, and so are its rings.
        rose = set(went_up(trial))
        ups += [(s["step"], s["loss"]) for s in trial["steps"][: len(steps) - 1] if s["step"] in rose]
        if note and steps:
            axes.annotate(
                note,
                xy=(steps[-1], losses[-1]),
                xytext=(-8, -14 if trial["method"] == "sequential" else 10),
                textcoords="offset points",
                ha="right",
                fontsize=8,
                color=style.get("color"),
            )
    if ups:
        # One ring around every step where the loss went up, whatever the trial: the thread's point that
        # it can, drawn the same way for every line so that a ring always means the same thing.
        axes.plot(
            *zip(*ups, strict=True),
            label=RING_LABEL,
            markersize=8 if many else 11,
            markeredgewidth=1.2,
            zorder=5,
            **RING,
        )
    _scale_for(axes, everything)
    axes.set_xlabel("step")
    axes.set_ylabel(_loss_label(document))
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8 if len(document["trials"]) > 2 else None)


def _draw_batches(axes: Axes, trial: dict) -> None:
    """Over each step s, the full loss L from s−1 to s (one line) and the loss of the step's own batch
    at the same two points (one short segment per step). Where the segment falls while L rises, the
    step lowered its own batch's loss and raised everyone else's: the band is hatched, not only tinted."""
    steps = [s["step"] for s in trial["steps"]]
    full = [trial["initial_loss"]] + [s["loss"] for s in trial["steps"]]
    axes.plot(
        [0, *steps], full, color="#111111", marker="o", markersize=4, linewidth=1.6, label="full loss L"
    )
    segments = [
        [(s["step"] - 1, s["batch_loss"]), (s["step"], s["batch_loss_after"])]
        for s in trial["steps"]
        if s["batch_loss"] is not None and s["batch_loss_after"] is not None
    ]
    style = STYLE["minibatch"]
    axes.add_collection(
        LineCollection(
            segments, colors=style["color"], linestyles="--", linewidths=1.6, label="the step's batch loss"
        )
    )
    axes.plot(
        [s["step"] for s in trial["steps"]],
        [s["batch_loss_after"] for s in trial["steps"]],
        linestyle="none",
        marker=style["marker"],
        color=style["color"],
        markersize=5,
        label="the batch's loss after its step",
    )
    labelled = False
    for step in trial["steps"]:
        if misleading(step):
            axes.axvspan(
                step["step"] - 1,
                step["step"],
                label="_" if labelled else "batch loss fell, full loss rose",
                **MISLEADING,
            )
            labelled = True
    values = full + [v for pair in segments for _, v in pair]
    _scale_for(axes, values)
    axes.autoscale_view()
    axes.set_xlabel("step")
    axes.set_ylabel("loss (mean of f over the rows it covers)")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)


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


def misleading(step: dict) -> bool:
    """A mini-batch step that lowered its own batch's loss but raised the full loss L."""
    before, after = step.get("batch_loss"), step.get("batch_loss_after")
    return before is not None and after is not None and after < before and bool(step.get("loss_went_up"))


def _scale_for(axes: Axes, values: list[float]) -> None:
    """A log axis when the values span many orders of magnitude, so the early steps stay visible."""
    finite = np.array([v for v in values if v is not None and math.isfinite(v)])
    if finite.size < 2:
        return
    magnitudes = np.abs(finite[finite != 0])
    if magnitudes.size and magnitudes.max() / max(magnitudes.min(), 1e-300) > 1e3:
        if finite.min() > 0:
            axes.set_yscale("log")
        else:
            axes.set_yscale("symlog", linthresh=max(magnitudes.min(), 1e-12))


def _direction(document: dict, problem: Problem) -> np.ndarray:
    """−g over every symbol in the compiled order (0 where fixed or a data column)."""
    gradient = document["gradient"]
    return np.array([-gradient.get(name, 0.0) for name in problem.compiled.names], dtype=float)


def loss_change_curve(document: dict, limits: Limits | None = None, samples: int = LINE_SAMPLES) -> dict:
    """The line plot's numbers: ``{"rates": [...], "changes": [...]}``, the change in the loss after one
    simultaneous step of size η along −g for η from 0 to past every marked rate (None where it is not a
    finite number). Needs ``"line" in available(document)``; builds the engine's Problem, so pages call it
    in the analysis workers like ``render``."""
    if "line" not in available(document):
        raise ValueError("no loss-change curve for this document")
    rates, change = _curve(document, _problem(document, limits), samples)
    return {
        "rates": rates.tolist(),
        "changes": [float(value) if math.isfinite(value) else None for value in change],
        "scale": rate_scale(document),
    }


def _marked_rates(document: dict) -> list[float]:
    """The learner's η, and the largest decreasing and the best η where the analysis found them."""
    analysis = document["analysis"]
    marked = (
        analysis["learning_rate"],
        analysis["max_decreasing_learning_rate"],
        analysis["best_learning_rate"],
    )
    return [rate for rate in marked if rate is not None]


def rate_scale(document: dict) -> str:
    """ "log" when the marked learning rates spread over more than LOG_SPREAD, else "linear"."""
    marks = _marked_rates(document)
    return "log" if max(marks) > LOG_SPREAD * min(marks) else "linear"


def _curve(document: dict, problem: Problem, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """η evenly from 0 to 1.3 times the largest marked rate (on a log axis: evenly in log η from a tenth
    of the smallest), plus every rate the analysis worked out itself (the learner's, the bound, the
    best, the halvings); at those, the analysis's own changes, so the curve passes exactly through the
    numbers the answer quotes."""
    analysis = document["analysis"]
    marks = _marked_rates(document)
    known = {row["learning_rate"]: row["actual"] for row in analysis.get("shrinking") or []}
    known[analysis["best_learning_rate"]] = analysis["best_change"]
    known[analysis["learning_rate"]] = analysis["actual_change"]
    if rate_scale(document) == "log":
        grid = np.geomspace(min(marks) / 10, 1.3 * max(marks), samples)
    else:
        grid = np.linspace(0.0, 1.3 * max(marks), samples)
    rates = np.union1d(grid, [*marks, *(r for r in known if r is not None)])
    down = _direction(document, problem)
    change = _loss_at(problem, problem.start[:, None] + down[:, None] * rates[None, :]) - document["loss"]
    for index, rate in enumerate(rates):
        if known.get(rate) is not None:
            change[index] = known[rate]
    return rates, change


def _draw_line(axes: Axes, document: dict, problem: Problem) -> None:
    analysis = document["analysis"]
    rate = analysis["learning_rate"]
    bound = analysis["max_decreasing_learning_rate"]
    best = analysis["best_learning_rate"]
    rates, change = _curve(document, problem, LINE_SAMPLES)

    axes.axhline(0.0, color="#555555", linewidth=0.8)
    name = "L" if document.get("data_rows") else "f"
    axes.plot(rates, change, color="#222222", linewidth=1.8, label=f"{name}(x − ηg) − {name}(x)")
    squared_norm = document["gradient_norm"] ** 2
    axes.plot(rates, -rates * squared_norm, color="#777777", linestyle=":", label="first order −η‖g‖²")
    if bound is not None:
        axes.axvline(bound, color=BOUND, linestyle="--", label=f"largest decreasing η ≈ {bound:.4g}")
    if best is not None and analysis["best_change"] is not None:
        axes.plot([best], [analysis["best_change"]], "v", color=BOUND, label=f"best η ≈ {best:.4g}")
    axes.axvline(rate, color=LEARNER, linewidth=2, label=f"your η = {rate:.4g}")
    if analysis["actual_change"] is not None:
        axes.plot([rate], [analysis["actual_change"]], "o", color=LEARNER)
    _clip_to_curve(axes, change)
    if rate_scale(document) == "log":
        axes.set_xscale("log")
    axes.set_xlabel("learning rate η" + (" (logarithmic)" if rate_scale(document) == "log" else ""))
    axes.set_ylabel("change in the loss")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)


def _clip_to_curve(axes: Axes, change: np.ndarray) -> None:
    # The tangent line runs off far below the curve for large η; the curve is what matters.
    finite = change[np.isfinite(change)]
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
        pad = 0.08 * (high - low) or 0.1 * max(abs(low), 1e-12)
        axes.set_ylim(low - pad, high + pad)


def _trajectories(document: dict, names: list[str]) -> dict[str, np.ndarray]:
    """Each trial's path in the two parameters; the sequential one moves one axis at a time."""
    start = [document["input"]["point"][n] for n in names]
    paths = {}
    for trial in document["trials"]:
        path = [list(start)]
        for step in trial["steps"]:
            if "updates" in step:
                for update in step["updates"]:
                    moved = list(path[-1])
                    moved[names.index(update["parameter"])] = update["value"]
                    path.append(moved)
            else:
                path.append([step["point"][n] for n in names])
        paths[trial["method"]] = _near(np.array(path, dtype=float), np.array(start))
    return paths


def _near(path: np.ndarray, start: np.ndarray) -> np.ndarray:
    """The path up to where it leaves any sensible map (a diverging trial runs off to huge values)."""
    reach = FAR_AWAY * (1.0 + float(np.abs(start).max()))
    far = np.flatnonzero(np.abs(path - start).max(axis=1) > reach)
    return path[: far[0]] if far.size else path


def _step_ends(document: dict, names: list[str], trial: dict, steps: list[int]) -> list[tuple[float, float]]:
    """Where ``trial`` stood after each of ``steps`` (the sequential trial: after its last update), as
    long as that is on the map (a diverging path is cut where it leaves it, and so are its rings)."""
    start = np.array([document["input"]["point"][n] for n in names], dtype=float)
    reach = FAR_AWAY * (1.0 + float(np.abs(start).max()))
    ends = []
    for step in trial["steps"]:
        point = np.array([step["point"].get(n, math.nan) if step.get("point") else math.nan for n in names])
        if not np.all(np.isfinite(point)) or np.abs(point - start).max() > reach:
            break
        if step["step"] in steps:
            ends.append((float(point[0]), float(point[1])))
    return ends


def _contour_box(document: dict) -> tuple[np.ndarray, np.ndarray, bool]:
    """The map's corners around every path and whether both axes share one scale: they do when giving
    them one needs the map widened or heightened by at most MAX_STRETCH (see AXES_ASPECT)."""
    names = list(document["parameters"])
    start = np.array([document["input"]["point"][n] for n in names], dtype=float)
    points = np.vstack([start[None, :], *_trajectories(document, names).values()])
    low, high = points.min(axis=0), points.max(axis=0)
    span = high - low
    # Neither axis may collapse to a line, e.g. when one parameter never moves.
    floor = np.maximum(0.25 * span.max(), 0.1 * (1.0 + np.abs(start)))
    span = 1.2 * np.maximum(span, floor)
    wanted = np.array([max(span[0], span[1] * AXES_ASPECT), max(span[1], span[0] / AXES_ASPECT)])
    equal = bool(np.all(wanted / span <= MAX_STRETCH))
    if equal:
        span = wanted
    centre = (low + high) / 2
    return centre - span / 2, centre + span / 2, equal


def _round_ticks(levels: np.ndarray, count: int = COLORBAR_TICKS) -> list[float]:
    """Tick values for a colour bar over ``levels``: spread over the bar as the levels are (quantiles,
    so the bar is not linear), each rounded to one significant digit, or to 0 when it is within a
    thousandth of the range of 0; only those inside the bar, once each."""
    low, high = float(levels[0]), float(levels[-1])
    ticks: list[float] = []
    for index in np.linspace(0, len(levels) - 1, count).round().astype(int):
        value = float(levels[index])
        tick = 0.0 if abs(value) <= 1e-3 * (high - low) else float(f"{value:.1g}")
        if low <= tick <= high and tick not in ticks:
            ticks.append(tick)
    return ticks


def _draw_contour(figure: Figure, axes: Axes, document: dict, problem: Problem) -> None:
    names = list(document["parameters"])
    point = document["input"]["point"]
    start = np.array([point[n] for n in names], dtype=float)
    compiled = problem.compiled
    paths = _trajectories(document, names)
    low, high, equal = _contour_box(document)
    xs = np.linspace(low[0], high[0], GRID_SIZE)
    ys = np.linspace(low[1], high[1], GRID_SIZE)
    grid_x, grid_y = np.meshgrid(xs, ys)
    columns = np.empty((len(compiled.names), grid_x.size))
    for row, name in enumerate(compiled.names):
        if name == names[0]:
            columns[row] = grid_x.ravel()
        elif name == names[1]:
            columns[row] = grid_y.ravel()
        else:
            columns[row] = problem.start[row]  # a fixed symbol keeps its value; data columns are the rows
    values = _loss_at(problem, columns).reshape(grid_x.shape)

    finite = values[np.isfinite(values)]
    if finite.size:
        # Levels at quantiles follow the function's shape whatever its scale (Rosenbrock's valley too);
        # the colour bar's ticks are round numbers placed among them.
        levels = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, 18)))
        if levels.size >= 2:
            filled = axes.contourf(grid_x, grid_y, values, levels=levels, cmap="Greys", alpha=0.55)
            axes.contour(grid_x, grid_y, values, levels=levels, colors="#666666", linewidths=0.5)
            colorbar = figure.colorbar(filled, ax=axes)
            colorbar.ax.yaxis.set_major_locator(FixedLocator(_round_ticks(levels)))
            colorbar.ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
            colorbar.ax.yaxis.set_minor_locator(FixedLocator([]))
            colorbar.set_label(_loss_label(document))
    rings = []
    for trial in document["trials"]:
        method = trial["method"]
        if method in paths:
            path = paths[method]
            axes.plot(path[:, 0], path[:, 1], label=method, markersize=3, **STYLE.get(method, OTHER_STYLE))
            rings += _step_ends(document, names, trial, went_up(trial))
    if rings:
        # The same ring as on the loss plot, around where each trial stood after a step that raised it.
        axes.plot(
            *zip(*rings, strict=True), label=RING_LABEL, markersize=9, markeredgewidth=1.2, zorder=5, **RING
        )
    axes.plot([start[0]], [start[1]], "*", color=LEARNER, markersize=14, label="start")
    axes.set_xlim(low[0], high[0])
    axes.set_ylim(low[1], high[1])
    if equal:
        axes.set_aspect("equal", adjustable="box")
        # Constrained layout puts the title of a fixed-aspect axes flush with the top edge otherwise.
        figure.get_layout_engine().set(h_pad=0.1)
    axes.set_xlabel(names[0])
    axes.set_ylabel(names[1])
    axes.legend(fontsize=8, loc="best")
