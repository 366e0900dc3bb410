"""Completes the OpenAPI document APIFlask generates from the views and tutor.web.api.schemas.

APIFlask names each nested model after the model that holds it ("CaseOut.GraphNode") and describes
parameters inside their schemas. Here the document gets: one component per model under its own name,
shared by every operation; the engine's configured limits instead of the API's coarse ones; parameter
descriptions where clients show them; header and query schemas without null (a header is sent or not);
the problem types; and a real example for every request and response.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

from pydantic.json_schema import models_json_schema

from tutor.config import Limits, Settings
from tutor.web.api.schemas import DOCUMENTED, CaseQuery, IdempotencyHeaders
from tutor.web.errors import PROBLEM_TYPES

REF = "#/components/schemas/{model}"
# What a client must match a symbol's name against (tutor.engine.parse.check_name says why).
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Parameters by name (a header's as its field: idempotency_key), described where clients show them.
PARAMETERS = {
    "case_id": "the case's id: 12 letters and digits, from its `id` or its URL",
    **{
        name: field.description
        for model in (CaseQuery, IdempotencyHeaders)
        for name, field in model.model_fields.items()
        if field.description
    },
}


def complete(spec: dict[str, Any], settings: Settings, prefix: str) -> dict[str, Any]:
    """The document with everything above added; ``prefix`` is the API's path prefix."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    # APIFlask's copies of the models ("CaseOut", "CaseOut.GraphNode", "CaseQuery.Method"): replaced
    # by one component per model.
    ours = {model.__name__ for model, _ in DOCUMENTED}
    for name in [name for name in schemas if "." in name or name in ours]:
        del schemas[name]
    schemas.update(component_schemas(settings.limits, settings.public_url))
    for path, item in spec.get("paths", {}).items():
        if not path.startswith(prefix):
            continue
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            if "requestBody" in operation:
                operation["requestBody"]["required"] = True
            operation["parameters"] = [describe(parameter) for parameter in operation.get("parameters", [])]
            add_examples(operation, settings.public_url)
    return spec


def component_schemas(limits: Limits, public_url: str) -> dict[str, Any]:
    """Every documented model and the models inside them, each under its own name."""
    # The query's model too, for the enums its parameters refer to (the query itself is no body).
    _, top = models_json_schema([*DOCUMENTED, (CaseQuery, "validation")], ref_template=REF)
    schemas = copy.deepcopy(top["$defs"])
    del schemas["CaseQuery"]
    apply_limits(schemas, limits)
    problem_type = schemas["Problem"]["properties"]["type"]
    problem_type["description"] = (
        "The kind of problem, one of:\n\n"
        + "\n".join(
            f"- `{public_url}/docs#{kind.slug}` ({kind.status}): {kind.meaning}"
            for kind in PROBLEM_TYPES.values()
        )
        + "\n\nand `about:blank` for anything else (its `status` says what)."
    )
    return schemas


def apply_limits(schemas: dict[str, Any], limits: Limits) -> None:
    """The bounds the engine enforces (Limits, from TUTOR_LIMIT_*), where the API's models only say
    what keeps a request small."""
    value = {"type": "number", "minimum": -limits.max_abs_value, "maximum": limits.max_abs_value}
    names = {"maxLength": limits.max_name_length, "pattern": NAME_PATTERN}
    question = schemas["CaseIn"]["properties"]
    question["expression"]["maxLength"] = limits.max_expression_length
    question["steps"]["maximum"] = limits.max_steps
    question["point"].update(
        additionalProperties=value, propertyNames=names, maxProperties=limits.max_symbols
    )
    for member in ("fixed",):
        question[member]["maxItems"] = limits.max_symbols
    question["order"]["anyOf"][0]["maxItems"] = limits.max_symbols
    columns = question["data"]["anyOf"][0]
    columns.update(propertyNames=names, maxProperties=limits.max_symbols)
    columns["additionalProperties"].update(minItems=1, maxItems=limits.max_data_rows, items=value)
    question["batch_size"]["anyOf"][0]["maximum"] = limits.max_data_rows
    for model in ("CaseIn", "RerunIn"):
        for member in ("learning_rate", "lr"):
            rate = schemas[model]["properties"][member]
            rate.pop("exclusiveMinimum", None)
            rate.update(minimum=limits.min_learning_rate, maximum=limits.max_learning_rate)


