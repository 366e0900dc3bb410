"""The API and the webhook against a real server: `tutor serve` (gunicorn, two worker processes) on
127.0.0.1 and a free port, with its own SQLite database, started and stopped by its own pid."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tutor.discourse import sign

TUTOR = [sys.executable, "-c", "from tutor.cli import main; main()"]
ADMIN_TOKEN = "live-admin-token"
SECRET = "live-webhook-secret"
NORMAL = {"expression": "(x+y)*z", "point": {"x": -2, "y": 5, "z": -4}, "learning_rate": 0.01}


def slow_question() -> dict:
    """Within every static limit but seconds of symbolic work; a new constant each time, so no worker's
    cache of compiled expressions has it."""
    n, constant = 10, secrets.randbelow(10**6) + 2
    terms = "+".join(f"tanh(x{i}*x{(i + 1) % n}+{constant})" for i in range(n))
    product = "*".join(f"x{i}" for i in range(n))
    return {
        "expression": f"({terms})**3*exp({product})",
        "point": {f"x{i}": (i + 1) / 10 for i in range(n)},
        "learning_rate": 0.01,
        "steps": 1000,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Forum:
    """The forum's POST /posts.json, recording the replies."""

    def __init__(self):
        self.replies: list[dict] = []
        forum = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                forum.replies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                body = json.dumps({"id": len(forum.replies)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def forum():
    forum = Forum()
    yield forum
    forum.server.shutdown()
    forum.server.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, forum):
    root: Path = tmp_path_factory.mktemp("api-live")
    port = free_port()
    env = {
        **os.environ,
        "TUTOR_DATABASE_URL": f"sqlite:///{root / 'tutor.sqlite3'}",
        "TUTOR_INSTANCE_PATH": str(root / "instance"),
        "TUTOR_ADMIN_TOKEN": ADMIN_TOKEN,
        "TUTOR_SECRET_KEY": "live-secret-key",
        "TUTOR_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TUTOR_RATE_LIMIT": "1000 per minute",
        "TUTOR_ANALYSIS_WORKERS": "2",
        "TUTOR_LIMIT_SECONDS_PER_QUESTION": "1",
        "TUTOR_DISCOURSE_URL": forum.url,
        "TUTOR_DISCOURSE_API_KEY": "live-api-key",
        "TUTOR_DISCOURSE_SECRET": SECRET,
    }
    subprocess.run([*TUTOR, "db", "upgrade"], env=env, check=True, capture_output=True)
    created = subprocess.run(
        [*TUTOR, "tokens", "create", "live-bot"], env=env, check=True, capture_output=True
    )
    token = created.stdout.decode().strip().splitlines()[-1]
    log = root / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*TUTOR, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                requests.get(url + "/openapi.json", timeout=2)
                break
            except requests.RequestException:  # refused, or accepted before a worker is up
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield {"url": url, "token": token, "pid": process.pid}
    finally:
        # gunicorn's own process group: its workers and their analysis processes, nothing else.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def post(server, body, **headers):
    headers = {"Authorization": f"Bearer {server['token']}", **headers}
    return requests.post(f"{server['url']}/api/v1/cases", json=body, headers=headers, timeout=30)


def test_a_bot_creates_a_case_and_anyone_opens_its_page(server):
    response = post(server, NORMAL)

    assert response.status_code == 201
    case = response.json()
    assert case["source"] == "api:live-bot"
    assert case["url"] == f"{server['url']}/cases/{case['id']}"
    assert requests.get(server["url"] + response.headers["Location"], timeout=10).json()["id"] == case["id"]
    assert requests.get(case["url"], timeout=10).status_code == 200


def test_retries_with_one_key_give_one_case_across_worker_processes(server):
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: post(server, NORMAL, **{"Idempotency-Key": "live-1"}), range(8)))

    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["id"] for response in responses}) == 1


def test_hostile_input_is_a_4xx_in_seconds_and_others_are_answered_meanwhile(server):
    with ThreadPoolExecutor(4) as pool:
        slow = pool.submit(post, server, slow_question())
        hostile = [
            pool.submit(post, server, {**NORMAL, "expression": expression})
            for expression in ("9**9**9", "(x*(" * 50 + "x" + "))" * 50)
        ]
        started = time.monotonic()
        normal = [pool.submit(post, server, NORMAL) for _ in range(6)]
        assert all(future.result().status_code == 201 for future in normal)
        assert time.monotonic() - started < 20
        assert all(future.result().status_code == 422 for future in hostile)
        too_expensive = slow.result()

    assert too_expensive.status_code == 422
    assert too_expensive.headers["Content-Type"] == "application/problem+json"
    assert "longer than 1 seconds" in too_expensive.json()["detail"]
    assert post(server, NORMAL).status_code == 201


def test_bad_requests_are_problems_not_server_errors(server):
    headers = {"Authorization": f"Bearer {server['token']}", "Content-Type": "application/json"}
    url = f"{server['url']}/api/v1/cases"

    malformed = requests.post(url, data="{nope", headers=headers, timeout=10)
    huge = requests.post(url, data=b'{"expression": "' + b"x" * 200_000 + b'"}', headers=headers, timeout=10)
    unauthorized = requests.post(url, json=NORMAL, timeout=10)

    assert (malformed.status_code, huge.status_code, unauthorized.status_code) == (400, 413, 401)
    for response in (malformed, huge, unauthorized):
        assert response.headers["Content-Type"] == "application/problem+json"


def test_a_forum_question_is_answered_by_the_servers_background_thread(server, forum):
    body = json.dumps(
        {
            "post": {
                "id": 9,
                "topic_id": 4,
                "post_number": 2,
                "username": "brent",
                "raw": "@tutorbot f = (x+y)*z at x=-2, y=5, z=-4 lr 0.01",
            }
        }
    ).encode()
    headers = {
        "X-Discourse-Event-Type": "post",
        "X-Discourse-Event": "post_created",
        "X-Discourse-Event-Id": "live-1",
        "X-Discourse-Event-Signature": sign(SECRET, body),
        "Content-Type": "application/json",
    }

    response = requests.post(
        f"{server['url']}/integrations/discourse", data=body, headers=headers, timeout=10
    )

    assert response.status_code == 202
    deadline = time.monotonic() + 20
    while not forum.replies:
        assert time.monotonic() < deadline, "no reply reached the forum"
        time.sleep(0.1)
    assert forum.replies[0]["topic_id"] == 4
    assert f"{server['url']}/cases/" in forum.replies[0]["raw"]
