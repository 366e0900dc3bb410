"""The API through Flask's test client, on each database backend, with the engine answering in-process."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from support.apps import app_for

import tutor.engine
from tutor.config import Settings
from tutor.engine import Question
from tutor.persistence import Case

ADMIN = "admin-token-for-api-tests"
PUBLIC_URL = "https://tutor.example"
QUESTION = {"expression": "(x+y)*z", "point": {"x": -2, "y": 5, "z": -4}, "learning_rate": 0.01}


class CountingEngine:
    """The engine in this process, counting its answers (idempotent retries must not ask again)."""

    def __init__(self):
        self.calls = 0
        self.lock = threading.Lock()

    def answer(self, question: Question) -> dict:
        with self.lock:
            self.calls += 1
        return tutor.engine.answer(question)


@pytest.fixture
def app(database_url, tmp_path):
    settings = Settings(
        database_url=database_url, secret_key="test", admin_token=ADMIN, public_url=PUBLIC_URL
    )
    with app_for(settings, tmp_path / "instance", TESTING=True, RATELIMIT_ENABLED=False) as app:
        app.extensions["tutor"].cases.analyzer = CountingEngine()
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def bot(app) -> dict[str, str]:
    return bearer(app.extensions["tutor_api"].tokens.create("bot"))


def count_cases(app) -> int:
    with app.extensions["tutor"].cases.database.session() as session:
        return session.scalar(select(func.count()).select_from(Case))


def assert_problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        assert body["field"] == field, body
    return body


# Creating and reading


def test_a_bot_creates_a_case_with_its_address_and_source(client, bot):
    response = client.post("/api/v1/cases", json={**QUESTION, "question": "does z flip?"}, headers=bot)

    assert response.status_code == 201
    case = response.json
    assert response.headers["Location"] == f"/api/v1/cases/{case['id']}"
    assert case["url"] == f"{PUBLIC_URL}/cases/{case['id']}"
    assert case["source"] == "api:bot"
    assert case["question"] == "does z flip?"
    assert case["input"]["point"] == {"x": -2.0, "y": 5.0, "z": -4.0}
    assert case["gradient"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert case["analysis"]["verdict"] == "decreases"
    assert datetime.fromisoformat(case["created_at"]).tzinfo is not None
    # The same analysis document the engine gives, plus the case's own members.
    expected = tutor.engine.answer(
        Question("(x+y)*z", {"x": -2.0, "y": 5.0, "z": -4.0}, 0.01),
    )
    assert {key: case[key] for key in expected} == expected


def test_anyone_reads_a_case_by_its_id(client, bot):
    created = client.post("/api/v1/cases", json=QUESTION, headers=bot).json

    response = client.get(f"/api/v1/cases/{created['id']}")

    assert response.status_code == 200
    assert response.json == created


def test_the_point_keeps_the_learners_order(client, bot):
    # The order of the point is the default order of the sequential updates: JSON responses must not
    # sort it (Flask's default JSON sorts keys, which turned z, y, x into x, y, z).
    question = {"expression": "z*y + x", "point": {"z": 1, "y": 2, "x": 3}, "learning_rate": 0.1}
    created = client.post("/api/v1/cases", json=question, headers=bot)
    read = client.get(created.headers["Location"])
    for body in (created.json, read.json):
        assert list(body["input"]["point"]) == ["z", "y", "x"]
        assert body["parameters"] == ["z", "y", "x"]
        sequential = next(t for t in body["trials"] if t["method"] == "sequential")
        assert [u["parameter"] for u in sequential["steps"][0]["updates"]] == ["z", "y", "x"]
        assert list(sequential["steps"][0]["point"]) == ["z", "y", "x"]


def test_an_unknown_case_is_a_404_problem(client):
    body = assert_problem(client.get("/api/v1/cases/no-such-case"), 404)
    assert "no-such-case" in body["detail"]


def test_the_optional_fields_reach_the_engine(client, bot):
    response = client.post(
        "/api/v1/cases",
        json={**QUESTION, "steps": 3, "order": ["z", "y"], "fixed": ["x"], "methods": ["simultaneous"]},
        headers=bot,
    )

    assert response.status_code == 201, response.json
    given = response.json["input"]
    assert (given["steps"], given["order"], given["fixed"]) == (3, ["z", "y"], ["x"])
    assert [trial["method"] for trial in response.json["trials"]] == ["simultaneous"]


def test_the_optimizer_fields_pass_through_to_the_engine(client, bot):
    response = client.post(
        "/api/v1/cases",
        json={
            "expression": "(w*x - y)**2",
            "point": {"w": 0.5},
            "learning_rate": 0.1,
            "steps": 4,
            "methods": ["simultaneous", "momentum", "adam"],
            "settings": {"momentum": 0.5},
            "data": {"x": [1, 2, 3, 4], "y": [2, 4, 6, 8]},
            "batch_size": 2,
            "shuffle_seed": 7,
        },
        headers=bot,
    )

    assert response.status_code == 201, response.json
    given = response.json["input"]
    assert given["data"] == {"x": [1.0, 2.0, 3.0, 4.0], "y": [2.0, 4.0, 6.0, 8.0]}
    assert (given["batch_size"], given["shuffle_seed"], given["settings"]["momentum"]) == (2, 7, 0.5)
    methods = [trial["method"] for trial in response.json["trials"]]
    assert methods == ["simultaneous", "momentum", "adam", "minibatch"]


# Tokens


def test_creating_a_case_needs_a_known_token(app, client, bot):
    missing = client.post("/api/v1/cases", json=QUESTION)
    assert_problem(missing, 401)
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(client.post("/api/v1/cases", json=QUESTION, headers=bearer("tt_made-up")), 401)
    assert_problem(client.post("/api/v1/cases", json=QUESTION, headers={"Authorization": "Basic eDp5"}), 401)
    assert count_cases(app) == 0


def test_a_revoked_token_is_refused(app, client, bot):
    assert client.post("/api/v1/cases", json=QUESTION, headers=bot).status_code == 201
    app.extensions["tutor_api"].tokens.revoke("bot")

    assert_problem(client.post("/api/v1/cases", json=QUESTION, headers=bot), 401)


def test_the_admin_token_creates_cases_as_admin(client):
    response = client.post("/api/v1/cases", json=QUESTION, headers=bearer(ADMIN))

    assert response.status_code == 201
    assert response.json["source"] == "api:admin"


def test_listing_and_deleting_need_the_admin_token(client, bot):
    case_id = client.post("/api/v1/cases", json=QUESTION, headers=bot).json["id"]

    assert_problem(client.get("/api/v1/cases"), 401)
    assert "admin token" in assert_problem(client.get("/api/v1/cases", headers=bot), 403)["detail"]
    assert_problem(client.delete(f"/api/v1/cases/{case_id}", headers=bot), 403)
    assert client.get(f"/api/v1/cases/{case_id}").status_code == 200

    assert client.delete(f"/api/v1/cases/{case_id}", headers=bearer(ADMIN)).status_code == 204
    assert_problem(client.get(f"/api/v1/cases/{case_id}"), 404)
    assert_problem(client.delete(f"/api/v1/cases/{case_id}", headers=bearer(ADMIN)), 404)


def test_the_admin_lists_cases_with_filters_and_pages(app, client, bot):
    other = bearer(app.extensions["tutor_api"].tokens.create("other-bot"))
    for rate in (0.01, 0.02, 0.03):
        client.post("/api/v1/cases", json={**QUESTION, "learning_rate": rate}, headers=bot)
    client.post(
        "/api/v1/cases", json={"expression": "x**2", "point": {"x": 1}, "learning_rate": 0.1}, headers=other
    )
    admin = bearer(ADMIN)

    everything = client.get("/api/v1/cases?per_page=2", headers=admin).json
    assert (everything["total"], everything["pages"], len(everything["items"])) == (4, 2, 2)
    assert everything["items"][0]["expression"] == "x**2"  # newest first
    assert everything["items"][0]["url"].startswith(f"{PUBLIC_URL}/cases/")
    second = client.get("/api/v1/cases?per_page=2&page=2", headers=admin).json
    assert {item["id"] for item in second["items"]}.isdisjoint(item["id"] for item in everything["items"])

    by_source = client.get("/api/v1/cases?source=api:other-bot", headers=admin).json
    assert [item["source"] for item in by_source["items"]] == ["api:other-bot"]
    assert client.get("/api/v1/cases?source=api", headers=admin).json["total"] == 4
    assert client.get("/api/v1/cases?search=x%2By", headers=admin).json["total"] == 3
    assert client.get("/api/v1/cases?outcome=sequential_better", headers=admin).json["total"] == 3

    today = datetime.now(UTC).date()
    assert client.get(f"/api/v1/cases?since={today}&until={today}", headers=admin).json["total"] == 4
    tomorrow = today + timedelta(days=1)
    assert client.get(f"/api/v1/cases?since={tomorrow}", headers=admin).json["total"] == 0
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    response = client.get("/api/v1/cases", query_string={"until": an_hour_ago}, headers=admin)
    assert response.json["total"] == 0

    assert_problem(client.get("/api/v1/cases?outcome=better", headers=admin), 422, "outcome")
    assert_problem(client.get("/api/v1/cases?per_page=1000", headers=admin), 422, "per_page")
    assert_problem(client.get("/api/v1/cases?since=yesterday", headers=admin), 422, "since")
    # Dates at the ends of the calendar: a day past them in UTC has no datetime (was a 500).
    assert_problem(client.get("/api/v1/cases?until=9999-12-31", headers=admin), 422, "until")
    query = {"since": "0001-01-01T00:00:00+01:00"}
    assert_problem(client.get("/api/v1/cases", query_string=query, headers=admin), 422, "since")
    assert_problem(client.get("/api/v1/cases?page=1000001", headers=admin), 422, "page")


def test_a_rerun_is_a_new_case_linked_to_the_first(client, bot):
    first = client.post("/api/v1/cases", json=QUESTION, headers=bot).json

    response = client.post(f"/api/v1/cases/{first['id']}/rerun", json={"learning_rate": 0.5}, headers=bot)

    assert response.status_code == 201
    rerun = response.json
    assert rerun["parent_id"] == first["id"] and rerun["id"] != first["id"]
    assert rerun["input"]["learning_rate"] == 0.5
    assert rerun["input"]["expression"] == first["input"]["expression"]
    assert response.headers["Location"] == f"/api/v1/cases/{rerun['id']}"
    assert_problem(client.post(f"/api/v1/cases/{first['id']}/rerun", json={"learning_rate": 0.5}), 401)
    assert_problem(client.post("/api/v1/cases/nope/rerun", json={"learning_rate": 0.5}, headers=bot), 404)
    assert_problem(
        client.post(f"/api/v1/cases/{first['id']}/rerun", json={"learning_rate": 0}, headers=bot),
        422,
        "learning_rate",
    )


# Idempotency


def test_a_retried_request_returns_the_first_case_and_stores_nothing_new(app, client, bot):
    headers = {**bot, "Idempotency-Key": "retry-1"}
    first = client.post("/api/v1/cases", json=QUESTION, headers=headers)
    again = client.post("/api/v1/cases", json=QUESTION, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Location"] == first.headers["Location"]
    assert count_cases(app) == 1
    assert app.extensions["tutor"].cases.analyzer.calls == 1


def test_idempotency_keys_are_per_token(app, client, bot):
    other = bearer(app.extensions["tutor_api"].tokens.create("other-bot"))
    mine = client.post("/api/v1/cases", json=QUESTION, headers={**bot, "Idempotency-Key": "k"}).json
    theirs = client.post("/api/v1/cases", json=QUESTION, headers={**other, "Idempotency-Key": "k"}).json

    assert mine["id"] != theirs["id"]
    assert count_cases(app) == 2


def test_a_key_reused_for_another_question_is_refused(app, client, bot):
    headers = {**bot, "Idempotency-Key": "k"}
    first = client.post("/api/v1/cases", json=QUESTION, headers=headers).json

    response = client.post("/api/v1/cases", json={**QUESTION, "learning_rate": 0.5}, headers=headers)

    body = assert_problem(response, 409, "Idempotency-Key")
    assert first["id"] in body["detail"]
    assert count_cases(app) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"methods": ["simultaneous", "adam"]},
        {"order": ["z", "y", "x"]},
        {"fixed": ["x"]},
        {"steps": 2},
        {"question": "another question"},
        {"point": {"z": -4, "y": 5, "x": -2}},  # the same values in another order: another default order
        {"settings": {"momentum": 0.5}, "methods": ["momentum"]},
    ],
    ids=lambda change: "+".join(change),
)
def test_a_key_reused_with_any_other_field_changed_is_refused(app, client, bot, change):
    headers = {**bot, "Idempotency-Key": "k"}
    first = client.post("/api/v1/cases", json={**QUESTION, "question": "q"}, headers=headers).json

    response = client.post("/api/v1/cases", json={**QUESTION, "question": "q", **change}, headers=headers)

    assert first["id"] in assert_problem(response, 409, "Idempotency-Key")["detail"]
    assert count_cases(app) == 1


def test_a_retry_that_spells_out_the_defaults_is_the_same_question(app, client, bot):
    headers = {**bot, "Idempotency-Key": "k"}
    first = client.post("/api/v1/cases", json=QUESTION, headers=headers).json
    explicit = {**QUESTION, "order": ["x", "y", "z"], "methods": ["simultaneous", "sequential"], "fixed": []}

    again = client.post("/api/v1/cases", json=explicit, headers=headers)

    assert again.status_code == 201 and again.json["id"] == first["id"]
    assert count_cases(app) == 1


def test_a_retried_rerun_makes_one_case_and_a_changed_one_is_refused(app, client, bot):
    parent = client.post("/api/v1/cases", json=QUESTION, headers=bot).json
    rerun = f"/api/v1/cases/{parent['id']}/rerun"
    headers = {**bot, "Idempotency-Key": "rerun-1"}

    first = client.post(rerun, json={"learning_rate": 0.2}, headers=headers)
    again = client.post(rerun, json={"learning_rate": 0.2}, headers=headers)
    changed = client.post(rerun, json={"learning_rate": 0.3}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json["id"] == first.json["id"] and again.json["parent_id"] == parent["id"]
    assert_problem(changed, 409, "Idempotency-Key")
    assert count_cases(app) == 2


def test_a_malformed_key_is_refused(client, bot):
    assert_problem(
        client.post("/api/v1/cases", json=QUESTION, headers={**bot, "Idempotency-Key": "x" * 201}),
        422,
        "Idempotency-Key",
    )


def test_concurrent_retries_make_one_case(app, bot):
    """Eight clients send the same request with the same key at once: one case, eight equal answers."""
    barrier = threading.Barrier(8)
    answers: list = []

    def send():
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/v1/cases", json=QUESTION, headers={**bot, "Idempotency-Key": "race"})
        answers.append((response.status_code, response.json["id"]))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(answers) == 8
    assert {status for status, _ in answers} == {201}
    assert len({case_id for _, case_id in answers}) == 1
    assert count_cases(app) == 1


# Errors


def test_malformed_json_is_a_400_saying_where(client, bot):
    body = assert_problem(
        client.post(
            "/api/v1/cases", data='{"expression": ', headers={**bot, "Content-Type": "application/json"}
        ),
        400,
    )
    assert "not valid JSON" in body["detail"] and "column" in body["detail"]


def test_a_body_over_the_limit_is_a_413(app, client, bot):
    huge = b'{"expression": "' + b"x+" * 40_000 + b'x", "point": {"x": 1}, "learning_rate": 0.1}'
    response = client.post("/api/v1/cases", data=huge, headers={**bot, "Content-Type": "application/json"})

    body = assert_problem(response, 413)
    assert str(app.config["TUTOR_SETTINGS"].max_request_bytes) in body["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"learning_rate": -1}, "learning_rate"),
        ({"learning_rate": "0.1"}, "learning_rate"),
        ({"learning_rate": True}, "learning_rate"),
        ({"point": {"x": "one"}}, "point"),
        ({"point": [1, 2]}, "point"),
        ({"steps": 0}, "steps"),
        ({"steps": 1.5}, "steps"),
        ({"expression": ""}, "expression"),
        ({"unknown": 1}, "unknown"),
        ({"methods": "adam"}, "methods"),
    ],
)
def test_a_body_that_does_not_fit_the_schema_is_a_422_naming_the_field(client, bot, change, field):
    body = assert_problem(client.post("/api/v1/cases", json={**QUESTION, **change}, headers=bot), 422, field)
    assert body["detail"].startswith(field)


def test_a_body_that_is_not_an_object_is_a_422(client, bot):
    assert_problem(client.post("/api/v1/cases", json=[1, 2], headers=bot), 422, "body")


def test_nan_and_infinity_are_not_numbers(client, bot):
    for literal in ("NaN", "Infinity", "1e999"):
        data = '{"expression": "x", "point": {"x": ' + literal + '}, "learning_rate": 0.1}'
        response = client.post(
            "/api/v1/cases", data=data, headers={**bot, "Content-Type": "application/json"}
        )
        assert_problem(response, 422, "point")


@pytest.mark.parametrize(
    ("question", "field", "column"),
    [
        ({"expression": "(x+y)*z)"}, "expression", 8),
        ({"expression": "x +* y", "point": {"x": 1, "y": 2}}, "expression", None),
        ({"point": {"x": 1, "y": 2}}, "point", None),
        ({"learning_rate": 1e9}, "learning_rate", None),
        ({"order": ["z", "q"]}, "order", None),
        ({"methods": ["sgd"]}, "methods", None),
    ],
)
def test_a_question_the_engine_refuses_is_a_422_with_field_and_column(client, bot, question, field, column):
    body = assert_problem(
        client.post("/api/v1/cases", json={**QUESTION, **question}, headers=bot), 422, field
    )
    if column is not None:
        assert body["column"] == column
    assert "column" in body


def test_an_unknown_method_or_path_is_a_problem(client, bot):
    assert_problem(client.put("/api/v1/cases", json=QUESTION, headers=bot), 405)
    assert_problem(client.get("/api/v1/nothing-here"), 404)


def test_the_openapi_document_describes_the_api(client):
    spec = client.get("/openapi.json").json

    assert spec["openapi"].startswith("3.1")
    operations = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert operations >= {
        ("post", "/api/v1/cases"),
        ("get", "/api/v1/cases"),
        ("get", "/api/v1/cases/{case_id}"),
        ("delete", "/api/v1/cases/{case_id}"),
        ("post", "/api/v1/cases/{case_id}/rerun"),
    }
    create = spec["paths"]["/api/v1/cases"]["post"]
    assert "application/problem+json" in create["responses"]["422"]["content"]
    assert {"Idempotency-Key".lower()} <= {p["name"].lower() for p in create["parameters"]}
    assert spec["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    assert client.get("/docs").status_code == 200


class BrokenAnalyzer:
    def answer(self, question: Question) -> dict:
        from tutor.sandbox import AnalysisUnavailable

        raise AnalysisUnavailable("the analysis workers cannot start")


def test_workers_that_cannot_start_give_503_with_retry_after_and_lose_nothing(app, client, bot):
    saved = client.post("/api/v1/cases", json=QUESTION, headers=bot).json
    app.extensions["tutor"].cases.analyzer = BrokenAnalyzer()
    response = client.post("/api/v1/cases", json=QUESTION, headers=bot)
    assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) > 0
    assert count_cases(app) == 1
    assert client.get(f"/api/v1/cases/{saved['id']}").json["id"] == saved["id"]


# One vocabulary: lr and torch's betas


def without_rate(question: dict) -> dict:
    return {key: value for key, value in question.items() if key != "learning_rate"}


def test_lr_is_another_name_for_the_learning_rate(client, bot):
    response = client.post("/api/v1/cases", json={**without_rate(QUESTION), "lr": 0.02}, headers=bot)
    assert response.status_code == 201, response.json
    assert response.json["input"]["learning_rate"] == 0.02
    assert response.json["trials"][0]["learning_rate"] == 0.02
    both = client.post("/api/v1/cases", json={**QUESTION, "lr": QUESTION["learning_rate"]}, headers=bot)
    assert both.status_code == 201

    body = assert_problem(client.post("/api/v1/cases", json={**QUESTION, "lr": 0.5}, headers=bot), 422, "lr")
    assert "differ" in body["detail"] and body["type"].endswith("#invalid-question")
    body = assert_problem(client.post("/api/v1/cases", json=without_rate(QUESTION), headers=bot), 422)
    assert body["field"] == "learning_rate" and "lr" in body["detail"]
    assert_problem(client.post("/api/v1/cases", json={**QUESTION, "lr": -1}, headers=bot), 422, "lr")

    rerun = client.post(f"/api/v1/cases/{response.json['id']}/rerun", json={"lr": 0.3}, headers=bot)
    assert rerun.status_code == 201 and rerun.json["input"]["learning_rate"] == 0.3
    conflict = client.post(
        f"/api/v1/cases/{response.json['id']}/rerun", json={"lr": 0.3, "learning_rate": 0.4}, headers=bot
    )
    assert_problem(conflict, 422, "lr")


ADAM = {**QUESTION, "steps": 3, "methods": ["adam"]}


def test_betas_is_torchs_name_for_adams_beta1_and_beta2(client, bot):
    response = client.post("/api/v1/cases", json={**ADAM, "settings": {"betas": [0.8, 0.95]}}, headers=bot)
    assert response.status_code == 201, response.json
    assert response.json["input"]["settings"] == {"beta1": 0.8, "beta2": 0.95}
    (adam,) = response.json["trials"]
    assert (adam["settings"]["beta1"], adam["settings"]["beta2"]) == (0.8, 0.95)
    # The same trial as with the engine's names.
    spelled = client.post(
        "/api/v1/cases", json={**ADAM, "settings": {"beta1": 0.8, "beta2": 0.95}}, headers=bot
    )
    assert spelled.json["trials"] == response.json["trials"]

    agreeing = {"betas": [0.8, 0.95], "beta1": 0.8}
    assert client.post("/api/v1/cases", json={**ADAM, "settings": agreeing}, headers=bot).status_code == 201
    for settings in (
        {"betas": [0.8, 0.95], "beta2": 0.9},
        {"betas": [0.8]},
        {"betas": [0.8, 1.0]},
        {"betas": "0.8,0.9"},
        {"nesterov": True},
        {"momentum": 1},
    ):
        assert_problem(
            client.post("/api/v1/cases", json={**ADAM, "settings": settings}, headers=bot), 422, "settings"
        )


@pytest.mark.parametrize(
    ("first", "retry", "changed"),
    [
        ({"learning_rate": 0.01}, {"lr": 0.01}, {"lr": 0.02}),
        (
            {"learning_rate": 0.01, "settings": {"beta1": 0.8, "beta2": 0.95}},
            {"learning_rate": 0.01, "settings": {"betas": [0.8, 0.95]}},
            {"learning_rate": 0.01, "settings": {"betas": [0.8, 0.96]}},
        ),
    ],
    ids=["lr", "betas"],
)
def test_a_retry_in_the_other_vocabulary_is_the_same_question(app, client, bot, first, retry, changed):
    headers = {**bot, "Idempotency-Key": "vocabulary"}
    made = client.post("/api/v1/cases", json=without_rate(ADAM) | first, headers=headers)
    again = client.post("/api/v1/cases", json=without_rate(ADAM) | retry, headers=headers)

    assert made.status_code == again.status_code == 201, again.json
    assert again.json["id"] == made.json["id"]
    assert count_cases(app) == 1
    assert_problem(client.post("/api/v1/cases", json=without_rate(ADAM) | changed, headers=headers), 409)


def test_the_admin_lists_cases_by_what_a_reviewer_looks_for(client, bot):
    def ask(**question) -> str:
        response = client.post("/api/v1/cases", json=question, headers=bot)
        assert response.status_code == 201, response.json
        return response.json["id"]

    made = {
        "flips": ask(expression="x*y", point={"x": 0.01, "y": 1}, learning_rate=0.1),
        "rises": ask(expression="x**2 + 100*y**2", point={"x": 1, "y": 1}, learning_rate=0.011, steps=3),
        "diverges": ask(expression="x**2", point={"x": 1}, learning_rate=10, steps=200),
        "kink": ask(expression="abs(x) + y**2", point={"x": 0, "y": 1}, learning_rate=0.1),
        "adam": ask(expression="x**2", point={"x": 1}, learning_rate=0.1, methods=["adam"]),
    }

    def listed(query: str) -> set[str]:
        response = client.get(f"/api/v1/cases?per_page=100&{query}", headers=bearer(ADMIN))
        assert response.status_code == 200, response.json
        ids = {item["id"] for item in response.json["items"]}
        return {name for name, case_id in made.items() if case_id in ids}

    assert listed("sign_flip=true") == {"flips"}
    assert listed("sign_flip=false") == {"rises", "diverges", "kink", "adam"}
    assert listed("loss_went_up=true") == {"rises", "diverges"}
    assert listed("diverged=true") == {"diverges"}
    assert listed("diverged=false&loss_went_up=false&sign_flip=false") == {"kink", "adam"}
    assert listed("outcome=loss_went_up") == {"rises"}
    assert listed("method=adam") == {"adam"}
    assert listed("special_case=kink") == {"kink"}
    item = client.get("/api/v1/cases?sign_flip=true", headers=bearer(ADMIN)).json["items"][0]
    assert (item["sign_flips"], item["methods"], item["outcome"]) == (
        1,
        ["simultaneous", "sequential"],
        "sequential_better",
    )

    for query, field in [
        ("sign_flip=maybe", "sign_flip"),
        ("method=sgd", "method"),
        ("special_case=saddle", "special_case"),
        ("outcome=tie&outcome=diverged", "outcome"),
    ]:
        assert_problem(client.get(f"/api/v1/cases?{query}", headers=bearer(ADMIN)), 422, field)
