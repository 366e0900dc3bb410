"""The Discourse flow end to end: signed webhooks in, replies out to a fake forum on loopback.

The fake forum is a small threaded HTTP server on 127.0.0.1 that records every reply and can be told
to fail with 500 or to rate-limit with 429 and Retry-After. Runs on each database backend.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from support.analysis_workers import PATIENCE_SECONDS
from support.apps import app_for
from support.forum import FakeForum
from support.workers import outbox_worker

import tutor.engine
from tutor.cli import main
from tutor.config import Settings
from tutor.discourse import backoff_seconds, sign
from tutor.persistence import Case
from tutor.persistence.integrations import DiscoursePost
from tutor.services.discourse import IncomingPost

SECRET = "webhook-secret"
API_KEY = "forum-api-key"
BOT = "tutorbot"
PUBLIC_URL = "https://tutor.example"
QUESTION_POST = "Does the loss go down?\n@tutorbot f = (x+y)*z at x=-2, y=5, z=-4 lr 0.01"


@pytest.fixture
def forum():
    forum = FakeForum()
    yield forum
    forum.close()


def settings_for(database_url: str, forum_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test",
        public_url=PUBLIC_URL,
        discourse_url=forum_url,
        discourse_api_key=API_KEY,
        discourse_username=BOT,
        discourse_secret=SECRET,
    )


@pytest.fixture
def web_only(database_url, forum, tmp_path):
    """The web app alone: posts it stores wait for a worker."""
    with app_for(settings_for(database_url, forum.url), tmp_path / "instance", TESTING=True) as app:
        app.extensions["tutor"].cases.analyzer = tutor.engine
        yield app


@pytest.fixture
def app(web_only):
    """The web app with `tutor worker`'s loop running beside it, as `make run` runs them."""
    with outbox_worker(web_only):
        yield web_only


@pytest.fixture
def client(app):
    return app.test_client()


def post_payload(post_id: int = 41, raw: str = QUESTION_POST, username: str = "brent", **extra) -> dict:
    return {
        "post": {
            "id": post_id,
            "topic_id": 7,
            "post_number": 3,
            "username": username,
            "raw": raw,
            "cooked": "<p>...</p>",
            **extra,
        }
    }


def deliver(
    client, payload: dict, *, event: str = "post_created", event_id: str | None = "ev-1", secret=SECRET
):
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Discourse-Event-Type": "ping" if event == "ping" else "post",
        "X-Discourse-Event": event,
        "X-Discourse-Event-Signature": sign(secret, body),
    }
    if event_id is not None:
        headers["X-Discourse-Event-Id"] = event_id
    return client.post("/integrations/discourse", data=body, headers=headers)


def rows(app) -> list[DiscoursePost]:
    with app.extensions["tutor"].cases.database.session() as session:
        return list(session.scalars(select(DiscoursePost).order_by(DiscoursePost.id)))


def count_cases(app) -> int:
    with app.extensions["tutor"].cases.database.session() as session:
        return session.scalar(select(func.count()).select_from(Case))


