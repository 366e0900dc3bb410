"""What the answer page lays out, checked against the document and against independent arithmetic: the
graph's boxes and arrows (constants folded, each arrow's local slope), the table under the short answer,
the short answer itself and the η control's readouts."""

from __future__ import annotations

import math

import pytest
from support.examples import example_document

from tutor.engine import answer, question_from_text
from tutor.engine.explain import shown_values
from tutor.engine.numbers import fmt
from tutor.engine.operations import float_op
from tutor.web.pages import present


def drawn(document: dict) -> present.Diagram:
    diagram = present.diagram(
        document["graph"], shown_values(document["graph"]["nodes"]), document["input"]["fixed"]
    )
    assert diagram is not None
    return diagram


def numeric_slope(node: dict, position: int, nodes: dict[int, dict]) -> float:
    """∂node/∂input by a central difference of the operation's own forward value: no slope rule used."""
    args = [nodes[i]["value"] for i in node["inputs"]]
    step = 1e-6 * max(1.0, abs(args[position]))
    up, down = list(args), list(args)
    up[position] += step
    down[position] -= step
    return (float_op(node["op"], up) - float_op(node["op"], down)) / (2 * step)


# --- the graph ----------------------------------------------------------------------------------


def test_numeric_constants_are_folded_into_their_operation():
    document = example_document("neuron")  # (sigmoid(w0*x0 + w1*x1 + b) - 1)**2
    diagram = drawn(document)
    nodes = document["graph"]["nodes"]
    constants = [n["id"] for n in nodes if n["op"] == "const"]
    assert constants, "the example has the numbers 1 and 2"
    for layout in (diagram.across, diagram.down):
        ids = {box.id for box in layout.boxes}
        assert ids == {n["id"] for n in nodes} - set(constants)
        assert not any(e.source in constants for e in layout.edges)
        headings = {box.heading for box in layout.boxes}
        assert {"− 1", "^ 2", "σ"} <= headings
        assert "∂ 0" not in {f"∂ {box.grad}" for box in layout.boxes if box.kind == "op"}
    # The data inputs x0, x1 are drawn as fixed, the weights as inputs.
    kinds = {box.label: box.kind for box in diagram.across.boxes}
    assert kinds["x0"] == kinds["x1"] == "fixed" and kinds["w0"] == "input"


def test_a_constant_first_keeps_its_place_and_a_constant_subexpression_folds_whole():
    document = answer(question_from_text("1 - x*(1/2) + 2**y", "x=1, y=2", "0.1"))
    headings = {box.heading for box in drawn(document).across.boxes}
    assert "× 1/2" in headings  # the product of two numbers is one constant
    assert "2 ^" in headings  # 2**y: the base is the number
    assert "1 −" in headings  # 1 - (...)


@pytest.mark.parametrize(
    ("expression", "point"),
    [
        ("(sigmoid(w0*x0 + w1*x1 + b) - 1)**2", "w0=0.5, w1=-0.3, b=0.1, x0=1, x1=2"),
        ("x**y / sin(x) + max(x, y) * tanh(y) - exp(-x) * log(y)", "x=1.3, y=0.7"),
        ("(x+y)*z", "x=-2, y=5, z=-4"),
        ("sqrt(x*x + y) + softplus(x - y) + atan(x)", "x=0.4, y=2"),
    ],
)
def test_each_arrow_carries_the_local_slope_and_its_share_of_the_gradient(expression, point):
    document = answer(question_from_text(expression, point, "0.1"))
    nodes = {n["id"]: n for n in document["graph"]["nodes"]}
    edges = drawn(document).across.edges
    assert edges
    for edge in edges:
        target = nodes[edge.target]
        position = target["inputs"].index(edge.source)
        assert edge.slope == pytest.approx(numeric_slope(target, position, nodes), rel=1e-5, abs=1e-7)
        assert edge.flow == pytest.approx(target["grad"] * edge.slope)
    # What the arrows carry back adds up, at each node, to the engine's ∂f/∂node from its backward pass.
    for node_id, node in nodes.items():
        leaving = [e.flow for e in edges if e.source == node_id]
        if leaving:
            assert math.fsum(leaving) == pytest.approx(node["grad"], rel=1e-9, abs=1e-12)


