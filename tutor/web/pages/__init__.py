"""The HTML pages: ask (/), the answer (/cases/<id>), review (/cases), sign-in."""

from flask import Blueprint

bp = Blueprint("pages", __name__)

from tutor.web.pages import views  # noqa: E402,F401  (registers the routes on bp)