def wait_until(condition, seconds: float = PATIENCE_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# The webhook's door


def test_ping_is_answered(client):
    response = deliver(client, {"ping": "OK"}, event="ping")

    assert response.status_code == 200
    assert response.json == {"status": "pong"}


@pytest.mark.parametrize("signature", [None, "", "sha256=" + "0" * 64, "deadbeef", "sha1=abc"])
def test_a_missing_or_wrong_signature_is_a_401_and_nothing_is_stored(app, client, signature):
    headers = {"X-Discourse-Event-Type": "post", "X-Discourse-Event": "post_created"}
    if signature is not None:
        headers["X-Discourse-Event-Signature"] = signature

    response = client.post("/integrations/discourse", data=json.dumps(post_payload()), headers=headers)

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert rows(app) == []


def test_a_body_signed_with_another_secret_is_refused(app, client):
    assert deliver(client, post_payload(), secret="guess").status_code == 401
    assert rows(app) == []


def test_the_webhook_is_off_without_a_secret(database_url, tmp_path):
    settings = settings_for(database_url, "http://127.0.0.1:9")
    with app_for(settings, tmp_path / "instance", discourse_secret=None, TESTING=True) as app:
        response = deliver(app.test_client(), post_payload())
        assert response.status_code == 404
        assert "TUTOR_DISCOURSE_SECRET" in response.json["detail"]


@pytest.mark.parametrize(
    ("payload", "event", "reason"),
    [
        (post_payload(raw="just chatting, no mention"), "post_created", "does not mention"),
        (post_payload(username="TutorBot"), "post_created", "own post"),
        (post_payload(post_type=4), "post_created", "whisper"),
        (post_payload(), "post_destroyed", "post_created and post_edited only"),
    ],
)
def test_posts_that_do_not_ask_are_ignored(app, client, forum, payload, event, reason):
    response = deliver(client, payload, event=event)

    assert response.status_code == 200
    assert response.json["status"] == "ignored"
    assert reason in response.json["reason"]
    assert rows(app) == []


def test_a_body_that_is_not_a_post_is_a_422(app, client):
    response = deliver(client, {"post": {"id": "x"}})

    assert response.status_code == 422
    assert "post.id" in response.json["detail"]


# Values the database cannot hold: refused, or Discourse would retry a 500 for ever.
BIGINT_MAX = 2**63 - 1
INTEGER_MAX = 2**31 - 1


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("id", BIGINT_MAX + 1),
        ("id", 0),
        ("topic_id", BIGINT_MAX + 1),
        ("topic_id", -1),
        ("post_number", INTEGER_MAX + 1),
        ("post_number", 0),
        ("username", "u" * 101),
    ],
)
def test_a_post_the_database_cannot_hold_is_a_422(app, client, member, value):
    payload = post_payload()
    payload["post"][member] = value

    response = deliver(client, payload)

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert f"post.{member}" in response.json["detail"]
    assert rows(app) == []


def test_an_event_id_the_database_cannot_hold_is_a_422(app, client):
    response = deliver(client, post_payload(), event_id="e" * 201)

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "X-Discourse-Event-Id" in response.json["detail"]
    assert rows(app) == []


def test_the_largest_values_the_database_holds_are_stored(app, client, forum):
    payload = post_payload(
        post_id=BIGINT_MAX, topic_id=BIGINT_MAX, post_number=INTEGER_MAX, username="u" * 100
    )

    assert deliver(client, payload, event_id="e" * 200).status_code == 202

    [reply] = forum.wait_for(1)
    assert (reply["json"]["topic_id"], reply["json"]["reply_to_post_number"]) == (BIGINT_MAX, INTEGER_MAX)
    [row] = rows(app)
    assert (row.post_id, row.event_id) == (BIGINT_MAX, "e" * 200)


# Questions and replies


def test_a_question_gets_a_case_and_a_reply_in_its_topic(app, client, forum):
    response = deliver(client, post_payload())

    assert response.status_code == 202
    assert response.json["status"] == "queued"
    [reply] = forum.wait_for(1)
    assert reply["path"] == "/posts.json"
    assert reply["headers"]["Api-Key"] == API_KEY
    assert reply["headers"]["Api-Username"] == BOT
    assert reply["json"]["topic_id"] == 7
    assert reply["json"]["reply_to_post_number"] == 3
    wait_until(lambda: rows(app)[0].state == "sent")
    [row] = rows(app)
    case = app.extensions["tutor"].cases.get(row.case_id)
    assert case["source"] == "discourse:41"
    assert case["question"] == QUESTION_POST
    assert f"({PUBLIC_URL}/cases/{case['id']})" in reply["json"]["raw"]
    assert "-12.4124" in reply["json"]["raw"]
    assert (row.reply_post_id, row.attempts, row.last_error) == (1001, 0, None)


def test_a_redelivered_event_or_post_makes_no_second_case_or_reply(app, client, forum):
    assert deliver(client, post_payload(), event_id="ev-1").status_code == 202
    forum.wait_for(1)

    again = deliver(client, post_payload(), event_id="ev-1")
    same_post = deliver(client, post_payload(), event_id="ev-2")

    assert again.status_code == same_post.status_code == 200
    assert again.json["status"] == same_post.json["status"] == "duplicate"
    time.sleep(0.5)
    assert len(forum.accepted) == 1
    assert count_cases(app) == 1
    assert len(rows(app)) == 1


def test_concurrent_redeliveries_store_the_post_once(app, forum):
    barrier = threading.Barrier(6)
    statuses = []

    def send(number):
        client = app.test_client()
        barrier.wait()
        statuses.append(deliver(client, post_payload(), event_id=f"ev-{number}").status_code)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(statuses) == [200] * 5 + [202]
    forum.wait_for(1)
    time.sleep(0.5)
    assert len(forum.accepted) == 1
    assert count_cases(app) == 1


