"""The JSON API at /api/v1: create, read, list, delete and re-run cases. Bots authenticate with bearer
tokens; errors are RFC 9457 problem documents; the OpenAPI document is generated from tutor.web.api.schemas."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from apiflask import APIBlueprint
from flask import current_app
from flask.blueprints import BlueprintSetupState
from flask_limiter.util import get_remote_address

from tutor.services.tokens import TokenService
from tutor.web.api import openapi
from tutor.web.api.auth import token_or_address
from tutor.web.extensions import limiter


@dataclass(frozen=True)
class ApiServices:
    tokens: TokenService


bp = APIBlueprint("api", __name__, url_prefix="/api/v1", tag="Cases")


@bp.record_once
def _set_up(state: BlueprintSetupState) -> None:
    app = state.app
    app.extensions["tutor_api"] = ApiServices(TokenService(app.extensions["tutor"].cases.database))
    # The API documents its own errors (problem+json, see views.errors); APIFlask's generic ones would
    # describe bodies this API never sends.
    app.config.update(
        AUTO_VALIDATION_ERROR_RESPONSE=False, AUTO_AUTH_ERROR_RESPONSE=False, AUTO_404_RESPONSE=False
    )
    app.spec_callback = _completing_spec(app, app.spec_callback)


def _completing_spec(app, previous: Callable[[dict], dict] | None) -> Callable[[dict], dict]:
    """Adds to the generated document what APIFlask leaves out (tutor.web.api.openapi)."""

    def complete(spec: dict) -> dict:
        spec = previous(spec) if previous is not None else spec
        return openapi.complete(spec, app.config["TUTOR_SETTINGS"], bp.url_prefix)

    return complete


def _rate_limit() -> str:
    return current_app.config["TUTOR_SETTINGS"].rate_limit


# Both limits apply to every request: per token, so one bot cannot starve the others, and per address,
# so a client cannot dodge the first by sending a new made-up token each time.
limiter.limit(
    _rate_limit,
    key_func=token_or_address,
    scope="api-token",
    error_message="Too many requests with this token. Wait as long as Retry-After says, then try again.",
)(bp)
limiter.limit(
    _rate_limit,
    key_func=get_remote_address,
    scope="api-address",
    error_message="Too many requests from this address. Wait as long as Retry-After says, then try again.",
)(bp)

from tutor.web.api import views  # noqa: E402,F401  (registers the routes on bp)
