"""Plots of an analysis document as PNG bytes (matplotlib, Agg). No web code here.

``available(document)`` names the plots that make sense for a document, ``render(document, name)`` draws
one. Figures are built with matplotlib's object API rather than pyplot, whose global state is not safe
to share between a web server's threads.

The two plots over the function itself (the loss along −g and the contour map) evaluate f with the
engine's compiled function, built from the engine's parser: never from the raw text by any other means.
"""

from __future__ import annotations

import io
import math
import threading

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from tutor.config import Limits  # noqa: E402
from tutor.engine import parse_expression  # noqa: E402
from tutor.engine.compiled import Compiled, compile_parsed  # noqa: E402

TITLES = {
    "loss": "Loss after each step",
    "line": "Change in the loss along −g as a function of the learning rate",
    "contour": "Contour map with both trajectories",
}
# Colour-blind safe pair; the schemes also differ by line style and marker, never by colour alone.
# Where the two paths coincide, the wider sequential line stays visible under the simultaneous one.
STYLE = {
    "simultaneous": {"color": "#0b57d0", "linestyle": "-", "marker": "o", "zorder": 3, "linewidth": 1.4},
    "sequential": {"color": "#b3400c", "linestyle": "--", "marker": "s", "zorder": 2, "linewidth": 3.0},
}
OTHER_STYLE = {"linestyle": ":", "marker": "^", "linewidth": 1.4}
LEARNER = "#1b7a2f"
BOUND = "#8a1c7c"
LINE_SAMPLES = 400
GRID_SIZE = 160
# A trajectory point further than this (in units of the start's size) is off any useful map.
FAR_AWAY = 1e4
# Losses beyond this are drawn as leaving the plot: an axis cannot span up to 1e308.
LOSS_CEILING = 1e100

# SymPy is not thread-safe; the engine's compile cache is shared by the server's threads.
_sympy_lock = threading.Lock()


def available(document: dict) -> list[str]:
    names = []
    if document.get("trials"):
        names.append("loss")
    analysis = document.get("analysis")
    if analysis is not None and document.get("gradient_norm"):
        names.append("line")
    if document.get("trials") and len(document.get("parameters", [])) == 2:
        names.append("contour")
    return names


def render(document: dict, name: str, limits: Limits | None = None) -> bytes:
    """The PNG of plot ``name``; ValueError for a name that ``available`` does not list."""
    if name not in available(document):
        raise ValueError(f"no plot '{name}' for this document")
    figure = Figure(figsize=(7.2, 4.4), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if name == "loss":
        _draw_loss(axes, document)
    elif name == "line":
        _draw_line(axes, document, _compiled(document, limits))
    else:
        _draw_contour(figure, axes, document, _compiled(document, limits))
    axes.set_title(TITLES[name], fontsize=11)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _compiled(document: dict, limits: Limits | None) -> Compiled:
    with _sympy_lock:
        return compile_parsed(parse_expression(document["input"]["expression"], limits or Limits()))


def _draw_loss(axes: Axes, document: dict) -> None:
    everything = []
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
        axes.plot(steps, losses, label=trial["method"], markersize=3 if len(steps) > 30 else 5, **style)
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
    _scale_for(axes, everything)
    axes.set_xlabel("step")
    axes.set_ylabel("loss f")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.grid(alpha=0.3)
    axes.legend()


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


def _direction(document: dict, compiled: Compiled) -> tuple[np.ndarray, np.ndarray]:
    """The start (every symbol, in the compiled order) and −g over the same symbols (0 where fixed)."""
    point = document["input"]["point"]
    start = np.array([point[name] for name in compiled.names], dtype=float)
    gradient = document["gradient"]
    down = np.array([-gradient.get(name, 0.0) for name in compiled.names], dtype=float)
    return start, down


def _draw_line(axes: Axes, document: dict, compiled: Compiled) -> None:
    analysis = document["analysis"]
    rate = analysis["learning_rate"]
    bound = analysis["max_decreasing_learning_rate"]
    best = analysis["best_learning_rate"]
    marks = [r for r in (rate, bound, best) if r is not None]
    upper = 1.3 * max(marks)
    rates = np.linspace(0.0, upper, LINE_SAMPLES)
    start, down = _direction(document, compiled)
    change = compiled.loss_along(start[:, None] + down[:, None] * rates[None, :]) - document["loss"]

    axes.axhline(0.0, color="#555555", linewidth=0.8)
    axes.plot(rates, change, color="#222222", linewidth=1.8, label="f(x − ηg) − f(x)")
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
    axes.set_xlabel("learning rate η")
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


def _box(paths: dict[str, np.ndarray], start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    points = np.vstack([start[None, :], *paths.values()])
    low, high = points.min(axis=0), points.max(axis=0)
    span = high - low
    # Neither axis may collapse to a line, e.g. when one parameter never moves.
    floor = np.maximum(0.25 * span.max(), 0.1 * (1.0 + np.abs(start)))
    span = np.maximum(span, floor)
    centre = (low + high) / 2
    return centre - 0.6 * span, centre + 0.6 * span


def _draw_contour(figure: Figure, axes: Axes, document: dict, compiled: Compiled) -> None:
    names = list(document["parameters"])
    point = document["input"]["point"]
    start = np.array([point[n] for n in names], dtype=float)
    paths = _trajectories(document, names)
    low, high = _box(paths, start)
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
            columns[row] = point[name]  # a fixed symbol keeps its value
    values = compiled.loss_along(columns).reshape(grid_x.shape)

    finite = values[np.isfinite(values)]
    if finite.size:
        # Levels at quantiles follow the function's shape whatever its scale (Rosenbrock's valley too).
        levels = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, 18)))
        if levels.size >= 2:
            filled = axes.contourf(grid_x, grid_y, values, levels=levels, cmap="Greys", alpha=0.55)
            axes.contour(grid_x, grid_y, values, levels=levels, colors="#666666", linewidths=0.5)
            colorbar = figure.colorbar(filled, ax=axes, format="%.3g")
            colorbar.set_label("loss f")
    for method, path in paths.items():
        axes.plot(path[:, 0], path[:, 1], label=method, markersize=3, **STYLE.get(method, OTHER_STYLE))
    axes.plot([start[0]], [start[1]], "*", color=LEARNER, markersize=14, label="start")
    axes.set_xlim(low[0], high[0])
    axes.set_ylim(low[1], high[1])
    axes.set_xlabel(names[0])
    axes.set_ylabel(names[1])
    axes.legend(fontsize=8, loc="best")
