"""Plots: every plot a document offers renders as a PNG of the promised size, from the engine's numbers."""

from __future__ import annotations

import struct

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
    ring = lines["the loss went up at this step"]
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
