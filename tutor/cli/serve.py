"""``tutor serve [--host 127.0.0.1] [--port 8000] [--workers N]``: the web pages, the API and the webhook
under gunicorn. Web only: the background jobs run in ``tutor worker``.

Everything the processes and instances must agree on is settled here, once, before gunicorn forks: the
database must be at the newest revision, the signing key is read (TUTOR_SECRET_KEY or the one kept in
the database), and the rate-limit counters must be in a store every process shares, which must
answer. Nothing starts at import time: each server process starts its analysis workers in
gunicorn's ``post_worker_init`` hook, before it accepts requests.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

import click
from gunicorn.app.base import BaseApplication

from tutor.cli import fail, main, migrated_database
from tutor.config import Settings

# Each worker process answers this many requests at once. A question waits on the analysis workers (a
# separate pool with its own time limit), so a slow question holds one thread, not the whole process.
THREADS_PER_WORKER = 8
# Where the rate-limit counters go when more than one process serves and TUTOR_RATE_LIMIT_STORAGE_URL
# does not say: the Redis every machine of this project runs. Counting in each process's memory
# would let a client make the limit times the number of processes.
SHARED_RATE_LIMIT_STORAGE = "redis://127.0.0.1:6379/0"


class Server(BaseApplication):
    def __init__(self, settings: Settings, options: dict[str, object]):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self):
        # In each worker after the fork: every worker has its own app, database pool and analysis pool.
        from tutor.web import create_app

        return create_app(self.settings)


def _log_to_stderr(server, worker) -> None:
    # The tutor's own messages (plots drawn, workers restarted) beside gunicorn's, with the process id.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
    )


def _start_analysis(worker) -> None:
    # Before this process accepts requests: the first question must not wait for the workers to start.
    worker.wsgi.extensions["tutor"].analyzer.start()


def rate_limit_storage(settings: Settings, processes: int) -> str:
    """The counters' store for ``processes`` server processes: TUTOR_RATE_LIMIT_STORAGE_URL if set, else
    memory for one process and Redis for more. A shared store must answer now (else: exit 2 with what to
    do); if it stops answering later, each process counts on its own until it is back."""
    url = settings.rate_limit_storage_url
    if url is None and processes == 1:
        return "memory://"
    default = url is None
    url = url or SHARED_RATE_LIMIT_STORAGE
    if url.startswith("memory://"):
        return url
    from limits.errors import ConfigurationError
    from limits.storage import storage_from_string

    from tutor.web.extensions import store_options

    try:
        answers = storage_from_string(url, **store_options(url)).check()
    except ConfigurationError as error:
        fail(f"TUTOR_RATE_LIMIT_STORAGE_URL is not a store the rate limiter can use: {error}")
    if not answers:
        why = (
            f"{processes} server processes share their rate-limit counters"
            if default
            else "the rate-limit counters are"
        )
        fail(
            f"{why} in {without_password(url)}, which does not answer: start Redis there, point "
            "TUTOR_RATE_LIMIT_STORAGE_URL at one that answers, or serve with --workers 1 "
            "(or TUTOR_RATE_LIMIT_STORAGE_URL=memory://, which counts in each process)"
        )
    return url


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on."
)
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes [default: TUTOR_WORKERS or 2].")
def serve(host: str, port: int, workers: int | None) -> None:
    """Run the web service with gunicorn (web only; run `tutor worker` for the background jobs).
    Run `tutor db upgrade` first."""
    from tutor.web import signing_key

    settings = Settings.from_env()
    workers = workers or settings.workers
    database = migrated_database()
    try:
        key = signing_key(settings, database)
    finally:
        database.dispose()
    settings = settings.with_changes(
        secret_key=key, rate_limit_storage_url=rate_limit_storage(settings, workers)
    )
    click.echo(
        f"tutor serve: {workers} process(es) on {host}:{port}, rate-limit counters in "
        f"{without_password(settings.rate_limit_storage_url)}",
        err=True,
    )
    Server(
        settings,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": THREADS_PER_WORKER,
            # Longer than any question may take, so gunicorn never kills a worker that is waiting for one.
            "timeout": max(60, int(settings.limits.seconds_per_question * 3)),
            "graceful_timeout": 30,
            "accesslog": "-",
            # gunicorn's usual line with the serving process's id (<pid>) and the time taken.
            "access_log_format": '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(p)s %(M)sms',
            "errorlog": "-",
            "post_fork": _log_to_stderr,
            "post_worker_init": _start_analysis,
            # gunicorn 25+ opens a control socket at one fixed path per user ($HOME/.gunicorn): two
            # servers on one machine (tests, a benchmark beside `make run`) would take it from each
            # other. The tutor is stopped and scaled through its process, not gunicornc.
            "control_socket_disable": True,
        },
    ).run()
