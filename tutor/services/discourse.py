"""Discourse posts that ask the tutor: stored on arrival, answered, and replied to until the forum accepts.

Nothing is lost and nothing is doubled:

- ``receive`` stores the post before the webhook is answered; the post's version (its id, version number
  and text) and the event id are unique, so a delivery Discourse retries is recognised and changes nothing.
- An edited post (``post_edited``) is answered when its earlier version got no answer or only the help
  reply, and after a real answer only if the question changed, as a new reply that says it answers the
  edit; an edit that arrives before the earlier version was answered replaces it. Once per version.
- ``run_due`` (in ``tutor worker``, or ``tutor discourse deliver``) answers stored posts (the case is
  created with the post's version as its idempotency key, so a crash between saving the case and
  recording it on the post does not make a second case), stores the reply, and only then sends it. A
  failed send is retried with exponential backoff, or after the forum's Retry-After; nothing is dropped.
- A worker claims a row with a lease (``locked_until``, TUTOR_JOB_LEASE_SECONDS) before working on it,
  so any number of workers, in any number of processes and machines, never work on the same post at
  once; a worker that dies leaves its lease to run out, and the post is taken up again.
- The forum's Retry-After is stored with the post that got it (``forum_hold_until``) and holds every
  reply in every process until it has passed, ``deliver --now`` included.
- A send whose outcome is unknown (the worker died while the forum had the reply, or the connection
  broke) is marked (``sending_since``): whoever takes the post up next first asks the forum whether the
  reply is there, and sends it only if it is not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from tutor.config import Limits, Settings
from tutor.discourse import (
    MAX_POST_CHARS,
    DeliveryFailed,
    ForumClient,
    answer_reply,
    backoff_seconds,
    help_reply,
    mentions,
    question_text,
    read_post,
    reading_notes,
)
from tutor.engine import InputError
from tutor.persistence.database import Database
from tutor.persistence.integrations import DiscoursePost
from tutor.services.cases import CaseService

log = logging.getLogger(__name__)

PENDING = ("received", "replying")
MAX_ERROR_CHARS = 2000
EDIT_NOTE = "This answers the post as edited."


@dataclass(frozen=True)
class IncomingPost:
    """What the tutor needs of a ``post_created`` or ``post_edited`` webhook's post."""

    post_id: int
    topic_id: int
    post_number: int
    username: str
    raw: str
    version: int = 1  # Discourse's version number of the post's text

    @property
    def raw_sha256(self) -> str:
        return hashlib.sha256(self.raw.encode()).hexdigest()


@dataclass(frozen=True)
class Received:
    status: str  # "queued", "duplicate" or "ignored"
    reason: str


@dataclass
class RunSummary:
    answered: int = 0
    sent: int = 0
    failures: list[str] = field(default_factory=list)
    # Replies wait until then: the forum's last Retry-After.
    forum_hold_until: datetime | None = None


@dataclass(frozen=True)
class _Claimed:
    id: int
    lease: datetime
    post: IncomingPost
    state: str
    reply: str | None
    attempts: int
    sending_since: datetime | None


