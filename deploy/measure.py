"""Throughput of one web instance against two, behind nginx, on this machine (the README's numbers).

    .venv/bin/python deploy/measure.py [--clients 8] [--seconds 20] [--configs 1x2,2x2,1x4]

Starts the topology of deploy/local_topology.py once per configuration (instances x gunicorn processes
per instance) on free ports and a scratch PostgreSQL database (created and dropped here). 1x4 has as
many processes as 2x2 on one instance: it tells what the second instance adds beyond more processes. Clients (threads, one kept-alive connection and one API token each: bots of their own) go through nginx for
``--seconds`` after a warm-up, in two workloads: ``ask`` posts a question through the API (analysis in
the workers, the case saved in PostgreSQL), ``read`` gets a saved case through the API. Rate limits are
lifted for the run. Prints requests/s, p50 and p99 per configuration and workload.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from local_topology import DEFAULT_REDIS_URL, Topology, delete_rate_limit_keys, free_port

ADMIN = "measure-admin-token"
QUESTION = {
    "expression": "(sigmoid(w0*x0 + w1*x1 + b) - 1)**2",
    "point": {"w0": 0.5, "w1": -0.3, "b": 0.1, "x0": 1, "x1": 2},
    "fixed": ["x0", "x1"],
    "learning_rate": 0.5,
    "steps": 20,
}
HEADERS = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
TUTOR = str(Path(sys.executable).with_name("tutor"))


def bot_tokens(database_url: str, count: int) -> list[str]:
    """An API token per client: each client is a bot of its own, as forum bots are. (One token shared
    by every client is one client to the admission, which refuses most of its questions with 503.)"""
    env = dict(os.environ, TUTOR_DATABASE_URL=database_url)
    made = []
    for _ in range(count):
        name = f"measure-{secrets.token_hex(4)}"
        done = subprocess.run(
            [TUTOR, "tokens", "create", name], env=env, check=True, capture_output=True, text=True
        )
        made.append(done.stdout.strip().splitlines()[-1])
    return made


def drive(port: int, tokens: list[str], seconds: float, make_request) -> tuple[float, float, float, int]:
    """A client thread per token, sending ``make_request()`` (method, path, body) for ``seconds``:
    requests/s, p50 and p99 in ms, and how many answers were not 2xx."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(token: str) -> None:
        headers = {**HEADERS, "Authorization": f"Bearer {token}"}
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine: list[float] = []
        bad = 0
        while time.monotonic() < deadline:
            method, path, body = make_request()
            started = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                answer = connection.getresponse()
                answer.read()
                ok = 200 <= answer.status < 300
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                ok = False
            mine.append(time.perf_counter() - started)
            bad += not ok
        connection.close()
        with lock:
            latencies.extend(mine)
            failures[0] += bad

    threads = [threading.Thread(target=client, args=(token,)) for token in tokens]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    cuts = statistics.quantiles(latencies, n=100)
    return len(latencies) / elapsed, cuts[49] * 1000, cuts[98] * 1000, failures[0]


def measure(instances: int, processes: int, tokens: list[str], seconds: float, database_url: str) -> dict:
    prefix = f"measure-{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix="tutor-measure-") as root:
        topology = Topology(
            root=Path(root),
            database_url=database_url,
            port=free_port(),
            web_ports=[free_port() for _ in range(instances)],
            processes_per_instance=processes,
            workers=0,
            env={
                "TUTOR_ADMIN_TOKEN": ADMIN,
                "TUTOR_RATE_LIMIT": "1000000 per minute",
                "TUTOR_RATE_LIMIT_KEY_PREFIX": prefix,
            },
        )
        topology.start()
        try:
            body = json.dumps(QUESTION).encode()
            ask = lambda: ("POST", "/api/v1/cases", body)  # noqa: E731
            connection = http.client.HTTPConnection("127.0.0.1", topology.port, timeout=60)
            connection.request("POST", "/api/v1/cases", body=body, headers=HEADERS)
            case_id = json.loads(connection.getresponse().read())["id"]
            connection.close()
            read = lambda: ("GET", f"/api/v1/cases/{case_id}", None)  # noqa: E731
            results = {}
            for name, workload in (("ask", ask), ("read", read)):
                drive(topology.port, tokens, 3, workload)  # warm-up: every process, every cache
                results[name] = drive(topology.port, tokens, seconds, workload)
            return results
        finally:
            topology.stop()
            delete_rate_limit_keys(DEFAULT_REDIS_URL, prefix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--configs", default="1x2,2x2,1x4", help="instances x processes per instance, ...")
    parser.add_argument("--base-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    arguments = parser.parse_args()

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"tutor_measure_{secrets.token_hex(4)}"
    admin = create_engine(arguments.base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database_url = make_url(arguments.base_url).set(database=name).render_as_string(hide_password=False)
    try:
        subprocess.run(
            [TUTOR, "db", "upgrade"],
            env=dict(os.environ, TUTOR_DATABASE_URL=database_url),
            check=True,
            capture_output=True,
        )
        tokens = bot_tokens(database_url, arguments.clients)
        print(f"{arguments.clients} clients through nginx, {arguments.seconds:g} s per workload")
        print("| instances × processes | workload | requests/s | p50 ms | p99 ms | not 2xx |")
        print("|---|---|---|---|---|---|")
        for config in arguments.configs.split(","):
            instances, processes = (int(part) for part in config.split("x"))
            results = measure(instances, processes, tokens, arguments.seconds, database_url)
            for workload, (rate, p50, p99, bad) in results.items():
                row = (
                    f"| {instances} × {processes} | {workload} | {rate:.1f} | {p50:.0f} | {p99:.0f} | {bad} |"
                )
                print(row, flush=True)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
