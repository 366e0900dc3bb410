"""Reviewers: people who signed in with the admin token, or programs sending it as a bearer token."""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable

from flask import current_app, redirect, request, session, url_for

SESSION_KEY = "reviewer"


def token_matches(candidate: str | None) -> bool:
    expected = current_app.config["TUTOR_SETTINGS"].admin_token
    if not expected or not candidate:
        return False
    # Constant time, so the token cannot be guessed one character at a time from response times.
    return hmac.compare_digest(candidate.encode(), expected.encode())


def bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def token_fingerprint() -> str | None:
    """What the session keeps instead of the token: changing the token signs every reviewer out."""
    token = current_app.config["TUTOR_SETTINGS"].admin_token
    if not token:
        return None
    return hmac.new(current_app.secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def sign_in() -> None:
    session.clear()
    session[SESSION_KEY] = token_fingerprint()


def sign_out() -> None:
    session.clear()


def is_reviewer() -> bool:
    kept = session.get(SESSION_KEY)
    current = token_fingerprint()
    signed_in = bool(kept) and current is not None and hmac.compare_digest(kept, current)
    return signed_in or token_matches(bearer_token())


def reviewer_required(view: Callable) -> Callable:
    """Sends everyone else to the sign-in page, which brings them back here afterwards."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not is_reviewer():
            return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped
