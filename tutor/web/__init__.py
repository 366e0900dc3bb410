"""The Flask application: ``create_app`` builds one from Settings (read from the environment by default)."""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from apiflask import APIFlask
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from tutor import __version__, json_text
from tutor.config import Settings, default_instance_path
from tutor.sandbox import Analyzer
from tutor.services.cases import CaseService
from tutor.web.errors import register_error_handlers
from tutor.web.extensions import csrf, limiter
from tutor.web.guards import register_request_guards
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
    app.json = JSONProvider(app)
    app.config.update(
        TUTOR_SETTINGS=settings,
        SECRET_KEY=settings.secret_key or instance_secret_key(instance_path),
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
    analyzer = Analyzer(
        settings.limits,
        workers=settings.analysis_workers,
        queue=settings.analysis_queue,
        queue_per_client=settings.analysis_queue_per_client,
    )
    services = Services(analyzer, CaseService.from_settings(settings, analyzer))
    app.extensions["tutor"] = services
    atexit.register(services.close)
    read_only = services.cases.database.read_only_reason()
    if read_only:
        log.warning("the database is read-only (%s): cases can be read, but saving answers 503", read_only)

    # First: the guards see requests before any extension reads them (see tutor.web.guards).
    register_request_guards(app)
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


def instance_secret_key(instance_path: Path) -> str:
    """Without TUTOR_SECRET_KEY: one random key kept in the instance folder (mode 0600).

    Every server process and every restart must sign sessions and CSRF tokens with the same key, or a
    form served by one gunicorn worker fails when another receives it. The key is written to a private
    temporary file and hard-linked into place, so processes starting together all read the one winner.
    """
    path = instance_path / "secret_key"
    if not path.exists():
        fd, temporary = tempfile.mkstemp(dir=instance_path, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_hex(32))
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
                log.warning("TUTOR_SECRET_KEY is not set: created a key in %s; set it in production.", path)
        finally:
            os.unlink(temporary)
    return path.read_text().strip()
