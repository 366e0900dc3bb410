"""Errors as RFC 9457 problem documents for machines and as a friendly page for people.

Paths under /api/ and /integrations/ are read by programs, so they get ``application/problem+json``;
every other path is a page. No response ever carries a traceback.

503 is the service's own trouble (no analysis worker, the database unavailable or read-only), always
with Retry-After; ``Retry-After`` appears on 429 and 503 responses only (see tutor.web.extensions).
"""

from __future__ import annotations

from dataclasses import dataclass

from apiflask import HTTPError
from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, UnprocessableEntity
from werkzeug.http import HTTP_STATUS_CODES

from tutor.engine import InputError, TooExpensive
from tutor.persistence.database import DatabaseReadOnly, DatabaseUnavailable
from tutor.sandbox import AnalysisUnavailable

MACHINE_PREFIXES = ("/api/", "/integrations/")

# What a person should read instead of werkzeug's terse descriptions.
FRIENDLY = {
    400: "The request could not be understood. Go back, check the form and send it again.",
    401: "You need to sign in to see this.",
    403: "You are not allowed to do that.",
    404: "There is nothing here. The case may have been deleted, or the address mistyped.",
    405: "That page cannot be used like that.",
    413: "That was more text than one question may carry. Shorten it and try again.",
    422: "The question could not be answered as asked.",
    429: "Too many requests from your address. Wait a minute, then try again.",
    500: "Something went wrong on our side. The error has been logged; please try again later.",
    503: "The tutor cannot work out answers right now. Nothing was lost; please try again in a minute.",
}
DATABASE_UNAVAILABLE = (
    "The database is unavailable right now (it refused the connection or did not answer in time), so "
    "this request could not be completed. Try again in a few seconds: with the same Idempotency-Key, a "
    "question sent again is never saved twice."
)
DATABASE_READ_ONLY = (
    "The database is read-only right now: saved cases can be read, but nothing new can be saved, so "
    "nothing was. Try again later."
)
CSRF_MESSAGE = (
    "The form's security token was missing or has expired. Go back, reload the page and send the form again."
)


def wants_problem_json() -> bool:
    return request.path.startswith(MACHINE_PREFIXES) or request.path.rstrip("/") in ("/api", "/integrations")


@dataclass(frozen=True)
class ProblemType:
    """A kind of error a client can tell apart by the problem's ``type``: ``<public URL>/docs#<slug>``,
    where /docs says what it means and what to do."""

    slug: str
    status: int
    title: str
    meaning: str


# Every kind of problem the API and the webhook send. A bot branches on `type`, never on `detail`.
PROBLEM_TYPES = {
    kind.slug: kind
    for kind in (
        ProblemType(
            "malformed-request",
            400,
            "Malformed request",
            "The body is not JSON, or the request cannot be read.",
        ),
        ProblemType(
            "unauthorized",
            401,
            "Unauthorized",
            "No token, or an unknown or revoked one: send `Authorization: Bearer <token>`.",
        ),
        ProblemType(
            "forbidden",
            403,
            "Forbidden",
            "The token may not do this: listing and deleting need the admin token.",
        ),
        ProblemType("not-found", 404, "Not found", "Nothing is here: the case may have been deleted."),
        ProblemType(
            "method-not-allowed", 405, "Method not allowed", "This address does not take this method."
        ),
        ProblemType(
            "idempotency-conflict",
            409,
            "Idempotency key reused",
            "The Idempotency-Key was used before for another request: a retry must repeat the request "
            "exactly; a new question needs a new key.",
        ),
        ProblemType(
            "too-large",
            413,
            "Request too large",
            "The body is larger than the server takes (TUTOR_MAX_REQUEST_BYTES).",
        ),
        ProblemType(
            "invalid-request",
            422,
            "Invalid request",
            "A member of the body, a query parameter or a header does not fit the schema: `field` names "
            "the first, `errors` lists them all.",
        ),
        ProblemType(
            "parse-error",
            422,
            "Expression refused",
            "The expression cannot be read, or is refused before any work (a character, a name, a "
            "function, its length, size or nesting, an operation undefined everywhere): `column` says where.",
        ),
        ProblemType(
            "invalid-question",
            422,
            "Question cannot be answered",
            "The expression is fine but the rest of the question is not (the point, the learning rate, "
            "steps, the order, methods, settings, data): `field` names the member.",
        ),
        ProblemType(
            "too-expensive",
            422,
            "Too expensive",
            "Answering would take more time or memory than one question may use, or record more numbers "
            "than one answer may hold (estimated before any work, or stopped by the clock): simplify the "
            "expression, or ask for fewer steps, rows or methods, as `detail` says. Retrying the same "
            "question fails the same way.",
        ),
        ProblemType(
            "rate-limited",
            429,
            "Too many requests",
            "Too many requests with this token or from this address: wait as long as Retry-After says.",
        ),
        ProblemType(
            "internal-error",
            500,
            "Internal error",
            "A fault on the server's side; it is logged. Retrying may work.",
        ),
        ProblemType(
            "unavailable",
            503,
            "Service unavailable",
            "The tutor cannot work out or store answers right now; nothing saved is lost. Retry after "
            "Retry-After seconds.",
        ),
    )
}
# The kind a status means when the code that answers does not say (409 and others stay about:blank).
DEFAULT_PROBLEM_TYPES = {
    400: "malformed-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "too-large",
    422: "invalid-request",
    429: "rate-limited",
    500: "internal-error",
    503: "unavailable",
}


