"""Time limits for tests, derived from this machine as it is during the run, never written as seconds.

A test that needs the sandbox to kill a question (or to let one through) used to set a limit such as
half a second, and failed on a busy machine where a small question took longer. Instead, ``budget()``
is a multiple of what small questions take here (measured once per test process, each new to the
worker, as a test's question is), and ``slow_question_over_budget()`` is checked, once, to run a
multiple of the budget longer. A machine ten times slower or busier moves all of them together.
"""

from __future__ import annotations

import dataclasses
import functools
import secrets
import time

from support.questions import NORMAL, slow_question
from tutor.config import Limits
from tutor.engine import Question, TooExpensive
from tutor.sandbox import Analyzer

# Small questions take this many times less than the budget; the slow question this many times more.
BUDGET_MARGIN = 20
SLOW_MARGIN = 5
SAMPLES = 4


def question(body: dict) -> Question:
    return Question(body["expression"], body["point"], body["learning_rate"], steps=body.get("steps", 1))


@functools.cache
def small_question_seconds() -> float:
    """The longest of a few cold answers of a small question in a sandbox worker."""
    analyzer = Analyzer(Limits(seconds_per_question=600), context="fork")
    try:
        analyzer.start()
        times = []
        for _ in range(SAMPLES):
            new = {**NORMAL, "expression": f"{NORMAL['expression']} + {secrets.randbelow(10**6) + 2}"}
            started = time.perf_counter()
            analyzer.answer(question(new))
            times.append(time.perf_counter() - started)
        return max(times)
    finally:
        analyzer.close()


def budget() -> float:
    """A time limit per question that small questions meet with room to spare on this machine now."""
    return BUDGET_MARGIN * small_question_seconds()


def limits(**changes) -> Limits:
    """The default limits with ``budget()`` as the time per question."""
    return dataclasses.replace(Limits(), seconds_per_question=budget(), **changes)


@functools.cache
def _slow_question_checked() -> None:
    analyzer = Analyzer(Limits(seconds_per_question=SLOW_MARGIN * budget()), context="fork")
    try:
        analyzer.answer(question(slow_question()))
    except TooExpensive:
        return
    finally:
        analyzer.close()
    raise AssertionError(
        f"support.questions.slow_question() answered within {SLOW_MARGIN * budget():.2f} s, {SLOW_MARGIN} times the "
        "budget: it no longer stands for a question that is too expensive; make it bigger"
    )


def slow_question_over_budget() -> dict:
    """A new question (nothing cached) checked to take at least SLOW_MARGIN times ``budget()``."""
    _slow_question_checked()
    return slow_question()
