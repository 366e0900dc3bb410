"""The case service on a real database: save, fetch, list, filter, search, paginate, delete, re-run."""

from __future__ import annotations

import json
import re
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from case_samples import (
    DIVERGES,
    FLIPS,
    KINK,
    RISES,
    SEQUENTIAL_BETTER,
    SIMULTANEOUS_BETTER,
    STATIONARY,
    TIE,
    UNDEFINED,
    question,
)
from sqlalchemy import func, select, text

import tutor.engine
from tutor.engine import InputError, Question
from tutor.persistence import Case, Trial, TrialStep
from tutor.persistence.derived import losses_went_up, outcome_of, review_columns
from tutor.services.cases import CaseFilter, CaseNotFound, CaseService, IdempotencyConflict


class Clock:
    """Hands out creation times one minute apart, so the order of a listing is known."""

    def __init__(self, start=datetime(2025, 3, 1, 12, 0, tzinfo=UTC)):
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


class CountingAnalyzer:
    def __init__(self):
        self.calls = 0

    def answer(self, q):
        self.calls += 1
        return tutor.engine.answer(q)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(database, clock) -> CaseService:
    return CaseService(database, tutor.engine, clock=clock)


def count(database, model) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_saved_case_is_the_analysis_document_plus_who_when_and_parent(service):
    q = question(*SEQUENTIAL_BETTER, fixed="", order="z,y,x")
    analysis = tutor.engine.answer(q)
    case = service.ask(q, source="cli", question_text="Why does z move first?")

    assert {k: v for k, v in case.items() if k not in analysis} == {
        "id": case["id"],
        "created_at": case["created_at"],
        "source": "cli",
        "question": "Why does z move first?",
        "parent_id": None,
    }
    assert {k: v for k, v in case.items() if k in analysis} == analysis
    assert service.get(case["id"]) == case
    created = datetime.fromisoformat(case["created_at"])
    assert created.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)


def test_case_ids_are_random_and_url_safe(service):
    ids = {service.ask(question("x**2", f"x={i}"), source="cli")["id"] for i in range(1, 6)}
    assert len(ids) == 5
    for case_id in ids:
        assert len(case_id) == 12
        assert all(c.isalnum() or c in "-_" for c in case_id)


def test_the_columns_repeat_the_document(service, database):
    q = question("a*x + b", "b=3, a=2, x=1", "0.1", "2", fixed="x")
    case = service.ask(q, source="web")
    with database.session() as session:
        row = session.get(Case, case["id"])
        assert row.expression == "a*x + b"
        assert row.canonical_expression == case["expression"]["canonical"]
        assert row.parameters == case["parameters"] == ["b", "a"]
        assert row.fixed == {"x": 1.0}
        # The point keeps the order it was given in (PostgreSQL's JSONB would not).
        assert list(row.point) == ["b", "a", "x"]
        assert row.learning_rate == 0.1 and row.steps == 2
        assert row.order == ["b", "a"]
        assert row.input == case["input"]
        assert row.engine_version == case["engine_version"]
        assert row.outcome == outcome_of(case["trials"])
        assert {name: getattr(row, name) for name in review_columns(case)} == review_columns(case)


def test_trials_and_steps_are_rows(service, database):
    case = service.ask(question(*SEQUENTIAL_BETTER), source="cli")
    with database.session() as session:
        trials = session.scalars(
            select(Trial).where(Trial.case_id == case["id"]).order_by(Trial.position)
        ).all()
        assert [t.method for t in trials] == [t["method"] for t in case["trials"]]
        for row, trial in zip(trials, case["trials"], strict=True):
            assert (row.initial_loss, row.final_loss, row.diverged_at) == (
                trial["initial_loss"],
                trial["final_loss"],
                trial["diverged_at"],
            )
            assert row.learning_rate == trial["learning_rate"] and row.settings == trial["settings"]
            steps = session.scalars(
                select(TrialStep)
                .where(TrialStep.trial_id == row.id)
                .order_by(TrialStep.step, TrialStep.update_index.nulls_first())
            ).all()
            expected = []
            for step in trial["steps"]:
                expected.append((step["step"], None, None, step["point"], step["loss"], None))
                for i, u in enumerate(step.get("updates", [])):
                    expected.append((step["step"], i, u["parameter"], None, u["loss"], u["sign_flip"]))
            got = [(s.step, s.update_index, s.parameter, s.point, s.loss, s.sign_flip) for s in steps]
            assert got == expected
        sequential_updates = [s for s in steps if s.update_index is not None]
        assert [s.value for s in sequential_updates] == [
            u["value"] for step in case["trials"][1]["steps"] for u in step["updates"]
        ]


