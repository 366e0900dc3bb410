"""The work estimate (engine/cost.py): deterministic, refused before anything runs, with what to change.
No clock is read here: the estimate depends on the question's size alone."""

from __future__ import annotations

import dataclasses

import pytest

from tutor.config import Limits
from tutor.engine import Question, TooExpensive, answer, parse_expression
from tutor.engine.cost import estimate_seconds, operations, recorded_numbers
from tutor.engine.question import check_question


def network(hidden: int, steps: int, rows: int) -> Question:
    terms = [f"v{j}*tanh(w{j}*x + b{j})" for j in range(hidden)]
    point = {f"{p}{j}": 0.1 * (j + 1) for j in range(hidden) for p in "vwb"}
    data = {"x": [k / rows for k in range(rows)], "y": [1 - k / rows for k in range(rows)]}
    return Question(f"({' + '.join(terms)} - y)**2", point, 0.01, steps=steps, data=data)


def estimate(question: Question, limits: Limits | None = None) -> float:
    limits = limits or Limits()
    return estimate_seconds(check_question(question, parse_expression(question.expression, limits), limits))


def test_the_estimate_grows_with_steps_rows_and_the_graph():
    small = estimate(network(4, 10, 8))
    assert estimate(network(4, 100, 8)) > 3 * small  # (the first-step analysis is a fixed part)
    assert estimate(network(4, 10, 800)) > 5 * small
    assert estimate(network(16, 10, 8)) > 3 * small
    assert estimate(network(4, 10, 8)) == small  # the same question, the same estimate


def test_operations_counts_what_the_code_computes():
    # Constant sub-expressions are folded: (2 - 3) is one number, not an operation.
    assert operations(parse_expression("x*(2 - 3) + y").tree) == 2
    assert operations(parse_expression("tanh(w*x + b)").tree) == 3


def test_a_question_beyond_the_work_limit_is_refused_at_once_with_what_to_change():
    question = network(16, 1000, 1000)
    assert estimate(question) > Limits().max_work_seconds
    with pytest.raises(TooExpensive) as error:
        answer(question, Limits(max_recorded_numbers=10**9))  # (its answer's size is refused first)
    assert error.value.field == "steps"
    assert "s of work" in error.value.message and "fewer steps" in error.value.message
    assert "fewer data rows" in error.value.message
    assert "\n" not in str(error.value)


def test_the_limit_is_a_setting_and_a_question_within_it_is_answered():
    question = network(4, 20, 8)
    seconds = estimate(question)
    with pytest.raises(TooExpensive):
        answer(question, Limits(max_work_seconds=seconds / 2))
    assert answer(question, Limits(max_work_seconds=seconds * 2))["trials"]


def numbers_in(document: dict) -> int:
    """The numbers the answer's trials hold, counted in the document itself (an oracle for the count
    that the limit reads before anything runs)."""

    def count(value) -> int:
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return 0
        if isinstance(value, int | float):
            return 1
        if isinstance(value, dict):
            return sum(count(item) for item in value.values())
        return sum(count(item) for item in value)

    return sum(count(trial.get("steps", [])) for trial in document["trials"])


@pytest.mark.parametrize(
    ("hidden", "steps", "methods"),
    [(2, 40, None), (5, 30, None), (3, 20, ["simultaneous", "sequential", "momentum", "adam", "minibatch"])],
)
def test_the_recorded_count_follows_what_the_answer_really_records(hidden, steps, methods):
    question = network(hidden, steps, 6)
    if methods:
        question = dataclasses.replace(question, methods=methods, batch_size=3)
    limits = Limits()
    checked = check_question(question, parse_expression(question.expression, limits), limits)

    counted, estimated = numbers_in(answer(question)), recorded_numbers(checked)

    # Within a factor of two either way (per step a few numbers more or less: losses, step numbers).
    assert counted / 2 <= estimated <= counted * 2, (counted, estimated)


def test_an_answer_too_large_to_save_is_refused_at_once_with_the_steps_that_fit():
    names = [f"p{i}" for i in range(50)]
    question = Question("*".join(names), dict.fromkeys(names, 0.9), 0.01, steps=1000)

    with pytest.raises(TooExpensive) as error:
        answer(question)

    message = error.value.message
    assert error.value.field == "steps" and "the limit is 200,000" in message
    fitting = int(message.split("Ask for at most ")[1].split()[0])
    assert 0 < fitting < 1000
    assert answer(dataclasses.replace(question, steps=fitting), Limits(max_work_seconds=1e4))["trials"]
    with pytest.raises(TooExpensive):
        answer(dataclasses.replace(question, steps=fitting + 1))
