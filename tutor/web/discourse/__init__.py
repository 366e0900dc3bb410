"""POST /integrations/discourse: Discourse's webhook. Verifies the signature, stores posts that ask the
tutor (new ones, and edited ones: ``post_created`` and ``post_edited``), and answers 202 at once;
`tutor worker` (or `tutor discourse deliver`) answers and replies."""

from __future__ import annotations

import json
from dataclasses import dataclass

from apiflask import APIBlueprint
from flask import Response, current_app, request
from flask.blueprints import BlueprintSetupState
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tutor.discourse import signature_valid
from tutor.services.discourse import DiscourseService, IncomingPost
from tutor.web.errors import problem
from tutor.web.extensions import limiter
from tutor.web.guards import allow_bodies_up_to

# A post's payload carries its raw text and its HTML (each up to the forum's 32000-character limit):
# more than the API's request limit, and a delivery refused for its size would be retried for ever.
WEBHOOK_MAX_BYTES = 1024 * 1024
WHISPER = 4  # Discourse's post_type for staff-only whispers: never answered in public
# What the discourse_posts columns hold (BIGINT, INTEGER, VARCHAR(100), VARCHAR(200)). A value beyond
# them failed in the database with a 500, which Discourse retries for ever; it is refused with a 422.
BIGINT_MAX = 2**63 - 1
INTEGER_MAX = 2**31 - 1
MAX_USERNAME_CHARS = 100
MAX_EVENT_ID_CHARS = 200

# An APIBlueprint only because APIFlask's spec generator fails on a plain Blueprint that has a
# before_request function; the webhook is Discourse's contract, not part of the API's document.
bp = APIBlueprint("discourse", __name__, url_prefix="/integrations", enable_openapi=False)
# Discourse sends bursts and retries on any error; the signature, not a rate limit, keeps others out.
limiter.exempt(bp)
# The post events the tutor acts on: a new post, and an edited one (people fix a typo by editing).
POST_EVENTS = ("post_created", "post_edited")
allow_bodies_up_to(bp, WEBHOOK_MAX_BYTES)


@dataclass(frozen=True)
class DiscourseIntegration:
    service: DiscourseService


class PostPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int = Field(ge=1, le=BIGINT_MAX)
    topic_id: int = Field(ge=1, le=BIGINT_MAX)
    post_number: int = Field(ge=1, le=INTEGER_MAX)
    username: str = Field(max_length=MAX_USERNAME_CHARS)
    raw: str
    post_type: int = 1
    version: int = Field(1, ge=1, le=INTEGER_MAX)


class PostEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    post: PostPayload


@bp.record_once
def _set_up(state: BlueprintSetupState) -> None:
    app = state.app
    service = DiscourseService.from_settings(app.config["TUTOR_SETTINGS"], app.extensions["tutor"].cases)
    app.extensions["tutor_discourse"] = DiscourseIntegration(service)


def integration() -> DiscourseIntegration:
    return current_app.extensions["tutor_discourse"]


@bp.post("/discourse")
def webhook() -> Response | tuple[dict, int]:
    secret = current_app.config["TUTOR_SETTINGS"].discourse_secret
    if not secret:
        return problem(404, "The Discourse integration is off: set TUTOR_DISCOURSE_SECRET to turn it on.")
    body = request.get_data(cache=True)
    if not signature_valid(secret, body, request.headers.get("X-Discourse-Event-Signature")):
        response = problem(
            401,
            "X-Discourse-Event-Signature must be sha256= and the hex HMAC-SHA256 of the body, keyed with "
            "the webhook's secret (TUTOR_DISCOURSE_SECRET).",
        )
        response.headers["WWW-Authenticate"] = 'HMAC-SHA256 header="X-Discourse-Event-Signature"'
        return response

    event = request.headers.get("X-Discourse-Event", "")
    if event == "ping":
        return {"status": "pong"}, 200
    if request.headers.get("X-Discourse-Event-Type") != "post" or event not in POST_EVENTS:
        acted_on = " and ".join(POST_EVENTS)
        return {"status": "ignored", "reason": f"the tutor acts on {acted_on} only, not {event!r}"}, 200
    try:
        post = PostEvent.model_validate(json.loads(body)).post
    except ValueError as error:
        # ValidationError is a ValueError too; either way Discourse sent something unexpected.
        if isinstance(error, ValidationError):
            first = error.errors()[0]
            detail = f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
        else:
            detail = str(error)
        return problem(422, f"The body is not a {event} payload with a post: {detail}")
    event_id = request.headers.get("X-Discourse-Event-Id") or None
    if event_id is not None and len(event_id) > MAX_EVENT_ID_CHARS:
        return problem(422, f"X-Discourse-Event-Id may be at most {MAX_EVENT_ID_CHARS} characters.")
    if post.post_type == WHISPER:
        return {"status": "ignored", "reason": "a whisper is answered by staff, not in public"}, 200

    received = integration().service.receive(
        IncomingPost(post.id, post.topic_id, post.post_number, post.username, post.raw, post.version),
        event_id=event_id,
        edited=event == "post_edited",
    )
    if received.status == "queued":
        return {"status": received.status, "reason": received.reason}, 202
    return {"status": received.status, "reason": received.reason}, 200
