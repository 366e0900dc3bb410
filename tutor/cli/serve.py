"""``tutor serve [--host 127.0.0.1] [--port 8000]``: the web pages, the API and the webhook under gunicorn."""

from __future__ import annotations

import click
from gunicorn.app.base import BaseApplication

from tutor.cli import main
from tutor.config import Settings

# Each worker process answers this many requests at once. A question waits on the analysis workers (a
# separate pool with its own time limit), so a slow question holds one thread, not the whole process.
THREADS_PER_WORKER = 8


class Server(BaseApplication):
    def __init__(self, options: dict[str, object]):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self):
        # Imported in each worker after the fork: every worker has its own app, database pool,
        # analysis pool and delivery thread.
        from tutor.wsgi import app

        return app


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on."
)
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes [default: TUTOR_WORKERS or 2].")
def serve(host: str, port: int, workers: int | None) -> None:
    """Run the service with gunicorn. Run `tutor db upgrade` first."""
    settings = Settings.from_env()
    Server(
        {
            "bind": f"{host}:{port}",
            "workers": workers or settings.workers,
            "worker_class": "gthread",
            "threads": THREADS_PER_WORKER,
            # Longer than any question may take, so gunicorn never kills a worker that is waiting for one.
            "timeout": max(60, int(settings.limits.seconds_per_question * 3)),
            "graceful_timeout": 30,
            "accesslog": "-",
            "errorlog": "-",
            # gunicorn 25+ opens a control socket at one fixed path per user ($HOME/.gunicorn): two
            # servers on one machine (tests, a benchmark beside `make run`) would take it from each
            # other. The tutor is stopped and scaled through its process, not gunicornc.
            "control_socket_disable": True,
        }
    ).run()