def test_minibatch_steps_keep_their_batch_and_its_loss_as_columns(service, database):
    # The full loss is lowest at w = 5; each one-row batch pulls w towards its own y.
    asked = Question(
        "(w*x - y)**2",
        {"w": 5.0},
        0.1,
        steps=5,
        data={"x": [1.0, 1.0, 1.0], "y": [0.0, 10.0, 5.0]},
        batch_size=1,
    )
    case = service.ask(asked, source="cli")
    minibatch = next(t for t in case["trials"] if t["method"] == "minibatch")
    with database.session() as session:
        trial_id = session.scalar(
            select(Trial.id).where(Trial.case_id == case["id"], Trial.method == "minibatch")
        )
        rows = session.execute(
            select(
                TrialStep.step,
                TrialStep.batch,
                TrialStep.batch_loss,
                TrialStep.batch_loss_after,
                TrialStep.loss,
            )
            .where(TrialStep.trial_id == trial_id)
            .order_by(TrialStep.step)
        ).all()
    expected = [
        (s["step"], s["batch"], s["batch_loss"], s["batch_loss_after"], s["loss"]) for s in minibatch["steps"]
    ]
    assert [tuple(row) for row in rows] == expected
    # The batches go through the rows in order, one at a time, cyclically.
    assert [row.batch for row in rows] == [[0], [1], [2], [0], [1]]

    # The README's query for steps that lowered their batch's loss but raised the full loss, against
    # the same question asked of the document.
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    query = re.search(r"raised the full loss\?\n\n((?:    .*\n)+)", readme).group(1)
    with database.session() as session:
        found = session.execute(text(textwrap.dedent(query))).all()
    losses = [minibatch["initial_loss"]] + [s["loss"] for s in minibatch["steps"]]
    expected = [
        (case["id"], s["step"], s["batch"])
        for s, before in zip(minibatch["steps"], losses, strict=False)
        if s["batch_loss_after"] < s["batch_loss"] and s["loss"] > before
    ]
    assert (
        sorted(
            (row.case_id, row.step, json.loads(row.batch) if isinstance(row.batch, str) else row.batch)
            for row in found
        )
        == expected
    )
    assert expected, "the sample should have such a step, or this checks nothing"


def test_outcomes_follow_the_final_losses(service):
    for sample, expected in [
        (SEQUENTIAL_BETTER, "sequential_better"),
        (SIMULTANEOUS_BETTER, "simultaneous_better"),
        (TIE, "tie"),
        (DIVERGES, "diverged"),
    ]:
        case = service.ask(question(*sample), source="cli")
        final = {t["method"]: t["final_loss"] for t in case["trials"]}
        if expected == "diverged":
            assert any(t["diverged_at"] is not None for t in case["trials"])
        elif expected == "tie":
            assert final["sequential"] == pytest.approx(final["simultaneous"], rel=1e-12)
        elif expected == "sequential_better":
            assert final["sequential"] < final["simultaneous"]
        else:
            assert final["simultaneous"] < final["sequential"]
        (summary,) = [i for i in service.list(per_page=100).items if i["id"] == case["id"]]
        assert summary["outcome"] == expected


def test_a_pair_of_trials_whose_loss_rose_is_never_a_tie(service):
    case = service.ask(question(*RISES), source="cli")
    simultaneous, sequential = case["trials"]
    # Alike to the last bit (f is separable), and the loss rose at every step of both.
    assert simultaneous["final_loss"] == sequential["final_loss"] > simultaneous["initial_loss"]
    assert all(step["loss_went_up"] for step in simultaneous["steps"])
    (summary,) = service.list().items
    assert summary["outcome"] == "loss_went_up"
    assert summary["loss_increases"] == 6  # three steps of each trial
    assert not summary["diverged"]


