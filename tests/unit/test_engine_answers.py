"""Worked cases with known answers computed by hand or by a second method."""

from __future__ import annotations

import json
import math

import pytest

from tutor.engine import InputError, Question, answer, question_from_text
from tutor.engine.explain import render_answer
from tutor.engine.numbers import fmt


def test_the_cs231n_circuit():
    document = answer(Question("(x+y)*z", {"x": -2, "y": 5, "z": -4}, 0.01))
    assert document["loss"] == -12
    assert document["gradient"] == {"x": -4, "y": -4, "z": 3}
    assert document["partials"] == {"x": "z", "y": "z", "z": "x + y"}
    nodes = {node["label"]: node for node in document["graph"]["nodes"]}
    assert nodes["x + y"]["value"] == 3 and nodes["x + y"]["grad"] == -4
    simultaneous, sequential = document["trials"]
    assert simultaneous["steps"][0]["point"] == pytest.approx({"x": -1.96, "y": 5.04, "z": -4.03})
    # Sequential: z is updated last, from its partial at the moved x and y: x + y = 3.08.
    z_update = sequential["steps"][0]["updates"][2]
    assert z_update["partial"] == pytest.approx(3.08) and z_update["partial_at_start"] == 3
    # f along -g is -41η - 24η² here: it falls for every η, so there is no bound.
    analysis = document["analysis"]
    assert analysis["actual_change"] == pytest.approx(-0.41 - 0.0024)
    assert analysis["second_order_interplay"] == pytest.approx(-0.0024)
    assert analysis["second_order_own"] == 0
    assert analysis["max_decreasing_learning_rate"] is None
    assert analysis["quadratic_estimate"] is None


def test_sign_flip_in_the_sequential_update():
    # Moving x by -0.1 takes it from 0.01 to -0.09, so y's slope (= x) changes sign before y moves.
    document = answer(Question("x*y", {"x": 0.01, "y": 1}, 0.1))
    updates = document["trials"][1]["steps"][0]["updates"]
    assert [u["sign_flip"] for u in updates] == [False, True]
    assert updates[1]["partial_at_start"] == pytest.approx(0.01)
    assert updates[1]["partial"] == pytest.approx(-0.09)
    assert "sign flipped" in document["explanation"]["markdown"]


def test_rosenbrock_bound_is_found_on_the_function_not_the_quadratic_model():
    document = answer(Question("(1-x)**2 + 100*(y-x**2)**2", {"x": -1.2, "y": 1}, 0.001))
    analysis = document["analysis"]
    bound = analysis["max_decreasing_learning_rate"]
    g = document["gradient"]

    def f(x, y):
        return (1 - x) ** 2 + 100 * (y - x**2) ** 2

    start = f(-1.2, 1)
    along = lambda eta: f(-1.2 - eta * g["x"], 1 - eta * g["y"]) - start  # noqa: E731
    assert along(bound * (1 - 1e-6)) < 0 < along(bound * (1 + 1e-6))
    # Every smaller step decreases too (checked on a fine grid).
    assert all(along(bound * k / 1000) < 0 for k in range(1, 1000))
    assert analysis["quadratic_estimate"] != pytest.approx(bound, rel=0.05)


def test_stationary_point():
    document = answer(Question("x**2 + y**2", {"x": 0, "y": 0}, 0.1))
    assert [c["kind"] for c in document["special_cases"]] == ["stationary"]
    assert document["analysis"]["max_decreasing_learning_rate"] is None
    assert document["analysis"]["verdict"] == "unchanged"
    assert "gradient is zero" in document["explanation"]["text"]


@pytest.mark.parametrize(
    ("expression", "point"),
    [("log(x) + y", {"x": -1, "y": 1}), ("1/x + y", {"x": 0, "y": 2}), ("sqrt(x)*y", {"x": -4, "y": 1})],
)
def test_undefined_points_are_told_plainly(expression, point):
    document = answer(Question(expression, point, 0.1))
    assert document["special_cases"][0]["kind"] == "undefined"
    assert document["trials"] == [] and document["analysis"] is None
    assert "not a finite real number" in document["explanation"]["markdown"]
    json.dumps(document, allow_nan=False)


@pytest.mark.parametrize(
    ("expression", "point"), [("abs(x) + y", {"x": 0, "y": 1}), ("relu(x)*y", {"x": 0, "y": 2})]
)
def test_kinks_use_the_average_slope(expression, point):
    document = answer(Question(expression, point, 0.1))
    assert any(c["kind"] == "kink" for c in document["special_cases"])
    walked = {n["label"]: n["grad"] for n in document["graph"]["nodes"] if n["op"] == "input"}
    assert walked == pytest.approx(document["gradient"])


