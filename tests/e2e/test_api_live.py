"""The API and the webhook against a real server: `tutor serve` (gunicorn, two worker processes) and
`tutor worker` on 127.0.0.1 and a free port, with their own SQLite database, started and stopped by
their own pids."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from support import calibration
from support.forum import FakeForum
from support.live_server import LiveServer
from support.questions import NORMAL

from tutor.discourse import sign

ADMIN_TOKEN = "live-admin-token"
SECRET = "live-webhook-secret"


@pytest.fixture(scope="module")
def forum():
    forum = FakeForum()
    yield forum
    forum.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, forum):
    live = LiveServer(
        tmp_path_factory.mktemp("api-live"),
        admin_token=ADMIN_TOKEN,
        secret_key="live-secret-key",
        TUTOR_ANALYSIS_WORKERS="2",
        # Room for the concurrent retries below, which one bot sends at once.
        TUTOR_ANALYSIS_QUEUE="8",
        TUTOR_ANALYSIS_QUEUE_PER_CLIENT="8",
        # Calibrated on this machine (support.calibration): no outcome depends on its speed.
        TUTOR_LIMIT_SECONDS_PER_QUESTION=repr(calibration.budget()),
        TUTOR_LIMIT_MAX_WORK_SECONDS=repr(calibration.WORK_ESTIMATE_LIFTED),
        TUTOR_DISCOURSE_URL=forum.url,
        TUTOR_DISCOURSE_API_KEY="live-api-key",
        TUTOR_DISCOURSE_SECRET=SECRET,
    )
    token = live.tutor("tokens", "create", "live-bot").strip().splitlines()[-1]
    names = ("slow", "hostile", *(f"learner-{i}" for i in range(6)))
    others = {name: live.tutor("tokens", "create", name).strip().splitlines()[-1] for name in names}
    with live.tutor_serve("--workers", "2", probe="/openapi.json") as process:
        yield {"url": live.url, "token": token, "others": others, "pid": process.pid, "live": live}


def post(server, body, token=None, **headers):
    headers = {"Authorization": f"Bearer {token or server['token']}", **headers}
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


def test_hostile_input_is_a_4xx_and_others_are_answered_meanwhile(server):
    slow_question = calibration.slow_question_over_budget()
    with ThreadPoolExecutor(4) as pool:
        # Each from a bot of its own: one client's questions never make another's wait.
        slow = pool.submit(post, server, slow_question, server["others"]["slow"])
        hostile = [
            pool.submit(post, server, {**NORMAL, "expression": expression}, server["others"]["hostile"])
            for expression in ("9**9**9", "(x*(" * 50 + "x" + "))" * 50)
        ]
        normal = [pool.submit(post, server, NORMAL, server["others"][f"learner-{i}"]) for i in range(6)]
        answers = [future.result() for future in normal + hostile]
        assert [a.status_code for a in answers] == [201] * 6 + [422] * 2, [a.json() for a in answers[6:]]
        too_expensive = slow.result()

    assert too_expensive.status_code == 422, too_expensive.json()
    assert too_expensive.headers["Content-Type"] == "application/problem+json"
    assert f"longer than {calibration.budget():g} seconds" in too_expensive.json()["detail"]
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


def test_a_forum_question_is_answered_by_the_worker(server, forum):
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

    # The server stores the post; `tutor worker`, a process of its own, answers and replies.
    with server["live"].tutor_worker():
        response = requests.post(
            f"{server['url']}/integrations/discourse", data=body, headers=headers, timeout=10
        )

        assert response.status_code == 202
        reply = forum.wait_for(1)[0]["json"]
    assert reply["topic_id"] == 4
    assert f"{server['url']}/cases/" in reply["raw"]
