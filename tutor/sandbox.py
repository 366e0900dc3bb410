"""Hard limits on the work one question may cause.

SymPy can run for hours on hostile input and is not thread-safe, so every analysis runs in a worker
process (a pebble pool) with a time limit and an address-space limit. A worker that runs over its time
is killed and replaced; one that runs out of memory fails inside itself. Either way the caller gets a
``TooExpensive`` error in seconds and the service goes on answering others.

Why pebble: it kills a single timed-out task's process and restarts it, which
``concurrent.futures.ProcessPoolExecutor`` cannot do (a stuck task there blocks its worker forever).
Workers are kept between questions, so the compiled-function cache in each stays warm.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import threading
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from pebble import ProcessExpired, ProcessPool

from tutor.config import Limits
from tutor.engine import Question, TooExpensive, answer

log = logging.getLogger(__name__)
T = TypeVar("T")

# Answered once by each new pool, so that SymPy's and NumPy's first-use costs are paid before a
# learner's question arrives.
WARM_UP = Question(expression="(x+y)*z", point={"x": -2, "y": 5, "z": -4}, learning_rate=0.01)


def _limit_worker(memory_mb: int) -> None:
    # One BLAS thread per worker: the machine's cores are for concurrent questions, not one matrix.
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _in_worker(function: Callable[..., T], args: tuple, memory_mb: int) -> T:
    try:
        return function(*args)
    except (MemoryError, SystemError):
        # Under the address-space limit, C extensions that fail to allocate sometimes return an
        # error without setting MemoryError, which Python reports as SystemError.
        raise TooExpensive(f"answering this needs more than {memory_mb} MB of memory", "expression") from None
    except RecursionError:
        raise TooExpensive("the expression is too deeply nested to differentiate", "expression") from None


class AnalysisUnavailable(RuntimeError):
    """No worker process can run: the service's fault, not the question's."""


class Analyzer:
    """Answers questions, and does any other SymPy work (a saved case's MathML, its plots), in worker
    processes under the time and memory limits. One per process; safe to share between threads."""

    def __init__(self, limits: Limits | None = None, workers: int = 1, context: str = "forkserver"):
        self.limits = limits or Limits()
        self.workers = workers
        self.context = context
        self._pool: ProcessPool | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def _get_pool(self) -> ProcessPool:
        with self._lock:
            # A pool does not survive fork (gunicorn forks workers): each process makes its own.
            if self._pool is None or self._pid != os.getpid():
                context = multiprocessing.get_context(self.context)
                if self.context == "forkserver":
                    # The fork server imports the engine once; every worker then starts warm.
                    context.set_forkserver_preload(
                        ["tutor.engine", "tutor.sandbox", "tutor.mathml", "tutor.plots"]
                    )
                self._pool = ProcessPool(
                    max_workers=self.workers,
                    initializer=_limit_worker,
                    initargs=(self.limits.worker_memory_mb,),
                    context=context,
                )
                self._pid = os.getpid()
            return self._pool

    def start(self) -> None:
        """Starts the workers now rather than on the first question.

        Starting a pool (the fork server, its imports, SymPy's first differentiation) takes about a
        second; a server calls this before it accepts requests, so no learner waits for it. A pool
        that cannot start now is left to the first question, which reports it."""
        try:
            self._run_once(answer, (WARM_UP, self.limits))
        except Exception:
            log.exception("the analysis workers did not start; the first question will try again")
            self._discard_pool()

    def answer(self, question: Question) -> dict:
        return self.run(answer, question, self.limits)

    def run(self, function: Callable[..., T], *args: object) -> T:
        """``function(*args)`` in a worker: TooExpensive past the time or memory limit,
        AnalysisUnavailable when no worker can start. ``function`` must be importable by name."""
        try:
            return self._run_once(function, args)
        except BrokenProcessPool:
            # The pool could not keep workers alive (a fork server that died, workers failing to
            # start): discard it and try once on a fresh one; a second failure is a real outage.
            self._discard_pool()
            try:
                return self._run_once(function, args)
            except BrokenProcessPool as error:
                self._discard_pool()
                raise AnalysisUnavailable("the analysis workers cannot start") from error

    def _run_once(self, function: Callable[..., T], args: tuple) -> T:
        seconds = self.limits.seconds_per_question
        future = self._get_pool().schedule(
            _in_worker, args=(function, args, self.limits.worker_memory_mb), timeout=seconds
        )
        try:
            return future.result()
        except FutureTimeout:
            raise TooExpensive(f"answering this took longer than {seconds:g} seconds", "expression") from None
        except ProcessExpired:
            raise TooExpensive("the worker answering this ran out of resources", "expression") from None

    def close(self) -> None:
        self._discard_pool()

    def _discard_pool(self) -> None:
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.stop()
                self._pool.join()
            self._pool = None
