"""`tutor worker`'s loop in a thread of the test process, for tests of an app built in the process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from tutor.worker import Outbox, Worker


@contextmanager
def outbox_worker(app: Flask, poll_seconds: float = 0.05) -> Iterator[Worker]:
    """A worker that answers and replies to the app's stored forum posts until the block ends."""
    worker = Worker([Outbox(app.extensions["tutor_discourse"].service)], poll_seconds=poll_seconds)
    thread = threading.Thread(target=worker.run, name="test-worker", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(60)
