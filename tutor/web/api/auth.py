"""Bearer tokens: a bot's token from `tutor tokens create NAME`, or TUTOR_ADMIN_TOKEN for everything."""

from __future__ import annotations

import hashlib

from apiflask import HTTPTokenAuth
from flask import current_app, request
from flask_limiter.util import get_remote_address

from tutor.services.tokens import ADMIN, Principal, TokenService
from tutor.web.auth import bearer_token, token_matches
from tutor.web.errors import problem

auth = HTTPTokenAuth(
    scheme="Bearer",
    description="A bot's token from `tutor tokens create NAME`, or the admin token (TUTOR_ADMIN_TOKEN).",
)

ADMIN_ROLE = "admin"
UNAUTHORIZED = (
    "Send `Authorization: Bearer <token>` with a token from `tutor tokens create NAME`; "
    "the one sent is missing, unknown or revoked."
)
FORBIDDEN = "This needs the admin token (TUTOR_ADMIN_TOKEN); a bot's token may create and read cases only."


def tokens() -> TokenService:
    return current_app.extensions["tutor_api"].tokens


@auth.verify_token
def verify_token(token: str) -> Principal | None:
    if not token:
        return None
    if token_matches(token):
        return ADMIN
    return tokens().principal(token)


@auth.get_user_roles
def user_roles(principal: Principal) -> list[str]:
    return [ADMIN_ROLE] if principal.admin else []


@auth.error_processor
def auth_error(error):
    # Flask-HTTPAuth adds WWW-Authenticate to the 401 itself.
    return problem(error.status_code, UNAUTHORIZED if error.status_code == 401 else FORBIDDEN)


def principal() -> Principal:
    return auth.current_user


def token_or_address() -> str:
    """The per-token rate limit's key: whatever token was sent (hashed), else the client's address."""
    token = bearer_token()
    if token:
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return "address:" + (get_remote_address() or request.remote_addr or "")
