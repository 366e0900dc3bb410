"""`tutor db` and `tutor cases` through click's CliRunner, on every backend."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from case_samples import DIVERGES, FLIPS, KINK, RISES, SEQUENTIAL_BETTER, SIMULTANEOUS_BETTER, question
from click.testing import CliRunner

from tutor.cli import main
from tutor.persistence import migrate


@pytest.fixture
def run(database_url):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), env={"TUTOR_DATABASE_URL": database_url})

    return invoke


@pytest.fixture
def saved(service):
    """Three cases, oldest first."""
    return [
        service.ask(question(*SEQUENTIAL_BETTER), source="cli", question_text="Which goes first?"),
        service.ask(question(*SIMULTANEOUS_BETTER), source="api:bot1"),
        service.ask(question(*DIVERGES), source="discourse:42"),
    ]


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tutor: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_list_json_is_a_page_newest_first(run, saved):
    result = run("cases", "list", "--json")
    assert result.exit_code == 0, result.output
    page = json.loads(result.stdout)
    assert page["total"] == 3 and page["page"] == 1
    assert [i["id"] for i in page["items"]] == [c["id"] for c in reversed(saved)]


def test_list_filters_and_pages(run, saved):
    def ids(*args):
        result = run("cases", "list", "--json", *args)
        assert result.exit_code == 0, result.output
        return [i["id"] for i in json.loads(result.stdout)["items"]]

    assert ids("--source", "api") == [saved[1]["id"]]
    assert ids("--outcome", "diverged") == [saved[2]["id"]]
    assert ids("--outcome", "sequential_better") == [saved[0]["id"]]
    assert ids("--search", "WHICH GOES") == [saved[0]["id"]]
    assert ids("--per-page", "2", "--page", "2") == [saved[0]["id"]]
    assert ids("--since", "2000-01-01", "--until", "2000-01-02") == []


def test_list_as_text_has_a_line_per_case_and_the_page_count_on_stderr(run, saved):
    result = run("cases", "list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    # Only cases on stdout: `tutor cases list | wc -l` counts cases.
    assert [line.split()[0] for line in lines] == [c["id"] for c in reversed(saved)]
    assert result.stderr == "page 1 of 1, 3 cases\n"
    # What stands out, and the question's first words.
    assert lines[-1].endswith("[Which goes first?]")
    assert "[loss went up" in lines[0] and "diverged]" in lines[0]


def test_list_text_shows_badges_and_the_start_of_a_long_question(run, service):
    service.ask(question(*FLIPS), source="web", question_text="Why does " + "the slope of y " * 10 + "flip?")
    (line,) = run("cases", "list").stdout.splitlines()
    assert "[1 sign flip]" in line
    assert "[Why does the slope of y the slope of y…]" in line  # whole words, at most 40 characters


@pytest.mark.parametrize(
    "args, message",
    [
        (["cases", "list", "--outcome", "better"], "unknown outcome"),
        (["cases", "list", "--page", "0"], "--page"),
        (["cases", "list", "--page", "two"], "'two' is not a valid integer"),
        (["cases", "list", "--per-page", "1000"], "--per-page"),
        (["cases", "list", "--method", "sgd"], "unknown method 'sgd'"),
        (["cases", "export", "--special-case", "saddle"], "unknown special case 'saddle'"),
        (["cases", "list", "--sign-flip", "yes"], "Got unexpected extra argument (yes)"),
        (["cases", "list", "--since", "yesterday"], "--since"),
        (["cases", "show", "nope"], "no case with id 'nope'"),
        (["cases", "delete", "nope"], "no case with id 'nope'"),
        (["cases", "export", "--format", "xml"], "unknown format"),
        # A day either side of these, moved to UTC, is outside what a datetime can hold.
        (["cases", "list", "--until", "9999-12-31T23:00:00-05:00"], "--until must be a date from"),
        (["cases", "list", "--since", "0001-01-01T00:00:00+01:00"], "--since must be a date from"),
        (["cases", "export", "--until", "9999-12-31"], "--until must be a date from"),
        # click's own usage errors are one line too.
        (["explain", "x*y", "--at", "x=1, y=2"], "Missing option '--lr'"),
        (["explain", "-x*y", "--at", "x=1, y=2", "--lr", "0.1"], "goes after `--`"),
        (["cases", "nosuch"], "No such command 'nosuch'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run, saved, args, message):
    assert message in one_line_error(run(*args))


def test_a_date_as_until_includes_that_day_as_in_the_api(run, saved):
    today = datetime.now(UTC).date().isoformat()
    result = run("cases", "list", "--json", "--since", today, "--until", today)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total"] == 3
    # A moment as --until is exclusive: nothing was created before the start of today.
    result = run("cases", "list", "--json", "--until", f"{today}T00:00:00+00:00")
    assert json.loads(result.stdout)["total"] == 0


@pytest.mark.parametrize(
    "env, args, message",
    [
        ({"TUTOR_DATABASE_URL": "foo:///x"}, ["cases", "list"], "TUTOR_DATABASE_URL is not a database URL"),
        (
            {"TUTOR_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:9/x?connect_timeout=2"},
            ["cases", "list"],
            "the database cannot be reached",
        ),
        (
            {"TUTOR_LIMIT_MAX_STEPS": "many"},
            ["explain", "x**2", "--at", "x=1", "--lr", "0.1"],
            "TUTOR_LIMIT_MAX_STEPS",
        ),
        ({"TUTOR_WORKERS": "two"}, ["cases", "list"], "TUTOR_WORKERS must be a whole number"),
    ],
)
def test_a_configuration_that_cannot_be_used_is_one_line_and_exit_2(env, args, message):
    assert message in one_line_error(CliRunner().invoke(main, args, env=env))


def test_show_prints_the_stored_explanation_or_the_document(run, saved, service):
    case = saved[0]
    result = run("cases", "show", case["id"])
    assert result.exit_code == 0
    assert result.stdout == case["explanation"]["markdown"]
    result = run("cases", "show", case["id"], "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == service.get(case["id"])


def test_export_jsonl_is_one_case_document_a_line(run, saved, service):
    result = run("cases", "export", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    assert documents == [service.get(c["id"]) for c in reversed(saved)]


def csv_rows(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8-sig"))))


def test_export_csv_is_one_row_a_case(run, saved):
    result = run("cases", "export", "--format", "csv", "--source", "cli")
    rows = csv_rows(result)
    assert [r["id"] for r in rows] == [saved[0]["id"]]
    (row,) = rows
    case = saved[0]
    assert row["expression"] == case["input"]["expression"]
    assert row["canonical_expression"] == case["expression"]["canonical"]
    assert float(row["learning_rate"]) == case["input"]["learning_rate"]
    assert row["outcome"] == "sequential_better"
    assert row["question"] == "Which goes first?"
    assert row["verdict"] == case["analysis"]["verdict"]


def test_export_csv_defuses_formulas_in_questions_and_expressions(run, service):
    service.ask(question("-x**2 + 1", "x=1"), source="web", question_text='=HYPERLINK("http://evil")')
    rows = csv_rows(run("cases", "export", "--format", "csv"))
    assert rows[0]["question"] == "'" + '=HYPERLINK("http://evil")'
    assert rows[0]["expression"] == "'-x**2 + 1"
    assert rows[0]["canonical_expression"].startswith("'-") or not rows[0]["canonical_expression"].startswith(
        "-"
    )


def test_delete_shows_the_case_and_deletes_only_when_confirmed(database_url, saved):
    case = saved[1]

    def delete(*args: str, answer: str | None = None):
        env = {"TUTOR_DATABASE_URL": database_url}
        return CliRunner().invoke(main, ["cases", "delete", case["id"], *args], env=env, input=answer)

    declined = delete(answer="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.stderr
    assert case["input"]["expression"] in declined.stderr and "Delete it?" in declined.stderr
    assert declined.stdout == ""
    assert delete(answer="").exit_code == 1  # no answer (a pipe that ended) is no
    assert (
        json.loads(
            CliRunner()
            .invoke(main, ["cases", "list", "--json"], env={"TUTOR_DATABASE_URL": database_url})
            .stdout
        )["total"]
        == 3
    )

    confirmed = delete(answer="y\n")
    assert confirmed.exit_code == 0 and confirmed.stdout == f"deleted case {case['id']}\n"
    assert one_line_error(delete("--yes"))  # gone: a second delete is "no case with id"


def test_delete_removes_the_case(run, saved):
    result = run("cases", "delete", "--yes", saved[1]["id"])
    assert result.exit_code == 0
    assert one_line_error(run("cases", "show", saved[1]["id"]))
    page = json.loads(run("cases", "list", "--json").stdout)
    assert page["total"] == 2 and saved[1]["id"] not in [i["id"] for i in page["items"]]


def test_db_downgrade_and_upgrade(run, database_url):
    result = run("db", "downgrade", "base")
    assert result.exit_code == 0, result.output
    assert migrate.current_revision(database_url) is None
    # The cases commands refuse a database that is not migrated, with the fix in the message.
    assert "tutor db upgrade" in one_line_error(run("cases", "list"))
    result = run("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert migrate.current_revision(database_url) == migrate.head_revision()
    assert migrate.head_revision() in result.stdout


def test_db_with_an_unknown_revision(run):
    assert "zzz" in one_line_error(run("db", "upgrade", "zzz"))
    assert "zzz" in one_line_error(run("db", "downgrade", "zzz"))


def test_explain_save_stores_the_case_and_prints_its_document(run, service):
    result = run(
        "explain", "x*y", "--at", "x=0.01, y=1", "--lr", "0.1", "--save", "--question", "flip?", "--json"
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["source"] == "cli" and printed["question"] == "flip?"
    stored = service.get(printed["id"])
    assert stored == printed
    assert stored["trials"][1]["steps"][0]["updates"][1]["sign_flip"] is True


def test_explain_save_refuses_bad_input_without_storing(run, service):
    error = one_line_error(run("explain", "x*", "--at", "x=1", "--lr", "0.1", "--save"))
    assert "expression" in error
    assert service.list().total == 0


# Review columns, filters and the CSV a teacher opens in a spreadsheet


def test_list_filters_on_the_review_columns(run, service):
    made = {
        name: service.ask(question(*sample), source="cli")["id"]
        for name, sample in [("plain", SEQUENTIAL_BETTER), ("flips", FLIPS), ("rises", RISES), ("kink", KINK)]
    }
    made["adam"] = service.ask(question("x**2", "x=1", methods="adam,momentum"), source="cli")["id"]

    def listed(*args) -> set[str]:
        result = run("cases", "list", "--json", *args)
        assert result.exit_code == 0, result.output
        ids = {item["id"] for item in json.loads(result.stdout)["items"]}
        return {name for name, case_id in made.items() if case_id in ids}

    assert listed("--sign-flip") == {"flips"}
    assert listed("--no-sign-flip") == {"plain", "rises", "kink", "adam"}
    assert listed("--loss-went-up") == {"rises"}
    assert listed("--outcome", "loss_went_up") == {"rises"}
    assert listed("--no-diverged", "--no-loss-went-up", "--no-sign-flip") == {"plain", "kink", "adam"}
    assert listed("--method", "momentum") == {"adam"}
    assert listed("--special-case", "kink") == {"kink"}
    page = json.loads(run("cases", "list", "--json", "--sign-flip").stdout)
    (item,) = page["items"]
    assert (item["sign_flips"], item["methods"], item["diverged"]) == (
        1,
        ["simultaneous", "sequential"],
        False,
    )


def test_a_teacher_exports_the_flipped_cases_of_a_date_range_in_one_command(run, database):
    # Cases on three days; only the middle day's flipped one is wanted.
    import tutor.engine
    from tutor.services.cases import CaseService

    def on(day: int, sample, text: str) -> str:
        moment = datetime(2026, 3, day, 12, tzinfo=UTC)
        service = CaseService(database, tutor.engine, clock=lambda: moment)
        return service.ask(question(*sample), source="web", question_text=text)["id"]

    on(1, FLIPS, "before the range")
    wanted = on(2, FLIPS, "Does moving x flip ∂f/∂y? η = 0.1, ‖g‖ small")
    on(2, SEQUENTIAL_BETTER, "no flip")
    on(3, FLIPS, "after the range")

    result = run(
        "cases", "export", "--format", "csv", "--sign-flip", "--since", "2026-03-02", "--until", "2026-03-02"
    )

    assert result.stdout_bytes.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only after a BOM
    (row,) = csv_rows(result)
    assert row["id"] == wanted
    assert row["question"] == "Does moving x flip ∂f/∂y? η = 0.1, ‖g‖ small"
    assert (row["sign_flips"], row["loss_increases"], row["diverged"]) == ("1", "0", "false")
    assert row["methods"] == "simultaneous sequential"


def test_csv_numbers_have_no_float_noise_and_the_bom_can_be_left_out(run, service):
    # 0.1 + 0.2 and 3 * 0.1 are 0.30000000000000004 in floats; the CSV says 0.3.
    case = service.ask(question("x*y", "x=0.1, y=3", "0.1"), source="cli")
    assert repr(case["loss"]) == "0.30000000000000004"

    result = run("cases", "export", "--format", "csv", "--no-bom")

    assert not result.stdout_bytes.startswith(b"\xef\xbb\xbf")
    (row,) = csv_rows(result)
    assert row["loss"] == "0.3" and row["learning_rate"] == "0.1"
    final = {trial["method"]: trial["final_loss"] for trial in case["trials"]}
    for method in ("simultaneous", "sequential"):
        written = row[f"final_loss_{method}"]
        assert float(written) == pytest.approx(final[method], rel=1e-14)
        assert len(written.replace("-", "").replace(".", "").lstrip("0")) <= 15
    assert row["outcome"] in ("sequential_better", "simultaneous_better")
    assert list(row) == [
        "id", "created_at", "source", "parent_id", "engine_version", "expression", "canonical_expression",
        "question", "parameters", "learning_rate", "steps", "methods", "outcome", "sign_flips",
        "loss_increases", "diverged", "stationary", "kink", "undefined", "loss", "final_loss_simultaneous",
        "final_loss_sequential", "verdict",
    ]  # fmt: skip


def test_jsonl_export_takes_the_same_filters(run, service):
    flipped = service.ask(question(*FLIPS), source="cli")
    service.ask(question(*RISES), source="cli")
    result = run("cases", "export", "--sign-flip")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [flipped["id"]]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert run("cases", "export", "--sign-flip", "--since", tomorrow).stdout == ""
