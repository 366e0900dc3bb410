"""The WSGI entry point for other servers (``gunicorn tutor.wsgi:app``); ``tutor serve`` is the usual way.
Settings come from the environment (TUTOR_*), read once in each server process.

Importing this starts nothing but the app: the analysis workers start on the first question (``tutor
serve`` starts them in each server process before it takes requests), and the background jobs (forum
replies, plots of new cases) run in ``tutor worker``, a process of their own.
"""

from tutor.web import create_app

app = create_app()
