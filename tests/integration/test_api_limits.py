"""Rate limits on the API: per token and per address, answered with 429, Retry-After and problem+json.

Run with in-memory counters, and with Redis (counters shared by every server process) when a Redis
server answers at TUTOR_TEST_REDIS_URL (default redis://127.0.0.1:6379/15).
"""

from __future__ import annotations

import os
import secrets

import pytest
from support.apps import app_for, migrated_sqlite

from tutor.config import Settings

REDIS_URL = os.environ.get("TUTOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BAD_QUESTION = {"expression": "x", "point": {"x": 1}, "learning_rate": -1}  # refused at once: a 422


def redis_or_skip() -> str:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis server at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture(params=["memory", "redis"])
def app(request, tmp_path):
    storage = "memory://" if request.param == "memory" else redis_or_skip()
    settings = Settings(
        database_url=migrated_sqlite(tmp_path),
        secret_key="test",
        admin_token="admin",
        rate_limit="3 per minute",
        rate_limit_storage_url=storage,
    )
    # Each test counts from zero, also in a Redis that outlives it.
    prefix = f"test-{secrets.token_hex(4)}"
    with app_for(settings, tmp_path / "instance", TESTING=True, RATELIMIT_KEY_PREFIX=prefix) as app:
        yield app


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def post(client, token: str):
    return client.post("/api/v1/cases", json=BAD_QUESTION, headers={"Authorization": f"Bearer {token}"})


def assert_rate_limited(response, what: str) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert what in response.json["detail"]
    assert response.headers["Retry-After"]


def test_one_token_is_limited_across_addresses(app):
    token = app.extensions["tutor_api"].tokens.create("busy-bot")
    for number in range(3):
        assert post(from_address(app, f"10.0.0.{number}"), token).status_code == 422

    assert_rate_limited(post(from_address(app, "10.0.0.9"), token), "this token")

    other = app.extensions["tutor_api"].tokens.create("quiet-bot")
    assert post(from_address(app, "10.0.1.1"), other).status_code == 422


def test_one_address_is_limited_whatever_tokens_it_makes_up(app):
    client = from_address(app, "10.0.2.1")
    for number in range(3):
        assert post(client, f"tt_made-up-{number}").status_code == 401

    assert_rate_limited(post(client, "tt_made-up-again"), "this address")
    assert post(from_address(app, "10.0.2.2"), "tt_made-up-again").status_code == 401


def test_reading_a_case_is_limited_per_address_too(app):
    client = from_address(app, "10.0.3.1")
    for _ in range(3):
        assert client.get("/api/v1/cases/none").status_code == 404

    assert_rate_limited(client.get("/api/v1/cases/none"), "Too many requests")
