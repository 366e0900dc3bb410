"""``tutor cases list|show|export|delete``: review the saved cases."""

from __future__ import annotations

import csv
import io
import json
import sys
from contextlib import contextmanager
from datetime import date, datetime

import click

from tutor.cli import fail, main, migrated_database
from tutor.engine import InputError
from tutor.engine.question import METHODS
from tutor.persistence.derived import review_columns
from tutor.services.cases import (
    MAX_PAGE,
    MAX_PER_PAGE,
    OUTCOMES,
    SPECIAL_CASES,
    CaseFilter,
    CaseNotFound,
    CaseService,
    created_between,
    first_words,
)

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
    "methods",
    "outcome",
    "sign_flips",
    "loss_increases",
    "diverged",
    "stationary",
    "kink",
    "undefined",
    "loss",
    "final_loss_simultaneous",
    "final_loss_sequential",
    "verdict",
)
# What Excel on Windows needs to read the file as UTF-8 (η, ∂, ‖) instead of the local code page.
BOM = "\ufeff"


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


def _day(text: str | None, name: str) -> date | datetime | None:
    """A date, or an ISO 8601 date and time (UTC unless it says otherwise)."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        fail(f"{name} must be a date like 2025-01-31 or 2025-01-31T12:00:00+00:00, not '{text}'")


def _known(value: str | None, what: str, known) -> str | None:
    if value is not None and value not in known:
        fail(f"unknown {what} '{value}' (known: {', '.join(known)})")
    return value


def _filter(filters: dict) -> CaseFilter:
    try:
        start, end = created_between(_day(filters["since"], "--since"), _day(filters["until"], "--until"))
    except InputError as error:
        fail(f"--{error.message}")  # the message starts with the option's name
    return CaseFilter(
        source=filters["source"],
        outcome=_known(filters["outcome"], "outcome", OUTCOMES),
        search=filters["search"],
        since=start,
        until=end,
        sign_flip=filters["sign_flip"],
        loss_went_up=filters["loss_went_up"],
        diverged=filters["diverged"],
        method=_known(filters["method"], "method", tuple(METHODS)),
        special_case=_known(filters["special_case"], "special case", SPECIAL_CASES),
    )


def _filter_options(command):
    """The filters every listing command takes (the command gathers them with ``**filters``)."""
    options = [
        click.option("--source", help='Only this source; "api" takes in every "api:<client>".'),
        click.option("--outcome", help=f"Only this outcome: {', '.join(OUTCOMES)}."),
        click.option("--search", help="Only cases whose expression or question contains TEXT."),
        click.option("--since", help="Only cases created on or after this date (UTC)."),
        click.option(
            "--until", help="Only cases created on or before this date (UTC), or before this moment."
        ),
        click.option(
            "--sign-flip/--no-sign-flip",
            default=None,
            help="Only cases where a sequential update flipped a partial's sign (or where none did).",
        ),
        click.option(
            "--loss-went-up/--no-loss-went-up",
            default=None,
            help="Only cases where some step of some trial raised the loss (or where none did).",
        ),
        click.option(
            "--diverged/--no-diverged", default=None, help="Only cases where a trial diverged (or none did)."
        ),
        click.option("--method", help=f"Only cases that ran this trial: {', '.join(METHODS)}."),
        click.option(
            "--special-case", help=f"Only cases with this special case: {', '.join(SPECIAL_CASES)}."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def badges(item: dict) -> str:
    """What stands out about a case, in a few words: "2 sign flips, loss went up 3x, kink"."""
    words = []
    if item["sign_flips"]:
        words.append(f"{item['sign_flips']} sign flip{'s' if item['sign_flips'] != 1 else ''}")
    if item["loss_increases"]:
        words.append(f"loss went up {item['loss_increases']}x")
    words += [name for name in ("diverged", *SPECIAL_CASES) if item[name]]
    return ", ".join(words)


@cases.command("list")
@_filter_options
@click.option(
    "--page", type=click.IntRange(1, MAX_PAGE), default=1, show_default=True, help="Page number, from 1."
)
@click.option(
    "--per-page",
    type=click.IntRange(1, MAX_PER_PAGE),
    default=20,
    show_default=True,
    help=f"Cases per page (at most {MAX_PER_PAGE}).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON: items, total, page, per_page.")
def list_cases(page: int, per_page: int, as_json: bool, **filters) -> None:
    """List saved cases, newest first (the page count goes to stderr)."""
    where = _filter(filters)
    with case_service() as service:
        result = service.list(where, page=page, per_page=per_page)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, allow_nan=False))
        return
    for item in result.items:
        extra = [text for text in (badges(item), first_words(item["question"], 40)) if text]
        click.echo(
            f"{item['id']}  {item['created_at'][:19]}Z  {item['source']:<16}  "
            f"{item['outcome'] or '-':<19}  lr={item['learning_rate']:<8g}  {item['expression']}"
            + "".join(f"  [{text}]" for text in extra)
        )
    # On stderr: a pipeline reading the lines above gets only cases.
    click.echo(
        f"page {result.page} of {result.pages}, {result.total} case{'s' if result.total != 1 else ''}",
        err=True,
    )


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
@click.option(
    "--bom/--no-bom",
    default=True,
    show_default=True,
    help="csv: start with a UTF-8 byte order mark, so that Excel reads η and ∂ right.",
)
@_filter_options
def export(kind: str, bom: bool, **filters) -> None:
    """Write every matching case to stdout, newest first: jsonl (one case document a line) or csv
    (one row a case, UTF-8)."""
    if kind not in ("jsonl", "csv"):
        fail(f"unknown format '{kind}' (known: jsonl, csv)")
    where = _filter(filters)
    # Bytes, encoded here: the terminal's or the pipe's locale must not decide the file's encoding.
    out = sys.stdout.buffer
    with case_service() as service:
        if kind == "jsonl":
            for document in service.each(where):
                out.write(json.dumps(document, allow_nan=False, separators=(",", ":")).encode() + b"\n")
            return
        if bom:
            out.write(BOM.encode())
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for document in service.each(where):
            writer.writerow(csv_row(document))
            out.write(text.getvalue().encode())
            text.seek(0)
            text.truncate()
        out.write(text.getvalue().encode())
    out.flush()


def number(value: float | int | None) -> str:
    """A number for a spreadsheet: 15 significant digits, all a spreadsheet keeps (1.15, not
    1.150000000000001); empty when there is none. The JSONL export has every digit."""
    if value is None:
        return ""
    if isinstance(value, bool) or isinstance(value, int):
        return str(int(value))
    return f"{value:.15g}"


def csv_row(document: dict) -> dict:
    given, analysis = document["input"], document.get("analysis") or {}
    derived = review_columns(document)
    final = {trial["method"]: trial.get("final_loss") for trial in document["trials"]}
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
        "learning_rate": number(given["learning_rate"]),
        "steps": given["steps"],
        "methods": derived["methods"],
        "outcome": derived["outcome"] or "",
        **{name: number(derived[name]) for name in ("sign_flips", "loss_increases")},
        **{name: "true" if derived[name] else "false" for name in ("diverged", *SPECIAL_CASES)},
        "loss": number(document["loss"]),
        "final_loss_simultaneous": number(final.get("simultaneous")),
        "final_loss_sequential": number(final.get("sequential")),
        "verdict": analysis.get("verdict", ""),
    }


def _cell(text: str) -> str:
    # Text from the public: a spreadsheet reads a cell starting with = + - @ as a formula (and
    # "-x*y + 1" shows as an error); the leading ' makes it show as the text it is.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@cases.command()
@click.argument("case_id")
@click.option("--yes", is_flag=True, help="Delete without asking (for scripts).")
def delete(case_id: str, yes: bool) -> None:
    """Delete one case with its trials and steps (re-runs of it are kept, unlinked). Deleting cannot
    be undone, so the case is shown and the deletion confirmed first, unless --yes."""
    with case_service() as service:
        try:
            case = service.get(case_id)
            if not yes:
                # On stderr, like the prompt: stdout stays the command's result.
                click.echo(
                    f"case {case_id}: {case['input']['expression']} (asked {case['created_at']} by "
                    f"{case['source']})",
                    err=True,
                )
                click.confirm("Delete it?", abort=True, err=True)
            service.delete(case_id)
        except CaseNotFound as error:
            fail(str(error))
    click.echo(f"deleted case {case_id}")
