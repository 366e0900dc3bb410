"""Time limits for tests, derived from this machine as it is during the run, never written as seconds.

A test that needs the sandbox to kill a question (or to let one through) used to set a limit such as
half a second, and failed on a busy machine where a small question took longer. Instead, both sides
are measured here, once per test process, in a sandbox worker: a small question new to the worker (the
median of a few, as a test's questions are new), and ``slow_question()``. The budget lies between them,
two thirds of the way up on a log scale (small^(1/3) * slow^(2/3)): on the project's machine about
100 times a small question, which may also have to wait its turn behind a few others (a question may
wait half its budget), and a tenth of the slow one. A machine that is slower or busier moves both together; only a
swing of that size within one run could make a test that uses the budget fail.
"""

from __future__ import annotations

import functools
import secrets
import statistics
import time

from support.questions import NORMAL, slow_question
from tutor.config import Limits
from tutor.engine import Question
from tutor.sandbox import Analyzer

SAMPLES = 5
# The slow question is refused at once by the work estimate under the default limits; tests of the clock
# set this instead (TUTOR_LIMIT_MAX_WORK_SECONDS for a server), so that only the clock stops it.
WORK_ESTIMATE_LIFTED = 10_000.0
# ... and the bound on an answer's size, which refuses long runs of many parameters before they start.
RECORDED_NUMBERS_LIFTED = 10**9
# The slow question must take at least this many times the small one (the budget is then at least 21
# times a small question and at most a fourth of the slow one).
MIN_RATIO = 100


def question(body: dict) -> Question:
    return Question(
        body["expression"],
        body["point"],
        body["learning_rate"],
        steps=body.get("steps", 1),
        data=body.get("data"),
    )


def _timed(analyzer: Analyzer, body: dict) -> float:
    started = time.perf_counter()
    analyzer.answer(question(body))
    return time.perf_counter() - started


@functools.cache
def measured() -> tuple[float, float]:
    """Seconds a small question and the slow question take in a sandbox worker here, now."""
    analyzer = Analyzer(
        Limits(seconds_per_question=600, max_work_seconds=WORK_ESTIMATE_LIFTED), context="fork"
    )
    try:
        analyzer.start()
        small = statistics.median(
            _timed(
                analyzer, {**NORMAL, "expression": f"{NORMAL['expression']} + {secrets.randbelow(10**6) + 2}"}
            )
            for _ in range(SAMPLES)
        )
        slow = _timed(analyzer, slow_question())
    finally:
        analyzer.close()
    if slow < MIN_RATIO * small:
        raise AssertionError(
            f"support.questions.slow_question() took {slow:.2f} s, only {slow / small:.0f} times a small "
            f"question ({small * 1000:.1f} ms): it no longer stands for a question that is too expensive; "
            "make it bigger"
        )
    return small, slow


def budget() -> float:
    """A time limit per question far above a small question's time and far below the slow one's."""
    small, slow = measured()
    return small ** (1 / 3) * slow ** (2 / 3)


def limits(**changes) -> Limits:
    """The default limits with ``budget()`` as the time per question (the work estimate and the bound on
    an answer's size lifted, so that only the clock stops a question)."""
    return Limits(
        seconds_per_question=budget(),
        max_work_seconds=WORK_ESTIMATE_LIFTED,
        max_recorded_numbers=RECORDED_NUMBERS_LIFTED,
        **changes,
    )


def slow_question_over_budget() -> dict:
    """A new question (nothing cached) like the one measured: several times the budget."""
    measured()
    return slow_question()
