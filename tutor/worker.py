"""The background jobs of ``tutor worker``: replies to the forum (the outbox) and drawing the plots of
new cases before anyone asks for them.

Web processes (``tutor serve``) answer requests and nothing else; everything that happens later runs
here, in a process of its own. Any number of workers may run at once, on any number of machines
sharing the database: every piece of work is claimed with a lease on its row before it is done
(tutor.services.discourse, tutor.services.plots), so each is done once, and a worker that dies leaves
its leases to run out for another to take over.

A worker looks for work every TUTOR_WORKER_POLL_SECONDS (1 s by default; an indexed query), sooner
when a job knows when its next piece of work falls due (a retry).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from tutor.config import Settings
from tutor.persistence.database import Database
from tutor.sandbox import Analyzer
from tutor.services.cases import CaseService
from tutor.services.discourse import DiscourseService
from tutor.services.plots import PlotService

log = logging.getLogger(__name__)

# Pieces of work a job does before the worker turns to the next job (the plots: one case's).
BATCH = 10
# The shortest wait between rounds, so a job whose work is due "now" cannot make the loop spin.
MIN_WAIT_SECONDS = 0.05


class Job(Protocol):
    name: str

    def run_due(self, limit: int) -> int:
        """Does up to ``limit`` pieces of work that are due; returns how many it did (or tried)."""

    def next_due(self) -> datetime | None:
        """When the next piece of work falls due, if the job knows."""


@dataclass
class Outbox:
    """Answers stored forum posts and sends the replies."""

    service: DiscourseService
    name: str = "discourse outbox"

    def run_due(self, limit: int) -> int:
        summary = self.service.run_due(limit=limit)
        return summary.answered + summary.sent + len(summary.failures)

    def next_due(self) -> datetime | None:
        return self.service.next_due()


@dataclass
class PlotPrerendering:
    """Draws the plots of new cases, so the page's images are there when the learner arrives."""

    plots: PlotService
    name: str = "plot pre-rendering"

    def run_due(self, limit: int) -> int:
        return self.plots.prerender_due(cases=1)  # one case's plots, then the outbox again

    def next_due(self) -> datetime | None:
        return None  # new cases are found by looking


class Worker:
    """Runs its jobs in rounds until ``stop``; a job that fails (the database is down) is logged and
    tried again next round."""

    def __init__(
        self,
        jobs: list[Job],
        *,
        poll_seconds: float = 1.0,
        on_close: Callable[[], None] | None = None,
        heartbeat: Path | None = None,
    ):
        self.jobs = jobs
        self.poll_seconds = poll_seconds
        self._on_close = on_close
        # Touched after every batch of work and every idle wait: a health check reads its age.
        self.heartbeat = heartbeat
        self._stopping = threading.Event()

    def run(self) -> None:
        log.info("worker started: %s", ", ".join(job.name for job in self.jobs))
        while not self._stopping.is_set():
            if self.run_once() == 0:
                self._stopping.wait(self._idle_seconds())
            self._beat()
        log.info("worker stopped")

    def run_once(self) -> int:
        """Rounds of one batch per job, the outbox first, until no job has anything due (or the worker
        is asked to stop): a long job (drawing plots) never keeps forum replies waiting for more than
        one batch of it."""
        done = 0
        while not self._stopping.is_set():
            round_done = 0
            for job in self.jobs:
                if self._stopping.is_set():
                    break
                try:
                    round_done += job.run_due(BATCH)
                except Exception:
                    log.exception("%s: the round failed; trying again in the next one", job.name)
                self._beat()
            done += round_done
            if round_done == 0:
                break
        return done

    def stop(self) -> None:
        """Asks the worker to stop after the piece of work it is doing."""
        self._stopping.set()

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()

    def _beat(self) -> None:
        if self.heartbeat is not None:
            try:
                self.heartbeat.touch()
            except OSError:
                log.warning("cannot touch the heartbeat file %s", self.heartbeat, exc_info=True)

    def _idle_seconds(self) -> float:
        wait = self.poll_seconds
        now = datetime.now(UTC)
        for job in self.jobs:
            try:
                due = job.next_due()
            except Exception:
                log.debug("%s: next_due failed", job.name, exc_info=True)  # run_due logs the cause
                continue
            if due is not None:
                wait = min(wait, (due - now).total_seconds())
        return max(wait, MIN_WAIT_SECONDS)


def build_worker(settings: Settings, database: Database, heartbeat: Path | None = None) -> Worker:
    """The worker ``tutor worker`` runs: both jobs, on ``database``, with its own analysis workers
    (started now, so the first job does not wait for them)."""
    analyzer = Analyzer(settings.limits, workers=settings.analysis_workers)
    analyzer.start()
    cases = CaseService(database, analyzer)
    plots = PlotService(cases, analyzer, settings.limits, lease_seconds=settings.job_lease_seconds)
    jobs: list[Job] = [Outbox(DiscourseService.from_settings(settings, cases)), PlotPrerendering(plots)]
    return Worker(
        jobs, poll_seconds=settings.worker_poll_seconds, on_close=analyzer.close, heartbeat=heartbeat
    )
