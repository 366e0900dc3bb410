"""The analysis workers as tests see them: their process ids, their CPU time, questions that wait at a
gate the test opens, and an app whose workers are forked from the test process (so they see what the
test patched)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from flask import Flask

from tutor import engine, sandbox
from tutor.sandbox import Analyzer

# Questions with this many steps wait at the gate (see answer_after_gate); every other is answered.
GATED_STEPS = 7
_gate: Path | None = None
# How long a test waits for a state it expects (never part of an assertion): generous, for slow CI.
PATIENCE_SECONDS = 120


def set_gate(folder: Path | None) -> None:
    """Gated questions wait until ``folder/open`` exists. Set before the workers fork."""
    global _gate
    _gate = folder


def open_gate() -> None:
    assert _gate is not None
    (_gate / "open").touch()


def answer_after_gate(question, limits=None):
    """``tutor.engine.answer``; a question of GATED_STEPS steps first waits until the gate is open."""
    if question.steps == GATED_STEPS and _gate is not None:
        (_gate / f"started-{os.getpid()}").touch()
        while not (_gate / "open").exists():
            time.sleep(0.01)
    return engine.answer(question, limits)


def with_forked_workers(app: Flask, monkeypatch) -> Analyzer:
    """Gives ``app`` an analyzer like its own whose workers fork from this process and answer through
    ``answer_after_gate``; the app's own is closed."""
    services = app.extensions["tutor"]
    old = services.analyzer
    new = Analyzer(
        old.limits,
        workers=old.workers,
        context="fork",
        queue=old.admission.queue,
        queue_per_client=old.admission.per_client,
    )
    monkeypatch.setattr(sandbox, "answer", answer_after_gate)
    services.analyzer = services.cases.analyzer = new
    old.close()
    new.start()
    return new


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"waited {PATIENCE_SECONDS} s for {what}"
        time.sleep(0.02)


def worker_pids(analyzer: Analyzer) -> set[int]:
    """The pids of the workers, asked of the workers themselves until every one has answered."""
    pids: set[int] = set()

    def every_one_answered() -> bool:
        # Asked as a small question it goes to the small lane's worker; as a large one, to the others.
        pids.add(analyzer.run(os.getpid, small=True, capped=True))
        pids.add(analyzer.run(os.getpid, capped=True))
        return len(pids) == analyzer.workers

    wait_until(every_one_answered, "every worker to answer")
    return pids


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        # Reaped before or while its stat was read (the read of a vanishing process fails with ESRCH).
        return True
    return state in ("Z", "X")


def kill(pid: int) -> None:
    """SIGKILL, as the OOM killer or an operator would, and wait until the process is gone."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # gone already (workers end with the fork server they came from)
    wait_until(lambda: gone(pid), f"process {pid} to die")