def test_the_loss_went_up_where_the_engine_says_it_did(service):
    # The engine marks each optimizer and mini-batch step; the review columns count the same steps
    # from the losses alone (the sequential steps have no mark of their own).
    case = service.ask(
        question(
            "(w*x + b - y)**2",
            "w=0.5, b=0",
            "0.3",
            "12",
            methods="simultaneous,sequential,momentum,adam",
            data="x,y\n1,2\n2,4\n3,5\n-1,0",
            batch_size="2",
        ),
        source="cli",
    )
    marked = 0
    for trial in case["trials"]:
        counted = list(losses_went_up(trial))
        assert len(counted) == len(trial["steps"])
        if trial["method"] != "sequential":
            assert counted == [step["loss_went_up"] for step in trial["steps"]], trial["method"]
            marked += sum(counted)
    assert marked > 0, "the sample should raise the loss somewhere, or this checks nothing"
    assert service.list().items[0]["loss_increases"] >= marked


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (FLIPS, {"sign_flips": 1, "methods": ["simultaneous", "sequential"]}),
        (RISES, {"loss_increases": 6, "outcome": "loss_went_up"}),
        (DIVERGES, {"diverged": True, "outcome": "diverged"}),
        (STATIONARY, {"stationary": True, "outcome": "tie"}),
        (KINK, {"kink": True}),
        (UNDEFINED, {"undefined": True, "methods": [], "outcome": None}),
    ],
    ids=["flips", "rises", "diverges", "stationary", "kink", "undefined"],
)
def test_each_review_column_marks_its_cases(service, sample, expected):
    service.ask(question(*SEQUENTIAL_BETTER), source="cli")  # none of it: every column at rest
    case = service.ask(question(*sample), source="cli")
    plain, marked = sorted(service.list().items, key=lambda item: item["id"] == case["id"])
    rest = {"sign_flips": 0, "loss_increases": 0, "diverged": False, "stationary": False, "kink": False}
    assert {name: plain[name] for name in [*rest, "undefined"]} == {**rest, "undefined": False}
    assert {name: marked[name] for name in expected} == expected
    if "sign_flips" in expected:
        flipped = [
            update
            for trial in case["trials"]
            for step in trial["steps"]
            for update in step.get("updates", [])
            if update["sign_flip"]
        ]
        assert len(flipped) == expected["sign_flips"]


def test_review_filters_find_exactly_their_cases(timed, clock):
    made = {
        name: timed.ask(question(*sample), source="cli")["id"]
        for name, sample in [
            ("plain", SEQUENTIAL_BETTER),
            ("flips", FLIPS),
            ("rises", RISES),
            ("diverges", DIVERGES),
            ("stationary", STATIONARY),
            ("kink", KINK),
            ("undefined", UNDEFINED),
        ]
    }
    made["adam"] = timed.ask(question("x**2", "x=1", methods="adam"), source="cli")["id"]
    name_of = {case_id: name for name, case_id in made.items()}

    def names(**kwargs) -> set[str]:
        return {name_of[item["id"]] for item in timed.list(CaseFilter(**kwargs), per_page=100).items}

    assert names(sign_flip=True) == {"flips"}
    assert "flips" not in names(sign_flip=False) and "plain" in names(sign_flip=False)
    # The diverging trials' loss rose at every step before they stopped.
    assert names(loss_went_up=True) == {"rises", "diverges"}
    assert names(loss_went_up=False) == set(made) - {"rises", "diverges"}
    assert names(diverged=True) == {"diverges"}
    assert names(diverged=False) == set(made) - {"diverges"}
    assert names(special_case="stationary") == {"stationary"}
    assert names(special_case="kink") == {"kink"}
    assert names(special_case="undefined") == {"undefined"}
    assert names(method="adam") == {"adam"}
    assert names(method="sequential") == set(made) - {"adam", "undefined"}
    assert names(sign_flip=True, method="sequential", outcome="sequential_better") == {"flips"}
    assert names(outcome="loss_went_up") == {"rises"}
    # The flipped case was the second one created: a range that ends before it has none.
    assert names(sign_flip=True, until=clock.now - timedelta(minutes=6, seconds=30)) == set()
    assert names(sign_flip=True, until=clock.now - timedelta(minutes=5, seconds=30)) == {"flips"}


def test_reviewers_can_ask_in_sql_where_sequential_won(service, database):
    won = service.ask(question(*SEQUENTIAL_BETTER), source="cli")
    service.ask(question(*SIMULTANEOUS_BETTER), source="cli")
    service.ask(question(*DIVERGES), source="cli")
    with database.session() as session:
        rows = session.execute(
            text(
                "SELECT c.id FROM cases c "
                "JOIN trials s ON s.case_id = c.id AND s.method = 'simultaneous' "
                "JOIN trials q ON q.case_id = c.id AND q.method = 'sequential' "
                "WHERE q.final_loss < s.final_loss AND s.diverged_at IS NULL AND q.diverged_at IS NULL"
            )
        ).all()
        assert [r.id for r in rows] == [won["id"]]
        diverged = session.execute(
            text("SELECT DISTINCT case_id FROM trials WHERE diverged_at IS NOT NULL")
        ).all()
        assert len(diverged) == 1


