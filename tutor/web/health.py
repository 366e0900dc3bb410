"""GET /healthz: the process is up and answering (for nginx, compose and load balancers). It touches
neither the database nor the analysis workers, so an outage of either does not make a load balancer
take a web instance away that would answer again the moment the outage ends; nor is it rate-limited."""

from __future__ import annotations

from flask import Blueprint

from tutor.web.extensions import limiter

bp = Blueprint("health", __name__)
limiter.exempt(bp)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
