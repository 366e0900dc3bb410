"""/docs: the API reference as a plain page, drawn from the OpenAPI document on the server.

APIFlask's own docs pages load Swagger UI (or Redoc, Elements, RapiDoc) from a CDN and start it with an
inline script; both break the Content-Security-Policy every page carries, and no UI bundle ships with
the installed packages. So /docs renders the same spec as HTML here, and /openapi.json stays the
machine-readable source for any client or UI a reader prefers.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("apidocs", __name__)

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
                        "parameters": operation.get("parameters", []),
                        "responses": sorted(operation.get("responses", {}).items()),
                    }
                )
    return render_template("apidocs.html", spec=spec, operations=operations)
