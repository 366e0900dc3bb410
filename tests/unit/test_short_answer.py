"""The short answer that opens every explanation: two to five sentences, in the issue's order, each with
a number of this case that the document's own trials confirm; then the one key table; then the worked
numbers. Counts and differences are recomputed here from the steps' losses, not read from the text."""

from __future__ import annotations

import re

import pytest
from support.examples import EVERY_METHOD

from tutor.engine import Question, answer
from tutor.engine.explain import render_answer
from tutor.engine.numbers import fmt

FLIP = Question("x*y", {"x": 0.1, "y": 0.5}, 1.0)
MOMENTUM = Question(
    "x**2 + 10*y**2", {"x": 1.0, "y": 1.0}, 0.05, steps=30, methods=("simultaneous", "momentum")
)
MINIBATCH = Question(
    "(w*x + b - y)**2",
    {"w": 2.0, "b": 0.0},
    0.03,
    steps=20,
    methods=("simultaneous", "minibatch"),
    data={"x": [0, 1, 2, 3, 4, 5], "y": [1.2, 2.6, 5.4, 6.9, 9.3, 10.8]},
    batch_size=2,
)
OTHERS = [
    Question("(x+y)*z", {"x": -2.0, "y": 5.0, "z": -4.0}, 0.01),
    Question("x**2 + 100*y**2", {"x": 1.0, "y": 1.0}, 0.011, steps=20),
    Question("sin(x)", {"x": 1.0}, 13.0),
    Question("relu(x)", {"x": 0.0}, 0.1),
    Question("x**2 + y**2", {"x": 0.0, "y": 0.0}, 0.1),
    Question("log(x) + y", {"x": -1.0, "y": 1.0}, 0.1),
    Question("log(w*x)", {"w": 1.0}, 0.1, data={"x": [1.0, 2.0, -1.0]}),
]
ALL = [FLIP, MOMENTUM, MINIBATCH, EVERY_METHOD, *OTHERS]


def sentences(text: str) -> list[str]:
    # A sentence ends at ". " before a capital letter or a code span; numbers like 0.5 are not ends.
    return [s for s in re.split(r"(?<=[.])\s+(?=[A-Z`0-9])", text.strip()) if s]


def up_steps(trial: dict) -> list[int]:
    losses = [trial["initial_loss"]] + [s["loss"] for s in trial["steps"]]
    return [k for k in range(1, len(losses)) if losses[k] > losses[k - 1]]


@pytest.mark.parametrize("question", ALL)
def test_the_short_answer_is_two_to_five_sentences_each_with_a_number(question):
    document = answer(question)
    summary = document["explanation"]["summary"]
    found = sentences(summary["text"])
    assert 2 <= len(found) <= 5, found
    for sentence in found:
        assert re.search(r"\d", sentence), sentence
    assert "\n" not in summary["markdown"].strip() and "|" not in summary["markdown"]
    assert not summary["markdown"].startswith("#")
    assert len(summary["markdown"]) <= 600
    # The whole answer starts with it, in both renderings.
    assert document["explanation"]["markdown"].startswith(summary["markdown"])
    assert document["explanation"]["text"].startswith(summary["text"])


