"""What the topology tests (tests/topology/) share: deploy/local_topology.py on the import path, the
settings they start it with, and requests from loopback addresses of their own."""

from __future__ import annotations

import http.client
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from support.ci import skip_or_fail_in_ci

REPOSITORY = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPOSITORY / "deploy"))

from local_topology import (  # noqa: E402,F401
    NGINX,
    Topology,
    delete_rate_limit_keys,
    free_port,
    spawn,
    stop_group,
    write_nginx_config,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
ADMIN_TOKEN = "topology-admin-token"
WEBHOOK_SECRET = "topology-webhook-secret"
RATE_LIMIT = 30  # per hour and client address: the test's windows never end while it runs
LEASE_SECONDS = 20


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def text(self) -> str:
        return self.body.decode(errors="replace")


def some_address() -> str:
    """A loopback address of its own (all of 127.0.0.0/8 is this machine): each client the test plays
    has its own rate-limit allowance, as different people behind nginx do."""
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def request(
    url: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    source: str | None = None,
    timeout: float = 120,
) -> Response:
    """One request on a new connection from ``source`` (a fresh loopback address unless given)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=timeout, source_address=(source or some_address(), 0)
    )
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path or "/", body=body, headers=headers or {})
        answer = connection.getresponse()
        return Response(answer.status, answer.headers, answer.read())
    finally:
        connection.close()


def need(condition: bool, reason: str) -> None:
    if not condition:
        skip_or_fail_in_ci(reason, ci_reason=f"CI=true: {reason}; the topology tests must run in CI")


def owner_of_connection(pids: list[int], local_port: int) -> int | None:
    """Which of ``pids`` holds the TCP connection from 127.0.0.1:``local_port`` (from /proc: the
    connection's socket inode, then the processes' open sockets)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == local_port:
                    inodes.add(fields[9])
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:  # the process has ended (ENOENT, or ESRCH while it was being reaped)
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return pid
    return None
