"""/docs: the API reference as a plain page, drawn from the OpenAPI document on the server.

APIFlask's own docs pages load Swagger UI (or Redoc, Elements, RapiDoc) from a CDN and start it with an
inline script; both break the Content-Security-Policy every page carries, and vendoring a UI bundle
means a megabyte of script to keep up to date for a page that needs none. So /docs renders the same
document as HTML here: who may call each operation, its parameters, its body and its responses with
their schemas and a real example, the rate limits, every problem type and every schema with its
members. /openapi.json stays the machine-readable source for any client or viewer a reader prefers.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, render_template
from markupsafe import Markup, escape

from tutor.web.errors import PROBLEM_TYPES
from tutor.web.pages.present import inline_markdown_html, markdown_html

bp = Blueprint("apidocs", __name__)
# The document's descriptions are Markdown (`code`, emphasis), written in this code base.
bp.add_app_template_filter(markdown_html, "block_markdown")
bp.add_app_template_filter(inline_markdown_html, "inline_markdown")

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@bp.get("/docs")
def reference() -> str:
    spec = current_app.spec  # the app is an APIFlask, which builds and caches the document
    settings = current_app.config["TUTOR_SETTINGS"]
    operations = [
        describe_operation(spec, method, path, item[method])
        for path, item in sorted(spec.get("paths", {}).items())
        for method in HTTP_METHODS
        if method in item
    ]
    schemas = spec.get("components", {}).get("schemas", {})
    return render_template(
        "apidocs.html",
        spec=spec,
        operations=operations,
        schemes=spec.get("components", {}).get("securitySchemes", {}),
        schemas=[(name, schema_view(spec, schema)) for name, schema in sorted(schemas.items())],
        problem_types=PROBLEM_TYPES.values(),
        public_url=settings.public_url,
        rate_limit=settings.rate_limit,
        max_request_bytes=settings.max_request_bytes,
    )


def describe_operation(spec: dict, method: str, path: str, operation: dict) -> dict[str, Any]:
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    body_schema = resolved(spec, body["schema"]) if body else None
    return {
        "id": operation.get("operationId") or f"{method}-{path}",
        "method": method.upper(),
        "path": path,
        "summary": operation.get("summary", ""),
        "description": operation.get("description", ""),
        "access": access(operation),
        "parameters": [
            {**parameter, "type": type_html(spec, parameter.get("schema", {}))}
            for parameter in operation.get("parameters", [])
        ],
        "body": fields(spec, body_schema) if body_schema else [],
        "body_one_of": one_of_required(body_schema or {}),
        "body_type": type_html(spec, body["schema"]) if body else None,
        "body_examples": [pretty(example) for example in (body_schema or {}).get("examples", [])],
        "responses": [
            response_view(spec, status, response)
            for status, response in sorted(operation.get("responses", {}).items(), key=lambda item: item[0])
        ],
    }


def access(operation: dict) -> str:
    """Who may call an operation, from its security requirement."""
    requirements = operation.get("security")
    if not requirements:
        return "public"
    roles = {role for requirement in requirements for scopes in requirement.values() for role in scopes}
    return "admin" if "admin" in roles else "token"


def response_view(spec: dict, status: str, response: dict) -> dict[str, Any]:
    content = next(iter(response.get("content", {}).items()), None)
    view = {
        "status": status,
        "description": response.get("description", ""),
        "headers": response.get("headers", {}),
    }
    if content is not None:
        media, body = content
        view.update(media=media, type=type_html(spec, body.get("schema", {})))
        if "example" in body:
            view["example"] = pretty(body["example"])
    return view


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def resolved(spec: dict, schema: dict) -> dict:
    """The schema a ``$ref`` points at in the document's components, or the schema itself."""
    reference = schema.get("$ref", "")
    return spec["components"]["schemas"][reference.rsplit("/", 1)[1]] if reference else schema


def type_html(spec: dict, schema: dict) -> Markup:
    """A JSON Schema type as a reader says it, each named schema a link to its description:
    "array of GraphNode", "object of number or null", "one of: a or b"."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return Markup('<a href="#schema-{0}">{0}</a>').format(name)
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            return Markup(" or ").join(type_html(spec, option) for option in schema[combinator])
    if "enum" in schema:
        return Markup(" | ").join(
            Markup("<code>{}</code>").format(json.dumps(value)) for value in schema["enum"]
        )
    if "const" in schema:
        return Markup("<code>{}</code>").format(json.dumps(schema["const"]))
    kind = schema.get("type", "any")
    if kind == "array":
        return Markup("array of ") + type_html(spec, schema.get("items", {}))
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return Markup("object of ") + type_html(spec, schema["additionalProperties"])
    if kind == "string" and "format" in schema:
        return escape(f"string ({schema['format']})")
    return escape(kind)


def bounds(schema: dict) -> str:
    """A member's limits in words: "at most 500 characters", "from 1 to 1000"."""
    words = []
    for key, text in (
        ("minLength", "at least {} characters"),
        ("maxLength", "at most {} characters"),
        ("minimum", "at least {}"),
        ("exclusiveMinimum", "more than {}"),
        ("maximum", "at most {}"),
        ("exclusiveMaximum", "less than {}"),
        ("minItems", "at least {} items"),
        ("maxItems", "at most {} items"),
        ("maxProperties", "at most {} members"),
        ("default", "default {}"),
    ):
        if schema.get(key) is not None:
            value = schema[key]
            words.append(text.format(f"{value:g}" if isinstance(value, float) else json.dumps(value)))
    for option in schema.get("anyOf", []):
        words.extend(bound for bound in bounds(option).split(", ") if bound and bound not in words)
    return ", ".join(words)


def fields(spec: dict, schema: dict) -> list[dict[str, Any]]:
    """The members of an object schema: name, type, whether required, limits, description."""
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": type_html(spec, member),
            "required": name in required,
            "bounds": bounds(member),
            "description": member.get("description", ""),
        }
        for name, member in schema.get("properties", {}).items()
    ]


def one_of_required(schema: dict) -> list[list[str]]:
    """The alternatives an object requires one of (CaseIn: learning_rate or lr)."""
    return schema.get("x-required-one-of", [])


def schema_view(spec: dict, schema: dict) -> dict[str, Any]:
    return {
        "description": schema.get("description", ""),
        "fields": fields(spec, schema),
        "one_of_required": one_of_required(schema),
    }