def test_an_undefined_point_is_saved_without_an_outcome(service):
    case = service.ask(question("log(x)", "x=-1"), source="cli")
    assert case["trials"] == []
    assert service.list().items[0]["outcome"] is None
    assert service.get(case["id"])["special_cases"][0]["kind"] == "undefined"


def test_listing_is_newest_first_in_pages_that_do_not_overlap(timed):
    ids = [timed.ask(question("x**2", f"x={i}"), source="cli")["id"] for i in range(1, 8)]
    newest_first = list(reversed(ids))
    pages = [timed.list(page=p, per_page=3) for p in (1, 2, 3, 4)]
    assert [p.total for p in pages] == [7, 7, 7, 7]
    assert pages[0].pages == 3
    assert [[i["id"] for i in p.items] for p in pages] == [
        newest_first[0:3],
        newest_first[3:6],
        newest_first[6:7],
        [],
    ]
    assert "document" not in pages[0].items[0]


def test_cases_created_at_the_same_moment_still_page_without_overlap(database):
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    same = CaseService(database, tutor.engine, clock=lambda: moment)
    ids = {same.ask(question("x**2", f"x={i}"), source="cli")["id"] for i in range(1, 6)}
    seen = [i["id"] for p in (1, 2, 3) for i in same.list(page=p, per_page=2).items]
    assert sorted(seen) == sorted(ids)


def test_filter_by_source_takes_in_the_clients_of_a_kind(timed):
    sources = ["api", "api:bot1", "api:bot2", "apiary", "web", "discourse:1", "discourse:12"]
    made = {s: timed.ask(question("x**2", "x=1"), source=s)["id"] for s in sources}

    def listed(source):
        return {made_source for made_source, i in made.items() if i in ids(source)}

    def ids(source):
        return {i["id"] for i in timed.list(CaseFilter(source=source), per_page=100).items}

    assert listed("api") == {"api", "api:bot1", "api:bot2"}
    assert listed("api:bot1") == {"api:bot1"}
    assert listed("discourse:1") == {"discourse:1"}
    assert listed("discourse:") == {"discourse:1", "discourse:12"}
    assert listed("web") == {"web"}
    assert listed("w") == set()


def test_filter_by_outcome_and_date_range(timed, clock):
    seq = timed.ask(question(*SEQUENTIAL_BETTER), source="cli")
    middle = clock.now + timedelta(seconds=30)  # between the first case and the second
    sim = timed.ask(question(*SIMULTANEOUS_BETTER), source="cli")
    div = timed.ask(question(*DIVERGES), source="cli")

    def ids(**kwargs):
        return [i["id"] for i in timed.list(CaseFilter(**kwargs)).items]

    assert ids(outcome="sequential_better") == [seq["id"]]
    assert ids(outcome="simultaneous_better") == [sim["id"]]
    assert ids(outcome="diverged") == [div["id"]]
    assert ids(since=middle) == [div["id"], sim["id"]]
    assert ids(until=middle) == [seq["id"]]
    assert ids(since=middle, until=middle + timedelta(minutes=1)) == [sim["id"]]
    assert ids(since=middle, outcome="sequential_better") == []


def test_filters_refuse_what_they_cannot_mean(service):
    with pytest.raises(ValueError, match="outcome"):
        CaseFilter(outcome="better")
    with pytest.raises(ValueError, match="method"):
        CaseFilter(method="sgd")
    with pytest.raises(ValueError, match="special case"):
        CaseFilter(special_case="saddle")
    with pytest.raises(ValueError, match="timezone"):
        CaseFilter(since=datetime(2025, 1, 1))
    with pytest.raises(ValueError):
        service.list(page=0)
    with pytest.raises(ValueError):
        service.list(per_page=1000)


