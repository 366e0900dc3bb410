"""Plots: every plot a document offers renders as a PNG of the promised size, from the engine's numbers."""

from __future__ import annotations

import struct
import subprocess
import sys

import pytest

from tutor import plots
from tutor.engine import answer, question_from_text

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def document(expression: str, point: str, rate: str, steps: str = "1", fixed: str = "", **more: str) -> dict:
    return answer(question_from_text(expression, point, rate, steps, fixed, **more))


# The two teaching examples of the thread's later posts (momentum overshooting; mini-batches).
OPTIMIZERS = {
    "expression": "x**2 + 10*y**2",
    "point": "x=1, y=1",
    "rate": "0.05",
    "steps": "30",
    "methods": "simultaneous, sequential, momentum, nesterov, adam, rmsprop",
}
BATCHES = {
    "expression": "(w*x + b - y)**2",
    "point": "w=2, b=0",
    "rate": "0.03",
    "steps": "20",
    "methods": "simultaneous, minibatch",
    "data": "x,y\n0,1.2\n1,2.6\n2,5.4\n3,6.9\n4,9.3\n5,10.8\n",
    "batch_size": "2",
}


def labels(axes) -> list[str]:
    return [line.get_label() for line in axes.get_lines()]


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("(x+y)*z", "x=-2, y=5, z=-4", "0.01"), ["loss", "line"]),
        (("x*y", "x=0.1, y=0.5", "1"), ["loss", "line", "contour"]),
        (("x**2 + 100*y**2", "x=1, y=1", "0.011", "20"), ["loss", "line", "contour"]),
        # Two updated parameters and two fixed inputs: the contour is over the two parameters.
        (
            ("(w0*x0 + w1*x1 - 1)**2", "w0=0.5, w1=-0.3, x0=1, x1=2", "0.1", "5", "x0, x1"),
            ["loss", "line", "contour"],
        ),
        # Stationary: no direction to plot the loss along.
        (("x**2 + y**2", "x=0, y=0", "0.1"), ["loss", "contour"]),
        (OPTIMIZERS, ["loss", "line", "contour"]),
        # With data, the line and the contour are of the mean loss over the rows.
        (BATCHES, ["loss", "line", "contour", "batches"]),
    ],
)
def test_every_available_plot_renders(args, expected):
    doc = document(**args) if isinstance(args, dict) else document(*args)
    assert plots.available(doc) == expected
    for name in expected:
        assert png_size(plots.render(doc, name)) == (792, 484)


def test_undefined_point_has_no_plots():
    doc = document("log(x)", "x=-1", "0.1")
    assert plots.available(doc) == []


def test_unknown_plot_is_refused():
    doc = document("(x+y)*z", "x=-2, y=5, z=-4", "0.01")
    with pytest.raises(ValueError):
        plots.render(doc, "contour")
    with pytest.raises(ValueError):
        plots.render(doc, "../../etc/passwd")


def test_diverging_trajectory_is_cut_where_it_leaves_the_map():
    doc = document("x**2 + 100*y**2", "x=1, y=1", "0.03", "300")
    assert any(t["diverged_at"] or abs(t["final_loss"] or 0) > 1e100 for t in doc["trials"])
    assert png_size(plots.render(doc, "contour")) == (792, 484)
    assert png_size(plots.render(doc, "loss")) == (792, 484)


def test_plot_of_a_hand_built_document():
    """The loss plot needs only the document's trials: the contract in docs/analysis-document.md."""
    doc = {
        "input": {"expression": "x", "point": {"x": 1.0}},
        "parameters": ["x"],
        "gradient_norm": 1.0,
        "analysis": None,
        "trials": [
            {
                "method": "simultaneous",
                "initial_loss": 1.0,
                "final_loss": 0.5,
                "diverged_at": None,
                "steps": [{"step": 1, "loss": 0.5, "point": {"x": 0.5}}],
            },
            {
                "method": "sequential",
                "initial_loss": 1.0,
                "final_loss": None,
                "diverged_at": 2,
                "steps": [{"step": 1, "loss": 0.6, "point": {"x": 0.4}}],
            },
        ],
    }
    assert plots.available(doc) == ["loss"]
    assert png_size(plots.render(doc, "loss")) == (792, 484)


def test_loss_plot_has_one_line_per_trial_in_its_own_style_and_rings_the_rises():
    doc = document(**OPTIMIZERS)
    axes = plots.figure(doc, "loss").axes[0]
    methods = [trial["method"] for trial in doc["trials"]]
    assert [label for label in labels(axes) if label in methods] == methods
    lines = {line.get_label(): line for line in axes.get_lines()}
    # Told apart without colour: every trial has its own marker and its own dash pattern.
    assert len({lines[m].get_marker() for m in methods}) == len(methods)
    assert len({repr(plots.STYLE[m]["linestyle"]) for m in methods}) == len(methods)
    rises = [(s["step"], s["loss"]) for t in doc["trials"] for s in t["steps"] if s.get("loss_went_up")]
    assert rises, "the example must show the loss going up"
    ring = lines[plots.RING_LABEL]
    assert sorted(zip(ring.get_xdata(), ring.get_ydata(), strict=True)) == sorted(rises)


