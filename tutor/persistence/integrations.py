"""The tables of the integrations: API tokens for bots, and Discourse posts with the tutor's replies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutor.persistence.models import Base, UTCDateTime


class ApiToken(Base):
    """A bot's bearer token. Only its SHA-256 is kept: the token itself is shown once, at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique for ever, revoked or not: cases created with a token are marked "api:<name>" and its
    # idempotency keys are scoped to that source, so a name must never come back as another client.
    name: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# The states of a Discourse post, in order: received (stored, not yet answered), replying (the reply
# is written and stored, not yet accepted by the forum), sent.
POST_STATES = ("received", "replying", "sent")


class DiscoursePost(Base):
    """One version of a post that mentioned the tutor, the case it asked for, and the reply on its way to
    the forum.

    One row per version of a post's text (the forum's post id with its version number and the text's
    SHA-256 are unique together, and so is the webhook's event id), so a webhook delivered twice never
    makes a second case or a second reply, and an edited post gets a row of its own when it is answered
    again (services/discourse.py decides when).
    """

    __tablename__ = "discourse_posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Discourse's version number; edits within its grace period keep it, so the text's hash tells them apart.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    raw_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    event_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    topic_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    post_number: Mapped[int] = mapped_column(Integer, nullable=False)
    username: Mapped[str] = mapped_column(String(100), nullable=False)
    raw: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    state: Mapped[str] = mapped_column(String(16), nullable=False)
    case_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("cases.id", ondelete="SET NULL"))
    reply: Mapped[str | None] = mapped_column(Text)  # Markdown, stored before it is sent
    # Failures in a row at the current state, when to try next, and what went wrong last.
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    # A worker that claims the row owns it until then; one that dies leaves it to be claimed again.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reply_post_id: Mapped[int | None] = mapped_column(BigInteger)
    # The forum's own wait (Retry-After on a 429 or 503), set on the post that got it. It holds every
    # reply to that forum, in every process, until it has passed; `deliver --now` waits for it too.
    forum_hold_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set just before the reply is handed to the forum, cleared when the forum's answer is recorded.
    # Still set on a row taken over from a worker that died: the forum may have the reply already.
    sending_since: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_discourse_posts_state_next_attempt_at", "state", "next_attempt_at"),
        UniqueConstraint("post_id", "version", "raw_sha256"),
        Index("ix_discourse_posts_forum_hold_until", "forum_hold_until"),
    )
