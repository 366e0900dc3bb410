"""A real server in its own process for the end-to-end tests.

On 127.0.0.1 and a free port, with its own instance folder and SQLite database in a temporary
directory, migrated by ``tutor db upgrade`` before it starts, waited for until it answers, and stopped
by its own process group (the server, its workers and their analysis processes, nothing else).
``tutor serve`` with more than one process counts rate limits in the machine's Redis: under a random
key prefix, whose keys are deleted when the server stops.
"""

from __future__ import annotations

import http.client
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

# The same start and stop as the production topology's (deploy/local_topology.py).
from support.topology import delete_rate_limit_keys, free_port, spawn, stop_group

TUTOR = [sys.executable, "-c", "from tutor.cli import main; main()"]
STARTUP_SECONDS = 60


class LiveServer:
    """One server's folder, port and environment; ``tutor(...)`` runs the command line against its
    database, ``flask_run()`` and ``tutor_serve(...)`` start it."""

    def __init__(self, root: Path, *, admin_token: str, secret_key: str, **env: str):
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / "server.log"
        self.env = {
            **os.environ,
            "TUTOR_DATABASE_URL": f"sqlite:///{root / 'tutor.sqlite3'}",
            "TUTOR_INSTANCE_PATH": str(root / "instance"),
            "TUTOR_ADMIN_TOKEN": admin_token,
            "TUTOR_SECRET_KEY": secret_key,
            "TUTOR_PUBLIC_URL": self.url,
            # The tests ask more questions in a minute than a learner would.
            "TUTOR_RATE_LIMIT": "1000 per minute",
            "TUTOR_RATE_LIMIT_KEY_PREFIX": f"test-live-{secrets.token_hex(6)}",
            **env,
        }
        self.tutor("db", "upgrade")

    def tutor(self, *args: str) -> str:
        """``tutor ARGS`` with the server's environment; its standard output."""
        done = subprocess.run([*TUTOR, *args], env=self.env, check=True, capture_output=True)
        return done.stdout.decode()

    def flask_run(self, probe: str = "/") -> AbstractContextManager[subprocess.Popen]:
        """Flask's development server, one process."""
        command = [sys.executable, "-m", "flask", "--app", "tutor.web:create_app()", "run"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--no-reload", "--no-debugger"]
        return self.running(command, probe)

    def tutor_serve(self, *args: str, probe: str = "/") -> AbstractContextManager[subprocess.Popen]:
        """``tutor serve`` (gunicorn) with ``args``."""
        return self.running([*TUTOR, "serve", "--host", "127.0.0.1", "--port", str(self.port), *args], probe)

    @contextmanager
    def tutor_worker(self) -> Iterator[subprocess.Popen]:
        """``tutor worker`` beside the server (the forum's replies, plots of new cases)."""
        process = spawn([*TUTOR, "worker"], self.env, self.root / "worker.log")
        try:
            yield process
        finally:
            stop_group(process)

    @contextmanager
    def running(self, command: list[str], probe: str) -> Iterator[subprocess.Popen]:
        self.log.unlink(missing_ok=True)
        process = spawn(command, self.env, self.log)
        try:
            self.wait_until_up(self.url + probe, process)
            yield process
        finally:
            stop_group(process)
            delete_rate_limit_keys("redis://127.0.0.1:6379/0", self.env["TUTOR_RATE_LIMIT_KEY_PREFIX"])

    def wait_until_up(self, url: str, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            # Refused, or accepted before a worker is up.
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {STARTUP_SECONDS} s:\n{self.log.read_text()}")
