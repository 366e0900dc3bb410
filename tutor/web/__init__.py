"""The Flask application: ``create_app`` builds one from Settings (read from the environment by default)."""

from __future__ import annotations

import atexit
import logging
from dataclasses import dataclass

from apiflask import APIFlask
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from sqlalchemy.exc import DBAPIError
from werkzeug.middleware.proxy_fix import ProxyFix

from tutor import __version__, json_text
from tutor.config import ConfigError, Settings
from tutor.persistence.database import Database, DatabaseUnavailable
from tutor.persistence.shared import shared_secret
from tutor.sandbox import Analyzer
from tutor.services.cases import CaseService
from tutor.services.plots import PlotService
from tutor.web.errors import register_error_handlers
from tutor.web.extensions import csrf, init_rate_limits
from tutor.web.guards import register_request_guards
from tutor.web.security import register_security_headers

log = logging.getLogger(__name__)

SETTING_NAMES = frozenset(Settings.model_fields)


@dataclass
class Services:
    """What the blueprints share, one per app: ``current_app.extensions["tutor"]``."""

    analyzer: Analyzer
    cases: CaseService
    plots: PlotService

    def close(self) -> None:
        self.cases.close()
        self.analyzer.close()


class JSONProvider(DefaultJSONProvider):
    """Responses keep their keys' order (Flask sorts them by default, which put a point's symbols in
    alphabetical order instead of the learner's) and are written by ``tutor.json_text``: fast for case
    documents of a hundred kilobytes."""

    sort_keys = False

    def dumps(self, obj: object, **kwargs: object) -> str:
        if kwargs.get("indent"):  # debug mode's readable form
            return super().dumps(obj, **kwargs)
        return json_text.dumps(obj, default=self.default)


def create_app(settings: Settings | None = None, **overrides: object) -> Flask:
    """The app. ``overrides`` named like a Settings field replace that setting; any other name is set
    in ``app.config`` last (``TESTING=True``, ``WTF_CSRF_ENABLED=False``, ``RATELIMIT_ENABLED=False``)."""
    settings = settings or Settings.from_env()
    settings = settings.with_changes(**{k: v for k, v in overrides.items() if k in SETTING_NAMES})
    instance_path = settings.instance_path
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
    app.json = JSONProvider(app)

    # The analysis workers start on the first question, in whichever process asks it (`tutor serve`
    # starts them in each server process before it takes requests).
    analyzer = Analyzer(
        settings.limits,
        workers=settings.analysis_workers,
        queue=settings.analysis_queue,
        queue_per_client=settings.analysis_queue_per_client,
    )
    cases = CaseService.from_settings(settings, analyzer)
    plots = PlotService(cases, analyzer, settings.limits, lease_seconds=settings.job_lease_seconds)
    services = Services(analyzer, cases, plots)
    app.extensions["tutor"] = services
    atexit.register(services.close)
    read_only = cases.database.read_only_reason()
    if read_only:
        log.warning("the database is read-only (%s): cases can be read, but saving answers 503", read_only)

    app.config.update(
        TUTOR_SETTINGS=settings,
        SECRET_KEY=signing_key(settings, cases.database),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=settings.rate_limit_storage_url or "memory://",
        RATELIMIT_KEY_PREFIX=settings.rate_limit_key_prefix,
    )
    app.config.update({k: v for k, v in overrides.items() if k not in SETTING_NAMES})
    if settings.proxies:
        # Behind nginx (deploy/): the client's address, scheme and host as the proxies saw them, from
        # the X-Forwarded-* headers of exactly that many proxies and no more (a client can send them too).
        n = settings.proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)

    # First: the guards see requests before any extension reads them (see tutor.web.guards).
    register_request_guards(app)
    csrf.init_app(app)
    init_rate_limits(app)
    register_security_headers(app)
    register_error_handlers(app)

    from tutor.web import apidocs, health, pages

    app.register_blueprint(pages.bp)
    app.register_blueprint(apidocs.bp)
    app.register_blueprint(health.bp)
    # The JSON API (/api/...) and the Discourse webhook (/integrations/...) register here. Both take no
    # cookies, so each exempts itself from CSRF: csrf.exempt(bp).
    from tutor.web import api, discourse

    app.register_blueprint(csrf.exempt(api.bp))
    app.register_blueprint(csrf.exempt(discourse.bp))
    return app


def signing_key(settings: Settings, database: Database) -> str:
    """TUTOR_SECRET_KEY, or else the key kept in the database. Every process and every instance must
    sign sessions and forms with the same key, or a form served by one fails when another receives it;
    the database is what they all share."""
    if settings.secret_key:
        return settings.secret_key
    try:
        return shared_secret(database, "session")
    except (DBAPIError, DatabaseUnavailable) as error:
        if isinstance(error, DatabaseUnavailable):
            reason = error.reason
        else:
            reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise ConfigError(
            "TUTOR_SECRET_KEY is not set and the key shared through the database cannot be read "
            f"(run `tutor db upgrade`, or set TUTOR_SECRET_KEY): {reason}"
        ) from None
