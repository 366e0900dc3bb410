"""``tutor discourse deliver|status``: answer and reply to stored forum posts from the command line.

The server does this in the background; the command is for after a crash or an outage, and for cron.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from tutor.cli import main, migrated_database
from tutor.config import Settings
from tutor.sandbox import Analyzer
from tutor.services.cases import CaseService
from tutor.services.discourse import DiscourseService


@main.group()
def discourse() -> None:
    """The Discourse integration: posts that mention the tutor, and the replies to them."""


@discourse.command()
@click.option(
    "--now",
    "everything",
    is_flag=True,
    help="Also retry posts still waiting out the tutor's backoff (never before the forum's Retry-After).",
)
def deliver(everything: bool) -> None:
    """Answer every stored post that is due and send the replies; failures stay queued for a retry.

    Without --now a post that failed is left until its next attempt is due (30 s, 1, 2, 4 ... minutes
    after the failures in a row), exactly as `tutor worker` would; --now tries it at once. A forum that
    answered 429 or 503 with Retry-After holds every reply, with or without --now, until that has passed.
    """
    settings = Settings.from_env()
    # A local process: fork is cheapest, and the time and memory limits still apply.
    analyzer = Analyzer(settings.limits, context="fork")
    db = migrated_database()
    try:
        service = DiscourseService.from_settings(settings, CaseService(db, analyzer))
        summary = service.run_due(everything=everything)
        pending = sum(count for state, count in service.counts().items() if state != "sent")
        due = service.next_due() if pending else None
    finally:
        analyzer.close()
        db.dispose()
    for failure in summary.failures:
        click.echo(f"not sent: {failure}", err=True)
    click.echo(
        f"answered {summary.answered}, sent {summary.sent}, failed {len(summary.failures)}, pending {pending}"
    )
    if summary.forum_hold_until is not None:
        click.echo(
            f"the forum asked to wait until {summary.forum_hold_until:%Y-%m-%d %H:%M:%S}Z (Retry-After): "
            "replies wait until then, also with --now"
        )
    elif due is not None and due > datetime.now(UTC) and not everything:
        click.echo(f"next attempt due at {due:%Y-%m-%d %H:%M:%S}Z; --now tries the waiting posts at once")


@discourse.command()
@click.option("--pending", "pending_only", is_flag=True, help="Only posts not yet replied to.")
@click.option("--limit", default=50, show_default=True, help="How many posts, newest first.")
def status(pending_only: bool, limit: int) -> None:
    """The newest posts that mentioned the tutor: state, attempts, next try and last error."""
    settings = Settings.from_env()
    db = migrated_database()
    try:
        service = DiscourseService.from_settings(settings, CaseService(db, Analyzer(settings.limits)))
        posts = service.posts(pending_only=pending_only, limit=limit)
        counts = service.counts()
    finally:
        db.dispose()
    for post in posts:
        line = (
            f"post {post['post_id']:<8} v{post['version']:<3} topic {post['topic_id']:<6} @{post['username']:<16} "
            f"{post['state']:<9} attempts {post['attempts']}"
        )
        if post["next_attempt_at"] is not None:
            line += f"  next {post['next_attempt_at']:%Y-%m-%d %H:%M:%S}Z"
        if post["case_id"]:
            line += f"  case {post['case_id']}"
        click.echo(line)
        if post["last_error"]:
            click.echo(f"    last error: {post['last_error'][:200]}")
    click.echo(", ".join(f"{state} {counts.get(state, 0)}" for state in ("received", "replying", "sent")))
