"""The service under load: POST /api/v1/cases to a real `tutor serve` (gunicorn) on loopback.

Client processes (not threads: the client must not share the server's GIL) each keep one HTTP
connection open and send questions back to back; every request is timed. Runs with SQLite and with
PostgreSQL, for a repeated expression (compiled functions cached in the workers) and for new ones
(every request differentiates and compiles afresh). All traffic stays on 127.0.0.1, bounded in count.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from bench.report import table

TUTOR = str(Path(sys.executable).with_name("tutor"))
POSTGRES = os.environ.get("TUTOR_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
# Every load sends this many requests in all, shared between its clients.
REQUESTS = 480
# (label, new expressions?, clients): one client alone is the round trip with no queueing; more
# clients measure throughput, and by Little's law their latency is clients / throughput at best.
LOADS = (
    ("repeated, 1 client", False, 1),
    ("repeated, 4 clients", False, 4),
    ("repeated, 8 clients", False, 8),
    ("new, 8 clients", True, 8),
)

NEURON = {
    "expression": "(sigmoid(w0*x0 + w1*x1 + b) - 1)**2",
    "point": {"w0": 0.5, "w1": -0.3, "b": 0.1, "x0": 1, "x1": 2},
    "learning_rate": 0.5,
    "steps": 100,
    "fixed": ["x0", "x1"],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def body(client: int, request: int, new_expressions: bool) -> bytes:
    question = dict(NEURON)
    if new_expressions:
        # A different constant makes a different canonical expression: nothing cached applies.
        question["expression"] = (
            f"(sigmoid(w0*x0 + w1*x1 + b) - 1)**2 + {client * 1000 + request + 1}/1000000*w0**2"
        )
    return json.dumps(question).encode()


def client(port: int, token: str, index: int, requests: int, new_expressions: bool, results) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies, failures = [], 0
    for request in range(requests):
        started = time.perf_counter()
        connection.request("POST", "/api/v1/cases", body(index, request, new_expressions), headers)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        failures += response.status != 201
    connection.close()
    results.put((latencies, failures))


@contextlib.contextmanager
def server(database_url: str, instance: Path):
    env = dict(
        os.environ,
        TUTOR_DATABASE_URL=database_url,
        TUTOR_INSTANCE_PATH=str(instance),
        TUTOR_SECRET_KEY="bench",
        TUTOR_RATE_LIMIT="1000000 per minute",
        TUTOR_WORKERS="2",
    )
    subprocess.run([TUTOR, "db", "upgrade"], env=env, check=True, capture_output=True)
    port = free_port()
    process = subprocess.Popen(
        [TUTOR, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            time.sleep(0.2)
        yield port, env
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def tokens(env: dict, *names: str) -> list[str]:
    """A new API token for each of ``names``: each bot is a client of its own to the admission."""
    made = []
    for name in names:
        done = subprocess.run(
            [TUTOR, "tokens", "create", name], env=env, check=True, capture_output=True, text=True
        )
        made.append(done.stdout.strip().splitlines()[-1])
    return made


def load(port: int, bots: list[str], new_expressions: bool, clients: int) -> dict:
    # Warm every worker first (imports, the fork server, the compiled neuron).
    for _ in range(8):
        client(port, bots[0], 999, 1, False, _Sink())
    results = multiprocessing.Queue()
    started = time.perf_counter()
    # Each client a bot with its own token, as forum bots are: one token shared by eight clients
    # is one client to the admission, which lets it run on all workers but one and refuses the rest.
    processes = [
        multiprocessing.Process(
            target=client, args=(port, bots[i], i, REQUESTS // clients, new_expressions, results)
        )
        for i in range(clients)
    ]
    for p in processes:
        p.start()
    collected = [results.get(timeout=600) for _ in processes]
    elapsed = time.perf_counter() - started
    for p in processes:
        p.join()
    latencies = sorted(x for lat, _ in collected for x in lat)
    return {
        "requests": len(latencies),
        "failures": sum(f for _, f in collected),
        "clients": clients,
        "requests_per_second": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1e3,
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1e3,
    }


class _Sink:
    def put(self, _):
        pass


@contextlib.contextmanager
def postgres_database():
    name = f"tutor_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def run() -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        instance = Path(folder)
        databases = {"sqlite": contextlib.nullcontext(f"sqlite:///{instance / 'bench.sqlite3'}")}
        databases["postgresql"] = postgres_database()
        for name, database in databases.items():
            with database as url, server(url, instance) as (port, env):
                bots = tokens(env, *(f"bench-{i}" for i in range(max(clients for _, _, clients in LOADS))))
                for label, new, clients in LOADS:
                    results[f"{name}/{label}"] = load(port, bots, new, clients)
    return results


def format_table(results: dict) -> str:
    rows = [["database/load", "clients", "requests", "failures", "req/s", "p50 ms", "p99 ms"]]
    for name, r in results.items():
        rows.append(
            [
                name,
                str(r["clients"]),
                str(r["requests"]),
                str(r["failures"]),
                f"{r['requests_per_second']:.0f}",
                f"{r['p50_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
            ]
        )
    return table(rows)


if __name__ == "__main__":
    print(format_table(run()))