def describe(parameter: dict[str, Any]) -> dict[str, Any]:
    """A parameter as clients read it: its description beside it, the header's own spelling, and a
    schema without null or a null default (a query parameter or a header is sent or left out)."""
    schema = dict(parameter.get("schema", {}))
    if "$ref" in schema:  # APIFlask's "CaseQuery.Method" is the component "Method"
        schema["$ref"] = REF.format(model=schema["$ref"].rsplit("/", 1)[1].rsplit(".", 1)[-1])
    schema.pop("description", None)
    description = PARAMETERS.get(parameter["name"].replace("-", "_").lower())
    options = [option for option in schema.pop("anyOf", []) if option.get("type") != "null"]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options
    if schema.get("default", 0) is None:
        del schema["default"]
    described = {**parameter, "schema": schema}
    if description:
        described["description"] = description
    if parameter["in"] == "header":
        described["name"] = "-".join(part.capitalize() for part in parameter["name"].split("-"))
    return described


@cache
def example_case() -> dict[str, Any]:
    """A real case document (tests/integration/test_openapi.py checks it against the engine)."""
    return json.loads(resources.files("tutor.web.api").joinpath("example_case.json").read_text("utf-8"))


def _with_url(case: dict[str, Any], public_url: str) -> dict[str, Any]:
    return {**case, "url": f"{public_url}/cases/{case['id']}"}


def add_examples(operation: dict[str, Any], public_url: str) -> None:
    """An example of each success and of a problem, for readers of /docs and of the document."""
    case = _with_url(example_case(), public_url)
    summary = {
        **{key: case[key] for key in ("id", "url", "created_at", "source", "question", "parent_id")},
        "engine_version": case["engine_version"],
        "expression": case["input"]["expression"],
        "canonical_expression": case["expression"]["canonical"],
        "parameters": case["parameters"],
        "fixed": {},
        "point": case["input"]["point"],
        "learning_rate": case["input"]["learning_rate"],
        "steps": case["input"]["steps"],
        "order": case["input"]["order"],
        "outcome": "sequential_better",
        "methods": case["input"]["methods"],
        "sign_flips": 0,
        "loss_increases": 0,
        "diverged": False,
        "stationary": False,
        "kink": False,
        "undefined": False,
    }
    examples = {
        "create_case": case,
        "get_case": case,
        "rerun_case": {**case, "parent_id": "Q2oXr7TbLm4u"},
        "list_cases": {"items": [summary], "total": 1, "page": 1, "per_page": 20, "pages": 1},
    }
    for status, response in operation.get("responses", {}).items():
        for media, content in response.get("content", {}).items():
            if media == "application/json" and operation.get("operationId") in examples:
                content["example"] = examples[operation["operationId"]]
            elif media == "application/problem+json":
                content["example"] = problem_example(status, public_url)


def problem_example(status: str, public_url: str) -> dict[str, Any]:
    if status == "422":
        return {
            "type": f"{public_url}/docs#parse-error",
            "title": PROBLEM_TYPES["parse-error"].title,
            "status": 422,
            "detail": "the formula ends too early",
            "field": "expression",
            "column": 8,
        }
    kind = next(
        (kind for kind in PROBLEM_TYPES.values() if str(kind.status) == status),
        PROBLEM_TYPES["internal-error"],
    )
    return {
        "type": f"{public_url}/docs#{kind.slug}",
        "title": kind.title,
        "status": kind.status,
        "detail": kind.meaning.replace("`", ""),
    }