def test_divergence_is_stopped_and_reported():
    document = answer(Question("x**4 + y**2", {"x": 3, "y": 1}, 0.5, steps=50))
    simultaneous = document["trials"][0]
    assert simultaneous["diverged_at"] is not None
    assert len(simultaneous["steps"]) == simultaneous["diverged_at"] - 1
    assert all(math.isfinite(step["loss"]) for step in simultaneous["steps"])
    assert any(c["kind"] == "diverged" for c in document["special_cases"])
    json.dumps(document, allow_nan=False)


def test_ill_conditioned_bowl_diverges_with_a_small_looking_rate():
    # Curvature 200 along y: any η above 2/200 = 0.01 makes the y-coordinate grow.
    document = answer(Question("x**2 + 100*y**2", {"x": 1, "y": 1}, 0.011, steps=100))
    assert document["analysis"]["max_decreasing_learning_rate"] < 0.011
    losses = [step["loss"] for step in document["trials"][0]["steps"]]
    assert losses[-1] > losses[0]


def test_fixed_symbols_are_data():
    document = answer(
        Question(
            "(sigmoid(w0*x0 + w1*x1 + b) - 1)**2",
            {"w0": 0.5, "w1": -0.3, "b": 0.1, "x0": 1, "x1": 2},
            0.5,
            fixed=("x0", "x1"),
        )
    )
    assert document["parameters"] == ["w0", "w1", "b"]
    for step in document["trials"][0]["steps"]:
        assert set(step["point"]) == {"w0", "w1", "b"}
    s = 1 / (1 + math.exp(-(0.5 - 0.6 + 0.1)))
    assert document["gradient"]["w1"] == pytest.approx(2 * (s - 1) * s * (1 - s) * 2)


def test_order_changes_the_sequential_result():
    a = answer(Question("x*y", {"x": 0.01, "y": 1}, 0.1, order=("x", "y")))
    b = answer(Question("x*y", {"x": 0.01, "y": 1}, 0.1, order=("y", "x")))
    assert a["trials"][1]["final_loss"] != b["trials"][1]["final_loss"]
    assert a["trials"][0]["final_loss"] == b["trials"][0]["final_loss"]


def test_numbers_in_the_explanation_have_no_float_noise():
    document = answer(Question("(x+y)*z", {"x": -2, "y": 5, "z": -4}, 0.01))
    assert "5.04" in document["explanation"]["markdown"]
    assert "5.040000" not in document["explanation"]["markdown"]
    assert fmt(5.040000000000001) == "5.04" and fmt(1e-7) == "1e-7" and fmt(-0.0) == "0"


def test_markdown_math_blocks_sit_on_their_own_lines_only_with_math_on():
    document = answer(Question("x**2*y", {"x": 1, "y": 2}, 0.1))
    stored = document["explanation"]["markdown"]
    assert "$$" not in stored and "\\frac" not in stored  # the stored answer has math off
    markdown = render_answer(document, math="on").worked.markdown
    lines = markdown.splitlines()
    opening = [i for i, line in enumerate(lines) if "$$" in line]
    assert opening and all(lines[i] == "$$" for i in opening)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (dict(point="x=1", learning_rate="0"), "learning_rate"),
        (dict(point="x=1", learning_rate="-1"), "learning_rate"),
        (dict(point="x=1", learning_rate="1e-300"), "learning_rate"),
        (dict(point="x=1", learning_rate="1e7"), "learning_rate"),
        (dict(point="x=1", learning_rate="fast"), "learning_rate"),
        (dict(point="x=1", learning_rate="0.1", steps="0"), "steps"),
        (dict(point="x=1", learning_rate="0.1", steps="100000"), "steps"),
        (dict(point="y=1", learning_rate="0.1"), "point"),
        (dict(point="x=1, x=2", learning_rate="0.1"), "point"),
        (dict(point="x=abc", learning_rate="0.1"), "point"),
        (dict(point="x=nan", learning_rate="0.1"), "point"),
        (dict(point="x=1", learning_rate="0.1", fixed="x"), "fixed"),
        (dict(point="x=1", learning_rate="0.1", order="q"), "order"),
    ],
)
def test_bad_questions_name_the_field(fields, field):
    with pytest.raises(InputError) as error:
        answer(question_from_text("x**2", **fields))
    assert error.value.field == field
    assert "\n" not in str(error.value)


def test_a_small_gradient_next_to_a_large_loss_still_finds_the_bound():
    # ‖g‖² ≈ 1e-4 against |f| ≈ 1.45: at the tiniest steps the change is below f's rounding, and noise
    # flipping sign there once read as the loss turning back up at η = 1e-12. Closed form: 2/f'' = 2/1.008.
    document = answer(Question("0.504*x**2 + 1.711*x", {"x": -1.707}, 0.5))
    assert document["analysis"]["max_decreasing_learning_rate"] == pytest.approx(2 / 1.008, rel=1e-6)
    assert document["analysis"]["best_learning_rate"] == pytest.approx(1 / 1.008, rel=1e-4)