def problem_type_uri(slug: str) -> str:
    return f"{current_app.config['TUTOR_SETTINGS'].public_url}/docs#{slug}"


def input_problem_type(error: InputError) -> str:
    """Which kind of 422 a question the engine refused is."""
    if isinstance(error, TooExpensive):
        return "too-expensive"
    return "parse-error" if error.field == "expression" else "invalid-question"


def problem(status: int, detail: str, *, kind: str | None = None, **extensions: object) -> Response:
    """An RFC 9457 problem response; ``kind`` is a slug of PROBLEM_TYPES (by default the one the status
    means), ``extensions`` become extra members (e.g. field, column)."""
    known = PROBLEM_TYPES.get(kind or DEFAULT_PROBLEM_TYPES.get(status, ""))
    if known is None:
        body = {"type": "about:blank", "title": HTTP_STATUS_CODES.get(status, "Error"), "status": status}
    else:
        body = {"type": problem_type_uri(known.slug), "title": known.title, "status": status}
    body["detail"] = detail
    body.update(extensions)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def error_page(status: int, message: str) -> tuple[str, int]:
    title = HTTP_STATUS_CODES.get(status, "Error")
    return render_template("error.html", status=status, title=title, message=message), status


def refusal(status: int, detail: str, **extensions: object) -> Response:
    """``detail`` as a problem document for programs, as an error page for people."""
    if wants_problem_json():
        return problem(status, detail, **extensions)
    body, _ = error_page(status, detail)
    response = Response(body, status=status, mimetype="text/html")
    return response


def unavailable(detail: str, retry_after: int) -> Response:
    """503 with Retry-After: the service cannot do this now, and says when to come back."""
    response = refusal(503, detail)
    response.headers["Retry-After"] = str(retry_after)
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | tuple[str, int]:
        status = error.code or 500
        if isinstance(error, CSRFError):
            message = CSRF_MESSAGE
        else:
            message = FRIENDLY.get(status) or error.description or HTTP_STATUS_CODES.get(status, "Error")
        if wants_problem_json():
            response = problem(status, error.description or message)
        else:
            body, _ = error_page(status, message)
            response = app.make_response((body, status))
        # Keep what the error carries for clients: Allow on 405, Retry-After on 429, WWW-Authenticate.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(HTTPError)
    def api_error(error: HTTPError) -> Response | tuple[str, int]:
        # APIFlask raises these for request validation; the details name the fields at fault.
        status = error.status_code
        if wants_problem_json():
            extra = {"errors": error.detail} if error.detail else {}
            response = problem(status, error.message or HTTP_STATUS_CODES.get(status, "Error"), **extra)
            response.headers.update(error.headers or {})
            return response
        return error_page(status, FRIENDLY.get(status, error.message or "Error"))

    @app.errorhandler(InputError)
    def input_error(error: InputError) -> Response | tuple[str, int]:
        # Pages catch InputError themselves to re-show the form; this is the net for everything else.
        status = UnprocessableEntity.code
        if wants_problem_json():
            return problem(
                status, error.message, kind=input_problem_type(error), field=error.field, column=error.column
            )
        return error_page(status, f"{FRIENDLY[status]} {error}")

    @app.errorhandler(AnalysisUnavailable)
    def analysis_unavailable(error: AnalysisUnavailable) -> Response:
        # The service's fault, not the question's: say so, and when to come back.
        app.logger.warning("analysis unavailable on %s %s: %s", request.method, request.path, error)
        return unavailable(error.detail, error.retry_after)

    @app.errorhandler(DatabaseUnavailable)
    def database_unavailable(error: DatabaseUnavailable) -> Response:
        app.logger.error("database unavailable on %s %s: %s", request.method, request.path, error.reason)
        detail = DATABASE_READ_ONLY if isinstance(error, DatabaseReadOnly) else DATABASE_UNAVAILABLE
        return unavailable(detail, error.retry_after)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response | tuple[str, int]:
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        status = InternalServerError.code
        if wants_problem_json():
            return problem(status, FRIENDLY[status])
        return error_page(status, FRIENDLY[status])
