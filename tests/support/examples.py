"""The ask page's examples answered by the engine in the test process: what their pages must show."""

from __future__ import annotations

from tutor.engine import Question, answer, question_from_text
from tutor.web.pages.examples import BY_SLUG

# A fitted line over six data rows with every optimizer and mini-batches of two: the most an answer shows.
EVERY_METHOD = Question(
    "(w*x + b - y)**2",
    {"w": 2.0, "b": 0.0},
    0.03,
    steps=20,
    methods=("simultaneous", "sequential", "momentum", "nesterov", "adam", "rmsprop"),
    data={"x": [0, 1, 2, 3, 4, 5], "y": [1.2, 2.6, 5.4, 6.9, 9.3, 10.8]},
    batch_size=2,
)


def example_question(slug: str) -> Question:
    """The example's question, read as the form reads it."""
    e = BY_SLUG[slug]
    return question_from_text(
        e.expression,
        e.point,
        e.learning_rate,
        e.steps,
        e.fixed,
        e.order,
        ",".join(e.methods),
        settings=e.settings,
        data=e.data,
        batch_size=e.batch_size,
        shuffle_seed=e.shuffle_seed,
    )


def example_document(slug: str) -> dict:
    """The analysis document of the example's question, asked as the form would ask it."""
    return answer(example_question(slug))
