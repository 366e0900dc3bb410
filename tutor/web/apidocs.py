"""/docs: the API reference as a plain page, drawn from the OpenAPI document on the server.

APIFlask's own docs pages load Swagger UI (or Redoc, Elements, RapiDoc) from a CDN and start it with an
inline script; both break the Content-Security-Policy every page carries, and no UI bundle ships with
the installed packages. So /docs renders the same spec as HTML here: each operation with who may call
it, its parameters and body fields with their types and descriptions, and its responses. /openapi.json
stays the machine-readable source for any client or UI a reader prefers.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template

from tutor.web.pages.present import inline_markdown_html, markdown_html

bp = Blueprint("apidocs", __name__)
# The document's descriptions are Markdown (`code`, emphasis), written in this code base.
bp.add_app_template_filter(markdown_html, "block_markdown")
bp.add_app_template_filter(inline_markdown_html, "inline_markdown")

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@bp.get("/docs")
def reference() -> str:
    spec = current_app.spec  # the app is an APIFlask, which builds and caches the document
    operations = []
    for path, item in sorted(spec.get("paths", {}).items()):
        for method in HTTP_METHODS:
            if method in item:
                operation = item[method]
                operations.append(
                    {
                        "method": method.upper(),
                        "path": path,
                        "summary": operation.get("summary", ""),
                        "description": operation.get("description", ""),
                        "needs_token": bool(operation.get("security")),
                        "parameters": [
                            {**parameter, "type": type_text(spec, parameter.get("schema", {}))}
                            for parameter in operation.get("parameters", [])
                        ],
                        "body": body_fields(spec, operation),
                        "responses": sorted(operation.get("responses", {}).items()),
                    }
                )
    schemes = spec.get("components", {}).get("securitySchemes", {})
    return render_template("apidocs.html", spec=spec, operations=operations, schemes=schemes)


def resolved(spec: dict, schema: dict) -> dict:
    """The schema a ``$ref`` points at in the document's components, or the schema itself."""
    reference = schema.get("$ref", "")
    return spec["components"]["schemas"][reference.rsplit("/", 1)[1]] if reference else schema


def type_text(spec: dict, schema: dict) -> str:
    """A JSON Schema type as a reader says it: "array of string", "object of number", "integer or null"."""
    schema = resolved(spec, schema)
    if "anyOf" in schema:
        return " or ".join(type_text(spec, option) for option in schema["anyOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {type_text(spec, schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {type_text(spec, schema['additionalProperties'])}"
    return kind if kind != "object" or "title" not in schema else schema["title"]


def body_fields(spec: dict, operation: dict) -> list[dict[str, Any]]:
    """The members of an operation's JSON body: name, type, whether required, description."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return []
    schema = resolved(spec, content["schema"])
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": type_text(spec, member),
            "required": name in required,
            "description": member.get("description", ""),
        }
        for name, member in schema.get("properties", {}).items()
    ]