def test_both_layouts_hold_every_box_with_f_last():
    document = example_document("neuron")
    diagram = drawn(document)
    output = document["graph"]["output"]
    for layout in (diagram.across, diagram.down):
        for box in layout.boxes:
            assert 0 <= box.x and box.x + box.width <= layout.width
            assert 0 <= box.y and box.y + diagram.box_height <= layout.height
        f = next(box for box in layout.boxes if box.id == output)
        assert f.kind == "output"
        if layout.direction == "across":
            assert f.x == max(box.x for box in layout.boxes)
        else:
            assert f.y == max(box.y for box in layout.boxes)
    # A phone's column is narrower than the neuron laid out across, so it also comes laid out down,
    # narrower than across.
    assert diagram.across.width > present.PHONE_COLUMN
    assert diagram.down.width < diagram.across.width


def test_a_small_graph_needs_one_layout():
    diagram = drawn(answer(question_from_text("x*y", "x=0.1, y=0.5", "1")))
    assert diagram.down is None and diagram.across.width <= present.PHONE_COLUMN


def test_the_graph_table_lists_each_operations_slopes_to_its_non_constant_inputs():
    document = example_document("neuron")
    slopes = present.node_slopes(document["graph"])
    by_label = {n["label"]: n["id"] for n in document["graph"]["nodes"]}
    assert slopes[by_label["w0 * x0"]] == [("w0", 1.0), ("x0", 0.5)]
    assert slopes[by_label["sigmoid(w0 * x0 + w1 * x1 + b) - 1"]] == [("sigmoid(w0 * x0 + w1 * x1 + b)", 1.0)]
    # σ'(0) = σ(0)(1 − σ(0)) = 1/4; the square's slope 2·(σ − 1) = −1.
    assert slopes[by_label["sigmoid(w0 * x0 + w1 * x1 + b)"]][0][1] == pytest.approx(0.25)
    assert slopes[by_label["(sigmoid(w0 * x0 + w1 * x1 + b) - 1) ** 2"]][0][1] == pytest.approx(-1.0)


# --- the short answer and its table -------------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "key"),
    [
        ("flip", "sequential"),
        ("neuron", "sequential"),
        ("circuit", "sequential"),
        ("momentum", "trials"),
        ("minibatch", "batches"),
    ],
)
def test_the_key_table_is_the_one_that_shows_the_answer(slug, key):
    assert present.key_table(example_document(slug)) == key


def test_only_simultaneous_gets_its_own_step_and_no_trials_get_none():
    document = answer(question_from_text("x*y", "x=0.1, y=0.5", "1", methods="simultaneous"))
    assert present.key_table(document) == "simultaneous"
    assert present.key_table(answer(question_from_text("log(x)", "x=-1", "0.1"))) is None


def test_the_misleading_batch_steps_under_the_answer_are_the_first_of_the_documents():
    document = example_document("minibatch")
    minibatch = next(t for t in document["trials"] if t["method"] == "minibatch")
    misled = [
        s["step"] for s in minibatch["steps"] if s["batch_loss_after"] < s["batch_loss"] and s["loss_went_up"]
    ]
    batches = present.batch_steps(document)
    assert batches["misleading"] == misled
    assert [row["step"] for row in batches["misleading_rows"]] == misled[: present.KEY_ROWS]


