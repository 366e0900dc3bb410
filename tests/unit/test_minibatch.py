"""Data rows, the mean loss and the minibatch trial: against a NumPy oracle written independently
(per-example gradients by central differences, the batch schedule spelled out), a property tying the
minibatch trial to full-batch descent, the explanation's claims, and bad input."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tutor.cli import main
from tutor.config import Limits
from tutor.engine import InputError, Question, answer, question_from_text

EXPRESSION = "(w*x + b - y)**2 + 0.1*w**2"
DATA = {"x": [1.0, 2.0, 3.0, 4.0, -1.0, 0.5, 2.5], "y": [2.0, 4.0, 5.0, 9.0, -2.5, 1.0, 4.0]}


def example_loss(p, x, y):
    """The same loss as EXPRESSION, for one example, written in NumPy."""
    w, b = p
    return (w * x + b - y) ** 2 + 0.1 * w**2


def batch_loss(p, rows):
    return np.mean([example_loss(p, DATA["x"][r], DATA["y"][r]) for r in rows])


def batch_gradient(p, rows, h=1e-6):
    """Central differences of each example's loss, averaged over the rows."""
    gradient = np.zeros(len(p))
    for r in rows:
        for i in range(len(p)):
            up, down = np.array(p, dtype=float), np.array(p, dtype=float)
            up[i] += h
            down[i] -= h
            x, y = DATA["x"][r], DATA["y"][r]
            gradient[i] += (example_loss(up, x, y) - example_loss(down, x, y)) / (2 * h)
    return gradient / len(rows)


def schedule(rows, size, seed, steps):
    """The batches, one list of row indices per step: epochs in row order or a fresh permutation."""
    generator = np.random.default_rng(seed) if seed is not None else None
    out = []
    while len(out) < steps:
        order = list(generator.permutation(rows)) if generator is not None else list(range(rows))
        out += [order[k : k + size] for k in range(0, rows, size)]
    return out[:steps]


def degrees_between(a, b):
    return math.degrees(math.acos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1)))


@pytest.mark.parametrize(("size", "seed"), [(1, None), (3, None), (3, 7), (7, None), (2, 123)])
def test_minibatch_trial_matches_a_numpy_oracle(size, seed):
    lr, steps = 0.02, 30
    document = answer(
        Question(
            EXPRESSION, {"w": 0.5, "b": 0.0}, lr, steps=steps, data=DATA, batch_size=size, shuffle_seed=seed
        )
    )
    trial = next(t for t in document["trials"] if t["method"] == "minibatch")
    assert trial["settings"] == {"batch_size": size, "shuffle_seed": seed}
    everything = range(len(DATA["x"]))
    p = np.array([0.5, 0.0])
    for step, rows in zip(trial["steps"], schedule(len(DATA["x"]), size, seed, steps), strict=True):
        assert step["batch"] == [int(r) for r in rows]
        g, full = batch_gradient(p, rows), batch_gradient(p, everything)
        assert step["batch_loss"] == pytest.approx(batch_loss(p, rows), rel=1e-6)
        assert [step["gradient"]["w"], step["gradient"]["b"]] == pytest.approx(g, rel=1e-6, abs=1e-8)
        assert [step["full_gradient"]["w"], step["full_gradient"]["b"]] == pytest.approx(
            full, rel=1e-6, abs=1e-8
        )
        assert step["gradient_norm"] == pytest.approx(np.linalg.norm(g), rel=1e-6)
        assert step["full_gradient_norm"] == pytest.approx(np.linalg.norm(full), rel=1e-6)
        assert step["angle_to_full_gradient"] == pytest.approx(degrees_between(g, full), abs=1e-3)
        before = batch_loss(p, everything)
        p = p - lr * g
        assert [step["point"]["w"], step["point"]["b"]] == pytest.approx(p, rel=1e-6, abs=1e-8)
        assert step["loss"] == pytest.approx(batch_loss(p, everything), rel=1e-6)
        assert step["batch_loss_after"] == pytest.approx(batch_loss(p, rows), rel=1e-6)
        assert step["loss_went_up"] == (step["loss"] > before)
    json.dumps(document, allow_nan=False)


