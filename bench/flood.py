"""The flood: ten clients send maximum-size questions back to back while one client sends the circuit
``(x+y)*z``; how long the circuit's answers take (p50, p99) and what the flood is told.

``python -m bench.flood [--seconds 60]`` starts ``tutor serve`` (gunicorn, its default processes and
analysis workers) on a temporary SQLite database on loopback, as ``bench.service`` does, and runs two
floods: ten connections of one bot (one client: its share of workers and queue), and ten bots (ten
clients: turns and the heavy clients' lane). The maximum-size question is the product of 50 symbols
the issue measured (99 characters), with as many steps as the limits let it have: at 1000 steps it took
the whole 10 s limit when the numbers came from SymPy; now its answer's size is what bounds it
(``max_recorded_numbers``, 444 steps by default: about 0.2 s of a worker and as much again of a server
process saving it). A flood client refused with 503 tries again after 50 ms, ignoring Retry-After, to
keep the pressure on.
Prints a table and writes bench/results/flood.json; no test asserts a time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import string
import tempfile
import threading
import time
from collections import Counter
from contextlib import nullcontext
from pathlib import Path

from bench.report import table
from bench.service import postgres_database, server, tokens
from tutor.config import Limits
from tutor.engine import Question, TooExpensive, check

RESULTS = Path(__file__).parent / "results" / "flood.json"
FLOOD_CLIENTS = 10
NAMES = (string.ascii_lowercase + string.ascii_uppercase)[:50]


def most_steps(question: dict) -> int:
    """The most steps (up to the limit on steps) with which the engine still takes ``question``."""
    low, high = 1, Limits().max_steps
    while low < high:
        middle = (low + high + 1) // 2
        try:
            check(Question(**{**question, "steps": middle}))
            low = middle
        except TooExpensive:
            high = middle - 1
    return low


MAXIMUM = {"expression": "*".join(NAMES), "point": dict.fromkeys(NAMES, 0.9), "learning_rate": 0.01}
MAXIMUM["steps"] = most_steps(MAXIMUM)
CIRCUIT = {"expression": "(x+y)*z", "point": {"x": -2, "y": 5, "z": -4}, "learning_rate": 0.01}
RETRY_PAUSE = 0.05


def send(connection: http.client.HTTPConnection, token: str, body: dict) -> tuple[int, float]:
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection.request("POST", "/api/v1/cases", json.dumps(body).encode(), headers)
    response = connection.getresponse()
    response.read()
    return response.status, time.perf_counter() - started


def flood(port: int, token: str, stop: threading.Event, statuses: Counter, lock: threading.Lock) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while not stop.is_set():
        status, _ = send(connection, token, MAXIMUM)
        with lock:
            statuses[status] += 1
        if status == 503:
            time.sleep(RETRY_PAUSE)
    connection.close()


def circuit(port: int, token: str, seconds: float) -> tuple[list[float], Counter]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    latencies, statuses = [], Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, elapsed = send(connection, token, CIRCUIT)
        statuses[status] += 1
        if status == 201:
            latencies.append(elapsed)
    connection.close()
    return latencies, statuses


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[int(share * (len(ordered) - 1))]


def run_flood(port: int, flood_tokens: list[str], circuit_token: str, seconds: float) -> dict:
    stop = threading.Event()
    flood_statuses: Counter = Counter()
    lock = threading.Lock()
    threads = [
        threading.Thread(target=flood, args=(port, token, stop, flood_statuses, lock))
        for token in flood_tokens
    ]
    for thread in threads:
        thread.start()
    time.sleep(2)  # the flood is under way before the circuit is timed
    latencies, circuit_statuses = circuit(port, circuit_token, seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return {
        "circuit_answers": len(latencies),
        "circuit_p50_ms": statistics.median(latencies) * 1e3 if latencies else None,
        "circuit_p99_ms": percentile(latencies, 0.99) * 1e3 if latencies else None,
        "circuit_max_ms": max(latencies) * 1e3 if latencies else None,
        "circuit_statuses": dict(circuit_statuses),
        "flood_statuses": dict(flood_statuses),
    }


def run(seconds: float, postgresql: bool = False) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        instance = Path(folder)
        database = (
            postgres_database() if postgresql else nullcontext(f"sqlite:///{instance / 'flood.sqlite3'}")
        )
        with database as database_url, server(database_url, instance) as (port, env):
            one_bot, *many_bots = tokens(env, "flood", *(f"flood-{i}" for i in range(FLOOD_CLIENTS)))
            [circuit_token] = tokens(env, "circuit")
            # Warm the circuit in the workers (its first answer compiles it).
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for _ in range(8):
                send(connection, circuit_token, CIRCUIT)
            connection.close()
            quiet, _ = circuit(port, circuit_token, min(seconds, 10))
            results["no flood"] = {
                "circuit_answers": len(quiet),
                "circuit_p50_ms": statistics.median(quiet) * 1e3,
                "circuit_p99_ms": percentile(quiet, 0.99) * 1e3,
                "circuit_max_ms": max(quiet) * 1e3,
                "circuit_statuses": {"201": len(quiet)},
                "flood_statuses": {},
            }
            results["one bot, 10 connections"] = run_flood(
                port, [one_bot] * FLOOD_CLIENTS, circuit_token, seconds
            )
            time.sleep(12)  # the last flood questions run out their time
            results["10 bots"] = run_flood(port, many_bots, circuit_token, seconds)
    return results


def format_table(results: dict) -> str:
    rows = [
        [
            "flood",
            "circuit answers",
            "p50 ms",
            "p99 ms",
            "max ms",
            "circuit refused",
            "flood: answers / 422 / 503",
        ]
    ]
    for name, r in results.items():
        refused = sum(n for status, n in r["circuit_statuses"].items() if str(status) != "201")
        flood = r["flood_statuses"]
        rows.append(
            [
                name,
                str(r["circuit_answers"]),
                f"{r['circuit_p50_ms']:.1f}",
                f"{r['circuit_p99_ms']:.1f}",
                f"{r['circuit_max_ms']:.1f}",
                str(refused),
                f"{flood.get(201, 0)} / {flood.get(422, 0)} / {flood.get(503, 0)}" if flood else "-",
            ]
        )
    return table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.flood")
    parser.add_argument("--seconds", type=float, default=60, help="how long the circuit is timed per flood")
    parser.add_argument(
        "--postgresql",
        action="store_true",
        help="on a new database of the local PostgreSQL instead of SQLite",
    )
    args = parser.parse_args()
    results = run(args.seconds, args.postgresql)
    print(format_table(results))
    RESULTS.parent.mkdir(exist_ok=True)
    database = "postgresql" if args.postgresql else "sqlite"
    RESULTS.write_text(
        json.dumps(
            {"date": time.strftime("%Y-%m-%d"), "seconds": args.seconds, "database": database, **results},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
