"""The Flask extensions, created once and bound to each app by ``create_app``.

Blueprints that take no cookies (the JSON API, the Discourse webhook) exempt themselves from CSRF with
``csrf.exempt(bp)`` and may set their own limits with ``limiter.limit(...)``.
"""

from __future__ import annotations

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

# Keyed by the client's address. Behind a reverse proxy that address is the proxy's unless the app is
# wrapped in werkzeug's ProxyFix, so deployments behind one must add it.
# Flask-Limiter keeps its storage and on/off switch on this object, so it serves one app per process
# (the last one created); the default limit is read from the current app's settings on each request.
limiter = Limiter(
    key_func=get_remote_address,
    default_limits=[lambda: current_app.config["TUTOR_SETTINGS"].rate_limit],
)