def test_data_makes_the_loss_the_mean_over_rows():
    document = answer(Question(EXPRESSION, {"w": 0.5, "b": 0.0}, 0.02, steps=3, data=DATA))
    everything = range(len(DATA["x"]))
    assert document["loss"] == pytest.approx(batch_loss([0.5, 0.0], everything), rel=1e-12)
    gradient = batch_gradient([0.5, 0.0], everything)
    assert [document["gradient"]["w"], document["gradient"]["b"]] == pytest.approx(gradient, rel=1e-6)
    assert document["parameters"] == ["w", "b"]
    assert document["data_rows"] == 7
    assert document["input"]["data"] == DATA
    # The graph is one example's: row 0, whose f is that example's loss, not the mean.
    assert document["graph_row"] == 0
    output = next(n for n in document["graph"]["nodes"] if n["id"] == document["graph"]["output"])
    assert output["value"] == pytest.approx(example_loss([0.5, 0.0], 1.0, 2.0))
    assert "data row 0" in document["explanation"]["markdown"]
    # Full-batch descent: the simultaneous trial follows the mean gradient.
    first = document["trials"][0]["steps"][0]["point"]
    assert [first["w"], first["b"]] == pytest.approx(np.array([0.5, 0.0]) - 0.02 * gradient, rel=1e-6)
    # The analysis is of the mean loss too.
    assert document["analysis"]["first_order_change"] == pytest.approx(-0.02 * gradient @ gradient, rel=1e-6)
    assert [t["method"] for t in document["trials"]] == ["simultaneous", "sequential"]


def test_questions_without_data_say_so():
    document = answer(Question("(x+y)*z", {"x": -2.0, "y": 5.0, "z": -4.0}, 0.01))
    assert document["graph_row"] is None
    assert document["data_rows"] is None
    assert document["input"]["data"] is None
    assert document["input"]["batch_size"] is None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(st.floats(-3, 3), st.floats(-3, 3)),
        min_size=1,
        max_size=12,
    ),
    w=st.floats(-2, 2),
    b=st.floats(-2, 2),
    lr=st.floats(1e-3, 0.1),
)
def test_one_batch_of_all_rows_is_full_batch_descent(rows, w, b, lr):
    data = {"x": [r[0] for r in rows], "y": [r[1] for r in rows]}
    document = answer(
        Question(
            EXPRESSION,
            {"w": w, "b": b},
            lr,
            steps=5,
            data=data,
            batch_size=len(rows),
            methods=("simultaneous",),
        )
    )
    full, mini = document["trials"]
    assert mini["method"] == "minibatch"
    assert len(mini["steps"]) == len(full["steps"])
    for a, c in zip(full["steps"], mini["steps"], strict=True):
        assert c["batch"] == list(range(len(rows)))
        assert c["point"] == pytest.approx(a["point"], rel=1e-12, abs=1e-15)
        assert c["loss"] == pytest.approx(a["loss"], rel=1e-12, abs=1e-15)
        assert c["batch_loss_after"] == pytest.approx(c["loss"], rel=1e-12, abs=1e-15)


def test_the_explanation_tells_batch_against_full_loss():
    document = answer(
        Question(
            "(w*x + b - y)**2",
            {"w": 0.5, "b": 0.0},
            0.1,
            steps=6,
            data={"x": [1, 2, 3, 4], "y": [2, 4, 5, 9]},
            batch_size=3,
            shuffle_seed=1,
        )
    )
    markdown = document["explanation"]["markdown"]
    trial = document["trials"][-1]
    up = [s["step"] for s in trial["steps"] if s["loss_went_up"]]
    against = [
        s["step"] for s in trial["steps"] if s["loss_went_up"] and s["batch_loss_after"] < s["batch_loss"]
    ]
    assert up and against  # this case shows both effects
    claim = re.search(
        r"\*\*minibatch\*\*: the loss went up at steps? ([\d, ]+) \((\d+) of (\d+) steps\)", markdown
    )
    assert [int(n) for n in claim.group(1).split(",")] == up
    claim = re.search(
        r"At steps? ([\d, ]+) the step lowered its own batch's loss but raised the full loss", markdown
    )
    assert [int(n) for n in claim.group(1).split(",")] == against
    assert "different loss function" in markdown


