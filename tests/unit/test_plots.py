"""Plots: every plot a document offers renders as a PNG of the promised size, from the engine's numbers."""

from __future__ import annotations

import struct

import pytest

from tutor import mathml, plots
from tutor.engine import answer, question_from_text

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def document(expression: str, point: str, rate: str, steps: str = "1", fixed: str = "") -> dict:
    return answer(question_from_text(expression, point, rate, steps, fixed))


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
    ],
)
def test_every_available_plot_renders(args, expected):
    doc = document(*args)
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


def test_mathml_comes_from_the_parsed_expression():
    written = mathml.formulas("(x+y)*z", ("x", "y", "z"))
    assert set(written) == {"f", "x", "y", "z"}
    assert all(text.startswith('<math display="block">') for text in written.values())
    assert "<mi>z</mi>" in written["x"]  # ∂f/∂x = z
    assert "<script" not in "".join(written.values())
