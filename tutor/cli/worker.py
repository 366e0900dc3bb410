"""``tutor worker [--once]``: the background jobs (forum replies, plots of new cases) in their own
process, beside any number of ``tutor serve`` instances and other workers (tutor/worker.py)."""

from __future__ import annotations

import logging
import signal

import click

from tutor.cli import main, migrated_database
from tutor.config import Settings
from tutor.worker import build_worker


@main.command()
@click.option("--once", is_flag=True, help="Do what is due now, then exit (for cron or a one-off run).")
def worker(once: bool) -> None:
    """Run the background jobs until stopped (SIGTERM or Ctrl-C: after the piece of work in hand)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s [worker %(process)d] %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings.from_env()
    database = migrated_database()
    runner = build_worker(settings, database)
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
