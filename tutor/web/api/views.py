"""The API's routes. Thin: the engine checks questions, the case service stores and answers them."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from apiflask import HTTPError
from flask import Response, current_app, request, url_for
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from tutor.engine import InputError, Question
from tutor.engine.question import with_latex_names
from tutor.services.cases import CaseFilter, CaseNotFound, CaseService, IdempotencyConflict, created_between
from tutor.web.api import bp
from tutor.web.api.auth import ADMIN_ROLE, auth, principal
from tutor.web.api.schemas import (
    CaseIn,
    CaseOut,
    CasePageOut,
    CaseQuery,
    IdempotencyHeaders,
    RerunIn,
)
from tutor.web.errors import input_problem_type, problem

PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}
ERROR_DESCRIPTIONS = {
    400: "The body is not JSON, or a header is malformed",
    401: "No token, or an unknown or revoked one",
    403: "The token may not do this (it needs the admin token)",
    404: "No case with this id",
    409: "The Idempotency-Key was used before with another question",
    413: "The body is larger than TUTOR_MAX_REQUEST_BYTES",
    422: "The request or the question cannot be answered as asked: `type` says which kind, `field` (and "
    "`column`) where",
    429: "Too many requests; wait as long as Retry-After says",
    503: "The analysis workers are busy or restarting, or the database is unavailable; nothing saved is "
    "lost; wait as long as Retry-After says",
    "default": "Any other error, as a problem document",
}
RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "string"}}
}
LOCATION = {"Location": {"description": "the case in this API", "schema": {"type": "string"}}}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The problem+json responses an operation may give, for its OpenAPI description: ``codes``, and on
    every operation 429 (rate limits), 503 (the service cannot answer) and a default problem."""
    responses: dict[int | str, dict[str, Any]] = {}
    for code in (*codes, 429, 503, "default"):
        responses[code] = {
            "description": ERROR_DESCRIPTIONS[code],
            "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
        }
    responses[429]["headers"] = responses[503]["headers"] = RETRY_AFTER
    return responses


def created(description: str) -> dict[int, dict[str, Any]]:
    return {201: {"description": description, "headers": LOCATION}}


def cases() -> CaseService:
    return current_app.extensions["tutor"].cases


def public_url() -> str:
    return current_app.config["TUTOR_SETTINGS"].public_url


def with_url(case: dict[str, Any]) -> dict[str, Any]:
    return {**case, "url": f"{public_url()}/cases/{case['id']}"}


def case_response(case: dict[str, Any], status: int = 200) -> Response:
    """The case document as JSON, written here instead of by ``@bp.output`` (which still documents it).

    APIFlask would validate and copy the whole document through Pydantic on every answer: about 100 kB
    that the engine made and the contract tests check against the same schema, and a fifth of a
    request's time."""
    response = current_app.json.response(with_url(case))
    response.status_code = status
    if status == 201:
        response.headers["Location"] = url_for("api.get_case", case_id=case["id"])
    return response


QUESTION_FIELDS = ("methods", "settings", "data", "batch_size", "shuffle_seed")


def question_from(body: CaseIn) -> Question:
    """The engine's Question. The optimizer fields pass through when this engine's Question has them."""
    known = {field.name for field in dataclasses.fields(Question)}
    values: dict[str, Any] = {
        "expression": body.expression,
        "point": body.point,
        "learning_rate": body.rate(),
        "steps": body.steps,
        "fixed": tuple(body.fixed),
        "order": tuple(body.order) if body.order is not None else None,
    }
    for name in QUESTION_FIELDS:
        value = getattr(body, name)
        if value is None:
            continue
        if name not in known:
            raise InputError(f"this server's engine does not support `{name}` yet", name)
        if name == "methods":
            value = tuple(method.value for method in value)
        elif name == "settings":
            value = value.values()
        values[name] = value
    return with_latex_names(Question(**values))


@bp.post("/cases")
@bp.auth_required(auth)
@bp.input(CaseIn, arg_name="body")
@bp.input(IdempotencyHeaders, location="headers", arg_name="headers")
@bp.output(
    CaseOut, status_code=201, description="The new case (or, for a retried Idempotency-Key, the first one)"
)
@bp.doc(
    summary="Ask a question",
    operation_id="create_case",
    responses={**created("The case"), **errors(400, 401, 409, 413, 422)},
)
def create_case(body: CaseIn, headers: IdempotencyHeaders):
    """Answers the question and saves it as a case.

    Needs a bot's token (or the admin token). The case is marked with the token's name (source
    `api:NAME`). With an Idempotency-Key header, a retry returns the first case and stores nothing new.
    """
    case = cases().ask(
        question_from(body),
        source=principal().source,
        question_text=body.question,
        idempotency_key=headers.idempotency_key,
    )
    return case_response(case, 201)