def test_an_undefined_row_is_named():
    document = answer(Question("log(w*x)", {"w": 1.0}, 0.1, data={"x": [1.0, 2.0, -1.0]}))
    assert document["trials"] == []
    message = next(c["message"] for c in document["special_cases"] if c["kind"] == "undefined")
    assert "data row 2" in message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"data": {"q": [1.0]}}, "data"),
        ({"data": {"x": [1.0, 2.0], "y": [1.0]}}, "data"),
        ({"data": {"x": []}}, "data"),
        ({"data": {"x": [math.inf]}}, "data"),
        ({"data": {"x": [True]}}, "data"),
        ({"data": {"x": "1,2"}}, "data"),
        ({"data": {}}, "data"),
        ({"data": {"x": [1.0] * 4}}, "data"),  # more rows than Limits(max_data_rows=3)
        ({"data": {"x": [1.0], "y": [1.0]}, "point": {"w": 1.0, "b": 0.0, "x": 2.0}}, "point"),
        ({"data": {"x": [1.0], "y": [1.0]}, "fixed": ("x",)}, "fixed"),
        ({"data": {"x": [1.0], "y": [1.0]}, "order": ("x", "w", "b")}, "order"),
        ({"batch_size": 1, "point": {"w": 1.0, "b": 0.0, "x": 1.0, "y": 1.0}}, "batch_size"),
        ({"data": {"x": [1.0], "y": [1.0]}, "batch_size": 2}, "batch_size"),
        ({"data": {"x": [1.0], "y": [1.0]}, "batch_size": 0}, "batch_size"),
        ({"data": {"x": [1.0], "y": [1.0]}, "batch_size": True}, "batch_size"),
        ({"data": {"x": [1.0], "y": [1.0]}, "shuffle_seed": 1}, "shuffle_seed"),
        ({"data": {"x": [1.0], "y": [1.0]}, "batch_size": 1, "shuffle_seed": -1}, "shuffle_seed"),
        ({"data": {"x": [1.0], "y": [1.0]}, "methods": ("minibatch",)}, "methods"),
    ],
)
def test_bad_data_names_the_field(changes, field):
    question = Question(EXPRESSION, changes.pop("point", {"w": 1.0, "b": 0.0}), 0.1, **changes)
    with pytest.raises(InputError) as caught:
        answer(question, Limits(max_data_rows=3))
    assert caught.value.field == field
    assert "\n" not in str(caught.value)


def test_csv_data_from_text():
    question = question_from_text(
        EXPRESSION, "w=1, b=0", "0.1", data="x, y\n1,2\n\n3, 4.5\n", batch_size="1", shuffle_seed="5"
    )
    assert question.data == {"x": [1.0, 3.0], "y": [2.0, 4.5]}
    assert (question.batch_size, question.shuffle_seed) == (1, 5)
    # An empty field means no data; anything else must be a table.
    assert question_from_text(EXPRESSION, "w=1, b=0", "0.1", data=" \n").data is None
    for bad in ("x,y\n1\n", "x,y\n1,two\n", "x,x\n1,2\n"):
        with pytest.raises(InputError) as caught:
            question_from_text(EXPRESSION, "w=1, b=0", "0.1", data=bad)
        assert caught.value.field == "data"


def test_cli_reads_a_csv_and_refuses_bad_data(tmp_path):
    table = tmp_path / "rows.csv"
    table.write_text("x,y\n1,2\n2,4\n3,5\n4,9\n")
    runner = CliRunner()
    base = ["explain", EXPRESSION, "--at", "w=0.5, b=0", "--lr", "0.02", "--steps", "4"]
    result = runner.invoke(main, [*base, "--data", str(table), "--batch-size", "3", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["trials"][-1]["method"] == "minibatch"
    assert [s["batch"] for s in document["trials"][-1]["steps"]] == [[0, 1, 2], [3], [0, 1, 2], [3]]

    table.write_text("x,y\n1,2\n2\n")
    for extra in (["--data", str(table)], ["--data", str(tmp_path / "missing.csv")], ["--batch-size", "2"]):
        result = runner.invoke(main, [*base, *extra])
        assert result.exit_code == 2
        assert result.stderr.strip().count("\n") == 0
        assert result.stderr.startswith("tutor: ")
