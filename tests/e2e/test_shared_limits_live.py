"""`tutor serve` with two worker processes keeps one rate-limit count for both, by default: the
documented limit is the limit, not the limit times the number of processes (it counts in the
machine's Redis, under a random key prefix the test deletes afterwards)."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from support.ci import skip_or_fail_in_ci
from support.live_server import LiveServer

from tutor.cli.serve import SHARED_RATE_LIMIT_STORAGE

LIMIT = 12


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(SHARED_RATE_LIMIT_STORAGE, socket_connect_timeout=1).ping()
    except redis.RedisError:
        skip_or_fail_in_ci(f"no Redis at {SHARED_RATE_LIMIT_STORAGE}: tutor serve shares its counters there")
    live = LiveServer(
        tmp_path_factory.mktemp("limits-live"),
        admin_token="admin",
        secret_key="live",
        TUTOR_RATE_LIMIT=f"{LIMIT} per hour",
    )
    with live.tutor_serve("--workers", "2", probe="/healthz"):
        yield live


def pids(log: str, path: str) -> set[str]:
    return set(re.findall(rf'"GET {re.escape(path)} HTTP/1.1" \d+ .* <(\d+)> ', log))


def test_two_processes_count_one_limit(server):
    # Until both processes answer (each starts its analysis workers before it takes requests).
    deadline = time.monotonic() + 120
    with ThreadPoolExecutor(8) as pool:
        while len(pids(server.log.read_text(), "/healthz")) < 2:
            assert time.monotonic() < deadline, "the second process never answered"
            list(
                pool.map(
                    lambda _: requests.get(
                        f"{server.url}/healthz", headers={"Connection": "close"}, timeout=30
                    ),
                    range(8),
                )
            )

    def get(_):
        # A new connection each time, so gunicorn hands them to either process.
        return requests.get(
            f"{server.url}/openapi.json", headers={"Connection": "close"}, timeout=30
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(get, range(3 * LIMIT)))

    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == 2 * LIMIT
    log = server.log.read_text()
    assert "rate-limit counters in redis://" in log
    assert len(pids(log, "/openapi.json")) == 2, "one process answered every request"