@bp.get("/cases/<case_id>")
@bp.output(CaseOut, description="The case")
@bp.doc(summary="Read a case", operation_id="get_case", responses=errors(404))
def get_case(case_id: str):
    """A saved case. Public, no token needed, like the case's web page: case links are shared in forum
    replies."""
    return case_response(cases().get(case_id))


@bp.get("/cases")
@bp.auth_required(auth, roles=[ADMIN_ROLE])
@bp.input(CaseQuery, location="query", arg_name="query")
@bp.output(CasePageOut, description="One page of cases, newest first")
@bp.doc(summary="List cases", operation_id="list_cases", responses=errors(401, 403, 422))
def list_cases(query: CaseQuery):
    """Saved cases, newest first, without their documents. Admin token only.

    Every filter given must match: who asked, the outcome, text, creation time, and what a reviewer
    looks for (a sign flip, a step that raised the loss, a diverged trial, a trial run, a special case).
    """
    # Every parameter is one value; the validation above saw only the first of a repeated one.
    repeated = [name for name in request.args if len(request.args.getlist(name)) > 1]
    if repeated:
        return problem(422, f"give {repeated[0]} once", field=repeated[0])
    since, until = created_between(query.since, query.until)
    where = CaseFilter(
        source=query.source or None,
        outcome=query.outcome and query.outcome.value,
        search=query.search or None,
        since=since,
        until=until,
        sign_flip=query.sign_flip,
        loss_went_up=query.loss_went_up,
        diverged=query.diverged,
        method=query.method and query.method.value,
        special_case=query.special_case and query.special_case.value,
    )
    page = cases().list(where, page=query.page, per_page=query.per_page).as_dict()
    page["items"] = [with_url(item) for item in page["items"]]
    return page


@bp.delete("/cases/<case_id>")
@bp.auth_required(auth, roles=[ADMIN_ROLE])
@bp.doc(
    summary="Delete a case", operation_id="delete_case", responses={204: "Deleted", **errors(401, 403, 404)}
)
def delete_case(case_id: str):
    """Deletes the case; cases re-run from it keep their answers and lose the link. Admin token only."""
    cases().delete(case_id)
    return Response(status=204)


@bp.post("/cases/<case_id>/rerun")
@bp.auth_required(auth)
@bp.input(RerunIn, arg_name="body")
@bp.input(IdempotencyHeaders, location="headers", arg_name="headers")
@bp.output(CaseOut, status_code=201, description="The new case, whose parent_id is this one")
@bp.doc(
    summary="Re-run with another learning rate",
    operation_id="rerun_case",
    responses={**created("The new case"), **errors(400, 401, 404, 409, 413, 422)},
)
def rerun_case(case_id: str, body: RerunIn, headers: IdempotencyHeaders):
    """The same question with another learning rate, saved as a new case linked to this one.

    Needs a bot's token (or the admin token). The Idempotency-Key works as when creating a case.
    """
    case = cases().rerun(
        case_id, body.rate(), source=principal().source, idempotency_key=headers.idempotency_key
    )
    return case_response(case, 201)


@bp.errorhandler(InputError)
def input_error(error: InputError) -> Response:
    return problem(422, error.message, kind=input_problem_type(error), field=error.field, column=error.column)


@bp.errorhandler(IdempotencyConflict)
def idempotency_conflict(error: IdempotencyConflict) -> Response:
    return problem(
        409,
        kind="idempotency-conflict",
        detail=f"The Idempotency-Key '{error.key}' was used before for another question (case "
        f"{error.case_id}): a retry must send the same request; send a new key with a new question.",
        field="Idempotency-Key",
    )


@bp.errorhandler(CaseNotFound)
def case_not_found(error: CaseNotFound) -> Response:
    return problem(404, f"There is no case with id '{error.case_id}'; it may have been deleted.")


@bp.errorhandler(HTTPError)
def validation_error(error: HTTPError) -> Response:
    """APIFlask's request validation: says which field is wrong, and how, in the detail."""
    found = [
        (field, message)
        for fields in (error.detail or {}).values()
        for field, messages in fields.items()
        for message in messages
    ]
    if not found:
        return problem(error.status_code, error.message)
    detail = "; ".join(f"{name}: {text}" for name, text in found[:5])
    return problem(
        error.status_code, detail, field=public_field(found[0][0]), column=None, errors=error.detail
    )


def public_field(name: str) -> str:
    """The member of the request a validation error is about, as the client wrote it."""
    if name == "_schema":
        return "body"  # the body is JSON but not an object
    if name == "idempotency_key":
        return "Idempotency-Key"
    return name.split(".", 1)[0]


@bp.errorhandler(BadRequest)
def bad_request(error: BadRequest) -> Response:
    try:
        json.loads(request.get_data(cache=True) or b"")
    except ValueError as reason:
        return problem(400, f"The body is not valid JSON: {reason}")
    return problem(400, error.description or "The request could not be understood.")


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge) -> Response:
    limit = current_app.config["TUTOR_SETTINGS"].max_request_bytes
    return problem(413, f"The body may be at most {limit} bytes.")