class DiscourseService:
    def __init__(
        self,
        database: Database,
        cases: CaseService,
        *,
        username: str,
        public_url: str,
        forum: ForumClient | None,
        clock=None,
        math: str = "off",
        limits: Limits | None = None,
        lease_seconds: float = 120.0,
    ):
        self.database = database
        self.cases = cases
        self.limits = limits or Limits()
        self.username = username
        self.public_url = public_url.rstrip("/")
        self.forum = forum
        self.math = math  # how replies write formulas (TUTOR_DISCOURSE_MATH)
        self._clock = clock or (lambda: datetime.now(UTC))
        # Longer than answering a question and one call to the forum may take.
        self.lease = timedelta(seconds=lease_seconds)

    @classmethod
    def from_settings(cls, settings: Settings, cases: CaseService) -> DiscourseService:
        """The service on the case service's database, replying through TUTOR_DISCOURSE_URL if it is set."""
        forum = None
        if settings.discourse_url and settings.discourse_api_key:
            forum = ForumClient(
                settings.discourse_url, settings.discourse_api_key, settings.discourse_username
            )
        return cls(
            cases.database,
            cases,
            username=settings.discourse_username,
            public_url=settings.public_url,
            forum=forum,
            math=settings.discourse_math,
            limits=settings.limits,
            lease_seconds=settings.job_lease_seconds,
        )

    def receive(self, post: IncomingPost, event_id: str | None = None, *, edited: bool = False) -> Received:
        """Stores a post that asks the tutor (``edited``: a new version of it). Returns what became of it;
        never answers it here."""
        if post.username.lower() == self.username.lower():
            return Received("ignored", "the tutor's own post")
        if len(post.raw) > MAX_POST_CHARS:
            return Received(
                "ignored", f"the post is longer than the {MAX_POST_CHARS} characters the tutor reads"
            )
        if not mentions(post.raw, self.username):
            return Received("ignored", f"the post does not mention @{self.username}")
        now = self._clock()
        digest = post.raw_sha256
        try:
            with self.database.session(write=True) as session:
                earlier = session.scalars(
                    select(DiscoursePost)
                    .where(DiscoursePost.post_id == post.post_id)
                    .order_by(DiscoursePost.version, DiscoursePost.id)
                ).all()
                seen = event_id is not None and session.scalar(
                    select(DiscoursePost.id).where(DiscoursePost.event_id == event_id)
                )
                if seen or any(row.version == post.version and row.raw_sha256 == digest for row in earlier):
                    return Received("duplicate", "this post or event was received before")
                if earlier:
                    if not edited:
                        return Received("duplicate", "this post was received before")
                    outcome = self._edit(session, earlier[-1], post, now)
                    if outcome is not None:
                        return outcome
                session.add(
                    DiscoursePost(
                        post_id=post.post_id,
                        version=post.version,
                        raw_sha256=digest,
                        event_id=event_id,
                        topic_id=post.topic_id,
                        post_number=post.post_number,
                        username=post.username,
                        raw=post.raw,
                        received_at=now,
                        state="received",
                        attempts=0,
                        next_attempt_at=now,
                    )
                )
        except IntegrityError:
            return Received("duplicate", "this post or event was received before")
        return Received("queued", "the reply will follow")

    def _edit(self, session, latest: DiscoursePost, post: IncomingPost, now: datetime) -> Received | None:
        """What an edit does, given the latest version stored: a Received, or None to store it as a new
        version to answer."""
        if post.version < latest.version:
            return Received("ignored", "a newer version of this post was received before")
        if latest.state == "received":
            # Not answered yet: the edit replaces it, unless a worker is answering it right now.
            replaced = session.execute(
                update(DiscoursePost)
                .where(
                    DiscoursePost.id == latest.id,
                    DiscoursePost.state == "received",
                    or_(DiscoursePost.locked_until.is_(None), DiscoursePost.locked_until < now),
                )
                .values(raw=post.raw, version=post.version, raw_sha256=post.raw_sha256)
                .execution_options(synchronize_session=False)
            )
            if replaced.rowcount == 1:
                return Received("queued", "the edit replaces the version not answered yet")
            return None
        if latest.case_id is None:
            return None  # it got the help reply: the edit may have fixed the question
        if self._reading(latest.raw) == self._reading(post.raw):
            return Received("ignored", "the edit did not change the question, which was answered")
        return None

    def _reading(self, raw: str) -> tuple:
        """What a version of a post asks, to tell whether an edit changed it: the question, or the reason
        it cannot be read."""
        try:
            return ("question", read_post(raw, self.username, self.limits).question)
        except InputError as error:
            return ("unreadable", error.field, error.message)

    def run_due(self, *, everything: bool = False, limit: int = 100) -> RunSummary:
        """Answers and replies to posts that are due, one claimed at a time, at most ``limit`` of them.
        ``everything``: also those still waiting out the tutor's own backoff, but never before the
        forum's Retry-After has passed."""
        summary = RunSummary()
        tried: list[int] = []
        while len(tried) < limit:
            claimed = self._claim_next(everything, tried)
            if claimed is None:
                break  # nothing due, or every due post is another worker's
            tried.append(claimed.id)
            if claimed.state == "received":
                claimed = self._answer(claimed, summary)
            if claimed is not None:
                self._deliver(claimed, summary)
        summary.forum_hold_until = self.forum_hold()
        return summary

    def next_due(self) -> datetime | None:
        """When the earliest pending post may be worked on: its retry time, its lease's end, and for a
        reply the end of the forum's Retry-After."""
        hold = self.forum_hold()
        with self.database.session() as session:
            rows = session.execute(
                select(DiscoursePost.state, DiscoursePost.next_attempt_at, DiscoursePost.locked_until)
                .where(DiscoursePost.state.in_(PENDING))
                .order_by(DiscoursePost.next_attempt_at)
                .limit(100)
            ).all()
        return min(
            (
                max(due, locked or due, hold if hold is not None and state == "replying" else due)
                for state, due, locked in rows
            ),
            default=None,
        )

    def forum_hold(self) -> datetime | None:
        """Until when the forum asked every reply to wait (its last Retry-After), if that is still ahead."""
        with self.database.session() as session:
            return self._hold(session, self._clock())

    def posts(self, *, pending_only: bool = False, limit: int = 50) -> list[dict]:
        """The newest posts, for the operator: state, attempts, last error, case."""
        query = select(DiscoursePost).order_by(DiscoursePost.received_at.desc(), DiscoursePost.id.desc())
        if pending_only:
            query = query.where(DiscoursePost.state.in_(PENDING))
        with self.database.session() as session:
            return [
                {
                    "post_id": row.post_id,
                    "version": row.version,
                    "topic_id": row.topic_id,
                    "username": row.username,
                    "received_at": row.received_at,
                    "state": row.state,
                    "case_id": row.case_id,
                    "attempts": row.attempts,
                    "next_attempt_at": row.next_attempt_at if row.state in PENDING else None,
                    "last_error": row.last_error,
                    "reply_post_id": row.reply_post_id,
                }
                for row in session.scalars(query.limit(limit))
            ]

    def counts(self) -> dict[str, int]:
        with self.database.session() as session:
            rows = session.execute(
                select(DiscoursePost.state, func.count()).group_by(DiscoursePost.state)
            ).all()
        return {state: count for state, count in rows}

    @staticmethod
    def _hold(session, now: datetime) -> datetime | None:
        until = session.scalar(select(func.max(DiscoursePost.forum_hold_until)))
        return until if until is not None and until > now else None

    def _claim_next(self, everything: bool, skip: list[int]) -> _Claimed | None:
        """Takes the next due post for this worker: a lease on its row, so that no other worker (in
        this process or any other) works on it until the lease has run out.

        Choosing and leasing are one write transaction: on PostgreSQL the row is locked with FOR UPDATE
        SKIP LOCKED (workers claiming at once each get another post, none waits), on SQLite the
        transaction holds the database's write lock. Being due is checked in the same transaction, so a
        post another worker has just put back to wait (a 429) is not taken again."""
        now = self._clock()
        with self.database.session(write=True) as session:
            query = select(DiscoursePost).where(
                DiscoursePost.state.in_(PENDING),
                or_(DiscoursePost.locked_until.is_(None), DiscoursePost.locked_until < now),
            )
            if not everything:
                query = query.where(DiscoursePost.next_attempt_at <= now)
            if skip:
                query = query.where(DiscoursePost.id.not_in(skip))
            if self._hold(session, now) is not None:
                query = query.where(DiscoursePost.state == "received")  # answering needs no forum
            row = session.scalars(
                query.order_by(DiscoursePost.next_attempt_at, DiscoursePost.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            row.locked_until = now + self.lease
            post = IncomingPost(
                row.post_id, row.topic_id, row.post_number, row.username, row.raw, row.version
            )
            return _Claimed(
                row.id, row.locked_until, post, row.state, row.reply, row.attempts, row.sending_since
            )

    def _update(self, claimed: _Claimed, *, release: bool = True, **values) -> bool:
        """Writes ``values`` if the lease is still ours (and lets it go, unless ``release`` is False)."""
        if release:
            values["locked_until"] = None
        with self.database.session(write=True) as session:
            done = session.execute(
                update(DiscoursePost)
                .where(DiscoursePost.id == claimed.id, DiscoursePost.locked_until == claimed.lease)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return done.rowcount == 1

    def _failed(
        self,
        claimed: _Claimed,
        error: str,
        summary: RunSummary,
        wait: float | None = None,
        *,
        in_doubt: bool = False,
    ) -> None:
        """Puts the post back to wait: after the forum's ``wait`` (Retry-After, which then holds every
        reply) or the next step of the backoff. ``in_doubt``: the forum may have taken the reply."""
        now = self._clock()
        attempts = claimed.attempts + 1
        summary.failures.append(f"post {claimed.post.post_id}: {error}")
        log.warning("discourse post %s, attempt %d: %s", claimed.post.post_id, attempts, error)
        values = dict(
            attempts=attempts,
            last_error=error[:MAX_ERROR_CHARS],
            next_attempt_at=now + timedelta(seconds=wait if wait is not None else backoff_seconds(attempts)),
            sending_since=(claimed.sending_since or now) if in_doubt else None,
        )
        if wait is not None:
            values["forum_hold_until"] = now + timedelta(seconds=wait)
        self._update(claimed, **values)

    def _answer(self, claimed: _Claimed, summary: RunSummary) -> _Claimed | None:
        """Asks the post's question and stores the reply; returns the row, still leased, to deliver."""
        post = claimed.post
        case_id = read = None
        notes: list[str] = []
        try:
            digest, answers_an_edit = self._version(claimed.id)
            if answers_an_edit:
                notes.append(EDIT_NOTE)
            read = read_post(post.raw, self.username, self.limits)
            notes += read.notes
            case = self.cases.ask(
                read.question,
                source=f"discourse:{post.post_id}",
                question_text=question_text(post.raw),
                # The version's own key: an edit asks anew, a crash before recording it does not.
                idempotency_key=f"post:{post.post_id}:{digest[:16]}",
            )
            case_id = case["id"]
            reply = reading_notes(notes) + answer_reply(case, f"{self.public_url}/cases/{case_id}", self.math)
        except InputError as error:
            # The notes on reading a question that could not be answered: only the one on the edit.
            reply = reading_notes([note for note in notes if note == EDIT_NOTE])
            reply += help_reply(error, self.username, read.question.expression if read is not None else None)
        except Exception as error:
            # Not the learner's fault (a bug, the database): the post stays queued and is retried.
            log.exception("answering discourse post %s failed", post.post_id)
            self._failed(claimed, f"answering failed: {error}", summary)
            return None
        values = dict(
            state="replying",
            reply=reply,
            case_id=case_id,
            attempts=0,
            last_error=None,
            next_attempt_at=self._clock(),
        )
        if not self._update(claimed, release=False, **values):
            return None  # the lease ran out meanwhile: another worker has the post now
        summary.answered += 1
        return dataclasses.replace(claimed, state="replying", reply=reply, attempts=0)

    def _version(self, row_id: int) -> tuple[str, bool]:
        """The SHA-256 of the row's text, and whether an earlier version of its post got a reply."""
        with self.database.session() as session:
            row = session.get(DiscoursePost, row_id)
            replied_before = session.scalar(
                select(func.count())
                .select_from(DiscoursePost)
                .where(
                    DiscoursePost.post_id == row.post_id,
                    DiscoursePost.id < row.id,
                    DiscoursePost.reply.is_not(None),
                )
            )
            return row.raw_sha256, bool(replied_before)

    def _deliver(self, claimed: _Claimed, summary: RunSummary) -> None:
        if self.forum is None:
            self._failed(claimed, "TUTOR_DISCOURSE_URL or TUTOR_DISCOURSE_API_KEY is not set", summary)
            return
        hold = self.forum_hold()
        if hold is not None:
            # Answered while the forum asks to wait (another worker got the 429): it goes after the wait.
            self._update(claimed, next_attempt_at=hold)
            return
        post = claimed.post
        if claimed.sending_since is not None:
            # The last send's outcome is unknown (its worker died, or the connection broke): the forum
            # may have the reply already, and a second one must not follow.
            try:
                earlier = self.forum.find_reply(post.post_id)
            except DeliveryFailed as error:
                self._failed(
                    claimed,
                    f"looking for an earlier reply: {error}",
                    summary,
                    error.retry_after,
                    in_doubt=True,
                )
                return
            if earlier is not None:
                self._sent(claimed, earlier, summary)
                return
        if not self._update(claimed, release=False, sending_since=claimed.sending_since or self._clock()):
            return
        try:
            reply_post_id = self.forum.create_post(post.topic_id, claimed.reply, post.post_number)
        except DeliveryFailed as error:
            self._failed(claimed, str(error), summary, error.retry_after, in_doubt=error.maybe_sent)
            return
        self._sent(claimed, reply_post_id, summary)

    def _sent(self, claimed: _Claimed, reply_post_id: int, summary: RunSummary) -> None:
        self._update(
            claimed,
            state="sent",
            replied_at=self._clock(),
            reply_post_id=reply_post_id,
            last_error=None,
            sending_since=None,
        )
        summary.sent += 1
