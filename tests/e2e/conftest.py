"""A live server in its own process and Debian's headless Chromium driven by Playwright.

The server is a real ``flask run`` (tests/support/live_server.py) on 127.0.0.1 and a free port, with
its own SQLite database and instance folder in a temporary directory, migrated before it starts, and
stopped by its own pid.
Without /usr/bin/chromium the browser tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.ci import skip_or_fail_in_ci
from support.live_server import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
ADMIN_TOKEN = "e2e-admin-token"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> str:
    server = LiveServer(tmp_path_factory.mktemp("live"), admin_token=ADMIN_TOKEN, secret_key="e2e-secret-key")
    with server.flask_run(probe="/"):
        yield server.url


@pytest.fixture(scope="session")
def admin_token() -> str:
    return ADMIN_TOKEN


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        skip_or_fail_in_ci(f"{CHROMIUM} is missing (apt-get install chromium)")
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
