"""The ask page's examples answered by the engine in the test process: what their pages must show."""

from __future__ import annotations

from tutor.engine import answer, question_from_text
from tutor.web.pages.examples import BY_SLUG


def example_document(slug: str) -> dict:
    """The analysis document of the example's question, asked as the form would ask it."""
    e = BY_SLUG[slug]
    return answer(
        question_from_text(
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
    )
