"""A live server in its own process and Debian's headless Chromium driven by Playwright.

The server is a real ``flask run`` on 127.0.0.1 and a free port, with its own SQLite database and
instance folder in a temporary directory, migrated before it starts, and stopped by its own pid.
Without /usr/bin/chromium the browser tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ADMIN_TOKEN = "e2e-admin-token"
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer within {STARTUP_SECONDS} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> str:
    from tutor.persistence.migrate import upgrade

    root = tmp_path_factory.mktemp("live")
    database_url = f"sqlite:///{root / 'tutor.sqlite3'}"
    upgrade(database_url)
    port = free_port()
    env = {
        **os.environ,
        "TUTOR_DATABASE_URL": database_url,
        "TUTOR_INSTANCE_PATH": str(root / "instance"),
        "TUTOR_ADMIN_TOKEN": ADMIN_TOKEN,
        "TUTOR_SECRET_KEY": "e2e-secret-key",
        "TUTOR_PUBLIC_URL": f"http://127.0.0.1:{port}",
        # The tests ask more questions in a minute than a learner would.
        "TUTOR_RATE_LIMIT": "1000 per minute",
    }
    log = root / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "tutor.web:create_app()", "run"]
            + ["--host", "127.0.0.1", "--port", str(port), "--no-reload", "--no-debugger"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + "/", process, log)
        yield url
    finally:
        # The server's own process group: flask and the analysis workers it started, nothing else.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def admin_token() -> str:
    return ADMIN_TOKEN


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server)
    # Nothing may come from anywhere but the app itself.
    outside: list[str] = []
    context.on(
        "request",
        lambda request: None if request.url.startswith(live_server) else outside.append(request.url),
    )
    page = context.new_page()
    yield page
    context.close()
    assert outside == [], f"requests left the app: {outside}"