def test_the_short_answer_comes_from_the_engine_and_its_markdown_stays_inert():
    document = example_document("flip")
    assert present.short_answer({**document, "explanation": {"markdown": "", "text": ""}}) is None
    written = {
        "markdown": "Yes: `<b>x</b>` moved first and <script>alert(1)</script> **flipped** [a](javascript:alert(1)).",
        "text": "Yes.",
    }
    html = str(
        present.short_answer({**document, "explanation": {**document["explanation"], "summary": written}})
    )
    assert "<code>&lt;b&gt;x&lt;/b&gt;</code>" in html and "<strong>flipped</strong>" in html
    assert "&lt;script&gt;" in html and "<script" not in html
    assert "href" not in html  # a javascript: link stays text


# --- the η control ------------------------------------------------------------------------------


def test_the_eta_readouts_at_the_documents_rates_are_the_documents_numbers():
    from tutor import plots

    document = example_document("flip")
    analysis = document["analysis"]
    chart = present.eta_chart(document, plots.loss_change_curve(document, samples=present.PAGE_SAMPLES))
    by_rate = {sample["rate"]: sample for sample in chart.samples}
    squared_norm = document["gradient_norm"] ** 2
    known = {
        analysis["learning_rate"]: analysis["actual_change"],
        analysis["best_learning_rate"]: analysis["best_change"],
    }
    known.update({row["learning_rate"]: row["actual"] for row in analysis["shrinking"]})
    for rate, change in known.items():
        sample = by_rate[rate]
        assert sample["change"] == fmt(change)
        assert sample["loss"] == fmt(document["loss"] + change)
        assert sample["first"] == fmt(-rate * squared_norm)
        assert sample["side"] == ("below" if rate < analysis["max_decreasing_learning_rate"] else "above")
    assert chart.shown is by_rate[analysis["learning_rate"]]
    # The ring starts at the learner's η, on the green line.
    assert chart.shown["x"] == chart.rate_x
    # Left to right, inside the plot area.
    xs = [sample["x"] for sample in chart.samples]
    assert xs == sorted(xs) and chart.left <= xs[0] and xs[-1] <= chart.right


def test_rates_far_apart_put_the_learners_eta_and_the_bound_on_a_log_axis():
    from tutor import plots

    document = answer(question_from_text("x**2 + y**2", "x=1, y=2", "0.001"))
    chart = present.eta_chart(document, plots.loss_change_curve(document, samples=present.PAGE_SAMPLES))

    width = chart.right - chart.left
    # On a linear axis to 1.3 the learner's η of 0.001 would sit 0.1% from the left edge.
    assert chart.rate_x - chart.left > 0.2 * width
    assert chart.bound_x - chart.rate_x > 0.4 * width
    assert [tick.text for tick in chart.x_ticks] == ["0.0001", "0.001", "0.01", "0.1", "1"]
    assert chart.x_label.endswith("(logarithmic)")
    # The tangent −η‖g‖² is a curve through the samples on this axis, starting at the left edge.
    assert chart.first_order.startswith(f"M{float(chart.left)} ") and chart.first_order.count("L") > 10
    xs = [sample["x"] for sample in chart.samples]
    assert xs == sorted(xs) and chart.left <= xs[0] and xs[-1] <= chart.right
    assert chart.shown["x"] == chart.rate_x


def test_without_a_bound_the_readout_says_why():
    from tutor import plots

    document = example_document("circuit")  # f falls along −g for every η
    analysis = document["analysis"]
    assert analysis["max_decreasing_learning_rate"] is None
    chart = present.eta_chart(document, plots.loss_change_curve(document, samples=20))
    assert all(sample["side"] is None for sample in chart.samples)
    assert chart.bound_text == analysis["max_decreasing_reason"].rstrip(".")


@pytest.mark.parametrize(("low", "high"), [(0.0, 5.2), (-0.338, 0.41), (0.0, 0.0131), (-12.5, -3.0)])
def test_nice_ticks_are_round_and_inside(low, high):
    ticks = present.nice_ticks(low, high)
    assert 3 <= len(ticks) <= 11
    assert all(low <= t <= high for t in ticks)
    step = ticks[1] - ticks[0]
    assert float(f"{step:.2g}") == pytest.approx(step)
    assert all(t == float(f"{t:.6g}") for t in ticks)