def test_contour_draws_every_trajectory():
    doc = document(**OPTIMIZERS)
    axes = plots.figure(doc, "contour").axes[0]
    for trial in doc["trials"]:
        assert labels(axes).count(trial["method"]) == 1


def test_batches_plot_shows_full_and_batch_loss_and_hatches_the_misleading_steps():
    doc = document(**BATCHES)
    minibatch = next(t for t in doc["trials"] if t["method"] == "minibatch")
    axes = plots.figure(doc, "batches").axes[0]
    full = dict(zip(labels(axes), axes.get_lines(), strict=True))["full loss L"]
    assert list(full.get_ydata()) == [minibatch["initial_loss"]] + [s["loss"] for s in minibatch["steps"]]
    (segments,) = axes.collections
    assert len(segments.get_segments()) == len(minibatch["steps"])
    misleading = [
        s["step"] for s in minibatch["steps"] if s["batch_loss_after"] < s["batch_loss"] and s["loss_went_up"]
    ]
    assert misleading, "the example must show a batch step that raises the full loss"
    bands = [patch for patch in axes.patches if patch.get_hatch()]
    assert sorted(round(band.get_x() + band.get_width()) for band in bands) == misleading


def test_no_batches_plot_without_a_minibatch_trial():
    assert "batches" not in plots.available(document(**OPTIMIZERS))
    with pytest.raises(ValueError):
        plots.render(document(**OPTIMIZERS), "batches")


# --- what the captions say, rings, scales and ticks -----------------------------------------------

FLIP = ("x*y", "x=0.1, y=0.5", "1", "3")
MOMENTUM = {**OPTIMIZERS, "methods": "simultaneous, momentum"}
# η just past the bound of the steep direction: both schemes' losses grow at every step.
BOWL = ("x**2 + 100*y**2", "x=1, y=1", "0.011", "20")


def rises_by_comparison(trial: dict) -> list[int]:
    """The steps after which the loss was higher, worked out from the losses alone."""
    losses = [trial["initial_loss"]] + [step["loss"] for step in trial["steps"]]
    return [step["step"] for step, before, after in zip(trial["steps"], losses, losses[1:]) if after > before]


def test_captions_name_only_the_trials_present_and_count_the_rings():
    doc = document(**MOMENTUM)
    for name in plots.available(doc):
        caption = plots.caption(doc, name)
        assert "sequential" not in caption, name
    rises = sum(len(rises_by_comparison(t)) for t in doc["trials"])
    assert rises > 0
    for name in ("loss", "contour"):
        caption = plots.caption(doc, name)
        assert "momentum" in caption and "simultaneous" in caption
        assert f"each of the {rises} steps" in caption
    flip = document(*FLIP)
    assert "sequential dashed with squares" in plots.caption(flip, "contour")
    assert "No step raised the loss" in plots.caption(flip, "loss")
    line = plots.caption(flip, "line")
    assert "5.2" in line and "your η = 1" in line
    with pytest.raises(ValueError):
        plots.caption(flip, "batches")


def test_batches_caption_counts_the_misleading_steps():
    doc = document(**BATCHES)
    minibatch = next(t for t in doc["trials"] if t["method"] == "minibatch")
    misled = [s for s in minibatch["steps"] if s["batch_loss_after"] < s["batch_loss"] and s["loss_went_up"]]
    assert f"the {len(misled)} steps that lowered" in plots.caption(doc, "batches")


@pytest.mark.parametrize("args", [MOMENTUM, BOWL], ids=["momentum", "bowl"])
def test_contour_rings_where_the_loss_went_up_as_the_loss_plot_does(args):
    doc = document(**args) if isinstance(args, dict) else document(*args)
    names = doc["parameters"]
    expected_contour, expected_loss = [], []
    for trial in doc["trials"]:
        steps = {step["step"]: step for step in trial["steps"]}
        for number in rises_by_comparison(trial):
            expected_contour.append(tuple(steps[number]["point"][n] for n in names))
            expected_loss.append((number, steps[number]["loss"]))
    assert expected_contour, "the example must raise the loss"
    contour = {line.get_label(): line for line in plots.figure(doc, "contour").axes[0].get_lines()}
    ring = contour[plots.RING_LABEL]
    assert sorted(zip(ring.get_xdata(), ring.get_ydata(), strict=True)) == sorted(expected_contour)
    # The sequential trial records no loss_went_up, yet its rises are ringed on the loss plot too.
    loss = {line.get_label(): line for line in plots.figure(doc, "loss").axes[0].get_lines()}
    ring = loss[plots.RING_LABEL]
    assert sorted(zip(ring.get_xdata(), ring.get_ydata(), strict=True)) == sorted(expected_loss)


