"""Plots of saved cases: each drawn once, in the analysis workers, stored with its case in the database
and from then on served by every process and every instance.

A case never changes (a re-run makes a new one), so a drawn plot is final. Drawing takes a worker for
up to the question time limit, so it must happen once per case and plot however many requests ask at
the same moment: threads of one process queue on a lock per plot, and processes on the plot's row,
which the one drawing holds with a lease (``drawing_until``). The others wait for the PNG; if the
drawing process dies, its lease runs out and the next one to ask draws it. A plot that cannot be drawn
within the limits keeps the reason, and every later request gets it at once.

``tutor worker`` draws the plots of new cases before anyone asks (``prerender_due``), through the same
rows, so it never draws a plot a web process is drawing, and two workers never draw the same one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError

from tutor import plots
from tutor.config import Limits
from tutor.engine import InputError, TooExpensive
from tutor.persistence.models import Case
from tutor.persistence.shared import StoredPlot
from tutor.services.cases import CaseNotFound, CaseService

log = logging.getLogger(__name__)

# New cases whose plots a worker draws ahead; older ones are drawn when first asked for.
PRERENDER_WINDOW = timedelta(minutes=10)
# How often a process that waits for another's drawing looks again (doubling up to the maximum).
FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 0.5


class PlotService:
    def __init__(
        self, cases: CaseService, analyzer, limits: Limits, *, lease_seconds: float = 120.0, clock=None
    ):
        self.cases = cases
        self.database = cases.database
        self.analyzer = analyzer
        self.limits = limits
        self.lease = timedelta(seconds=lease_seconds)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._guard = threading.Lock()
        self._turns: dict[tuple[str, str], list] = {}  # (case id, name): [lock, threads using it]
        self._seen: dict[str, datetime] = {}  # cases this worker has prerendered, and when

    def stored(self, case_id: str, name: str) -> bytes | None:
        """The plot's PNG if it has been drawn; None otherwise (also for a case or plot that does not
        exist: ``png`` tells them apart)."""
        with self.database.session() as session:
            return session.scalar(
                select(StoredPlot.png).where(StoredPlot.case_id == case_id, StoredPlot.name == name)
            )

    def png(self, case: dict, name: str) -> bytes:
        """Plot ``name`` of ``case`` (a case document) as PNG: stored, or drawn now, or waited for while
        another process draws it. TooExpensive if it cannot be drawn within the limits;
        AnalysisUnavailable if no worker can draw it now (nothing is stored then: the next request
        tries again)."""
        key = (str(case["id"]), name)
        delay = FIRST_POLL_SECONDS
        with self._turn(key):
            while True:
                row = self._row(key)
                if row is not None and row.png is not None:
                    return row.png
                if row is not None and row.error is not None:
                    raise TooExpensive(row.error, "expression")
                lease = self._take(key, row)
                if lease is not None:
                    return self._draw(case, key, lease)
                if row is None and self._row(key) is None:
                    # The row could not be made and is not there: the case was deleted meanwhile.
                    raise CaseNotFound(key[0])
                time.sleep(delay)  # another process is drawing it
                delay = min(delay * 2, MAX_POLL_SECONDS)

    def prerender_due(self, cases: int = 1) -> int:
        """Draws the plots of up to ``cases`` new cases that nobody has drawn or is drawing (newest
        first); returns how many plots it drew. One case at a time by default, so that a worker goes
        back to the forum's replies between cases."""
        now = self._clock()
        since = now - PRERENDER_WINDOW
        self._seen = {case_id: at for case_id, at in self._seen.items() if at >= since}
        with self.database.session() as session:
            fresh = list(
                session.scalars(
                    select(Case.id)
                    .where(
                        Case.created_at >= since,
                        ~exists().where(StoredPlot.case_id == Case.id),
                    )
                    .order_by(Case.created_at.desc())
                    .limit(len(self._seen) + cases + 10)
                )
            )
        drawn = done = 0
        for case_id in (case_id for case_id in fresh if case_id not in self._seen):
            self._seen[case_id] = now
            try:
                case = self.cases.get(case_id)
            except CaseNotFound:
                continue
            before = drawn
            for name in plots.available(case):
                key = (case_id, name)
                with self._turn(key):
                    lease = self._take(key, self._row(key))
                    if lease is None:
                        continue  # drawn, or being drawn, elsewhere
                    try:
                        self._draw(case, key, lease)
                    except InputError:
                        pass  # stored with the plot: the page will say so
                    drawn += 1
            done += drawn > before
            if done >= cases:
                break
        return drawn

    def _row(self, key: tuple[str, str]) -> StoredPlot | None:
        with self.database.session() as session:
            return session.get(StoredPlot, key)

    def _take(self, key: tuple[str, str], row: StoredPlot | None) -> datetime | None:
        """Claims the drawing of plot ``key``: the lease's end if this process is to draw it, else None."""
        now = self._clock()
        lease = now + self.lease
        if row is None:
            try:
                with self.database.session(write=True) as session:
                    session.add(StoredPlot(case_id=key[0], name=key[1], drawing_until=lease))
            except IntegrityError:
                return None  # another process made the row first (or the case is gone)
            return lease
        if row.png is not None or row.error is not None or (row.drawing_until and row.drawing_until > now):
            return None
        # The process that was drawing it is gone (its lease ran out): take it over, unless another
        # process got there first.
        with self.database.session(write=True) as session:
            taken = session.execute(
                update(StoredPlot)
                .where(
                    StoredPlot.case_id == key[0],
                    StoredPlot.name == key[1],
                    StoredPlot.png.is_(None),
                    StoredPlot.error.is_(None),
                    StoredPlot.drawing_until.is_(None)
                    if row.drawing_until is None
                    else StoredPlot.drawing_until == row.drawing_until,
                )
                .values(drawing_until=lease)
                .execution_options(synchronize_session=False)
            )
        return lease if taken.rowcount == 1 else None

    def _draw(self, case: dict, key: tuple[str, str], lease: datetime) -> bytes:
        started = time.perf_counter()
        try:
            png = self.analyzer.run(plots.render, case, key[1], self.limits)
        except InputError as error:
            # The same limits would refuse it again: keep the reason instead of drawing it again.
            self._finish(key, error=error.message)
            log.info("plot %s/%s not drawn: %s", *key, error.message)
            raise
        except BaseException:
            self._release(key, lease)  # the next request tries again
            raise
        self._finish(key, png=png)
        log.info("plot %s/%s drawn in %.0f ms", *key, (time.perf_counter() - started) * 1000)
        return png

    def _finish(self, key: tuple[str, str], *, png: bytes | None = None, error: str | None = None) -> None:
        with self.database.session(write=True) as session:
            session.execute(
                update(StoredPlot)
                .where(StoredPlot.case_id == key[0], StoredPlot.name == key[1], StoredPlot.png.is_(None))
                .values(png=png, error=error, drawing_until=None, drawn_at=self._clock())
                .execution_options(synchronize_session=False)
            )

    def _release(self, key: tuple[str, str], lease: datetime) -> None:
        """Gives up a drawing that failed for a passing reason: the next request draws it."""
        try:
            with self.database.session(write=True) as session:
                session.execute(
                    delete(StoredPlot).where(
                        StoredPlot.case_id == key[0],
                        StoredPlot.name == key[1],
                        StoredPlot.png.is_(None),
                        StoredPlot.drawing_until == lease,
                    )
                )
        except Exception:
            log.exception("could not give up the drawing of plot %s/%s; its lease will run out", *key)

    @contextmanager
    def _turn(self, key: tuple[str, str]) -> Iterator[None]:
        """Threads of this process asking for one plot go one at a time: the first draws it (or waits
        for another process), the rest then find it stored."""
        with self._guard:
            entry = self._turns.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._turns[key]
