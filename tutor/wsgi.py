"""The WSGI entry point: ``gunicorn tutor.wsgi:app`` (what ``tutor serve`` runs). Settings come from the
environment (TUTOR_*), read once in each server process."""

from tutor.web import create_app
from tutor.web.discourse import start_background_delivery

app = create_app()
# Before this process accepts requests: the first question must not wait for the workers to start.
app.extensions["tutor"].analyzer.start()
# Replies left pending by a crash or a forum outage go out without waiting for the next webhook.
start_background_delivery(app)
