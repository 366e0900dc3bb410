"""Hard limits on the work one question may cause, and fair turns at the workers that do it.

Symbolic work and long trials can run long on input that passes every size check, and a question
can ask for more memory than a server process should give, so every analysis runs in a worker
process (a pebble pool) with a time limit and an address-space limit. A worker that runs over its time
is killed and replaced; one that runs out of memory fails inside itself. Either way the caller gets a
``TooExpensive`` error in seconds and the service goes on answering others.

Why pebble: it kills a single timed-out task's process and restarts it, which
``concurrent.futures.ProcessPoolExecutor`` cannot do (a stuck task there blocks its worker forever).
Workers are kept between questions, so the compiled-function cache in each stays warm.

**Recovery.** A pool that fails in any way is replaced on the next question, without a restart: one in
pebble's error state (a worker killed while idle puts it there, and it then refuses every task with a
plain RuntimeError), one whose workers cannot start, one that stops answering. A question whose worker
died under it (the OOM killer, an operator's kill) is ``WorkerLost``: the service's fault, a 503 the
client may retry, never a refusal of the question.

**Admission.** A question waits for a worker in a queue bounded per client (an API token, or an address)
and overall (for large and for small questions apart); when either is full it is refused at once with
``AnalysisBusy`` (503 with Retry-After), never left to stall a server thread. The next free worker goes
to the waiting client with the fewest questions running, clients taking turns, and no client runs on
more than all workers but one.

**Two lanes.** With two or more workers, one of them (a pool of its own) is kept for small questions
(``is_small``: a forum's circuit, a neuron), which answer in milliseconds; the others take any question,
at a lower CPU priority (nice 10) so that the web processes and the small lane come first when the
machine is busy. A question counts as large unless it is small and its client's recent questions took
less than a tenth of the time limit in CPU time: a flood of large questions, from one client or many,
never holds every worker. Each lane is its own pebble pool, so a large question can never be handed to
the small lane's worker while its own worker is being replaced.

**Before admission** a question is read and checked in the caller's process (``engine.check``: parsing
and the checks are bounded by the limits, milliseconds), so a refusal of the input never waits for a
worker and never becomes "busy".

**Time.** A question's time limit counts from its arrival: waiting is part of it. One that cannot start
within half its limit is refused as busy; one that starts gets what is left, and when that runs out it
is too expensive (422) if it waited less than a quarter of its limit, and busy (503) if it waited longer:
it might well be answered when the service is quieter, so the learner is not blamed.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from pebble import ProcessExpired, ProcessPool

from tutor.config import Limits
from tutor.engine import Question, TooExpensive, answer, check

log = logging.getLogger(__name__)
T = TypeVar("T")

# Answered by the fork server once, and by each worker as it starts (see _start_worker).
WARM_UP = Question(expression="(x+y)*z", point={"x": -2, "y": 5, "z": -4}, learning_rate=0.01)

# Who the current thread's analysis work is for: an API token or a client address, set by the web layer
# for each request. Work outside a request (the Discourse delivery thread, the CLI) shares one name.
current_client: ContextVar[str] = ContextVar("analysis_client", default="local")

# Shares of a question's time limit (see the module's docstring).
MAX_WAIT_SHARE = 0.5
FAIR_WAIT_SHARE = 0.25
LONG_RUN_SHARE = 0.1
# How long a client's questions count as large after one ran long, and how many clients are remembered.
LONG_RUN_MEMORY_SECONDS = 60.0
REMEMBERED_CLIENTS = 10_000
# A small question has at most these (see is_small).
SMALL = {"characters": 100, "symbols": 8, "steps": 100, "rows": 100}
# While a question runs, the pool is looked at this often; a question no worker has taken after
# START_GRACE_SECONDS (a worker starting takes a second or two, more on a busy machine), or not answered
# STALL_GRACE_SECONDS past its time limit, means the pool is stuck, and it is replaced.
WATCH_SECONDS = 0.25
START_GRACE_SECONDS = 15.0
STALL_GRACE_SECONDS = 10.0
# The lanes (see the module's docstring), and the CPU priority of the shared one's workers.
SMALL_LANE, SHARED_LANE = "small", "shared"
SHARED_NICENESS = 10
# A replacement worker starts in well under a second.
WORKER_LOST_RETRY_SECONDS = 2
UNAVAILABLE_RETRY_SECONDS = 30


def _start_worker(memory_mb: int, niceness: int) -> None:
    """Each worker's set-up, before it takes any task: its limits and priority, then a warm-up question.

    A new process's first answer costs hundreds of milliseconds of SymEngine's and NumPy's first use (the
    fork server has imported them, but their caches fill in each process), a hundred times a warm
    one's. Paid here, it is never part of a learner's question, also for a worker that replaces one
    killed for running over its time."""
    # One BLAS thread per worker: the machine's cores are for concurrent questions, not one matrix.
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    if niceness:
        os.nice(niceness)
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        answer(WARM_UP)
    except Exception:  # noqa: S110 (under a tiny memory limit): the first question pays instead
        pass


def _in_worker(function: Callable[..., T], args: tuple, memory_mb: int) -> tuple[T, float]:
    """``function(*args)`` and the CPU seconds it took (what the question cost, however busy the
    machine: wall-clock time would count the waits of a crowded machine against its client)."""
    started = time.process_time()
    try:
        return function(*args), time.process_time() - started
    except (MemoryError, SystemError):
        # Under the address-space limit, C extensions that fail to allocate sometimes return an
        # error without setting MemoryError, which Python reports as SystemError.
        raise TooExpensive(f"answering this needs more than {memory_mb} MB of memory", "expression") from None
    except RecursionError:
        raise TooExpensive("the expression is too deeply nested to differentiate", "expression") from None


class AnalysisUnavailable(RuntimeError):
    """No worker can answer now: the service's fault, not the question's (HTTP 503).

    ``detail`` is a sentence for the client; ``retry_after`` the seconds after which trying again
    makes sense."""

    def __init__(self, detail: str, retry_after: int = UNAVAILABLE_RETRY_SECONDS):
        super().__init__(detail)
        self.detail = detail
        self.retry_after = max(1, int(retry_after))


class AnalysisBusy(AnalysisUnavailable):
    """Refused at admission, or out of time after waiting: the service is busy, try again later."""


class WorkerLost(AnalysisUnavailable):
    """The worker answering the question died (killed from outside) before it finished."""


@dataclass(eq=False)
class Turn:
    """One question's place at the workers: when it arrived, by when it must start and finish, whether
    it counts as large, and the lane it runs in once started."""

    client: str
    arrived: float
    deadline: float
    start_by: float
    large: bool
    capped: bool = True
    lane: str | None = None
    started: float | None = None


class Admission:
    """Who runs next, and in which lane: bounded queues, per-client caps and turns across clients (see
    the module)."""

    def __init__(
        self, workers: int, queue: int, per_client: int, clock: Callable[[], float] = time.monotonic
    ):
        if workers < 1 or queue < 0 or per_client < 1:
            raise ValueError("an analysis pool needs at least one worker, and each client one question")
        self.workers = workers
        self.queue = queue
        self.per_client = per_client
        # One worker kept for small questions whenever there are two; each client on all but one.
        self.lanes = {SMALL_LANE: 1, SHARED_LANE: workers - 1} if workers > 1 else {SHARED_LANE: 1}
        self.per_client_running = max(1, workers - 1)
        self._clock = clock
        self._changed = threading.Condition()
        self._waiting: dict[str, deque[Turn]] = {}  # in turn order: a client served goes to the back
        self._running: dict[str, list[Turn]] = {}
        self._ran_long_until: OrderedDict[str, float] = OrderedDict()

    def enter(self, client: str, seconds: float, *, small: bool = False, capped: bool = True) -> Turn:
        """Waits for a worker; returns the turn (with its deadline and lane) or raises AnalysisBusy.
        ``small``: the question is small by its size (see ``is_small``); it still counts as large when
        its client's recent questions ran long. ``capped``: counted against the client's own share
        (questions are; a page's plots, asked for all at once by a browser, are not)."""
        now = self._clock()
        with self._changed:
            large = not small or self._ran_long(client, now)
            turn = Turn(client, now, now + seconds, now + seconds * MAX_WAIT_SHARE, large, capped)
            theirs = (*self._running.get(client, ()), *self._waiting.get(client, ()))
            mine = sum(other.capped for other in theirs)
            if capped and mine >= self.per_client:
                raise AnalysisBusy(
                    f"You already have {mine} question{'s' if mine > 1 else ''} being answered or waiting "
                    f"here, the most one client may have; send the next when an answer has come back.",
                    self._retry_after(now, client),
                )
            self._waiting.setdefault(client, deque()).append(turn)
            self._dispatch(now)
            if turn.started is None and self._waiting_count(large) > self.queue:
                self._withdraw(turn)
                raise AnalysisBusy(
                    "The tutor is busy answering other questions and has no room to queue this one; "
                    "try again shortly.",
                    self._retry_after(now),
                )
            while turn.started is None:
                left = turn.start_by - self._clock()
                if left <= 0:
                    self._withdraw(turn)
                    raise AnalysisBusy(
                        f"The tutor was too busy to start on this question within {turn.start_by - turn.arrived:g} "
                        "seconds; try again shortly.",
                        self._retry_after(self._clock()),
                    )
                self._changed.wait(left)
        return turn

    def leave(self, turn: Turn, ran: float) -> None:
        """Gives the turn's worker to the next question; ``ran`` is the seconds of work it cost (CPU
        seconds when known), for fairness."""
        with self._changed:
            now = self._clock()
            running = self._running[turn.client]
            running.remove(turn)
            if not running:
                del self._running[turn.client]
            # Only questions tell what a client asks for (a page's plots are drawn once per case).
            if turn.capped and ran >= (turn.deadline - turn.arrived) * LONG_RUN_SHARE:
                self._ran_long_until[turn.client] = now + LONG_RUN_MEMORY_SECONDS
                self._ran_long_until.move_to_end(turn.client)
                while len(self._ran_long_until) > REMEMBERED_CLIENTS:
                    self._ran_long_until.popitem(last=False)
            self._dispatch(now)

    def _free_lane(self, turn: Turn) -> str | None:
        """The lane a waiting question would start in now: a small one in its own lane first."""
        busy = {lane: 0 for lane in self.lanes}
        for turns in self._running.values():
            for running in turns:
                busy[running.lane] += 1
        for lane in (SHARED_LANE,) if turn.large else (SMALL_LANE, SHARED_LANE):
            if lane in self.lanes and busy[lane] < self.lanes[lane]:
                return lane
        return None

    def _dispatch(self, now: float) -> None:
        """Starts waiting questions while workers are free for them, each time for the fairest client."""
        started = False
        while True:
            chosen, lane = None, None
            for client, queue in self._waiting.items():
                running = len(self._running.get(client, ()))
                if running >= self.per_client_running:
                    continue
                free = self._free_lane(queue[0])
                if free is not None and (chosen is None or running < len(self._running.get(chosen, ()))):
                    chosen, lane = client, free
            if chosen is None:
                break
            queue = self._waiting.pop(chosen)
            turn = queue.popleft()
            if queue:
                self._waiting[chosen] = queue  # back of the line
            turn.started, turn.lane = now, lane
            self._running.setdefault(chosen, []).append(turn)
            started = True
        if started:
            self._changed.notify_all()

    def _ran_long(self, client: str, now: float) -> bool:
        until = self._ran_long_until.get(client)
        return until is not None and until > now

    def _withdraw(self, turn: Turn) -> None:
        queue = self._waiting[turn.client]
        queue.remove(turn)
        if not queue:
            del self._waiting[turn.client]

    def _waiting_count(self, large: bool | None = None) -> int:
        return sum(1 for queue in self._waiting.values() for turn in queue if large in (None, turn.large))

    def _running_count(self) -> int:
        return sum(len(turns) for turns in self._running.values())

    def _retry_after(self, now: float, client: str | None = None) -> int:
        """Seconds until a worker (the client's own, if it has one) is sure to be free: the soonest
        deadline among them."""
        turns = self._running.get(client) if client is not None else None
        if not turns:
            turns = [turn for running in self._running.values() for turn in running]
        soonest = min((turn.deadline for turn in turns), default=now + 1)
        return max(1, math.ceil(soonest - now))

    def snapshot(self) -> dict[str, int]:
        """Questions running and waiting now (for operators and tests)."""
        with self._changed:
            return {"running": self._running_count(), "waiting": self._waiting_count()}


def is_small(question: Question) -> bool:
    """Whether a question is small by its size alone, told before any work: few symbols, a short
    expression, few steps and rows. Small questions (a forum's circuit, a neuron) answer in milliseconds;
    a worker is kept for them when large ones crowd in."""
    rows = max((len(column) for column in (question.data or {}).values()), default=0)
    return (
        len(question.expression) <= SMALL["characters"]
        and len(question.point) <= SMALL["symbols"]
        and question.steps <= SMALL["steps"]
        and rows <= SMALL["rows"]
    )


class Analyzer:
    """Answers questions, and does any other engine work (a saved case's MathML, its plots), in worker
    processes under the time and memory limits, admitting work fairly. One per process; safe to share
    between threads."""

    def __init__(
        self,
        limits: Limits | None = None,
        workers: int = 1,
        context: str = "forkserver",
        *,
        queue: int = 4,
        queue_per_client: int = 2,
    ):
        self.limits = limits or Limits()
        self.workers = workers
        self.context = context
        self.admission = Admission(workers, queue, queue_per_client)
        self._pools: dict[str, ProcessPool] = {}
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._in_flight: dict[Future, ProcessPool] = {}

    def start(self) -> None:
        """Starts the workers now rather than on the first question, and waits until they answer.

        Starting a pool (the fork server, its imports, each worker's warm-up) takes a second or more; a
        server calls this before it accepts requests, so no learner waits for it. A pool that cannot
        start now is left to the first question, which reports it."""
        seconds = self.limits.seconds_per_question + STALL_GRACE_SECONDS
        for lane, size in self.admission.lanes.items():
            try:
                pool = self._get_pool(lane)
                for future in [pool.schedule(os.getpid, timeout=seconds) for _ in range(size)]:
                    future.result(timeout=seconds)
            except Exception:
                log.exception("the analysis workers did not start; the first question will try again")
                self._replace_pool(lane)

    def answer(self, question: Question) -> dict:
        # Read and checked here first: that is bounded by the limits and takes milliseconds, so a
        # question the engine refuses (a typo, too deep, too costly by its estimate) is told so at
        # once, however busy the workers are, and never takes a place in the queue.
        check(question, self.limits)
        return self.run(answer, question, self.limits, small=is_small(question), capped=True)

    def run(self, function: Callable[..., T], *args: object, small: bool = False, capped: bool = False) -> T:
        """``function(*args)`` in a worker, in its client's turn. ``function`` must be importable by name.
        ``small`` and ``capped`` as in ``Admission.enter``: a question (``answer``) counts against its
        client's share; other work, such as a saved case's page, only against the queues.

        Raises TooExpensive past the time or memory limit, AnalysisBusy when the queues are full or the
        question waited too long, WorkerLost when its worker was killed, and AnalysisUnavailable when no
        worker can start."""
        turn = self.admission.enter(
            current_client.get(), self.limits.seconds_per_question, small=small, capped=capped
        )
        cost = None
        try:
            value, cost = self._run_in_turn(function, args, turn)
            return value
        finally:
            # Refused or killed: as long as it ran.
            self.admission.leave(turn, cost if cost is not None else time.monotonic() - turn.started)

    def _run_in_turn(self, function: Callable[..., T], args: tuple, turn: Turn) -> tuple[T, float]:
        # A pool that failed is replaced, and the question tried once more on the new one; a second
        # failure is a real outage.
        failure: BaseException | None = None
        for _ in range(2):
            seconds = turn.deadline - time.monotonic()
            if seconds <= 0 and failure is None:
                raise self._out_of_time(turn)
            if seconds <= 0:  # the time went on a pool that failed: the service's fault
                break
            pool = self._get_pool(turn.lane)
            try:
                future = pool.schedule(
                    _in_worker, args=(function, args, self.limits.worker_memory_mb), timeout=seconds
                )
            except (RuntimeError, BrokenProcessPool, OSError) as error:
                # pebble's error state ("Unexpected error within the Pool"), or workers that cannot start.
                log.warning("the analysis pool refused work (%s); replacing it", error)
                self._replace_pool(turn.lane, pool)
                failure = error
                continue
            with self._lock:
                self._in_flight[future] = pool
            try:
                return self._result(future, pool, seconds)
            except FutureTimeout:
                if future.done():  # pebble killed the worker at the question's deadline
                    raise self._out_of_time(turn) from None
                # Nothing answered, not even pebble's timeout: the pool is stuck.
                future.cancel()
                self._replace_pool(turn.lane, pool)
                raise AnalysisUnavailable(
                    "The analysis workers stopped answering and are being restarted; nothing was saved. "
                    "Send the question again.",
                    WORKER_LOST_RETRY_SECONDS,
                ) from None
            except ProcessExpired as error:
                raise WorkerLost(
                    f"The worker answering this question stopped ({_exit_reason(error.exitcode)}) before it "
                    "finished; nothing was saved. Send the question again: a new worker is starting.",
                    WORKER_LOST_RETRY_SECONDS,
                ) from None
            except BrokenProcessPool as error:
                log.warning("the analysis pool broke (%s); replacing it", error)
                self._replace_pool(turn.lane, pool)
                failure = error
            finally:
                with self._lock:
                    self._in_flight.pop(future, None)
        raise AnalysisUnavailable(
            "The analysis workers failed and cannot start again yet; nothing was saved. Please try again "
            "later."
        ) from failure

    @staticmethod
    def _result(future: Future, pool: ProcessPool, seconds: float):
        """The future's result, watching the pool meanwhile: BrokenProcessPool when the pool broke
        without telling the future (pebble drops a task it had not handed out when it breaks) or no
        worker takes the task; FutureTimeout, not done, when nothing at all happens for far too long."""
        now = time.monotonic()
        start_by = now + min(START_GRACE_SECONDS, seconds)
        give_up_at = now + seconds + STALL_GRACE_SECONDS
        while True:
            try:
                return future.result(timeout=WATCH_SECONDS)
            except FutureTimeout:
                if future.done():
                    raise
                now = time.monotonic()
                if not pool.active:
                    raise BrokenProcessPool("the pool broke with this question in it") from None
                if not future.running() and now > start_by:
                    raise BrokenProcessPool("no worker took the question") from None
                if now > give_up_at:
                    raise

    def _out_of_time(self, turn: Turn) -> AnalysisUnavailable | TooExpensive:
        limit = turn.deadline - turn.arrived
        waited = (turn.started or turn.arrived) - turn.arrived
        if waited < limit * FAIR_WAIT_SHARE:
            return TooExpensive(f"answering this took longer than {limit:g} seconds", "expression")
        return AnalysisBusy(
            f"This question waited {waited:.1f} seconds for a free worker and then ran out of its "
            f"{limit:g} seconds; the tutor is busy, so send it again in a little while.",
            math.ceil(waited),
        )

    def close(self) -> None:
        for lane in self.admission.lanes:
            self._replace_pool(lane)

    def _get_pool(self, lane: str) -> ProcessPool:
        with self._lock:
            # Pools do not survive fork (gunicorn forks workers): each process makes its own.
            if self._pid != os.getpid():
                self._pools, self._pid, self._in_flight = {}, os.getpid(), {}
            pool = self._pools.get(lane)
            if pool is not None and pool.active:
                return pool
        # Gone to an error state (see pebble's "All workers expired"), or never made.
        self._replace_pool(lane, pool)
        with self._lock:
            if lane not in self._pools:
                self._pools[lane] = self._new_pool(lane)
            return self._pools[lane]

    def _new_pool(self, lane: str) -> ProcessPool:
        context = multiprocessing.get_context(self.context)
        if self.context == "forkserver":
            # The fork server imports the engine and answers the warm-up question once; every worker
            # then starts warm. A fork server that died is started again by multiprocessing when the
            # next worker is made.
            context.set_forkserver_preload(
                ["tutor.engine", "tutor.sandbox", "tutor.mathml", "tutor.plots", "tutor.sandbox_warmup"]
            )
        # Lower priority for the shared lane only when a small lane is there to come first.
        lanes = self.admission.lanes
        niceness = SHARED_NICENESS if lane == SHARED_LANE and SMALL_LANE in lanes else 0
        return ProcessPool(
            max_workers=lanes[lane],
            initializer=_start_worker,
            initargs=(self.limits.worker_memory_mb, niceness),
            context=context,
        )

    def _replace_pool(self, lane: str, broken: ProcessPool | None = None) -> None:
        """Stops the lane's pool, or only ``broken`` if it is still the lane's pool (another thread may
        have replaced it already). Questions still waiting on it are told the pool broke, so that each
        tries once more on the new one."""
        with self._lock:
            if self._pid != os.getpid():
                return
            pool = self._pools.get(lane)
            if pool is None or (broken is not None and broken is not pool):
                return
            del self._pools[lane]
            orphans = [future for future, owner in self._in_flight.items() if owner is pool]
        for future in orphans:
            if not future.done():
                try:
                    future.set_exception(BrokenProcessPool("the analysis pool was replaced"))
                except InvalidStateError:
                    pass  # it finished meanwhile
        pool.stop()
        pool.join()


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"
