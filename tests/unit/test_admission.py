"""Admission to the analysis workers (tutor.sandbox.Admission): bounded queues, fair turns across
clients, a worker kept for small questions, and waiting counted toward a question's time limit.

Every outcome here is decided by the order of events, not by how fast the machine is: a question that
must be refused while another holds the worker is refused because the other never leaves."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from tutor.config import Limits
from tutor.engine import InputError, Question, TooExpensive
from tutor.sandbox import Admission, AnalysisBusy, Analyzer, Turn, current_client, is_small

LONG = 600.0  # a time limit no test waits for


class Waiting:
    """``admission.enter(client)`` in a thread of its own; ``turn()`` once it got one."""

    def __init__(self, admission: Admission, client: str, seconds=LONG, small=False, capped=True):
        self.result: Turn | Exception | None = None
        self.thread = threading.Thread(target=self._enter, args=(admission, client, seconds, small, capped))
        self.thread.start()

    def _enter(self, admission, client, seconds, small, capped):
        try:
            self.result = admission.enter(client, seconds, small=small, capped=capped)
        except Exception as error:
            self.result = error

    def turn(self) -> Turn:
        self.thread.join()
        assert isinstance(self.result, Turn), self.result
        return self.result


def until_waiting(admission: Admission, count: int) -> None:
    with admission._changed:
        assert admission._changed.wait_for(lambda: admission._waiting_count() == count, timeout=60)


def test_a_client_over_its_share_is_refused_at_once_and_others_still_start():
    admission = Admission(workers=2, queue=4, per_client=2)
    first = admission.enter("flood", LONG)
    second = Waiting(admission, "flood")  # one client never holds every worker: this one waits
    until_waiting(admission, 1)

    with pytest.raises(AnalysisBusy) as refused:
        admission.enter("flood", LONG)
    assert "already have 2 questions" in refused.value.detail
    assert refused.value.retry_after >= 1

    # Another client's small question starts at once on the worker the flood may not take.
    other = admission.enter("learner", LONG, small=True)
    assert other.started is not None
    admission.leave(other, 0.01)
    admission.leave(first, 1.0)
    admission.leave(second.turn(), 1.0)
    assert admission.snapshot() == {"running": 0, "waiting": 0}


def test_a_full_queue_is_refused_at_once_not_left_to_stall():
    admission = Admission(workers=1, queue=1, per_client=5)
    running = admission.enter("a", LONG)
    queued = Waiting(admission, "b")
    until_waiting(admission, 1)

    with pytest.raises(AnalysisBusy) as refused:
        admission.enter("c", LONG)
    assert "no room to queue" in refused.value.detail
    admission.leave(running, 0.1)
    admission.leave(queued.turn(), 0.1)


def test_clients_take_turns():
    admission = Admission(workers=1, queue=10, per_client=10)
    running = admission.enter("a", LONG)
    waiting = []
    for client in ("a", "a", "b"):  # arriving in this order
        waiting.append(Waiting(admission, client))
        until_waiting(admission, len(waiting))
    a2, a3, b1 = waiting

    order = []
    admission.leave(running, 0.01)
    for _ in waiting:
        started = next_to_start(waiting, order)
        order.append(started)
        admission.leave(started.turn(), 0.01)
    # a's second question, then b's (a had its turn), then a's third.
    assert order == [a2, b1, a3]


def next_to_start(waiting: list[Waiting], done: list[Waiting]) -> Waiting:
    """The one waiting question that has been given the worker (exactly one at a time)."""
    pending = [w for w in waiting if w not in done]
    for w in pending:
        w.thread.join(0.01)
    while not any(not w.thread.is_alive() for w in pending):
        for w in pending:
            w.thread.join(0.01)
    [started] = [w for w in pending if not w.thread.is_alive()]
    return started


def test_large_questions_from_many_clients_leave_a_worker_for_small_ones():
    admission = Admission(workers=2, queue=10, per_client=10)
    one = admission.enter("flood-1", LONG)
    two = Waiting(admission, "flood-2")  # a worker is free, but large questions share all but one
    until_waiting(admission, 1)
    small = admission.enter("learner", LONG, small=True)
    assert small.started is not None
    admission.leave(one, 0.0)
    admission.leave(two.turn(), 0.0)
    admission.leave(small, 0.0)


def test_a_client_whose_questions_ran_long_counts_as_large_even_with_small_ones():
    admission = Admission(workers=2, queue=10, per_client=10)
    # A tenth of the time limit or more: this client's next questions count as large for a while.
    admission.leave(admission.enter("slow-bot", 10.0, small=True), 5.0)
    one = admission.enter("flood", LONG)
    pretending = Waiting(admission, "slow-bot", small=True)
    until_waiting(admission, 1)
    learner = admission.enter("learner", LONG, small=True)
    assert learner.started is not None
    admission.leave(one, 0.0)
    admission.leave(pretending.turn(), 0.0)
    admission.leave(learner, 0.0)


def test_small_means_small_in_every_dimension():
    circuit = Question("(x+y)*z", {"x": -2, "y": 5, "z": -4}, 0.01)
    assert is_small(circuit)
    assert not is_small(Question("*".join("abcdefghij"), dict.fromkeys("abcdefghij", 0.9), 0.01))
    assert not is_small(Question("(x+y)*z", {"x": -2, "y": 5, "z": -4}, 0.01, steps=1000))
    assert not is_small(Question("x*y" + "+x" * 60, {"x": 1, "y": 2}, 0.01))


def test_waiting_counts_toward_the_time_limit():
    admission = Admission(workers=1, queue=4, per_client=4)
    holder = admission.enter("a", LONG)  # never leaves while the other waits
    with pytest.raises(AnalysisBusy) as refused:
        admission.enter("b", 0.2)  # may wait half of its 0.2 seconds, no more
    assert "too busy to start on this question within 0.1 seconds" in refused.value.detail
    admission.leave(holder, 0.0)


def test_a_refusal_after_waiting_says_so_and_blames_the_load_not_the_question():
    limit = 10.0
    out_of_time = Analyzer()._out_of_time
    fresh = out_of_time(Turn("a", arrived=0.0, deadline=limit, start_by=5.0, large=True, started=0.5))
    waited = out_of_time(Turn("a", arrived=0.0, deadline=limit, start_by=5.0, large=True, started=4.0))

    assert isinstance(fresh, TooExpensive)
    assert "took longer than 10 seconds" in fresh.message
    assert isinstance(waited, AnalysisBusy)
    assert "waited 4.0 seconds for a free worker" in waited.detail
    assert "took longer" not in waited.detail


def test_a_pages_work_is_not_counted_against_its_clients_share():
    # A browser asks for a case's three plots at once: they queue, they are not refused.
    admission = Admission(workers=2, queue=4, per_client=1)
    question = admission.enter("browser", LONG)
    plots = [Waiting(admission, "browser", capped=False) for _ in range(2)]
    until_waiting(admission, 2)
    with pytest.raises(AnalysisBusy):
        admission.enter("browser", LONG)  # another question is
    admission.leave(question, 0.0)
    for plot in plots:
        admission.leave(plot.turn(), 0.0)


def test_a_pages_work_does_not_use_up_its_clients_share_of_questions():
    # The next question arrives while the last page's plot is still being drawn.
    admission = Admission(workers=3, queue=4, per_client=1)
    plot = admission.enter("browser", LONG, capped=False)
    question = admission.enter("browser", LONG, small=True)
    assert question.started is not None
    admission.leave(plot, 0.0)
    admission.leave(question, 0.0)


def test_a_pages_work_running_long_does_not_make_its_clients_questions_large():
    admission = Admission(workers=2, queue=4, per_client=2)
    admission.leave(admission.enter("learner", 10.0, capped=False), 5.0)  # a slow plot
    flood = admission.enter("flood", LONG)
    question = admission.enter("learner", LONG, small=True)
    assert question.started is not None  # still small: the small lane takes it
    admission.leave(flood, 0.0)
    admission.leave(question, 0.0)


WELL_WRITTEN = Question(expression="x**2 + y", point={"x": 1.0, "y": 2.0}, learning_rate=0.1)


@pytest.mark.parametrize(
    ("limits", "question", "refusal"),
    [
        (Limits(), dataclasses.replace(WELL_WRITTEN, expression="2x + y"), InputError),
        (Limits(), dataclasses.replace(WELL_WRITTEN, expression="(x*(" * 50 + "x" + "))" * 50), InputError),
        (Limits(), dataclasses.replace(WELL_WRITTEN, expression="x**9**9"), InputError),
        (Limits(max_work_seconds=1e-9), WELL_WRITTEN, TooExpensive),  # refused by its estimated work
    ],
)
def test_a_question_the_engine_refuses_is_told_so_at_once_however_busy_the_workers_are(
    limits, question, refusal
):
    analyzer = Analyzer(limits, workers=1, queue=0, queue_per_client=1)
    held = analyzer.admission.enter(current_client.get(), LONG)  # every worker and queue is taken
    try:
        with pytest.raises(refusal):
            analyzer.answer(question)
        # The workers really were taken: any work that needs one is refused for the load.
        with pytest.raises(AnalysisBusy):
            analyzer.run(len, "x")
    finally:
        analyzer.admission.leave(held, 0.0)
    assert analyzer.admission.snapshot() == {"running": 0, "waiting": 0}