def data_units_per_pixel(axes) -> tuple[float, float]:
    axes.figure.canvas.draw()
    box = axes.get_window_extent()
    (x0, x1), (y0, y1) = axes.get_xlim(), axes.get_ylim()
    return (x1 - x0) / box.width, (y1 - y0) / box.height


@pytest.mark.parametrize("args", [FLIP, ("(1-x)**2 + 100*(y-x**2)**2", "x=-1, y=1", "0.001", "100")])
def test_contour_has_one_scale_on_both_axes_where_the_ranges_allow(args):
    doc = document(*args)
    axes = plots.figure(doc, "contour").axes[0]
    across, up = data_units_per_pixel(axes)
    assert across == pytest.approx(up, rel=0.01)
    assert "both axes on the same scale" in plots.caption(doc, "contour")


def test_contour_keeps_two_scales_when_one_would_squash_the_paths():
    # The bowl's paths swing far in y and hardly move in x: one scale would need a map 6 times wider.
    doc = document(*BOWL)
    across, up = data_units_per_pixel(plots.figure(doc, "contour").axes[0])
    assert up > 2 * across
    assert "different scales" in plots.caption(doc, "contour")


@pytest.mark.parametrize("args", [FLIP, OPTIMIZERS, BOWL], ids=["flip", "optimizers", "bowl"])
def test_colour_bar_ticks_are_round_numbers(args):
    doc = document(**args) if isinstance(args, dict) else document(*args)
    drawing = plots.figure(doc, "contour")
    drawing.canvas.draw()
    colorbar = drawing.axes[1]
    low, high = colorbar.get_ylim()
    ticks = [t for t in colorbar.get_yticks() if low <= t <= high]
    assert len(ticks) >= 3
    for tick in ticks:
        assert tick == float(f"{tick:.1g}"), tick  # one significant digit, or 0
    labels = [label.get_text() for label in colorbar.get_yticklabels() if label.get_text()]
    assert labels == [f"{tick:g}" for tick in ticks]


def test_loss_change_curve_is_the_function_along_minus_g_and_passes_through_the_documents_numbers():
    doc = document(*FLIP)
    curve = plots.loss_change_curve(doc, samples=50)
    analysis = doc["analysis"]
    x, y = doc["input"]["point"]["x"], doc["input"]["point"]["y"]
    gx, gy = doc["gradient"]["x"], doc["gradient"]["y"]
    for rate, change in zip(curve["rates"], curve["changes"], strict=True):
        # The closed form of x*y after a step of η along −g.
        assert change == pytest.approx((x - rate * gx) * (y - rate * gy) - x * y, abs=1e-12)
    known = {
        analysis["learning_rate"]: analysis["actual_change"],
        analysis["best_learning_rate"]: analysis["best_change"],
    }
    known.update({row["learning_rate"]: row["actual"] for row in analysis["shrinking"]})
    for rate, change in known.items():
        assert curve["changes"][curve["rates"].index(rate)] == change
    assert analysis["max_decreasing_learning_rate"] in curve["rates"]
    assert curve["rates"] == sorted(curve["rates"]) and curve["rates"][0] == 0
    assert curve["scale"] == "linear"  # η = 1 beside a bound of 5.2: one axis shows both


# A learner's η of 0.001 on a bowl whose largest decreasing η is 1: a thousand times apart.
SMALL_STEP = ("x**2 + y**2", "x=1, y=2", "0.001")


def test_rates_far_apart_are_drawn_on_a_log_axis_and_the_curve_is_still_f_along_minus_g():
    doc = document(*SMALL_STEP)
    analysis = doc["analysis"]
    assert analysis["max_decreasing_learning_rate"] > 100 * analysis["learning_rate"]

    curve = plots.loss_change_curve(doc, samples=60)

    assert curve["scale"] == "log"
    rates = curve["rates"]
    assert rates == sorted(rates) and rates[0] > 0
    assert rates[0] <= analysis["learning_rate"] / 9 and rates[-1] >= analysis["max_decreasing_learning_rate"]
    # Evenly spread in log η: no decade of the axis is left without samples.
    for power in range(-4, 0):
        assert any(10**power <= rate < 10 ** (power + 1) for rate in rates), power
    for rate, change in zip(rates, curve["changes"], strict=True):
        # The closed form of x² + y² after a step of η along −g = (2x, 2y).
        assert change == pytest.approx((1 - 2 * rate) ** 2 * 5 - 5, abs=1e-12)
    figure = plots.figure(doc, "line")
    assert figure.axes[0].get_xscale() == "log"
    assert "logarithmic" in plots.caption(doc, "line")


def test_plots_draw_from_the_document_without_the_service_layer():
    # Drawing takes the document; replaying its question is the engine's job (question_from_input).
    code = "import sys, tutor.plots; print(sorted(m for m in sys.modules if m.startswith('tutor.services')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