def test_an_unreadable_question_gets_a_friendly_reply_with_the_syntax(app, client, forum):
    deliver(client, post_payload(raw="@tutorbot f = (x+y)*z) at x=1, y=2, z=3 lr 0.1"))

    [reply] = forum.wait_for(1)
    raw = reply["json"]["raw"]
    assert raw.startswith("Sorry, I could not read a question in your post")
    assert "column 8 of the expression" in raw
    assert "@tutorbot f = (x+y)*z at x=-2, y=5, z=-4 lr 0.01" in raw
    assert count_cases(app) == 0


def test_a_forum_that_is_down_delays_the_reply_and_loses_nothing(app, client, forum):
    # Each retry time is checked against the clock read before and after the failed attempt, so the
    # test holds however long the machine takes in between.
    forum.failures = [(500, {}), (502, {})]
    before = datetime.now(UTC)
    deliver(client, post_payload())
    wait_until(lambda: rows(app)[0].attempts == 1 and rows(app)[0].locked_until is None)
    after = datetime.now(UTC)

    [row] = rows(app)
    assert row.state == "replying" and row.reply and "500" in row.last_error
    first = timedelta(seconds=backoff_seconds(1))
    assert before + first <= row.next_attempt_at <= after + first

    service = app.extensions["tutor_discourse"].service
    assert service.run_due().sent == 0  # not due yet
    before = datetime.now(UTC)
    summary = service.run_due(everything=True)
    after = datetime.now(UTC)
    assert summary.sent == 0 and "502" in summary.failures[0]
    assert rows(app)[0].attempts == 2
    second = timedelta(seconds=backoff_seconds(2))
    assert before + second <= rows(app)[0].next_attempt_at <= after + second

    assert service.run_due(everything=True).sent == 1
    assert len(forum.wait_for(1)) == 1
    assert forum.attempts == 3
    assert rows(app)[0].state == "sent"
    assert count_cases(app) == 1


def test_a_rate_limiting_forum_is_retried_after_its_retry_after(app, client, forum):
    forum.failures = [(429, {"Retry-After": "1"})]
    started = time.monotonic()
    deliver(client, post_payload())

    [reply] = forum.wait_for(1, seconds=backoff_seconds(1))

    # The forum's second, not the first backoff step (then the reply would not have come in time).
    assert time.monotonic() - started >= 1
    assert forum.attempts == 2
    assert reply["json"]["topic_id"] == 7
    wait_until(lambda: rows(app)[0].state == "sent")
    assert rows(app)[0].last_error is None


def test_two_workers_never_send_one_reply_twice(app, forum):
    service = app.extensions["tutor_discourse"].service
    for post_id in range(100, 110):
        service.receive(IncomingPost(post_id, 7, post_id, "brent", QUESTION_POST), event_id=f"ev-{post_id}")

    barrier = threading.Barrier(4)

    def work():
        barrier.wait()
        service.run_due()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    replies = forum.wait_for(10)
    assert sorted(reply["json"]["reply_to_post_number"] for reply in replies) == list(range(100, 110))
    assert forum.attempts == 10
    assert count_cases(app) == 10


def test_tutor_discourse_deliver_sends_what_a_crash_left_behind(web_only, forum, database_url, monkeypatch):
    # Stored and acknowledged, then the process died before any worker answered it.
    service = web_only.extensions["tutor_discourse"].service
    service.receive(IncomingPost(55, 9, 2, "brent", QUESTION_POST), event_id="ev-55")
    for name, value in {
        "TUTOR_DATABASE_URL": database_url,
        "TUTOR_PUBLIC_URL": PUBLIC_URL,
        "TUTOR_DISCOURSE_URL": forum.url,
        "TUTOR_DISCOURSE_API_KEY": API_KEY,
        "TUTOR_DISCOURSE_USERNAME": BOT,
    }.items():
        monkeypatch.setenv(name, value)

    result = CliRunner().invoke(main, ["discourse", "deliver"])

    assert result.exit_code == 0, result.output
    assert "answered 1, sent 1, failed 0, pending 0" in result.output
    [reply] = forum.wait_for(1)
    assert reply["json"]["topic_id"] == 9
    status = CliRunner().invoke(main, ["discourse", "status"])
    assert "post 55" in status.output and "sent" in status.output
