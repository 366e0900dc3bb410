"""The forum outbox with several workers: each a DiscourseService on its own Database, as separate
processes (and machines) would have, against the fake forum on loopback. On SQLite and PostgreSQL.

The services share a clock the test moves, so waits (the forum's Retry-After, leases) are stepped over
instead of slept through.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from support.forum import FakeForum

import tutor.engine
from tutor.cli import main
from tutor.discourse import ForumClient
from tutor.persistence import Database
from tutor.persistence.integrations import DiscoursePost
from tutor.services.cases import CaseService
from tutor.services.discourse import DiscourseService, IncomingPost
from tutor.worker import Outbox, Worker

BOT = "tutorbot"
API_KEY = "forum-api-key"
QUESTION = "@tutorbot f = (x+y)*z at x=-2, y=5, z=-4 lr 0.01"
LEASE = 60


class Clock:
    def __init__(self):
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class WorkerDied(BaseException):
    """Stands for SIGKILL: nothing after it runs, no handler records anything."""


class DiesBeforeSending(ForumClient):
    def create_post(self, *args, **kwargs):
        raise WorkerDied


class DiesAfterSending(ForumClient):
    def create_post(self, *args, **kwargs):
        super().create_post(*args, **kwargs)
        raise WorkerDied


@pytest.fixture
def forum():
    forum = FakeForum()
    yield forum
    forum.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def workers(database_url, forum, clock):
    """Makes outbox services, one Database each, closed at the end."""
    made: list[Database] = []

    def make(client: type[ForumClient] = ForumClient, timeout: float = 15.0) -> DiscourseService:
        database = Database.from_url(database_url)
        made.append(database)
        return DiscourseService(
            database,
            CaseService(database, tutor.engine),
            username=BOT,
            public_url="https://tutor.example",
            forum=client(forum.url, API_KEY, BOT, timeout),
            clock=clock,
            lease_seconds=LEASE,
        )

    yield make
    for database in made:
        database.dispose()


def store(service: DiscourseService, forum: FakeForum, *post_ids: int) -> None:
    for post_id in post_ids:
        service.receive(IncomingPost(post_id, 7, post_id + 1, "brent", QUESTION), event_id=f"ev-{post_id}")
        forum.add_post(post_id, 7, post_id + 1)


def posts(service: DiscourseService) -> dict[int, DiscoursePost]:
    with service.database.session() as session:
        return {row.post_id: row for row in session.scalars(select(DiscoursePost))}


def replies_by_post(forum: FakeForum) -> list[int]:
    return sorted(reply["json"]["reply_to_post_number"] - 1 for reply in forum.accepted)


def test_the_forums_retry_after_holds_every_reply_in_every_process(workers, forum, clock):
    first, second = workers(), workers()
    store(first, forum, 1, 2, 3)
    forum.failures = [(429, {"Retry-After": "30"})]

    summary = first.run_due(limit=1)

    assert (summary.answered, summary.sent, forum.attempts) == (1, 0, 1)
    assert first.forum_hold() == second.forum_hold() == clock.now + timedelta(seconds=30)
    # Another process, straight after the 429: it answers the other posts, but sends nothing, not the
    # post that got the 429 and no other, not even when told to retry at once (`deliver --now`).
    summary = second.run_due()
    assert (summary.answered, summary.sent) == (2, 0)
    assert second.run_due(everything=True).sent == 0
    assert forum.attempts == 1
    assert second.next_due() == clock.now + timedelta(seconds=30)
    clock.advance(29)
    assert first.run_due(everything=True).sent == second.run_due().sent == 0
    assert forum.attempts == 1

    clock.advance(2)
    assert second.run_due().sent == 3
    assert replies_by_post(forum) == [1, 2, 3]
    assert forum.attempts == 4
    assert {row.state for row in posts(first).values()} == {"sent"}


def test_deliver_without_now_waits_for_the_backoff_and_with_now_not_for_the_forum(
    workers, forum, database_url, monkeypatch
):
    service = workers()
    store(service, forum, 1)
    for name, value in {
        "TUTOR_DATABASE_URL": database_url,
        "TUTOR_DISCOURSE_URL": forum.url,
        "TUTOR_DISCOURSE_API_KEY": API_KEY,
        "TUTOR_DISCOURSE_USERNAME": BOT,
    }.items():
        monkeypatch.setenv(name, value)
    deliver = lambda *args: CliRunner().invoke(main, ["discourse", "deliver", *args])  # noqa: E731

    forum.failures = [(500, {})]
    failed = deliver()
    assert "answered 1, sent 0, failed 1, pending 1" in failed.output
    waiting = deliver()
    assert "answered 0, sent 0, failed 0, pending 1" in waiting.output
    assert "--now tries the waiting posts at once" in waiting.output
    assert forum.attempts == 1

    forum.failures = [(429, {"Retry-After": "120"})]
    limited = deliver("--now")
    assert "failed 1" in limited.output and "429" in limited.output
    assert "the forum asked to wait until" in limited.output and "also with --now" in limited.output
    held = deliver("--now")
    assert "answered 0, sent 0, failed 0, pending 1" in held.output
    assert forum.attempts == 2


@pytest.mark.parametrize("client", [DiesBeforeSending, DiesAfterSending])
def test_a_worker_that_dies_while_sending_leaves_the_reply_to_be_sent_once(workers, forum, clock, client):
    dying, other = workers(client), workers()
    store(dying, forum, 5)

    with pytest.raises(WorkerDied):
        dying.run_due()

    row = posts(other)[5]
    assert row.state == "replying" and row.sending_since is not None and row.locked_until > clock.now
    assert other.run_due().sent == 0  # still the dead worker's, until its lease runs out
    clock.advance(LEASE + 1)
    summary = other.run_due()

    assert summary.sent == 1 and not summary.failures
    assert replies_by_post(forum) == [5]  # sent by one of them, exactly once
    row = posts(other)[5]
    assert (row.state, row.reply_post_id, row.sending_since) == ("sent", 1001, None)


def test_a_reply_whose_answer_never_came_is_looked_for_before_it_is_sent_again(workers, forum, clock):
    # The forum took the reply but answered too late for the client: the send's outcome is unknown.
    impatient = workers(timeout=0.2)
    store(impatient, forum, 8)
    forum.delay = 1.0

    summary = impatient.run_due()

    assert summary.sent == 0 and "could not be reached" in summary.failures[0]
    assert posts(impatient)[8].sending_since is not None
    forum.delay = 0
    clock.advance(31)
    assert impatient.run_due().sent == 1
    assert replies_by_post(forum) == [8]
    assert forum.attempts == 1


def test_two_worker_processes_answer_twenty_posts_exactly_once(workers, forum):
    first, second = workers(), workers()
    store(first, forum, *range(100, 120))
    runners = [Worker([Outbox(service)], poll_seconds=0.05) for service in (first, second)]
    threads = [threading.Thread(target=runner.run, daemon=True) for runner in runners]
    for thread in threads:
        thread.start()
    try:
        forum.wait_for(20, seconds=60)
    finally:
        for runner in runners:
            runner.stop()
        for thread in threads:
            thread.join(60)

    assert replies_by_post(forum) == list(range(100, 120))
    assert forum.attempts == 20
    assert {row.state for row in posts(first).values()} == {"sent"}
