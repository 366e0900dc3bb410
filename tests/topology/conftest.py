"""The production topology on loopback: Debian's nginx in front of two `tutor serve` instances, `tutor
worker`s, PostgreSQL (a fresh schema of TUTOR_TEST_DATABASE_URL) and the machine's Redis (a random key
prefix, deleted afterwards), started by deploy/local_topology.py as `make prod` starts it, on free
ports, with nginx's prefix, config, pid and logs in a temporary folder, and stopped by their own pids.

Without nginx, PostgreSQL or Redis these tests skip; under CI=true they fail.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from support.forum import FakeForum
from support.topology import (
    ADMIN_TOKEN,
    LEASE_SECONDS,
    NGINX,
    RATE_LIMIT,
    REDIS_URL,
    WEBHOOK_SECRET,
    Topology,
    delete_rate_limit_keys,
    free_port,
    need,
)


@pytest.fixture(scope="session")
def forum() -> Iterator[FakeForum]:
    forum = FakeForum()
    yield forum
    forum.close()


@pytest.fixture(scope="session")
def topology(tmp_path_factory, forum) -> Iterator[Topology]:
    need(
        Path(NGINX).exists() or shutil.which("nginx") is not None, "nginx is missing (apt-get install nginx)"
    )
    base = os.environ.get("TUTOR_TEST_DATABASE_URL")
    need(bool(base), "set TUTOR_TEST_DATABASE_URL (PostgreSQL) to run the topology tests")
    redis = pytest.importorskip("redis")
    store = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        store.ping()
    except redis.RedisError:
        need(False, f"no Redis at {REDIS_URL}")

    schema = f"tutor_topology_{secrets.token_hex(6)}"
    prefix = f"test-topology-{secrets.token_hex(6)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    database_url = (
        make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    topology = Topology(
        root=tmp_path_factory.mktemp("topology"),
        database_url=database_url,
        redis_url=REDIS_URL,
        port=free_port(),
        web_ports=[free_port(), free_port()],
        processes_per_instance=1,
        workers=1,
        env={
            "TUTOR_RATE_LIMIT": f"{RATE_LIMIT} per hour",
            "TUTOR_RATE_LIMIT_KEY_PREFIX": prefix,
            "TUTOR_ADMIN_TOKEN": ADMIN_TOKEN,
            "TUTOR_DISCOURSE_URL": forum.url,
            "TUTOR_DISCOURSE_API_KEY": "topology-forum-key",
            "TUTOR_DISCOURSE_SECRET": WEBHOOK_SECRET,
            "TUTOR_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
            "TUTOR_WORKER_POLL_SECONDS": "0.2",
        },
    )
    try:
        topology.start()
        topology.schema_url = database_url
        yield topology
    finally:
        topology.stop()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
        delete_rate_limit_keys(REDIS_URL, prefix)
