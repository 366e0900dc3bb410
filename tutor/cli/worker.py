"""``tutor worker [--once]``: the background jobs (forum replies, plots of new cases) in their own
process, beside any number of ``tutor serve`` instances and other workers (tutor/worker.py)."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import click

from tutor.cli import main, migrated_database
from tutor.config import Settings
from tutor.worker import build_worker


@main.command()
@click.option("--once", is_flag=True, help="Do what is due now, then exit (for cron or a one-off run).")
@click.option(
    "--heartbeat",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file to touch after each batch of work and each idle second (for health checks).",
)
def worker(once: bool, heartbeat: Path | None) -> None:
    """Run the background jobs until stopped (SIGTERM or Ctrl-C: after the piece of work in hand)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s [worker %(process)d] %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings.from_env()
    database = migrated_database()
    logging.getLogger(__name__).info("starting its analysis workers")
    runner = build_worker(settings, database, heartbeat)
    try:
        if once:
            click.echo(f"did {runner.run_once()} pieces of work")
            return
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_: runner.stop())
        runner.run()
    finally:
        runner.close()
        database.dispose()