def test_search_is_case_insensitive_over_expression_and_question(timed):
    sin = timed.ask(question("sin(x)*y", "x=1, y=2"), source="web", question_text="Why does SIN wobble?")
    relu = timed.ask(question("max(x, 0)", "x=1"), source="web", question_text="Is relu 100% safe?")
    poly = timed.ask(question("x**2 + 3*x", "x=1"), source="web", question_text=None)

    def found(text):
        return {i["id"] for i in timed.list(CaseFilter(search=text)).items}

    assert found("SIN(") == {sin["id"]}  # the expression as typed
    assert found("wobble") == {sin["id"]}  # the question
    assert found("MAX") == {relu["id"]}
    assert found("100%") == {relu["id"]}
    assert found("%") == {relu["id"]}  # a literal %, not a wildcard
    assert found("x_") == set()  # a literal _, not a wildcard
    assert found("3*x") == {poly["id"]}
    assert found("nothing like this") == set()


def test_delete_takes_trials_and_steps_and_keeps_reruns(service, database):
    parent = service.ask(question(*SEQUENTIAL_BETTER), source="cli")
    child = service.rerun(parent["id"], 0.02)
    other = service.ask(question(*SIMULTANEOUS_BETTER), source="cli")
    trials_before, steps_before = count(database, Trial), count(database, TrialStep)

    service.delete(parent["id"])

    with pytest.raises(CaseNotFound):
        service.get(parent["id"])
    assert service.get(child["id"])["parent_id"] is None
    assert service.get(other["id"])["id"] == other["id"]
    parent_steps = sum(
        len(t["steps"]) + sum(len(s.get("updates", [])) for s in t["steps"]) for t in parent["trials"]
    )
    assert count(database, Trial) == trials_before - len(parent["trials"])
    assert count(database, TrialStep) == steps_before - parent_steps
    with pytest.raises(CaseNotFound):
        service.delete(parent["id"])


def test_rerun_is_the_same_question_with_another_learning_rate(service):
    q = question("(x+y)*z", "z=-4, x=-2, y=5", "0.01", "3", fixed="y", order="z,x")
    parent = service.ask(q, source="discourse:7", question_text="What if the rate were larger?")
    child = service.rerun(parent["id"], 0.3, source="web")

    assert child["id"] != parent["id"]
    assert child["parent_id"] == parent["id"]
    assert child["source"] == "web"
    assert child["question"] == parent["question"]
    assert child["input"] == {**parent["input"], "learning_rate": 0.3}
    assert child["trials"][0]["learning_rate"] == 0.3
    assert child == {
        **tutor.engine.answer(q.__class__(**{**q.__dict__, "learning_rate": 0.3})),
        **{k: child[k] for k in ("id", "created_at", "source", "question", "parent_id")},
    }
    assert service.rerun(parent["id"], 0.5)["source"] == "discourse:7"


def test_rerun_replays_optimizer_settings_and_data(service):
    q = question(
        "(w*x - y)**2",
        "w=0.5",
        "0.1",
        "3",
        methods="simultaneous,sequential,momentum,minibatch",
        settings={"momentum": "0.8"},
        data="x,y\n1,2\n2,4\n3,6",
        batch_size="2",
        shuffle_seed="7",
    )
    parent = service.ask(q, source="web")
    child = service.rerun(parent["id"], 0.05)
    assert child["input"] == {**parent["input"], "learning_rate": 0.05}
    assert [t["method"] for t in child["trials"]] == ["simultaneous", "sequential", "momentum", "minibatch"]
    assert child["trials"][2]["settings"] == parent["trials"][2]["settings"]
    assert child["trials"][0]["final_loss"] != parent["trials"][0]["final_loss"]


def test_sources_and_keys_must_fit_their_columns(service):
    with pytest.raises(ValueError, match="source"):
        service.ask(question("x**2", "x=1"), source="api:" + "b" * 200)
    with pytest.raises(ValueError, match="source"):
        service.ask(question("x**2", "x=1"), source="")
    with pytest.raises(ValueError, match="idempotency"):
        service.ask(question("x**2", "x=1"), source="api:b", idempotency_key="k" * 201)
    assert service.list().total == 0


def test_rerun_of_an_unknown_case_or_with_a_bad_rate(service):
    with pytest.raises(CaseNotFound):
        service.rerun("no-such-case", 0.1)
    parent = service.ask(question("x**2", "x=1"), source="cli")
    with pytest.raises(InputError):
        service.rerun(parent["id"], -1.0)
    assert service.list().total == 1


def test_a_parent_must_exist(service):
    with pytest.raises(CaseNotFound):
        service.ask(question("x**2", "x=1"), source="cli", parent_id="nonexistent")
    assert service.list().total == 0


