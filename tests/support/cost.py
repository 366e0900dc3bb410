"""Work counted, not timed: how many function calls (Python and C) a piece of code makes.

The same code on the same input makes the same calls on a fast machine and on a slow, busy one, so a
bound on them is a test that cannot fail for want of speed (a wall-clock bound can)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Calls:
    count: int = 0


@contextmanager
def counting_calls() -> Iterator[Calls]:
    """Counts the calls made in the block (in this thread)."""
    calls = Calls()

    def profile(_frame, event, _arg) -> None:
        if event in ("call", "c_call"):
            calls.count += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield calls
    finally:
        sys.setprofile(previous)
