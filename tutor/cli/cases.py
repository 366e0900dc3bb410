"""``tutor cases list|show|export|delete``: review the saved cases."""

from __future__ import annotations

import csv
import json
import sys
from contextlib import contextmanager
from datetime import date, datetime

import click

from tutor.cli import fail, main, migrated_database
from tutor.engine import InputError
from tutor.persistence.repository import outcome_of
from tutor.services.cases import OUTCOMES, CaseFilter, CaseNotFound, CaseService, created_between

# The columns of `tutor cases export --format csv`, one row per case.
CSV_COLUMNS = (
    "id",
    "created_at",
    "source",
    "parent_id",
    "engine_version",
    "expression",
    "canonical_expression",
    "question",
    "parameters",
    "learning_rate",
    "steps",
    "outcome",
    "loss",
    "verdict",
)


class _NoAnalyzer:
    """Reviewing never answers a question."""

    def answer(self, question):
        raise RuntimeError("the cases commands do not run the engine")


@main.group()
def cases() -> None:
    """Review saved cases: list, show, export, delete."""


@contextmanager
def case_service(analyzer=None):
    """The case service on the configured database, which must be migrated to the newest revision."""
    service = CaseService(migrated_database(), analyzer or _NoAnalyzer())
    try:
        yield service
    finally:
        service.close()


def _whole(text: str, name: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        fail(f"{name} must be a whole number, not '{text}'")
    if not low <= value <= high:
        fail(f"{name} must be from {low} to {high}")
    return value


def _day(text: str | None, name: str) -> date | datetime | None:
    """A date, or an ISO 8601 date and time (UTC unless it says otherwise)."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        fail(f"{name} must be a date like 2025-01-31 or 2025-01-31T12:00:00+00:00, not '{text}'")


def _filter(
    source: str | None, outcome: str | None, search: str | None, since: str | None, until: str | None
) -> CaseFilter:
    if outcome is not None and outcome not in OUTCOMES:
        fail(f"unknown outcome '{outcome}' (known: {', '.join(OUTCOMES)})")
    try:
        start, end = created_between(_day(since, "--since"), _day(until, "--until"))
    except InputError as error:
        fail(f"--{error.message}")  # the message starts with the option's name
    return CaseFilter(source=source, outcome=outcome, search=search, since=start, until=end)


def _filter_options(command):
    for option in reversed(
        [
            click.option("--source", help='Only this source; "api" takes in every "api:<client>".'),
            click.option("--outcome", help=f"Only this outcome: {', '.join(OUTCOMES)}."),
            click.option("--search", help="Only cases whose expression or question contains TEXT."),
            click.option("--since", help="Only cases created on or after this date (UTC)."),
            click.option(
                "--until", help="Only cases created on or before this date (UTC), or before this moment."
            ),
        ]
    ):
        command = option(command)
    return command


@cases.command("list")
@_filter_options
@click.option("--page", default="1", show_default=True, help="Page number, from 1.")
@click.option("--per-page", default="20", show_default=True, help="Cases per page (at most 100).")
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON: items, total, page, per_page.")
def list_cases(source, outcome, search, since, until, page, per_page, as_json) -> None:
    """List saved cases, newest first."""
    where = _filter(source, outcome, search, since, until)
    page_number = _whole(page, "--page", 1, 10**9)
    size = _whole(per_page, "--per-page", 1, 100)
    with case_service() as service:
        result = service.list(where, page=page_number, per_page=size)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, allow_nan=False))
        return
    for item in result.items:
        click.echo(
            f"{item['id']}  {item['created_at'][:19]}Z  {item['source']:<16}  "
            f"{item['outcome'] or '-':<19}  lr={item['learning_rate']:<8g}  {item['expression']}"
        )
    click.echo(f"page {result.page} of {result.pages}, {result.total} case{'s' if result.total != 1 else ''}")


@cases.command()
@click.argument("case_id")
@click.option("--json", "as_json", is_flag=True, help="Print the case document as JSON.")
def show(case_id: str, as_json: bool) -> None:
    """Show one case: its stored explanation (Markdown), or with --json the whole case document."""
    with case_service() as service:
        try:
            document = service.get(case_id)
        except CaseNotFound as error:
            fail(str(error))
    if as_json:
        click.echo(json.dumps(document, indent=2, allow_nan=False))
    else:
        click.echo(document["explanation"]["markdown"], nl=False)


@cases.command()
@click.option("--format", "kind", default="jsonl", show_default=True, help="jsonl or csv.")
@_filter_options
def export(kind: str, source, outcome, search, since, until) -> None:
    """Write every case to stdout: jsonl (one case document a line) or csv (one row a case)."""
    if kind not in ("jsonl", "csv"):
        fail(f"unknown format '{kind}' (known: jsonl, csv)")
    where = _filter(source, outcome, search, since, until)
    with case_service() as service:
        if kind == "jsonl":
            for document in service.each(where):
                click.echo(json.dumps(document, allow_nan=False, separators=(",", ":")))
            return
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for document in service.each(where):
            writer.writerow(csv_row(document))


def csv_row(document: dict) -> dict:
    given, analysis = document["input"], document.get("analysis") or {}
    return {
        "id": document["id"],
        "created_at": document["created_at"],
        "source": _cell(document["source"]),
        "parent_id": document["parent_id"] or "",
        "engine_version": document["engine_version"],
        "expression": _cell(given["expression"]),
        "canonical_expression": _cell(document["expression"]["canonical"]),
        "question": _cell(document["question"] or ""),
        "parameters": " ".join(document["parameters"]),
        "learning_rate": repr(given["learning_rate"]),
        "steps": given["steps"],
        "outcome": outcome_of(document["trials"]) or "",
        "loss": "" if document["loss"] is None else repr(document["loss"]),
        "verdict": analysis.get("verdict", ""),
    }


def _cell(text: str) -> str:
    # Text from the public: a spreadsheet reads a cell starting with = + - @ as a formula (and
    # "-x*y + 1" shows as an error); the leading ' makes it show as the text it is.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@cases.command()
@click.argument("case_id")
def delete(case_id: str) -> None:
    """Delete one case with its trials and steps (re-runs of it are kept, unlinked)."""
    with case_service() as service:
        try:
            service.delete(case_id)
        except CaseNotFound as error:
            fail(str(error))
    click.echo(f"deleted case {case_id}")