@pytest.mark.parametrize("question", ALL)
def test_the_parts_come_in_order_and_the_key_table_appears_once(question):
    document = answer(question)
    parts = render_answer(document)
    whole = document["explanation"]["markdown"]
    key = parts.key_table.markdown if parts.key_table else ""
    assert whole == "\n".join(p for p in (parts.summary.markdown, key, parts.worked.markdown) if p)
    table_rows = [line for line in key.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    for row in table_rows[1:]:  # the header may be shared by other tables; the rows are not
        assert whole.count(row) == 1, row
    text = sentences(parts.summary.text)
    order = [
        next((i for i, s in enumerate(text) if marker in s), None)
        for marker in ("Your η", "one parameter at a time", "With the same η", "mini-batch")
    ]
    present = [i for i in order if i is not None]
    assert present == sorted(present)


def test_the_flip_is_named_with_its_step_its_parameter_and_what_moved_before_it():
    document = answer(FLIP)
    summary = document["explanation"]["summary"]["text"]
    sequential = document["trials"][1]
    step = sequential["steps"][0]
    x, y = step["updates"]
    assert not x["sign_flip"] and y["sign_flip"]
    # Independently: ∂f/∂y = x, which is 0.1 at the start and 0.1 − 1·0.5 = −0.4 after x moved.
    assert (y["partial_at_start"], y["partial"]) == pytest.approx((0.1, -0.4))
    assert "in step 1, after x moved, the slope of y changed sign from 0.1 to -0.4" in summary
    a, b = document["trials"][0]["final_loss"], sequential["final_loss"]
    assert (a, b) == pytest.approx((-0.16, -0.36))  # (0.1−0.5)(0.5−0.1) and −0.4·(0.5+0.4)
    assert f"the sequential scheme ends lower, at {fmt(b)} against {fmt(a)} (by {fmt(a - b)})" in summary
    key = render_answer(document).key_table.markdown
    assert "| `y` | 0.1 | -0.4 **(sign flipped)** |" in key


def test_each_optimizer_that_raised_the_loss_is_counted():
    document = answer(EVERY_METHOD)
    summary = document["explanation"]["summary"]["text"]
    for trial in document["trials"]:
        if trial["method"] not in ("momentum", "nesterov", "adam", "rmsprop"):
            continue
        up = up_steps(trial)
        if up:
            assert re.search(
                rf"{trial['method']} (raised the loss )?in {len(up)} of (its )?{len(trial['steps'])}", summary
            )
        else:
            assert re.search(rf"{trial['method']}[^;.]* lowered (it|the loss) at every", summary)
    assert (
        "momentum raised the loss in 13 of its 30 steps" in answer(MOMENTUM)["explanation"]["summary"]["text"]
    )


def test_the_minibatch_steps_against_the_full_loss_are_counted():
    document = answer(MINIBATCH)
    trial = document["trials"][-1]
    against = [
        s["step"]
        for s, up in zip(
            trial["steps"], [k in up_steps(trial) for k in range(1, len(trial["steps"]) + 1)], strict=True
        )
        if up and s["batch_loss_after"] < s["batch_loss"]
    ]
    assert against
    summary = document["explanation"]["summary"]["text"]
    assert (
        f"{len(against)} of the {len(trial['steps'])} mini-batch steps lowered their own batch's loss"
        in summary
    )
    key = render_answer(document).key_table
    assert "batch loss before → after" in key.text
    for step in against:
        assert re.search(rf"^\| {step} \|", key.markdown, re.M)  # every step the summary counts is shown


def test_long_names_and_every_trial_still_fit_600_characters():
    names = [f"weight_number_{i:02d}_of_the_first_layer"[:32] for i in range(3)]
    expression = f"({names[0]}*x + {names[1]} - y)**2 + {names[2]}*{names[0]}"
    question = Question(
        expression,
        {names[0]: 2.0, names[1]: 0.0, names[2]: 0.5},
        0.03,
        steps=20,
        methods=("simultaneous", "sequential", "momentum", "nesterov", "adam", "rmsprop"),
        data={"x": [0, 1, 2, 3, 4, 5], "y": [1.2, 2.6, 5.4, 6.9, 9.3, 10.8]},
        batch_size=2,
    )
    summary = answer(question)["explanation"]["summary"]
    assert len(summary["markdown"]) <= 600
    assert 2 <= len(sentences(summary["text"])) <= 5


def test_math_on_and_off_say_the_same_in_text():
    document = answer(FLIP)
    off, on = render_answer(document, "off"), render_answer(document, "on")
    assert off.summary == on.summary and off.key_table == on.key_table
    assert off.worked.text == on.worked.text
    assert "$$" not in off.worked.markdown and "$$" in on.worked.markdown
    with pytest.raises(ValueError, match="math"):
        render_answer(document, "latex")