def test_an_idempotent_ask_returns_the_first_case(database):
    analyzer = CountingAnalyzer()
    service = CaseService(database, analyzer)
    first = service.ask(question("x**2", "x=1"), source="api:bot1", idempotency_key="abc")
    again = service.ask(question("x**2", "x=1"), source="api:bot1", idempotency_key="abc")
    assert again == first
    assert analyzer.calls == 1
    # The key is the client's: another source may use the same one.
    other = service.ask(question("x**2", "x=1"), source="api:bot2", idempotency_key="abc")
    assert other["id"] != first["id"]
    # No key, no deduplication.
    service.ask(question("x**2", "x=1"), source="api:bot1")
    service.ask(question("x**2", "x=1"), source="api:bot1")
    assert service.list().total == 4


def test_an_idempotent_ask_that_loses_a_race_returns_the_winner(database):
    # The other request saves its case while this one is inside the analyzer, after this one found
    # no case with the key: this one's insert then hits the unique constraint.
    rival = CaseService(database, tutor.engine)

    class RacingAnalyzer:
        def __init__(self, rivals_point, key):
            self.rivals_point, self.key = rivals_point, key

        def answer(self, q):
            self.winner = rival.ask(
                question("x**2", self.rivals_point), source="api:bot1", idempotency_key=self.key
            )
            return tutor.engine.answer(q)

    analyzer = RacingAnalyzer("x=1", "k")  # a retry of the same request
    loser = CaseService(database, analyzer).ask(
        question("x**2", "x=1"), source="api:bot1", idempotency_key="k"
    )
    assert loser == analyzer.winner
    assert rival.list().total == 1

    # The same race with another question under the key: the loser learns its key is taken.
    analyzer = RacingAnalyzer("x=2", "k2")
    with pytest.raises(IdempotencyConflict) as conflict:
        CaseService(database, analyzer).ask(question("x**2", "x=1"), source="api:bot1", idempotency_key="k2")
    assert conflict.value.case_id == analyzer.winner["id"]
    assert rival.list().total == 2


def test_refused_questions_save_nothing(service):
    with pytest.raises(InputError):
        service.ask(question("x**2", "y=1"), source="cli")
    assert service.list().total == 0


def test_every_case_document_is_strict_json(service):
    case = service.ask(question(*DIVERGES), source="cli")
    assert json.loads(json.dumps(case, allow_nan=False)) == case
    assert service.get(case["id"]) == case


def test_export_reads_every_case_newest_first(timed):
    ids = [timed.ask(question("x**2", f"x={i}"), source="cli")["id"] for i in range(1, 5)]
    documents = list(timed.each())
    assert [d["id"] for d in documents] == list(reversed(ids))
    assert all("trials" in d and "explanation" in d for d in documents)
    assert [d["id"] for d in timed.each(CaseFilter(search="x=3"))] == []


def test_outcome_of_compares_like_a_reviewer():
    def trial(method, final, diverged=None):
        return {"method": method, "final_loss": final, "diverged_at": diverged}

    assert outcome_of([trial("simultaneous", 1.0), trial("sequential", 0.5)]) == "sequential_better"
    assert outcome_of([trial("simultaneous", 0.5), trial("sequential", 1.0)]) == "simultaneous_better"
    assert outcome_of([trial("simultaneous", 1.0), trial("sequential", 1.0 + 1e-15)]) == "tie"
    assert outcome_of([trial("simultaneous", 1.0), trial("sequential", 0.5, diverged=3)]) == "diverged"
    assert outcome_of([trial("simultaneous", 1.0), trial("momentum", 0.1, diverged=9)]) == "diverged"
    assert outcome_of([trial("simultaneous", 1.0)]) is None
    # Equal final losses are a tie only when neither trial raised the loss on the way.
    rose = {"steps": [{"loss": 2.0}, {"loss": 1.0}], "initial_loss": 1.5}
    assert outcome_of([{**trial("simultaneous", 1.0), **rose}, trial("sequential", 1.0)]) == "loss_went_up"
    assert outcome_of([{**trial("simultaneous", 0.5), **rose}, trial("sequential", 1.0)]) == "loss_went_up"
    # A rise in another trial is its own column, not the pair's outcome.
    assert outcome_of(
        [trial("simultaneous", 1.0), trial("sequential", 0.5), {**trial("adam", 3.0), **rose}]
    ) == ("sequential_better")
    assert outcome_of([]) is None
