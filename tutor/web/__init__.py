"""The Flask application: ``create_app`` builds one from Settings (read from the environment by default)."""

from __future__ import annotations

import atexit
import dataclasses
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from apiflask import APIFlask
from flask import Flask

from tutor import __version__
from tutor.config import Settings, default_instance_path
from tutor.sandbox import Analyzer
from tutor.services.cases import CaseService
from tutor.web.errors import register_error_handlers
from tutor.web.extensions import csrf, limiter
from tutor.web.security import register_security_headers

log = logging.getLogger(__name__)

SETTING_NAMES = frozenset(field.name for field in dataclasses.fields(Settings))


@dataclass
class Services:
    """What the blueprints share, one per app: ``current_app.extensions["tutor"]``."""

    analyzer: Analyzer
    cases: CaseService

    def close(self) -> None:
        self.cases.close()
        self.analyzer.close()


def create_app(settings: Settings | None = None, **overrides: object) -> Flask:
    """The app. ``overrides`` named like a Settings field replace that setting; any other name is set
    in ``app.config`` last (``TESTING=True``, ``WTF_CSRF_ENABLED=False``, ``RATELIMIT_ENABLED=False``)."""
    settings = settings or Settings.from_env()
    settings = dataclasses.replace(settings, **{k: v for k, v in overrides.items() if k in SETTING_NAMES})
    instance_path = default_instance_path()
    instance_path.mkdir(parents=True, exist_ok=True)

    app = APIFlask(
        __name__.rsplit(".", 1)[0],
        title="The backprop tutor API",
        version=__version__,
        spec_path="/openapi.json",
        # /docs is drawn by tutor.web.apidocs: APIFlask's UIs load from a CDN and need inline script.
        docs_path=None,
        # Errors are shaped by tutor.web.errors: problem+json for /api/ and /integrations/, pages elsewhere.
        json_errors=False,
        instance_path=str(instance_path),
    )
    app.config.update(
        TUTOR_SETTINGS=settings,
        SECRET_KEY=settings.secret_key or _ephemeral_secret_key(),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=settings.rate_limit_storage_url,
        RATELIMIT_HEADERS_ENABLED=True,
        PLOT_CACHE_DIR=str(Path(app.instance_path) / "plots"),
    )
    app.config.update({k: v for k, v in overrides.items() if k not in SETTING_NAMES})

    # The analysis workers start on the first question, in whichever process asks it.
    analyzer = Analyzer(settings.limits, workers=settings.analysis_workers)
    services = Services(analyzer, CaseService.from_settings(settings, analyzer))
    app.extensions["tutor"] = services
    atexit.register(services.close)

    csrf.init_app(app)
    limiter.init_app(app)
    register_security_headers(app)
    register_error_handlers(app)

    from tutor.web import apidocs, pages

    app.register_blueprint(pages.bp)
    app.register_blueprint(apidocs.bp)
    # The JSON API (/api/...) and the Discourse webhook (/integrations/...) register here. Both take no
    # cookies, so each exempts itself from CSRF: csrf.exempt(bp).
    from tutor.web import api, discourse

    app.register_blueprint(csrf.exempt(api.bp))
    app.register_blueprint(csrf.exempt(discourse.bp))
    return app


def _ephemeral_secret_key() -> str:
    log.warning(
        "TUTOR_SECRET_KEY is not set: using a random key for this process only. Sign-ins and forms "
        "will not survive a restart, and will fail across several server processes; set it in production."
    )
    return secrets.token_hex(32)
