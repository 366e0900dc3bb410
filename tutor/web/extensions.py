"""The Flask extensions, created once and bound to each app by ``create_app``.

Blueprints that take no cookies (the JSON API, the Discourse webhook) exempt themselves from CSRF with
``csrf.exempt(bp)`` and may set their own limits with ``limiter.limit(...)``.

Rate limits count per client address (per token too on the API). The counters live where
TUTOR_RATE_LIMIT_STORAGE_URL says: ``memory://`` counts in each process, so with two processes the
documented 60 per minute would be 120; ``redis://…`` shares them between every process and instance,
which `tutor serve` with more than one worker process does by default (tutor.cli.serve). Behind a
reverse proxy the address is the proxy's unless TUTOR_PROXIES says how many proxies to believe.
"""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, Response, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

log = logging.getLogger(__name__)

csrf = CSRFProtect()

# Flask-Limiter keeps its storage and on/off switch on this object, so it serves one app per process
# (the last one created); the default limit is read from the current app's settings on each request.
limiter = Limiter(
    key_func=get_remote_address,
    default_limits=[lambda: current_app.config["TUTOR_SETTINGS"].rate_limit],
)

# Statuses whose Retry-After tells a client when to come back.
RETRY_STATUSES = (429, 503)
# A Redis that hangs must not hang the requests it counts: after a second the request is counted in
# this process instead.
REDIS_TIMEOUTS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}


def store_options(url: str) -> dict[str, float]:
    """Connection options for the counters' store at ``url``: timeouts for Redis, nothing otherwise."""
    return dict(REDIS_TIMEOUTS) if url.startswith(("redis://", "rediss://", "redis+")) else {}


def init_rate_limits(app: Flask) -> None:
    """Binds the limiter to ``app``.

    A store that stops answering (Redis restarted, or hanging) does not take the service down with it:
    after at most a second requests are counted in this process's memory until the store is back, and
    the error is logged.

    Flask-Limiter's own headers would put ``Retry-After`` on every response (201 and 500 included), where
    clients read it as "try again later"; the limit's headers are written here instead, with
    ``Retry-After`` on a 429 only. A 503 brings its own.
    """
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", store_options(app.config["RATELIMIT_STORAGE_URI"]))
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)
    app.after_request(_limit_headers)


def _limit_headers(response: Response) -> Response:
    if response.status_code not in RETRY_STATUSES:
        response.headers.pop("Retry-After", None)
    current = limiter.current_limit if limiter.enabled else None
    if current is None:
        return response
    try:
        remaining, reset_at = current.remaining, current.reset_at  # each asks the store
    except Exception:
        log.warning("rate-limit store unreachable: no X-RateLimit headers on this response", exc_info=True)
        return response
    response.headers["X-RateLimit-Limit"] = str(current.limit.amount)
    response.headers["X-RateLimit-Remaining"] = str(remaining)
    response.headers["X-RateLimit-Reset"] = str(int(reset_at))
    if response.status_code == 429:
        response.headers["Retry-After"] = str(max(1, math.ceil(reset_at - time.time())))
    return response
