"""The OpenAPI document is the API's contract: real responses of every kind validate against it with
additional properties forbidden (a key the schemas do not describe fails), every problem carries a
documented type, and the document states the configured limits, operation ids, 503 and a default."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import jsonschema_rs
import pytest
from support.apps import app_for

import tutor.engine
import tutor.web.api.openapi
from tutor.config import Limits, Settings
from tutor.engine import Question, TooExpensive
from tutor.engine.question import METHODS
from tutor.web.api.openapi import example_case
from tutor.web.errors import PROBLEM_TYPES

ADMIN = "admin-token-for-contract-tests"
PUBLIC_URL = "https://tutor.example"
BASIC = {"expression": "(x+y)*z", "point": {"x": -2, "y": 5, "z": -4}, "learning_rate": 0.01}
# One question of each kind the document has a shape for.
KINDS = {
    "basic": BASIC,
    "all optimizers": {
        "expression": "(1-x)**2 + 100*(y-x**2)**2",
        "point": {"x": -1.2, "y": 1},
        "lr": 0.001,
        "steps": 3,
        "methods": list(METHODS.keys() - {"minibatch"}),
        "settings": {"momentum": 0.5, "betas": [0.8, 0.99], "alpha": 0.9, "eps": 1e-6},
        "question": "Which of them goes up?",
    },
    "mini-batches": {
        "expression": "(w*x + b - y)**2",
        "point": {"w": 0.5, "b": 0},
        "learning_rate": 0.1,
        "steps": 4,
        "data": {"x": [1, 2, 3], "y": [2, 4, 5]},
        "batch_size": 2,
        "shuffle_seed": 3,
    },
    "undefined point": {"expression": "log(x) + y", "point": {"x": -1, "y": 1}, "learning_rate": 0.1},
    "stationary": {"expression": "x**2 + y**2", "point": {"x": 0, "y": 0}, "learning_rate": 0.1},
    "kink": {"expression": "relu(x) + abs(y) + max(x, y)", "point": {"x": 0, "y": 0}, "learning_rate": 0.1},
    "diverges": {"expression": "x**2", "point": {"x": 1}, "learning_rate": 10, "steps": 200},
    "fixed and ordered": {**BASIC, "fixed": ["x"], "order": ["z", "y"], "steps": 2},
}
UPDATE_EXAMPLE = "UPDATE_API_EXAMPLE"


class Engine:
    """The engine in this process, or a chosen failure."""

    def __init__(self):
        self.failure: Exception | None = None

    def answer(self, question: Question) -> dict:
        if self.failure is not None:
            raise self.failure
        return tutor.engine.answer(question)


@pytest.fixture
def app(database_url, tmp_path):
    settings = Settings(
        database_url=database_url, secret_key="test", admin_token=ADMIN, public_url=PUBLIC_URL
    )
    with app_for(settings, tmp_path / "instance", TESTING=True, RATELIMIT_ENABLED=False) as app:
        app.extensions["tutor"].cases.analyzer = Engine()
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def bot(app) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.extensions['tutor_api'].tokens.create('contract-bot')}"}


ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def strict(schema):
    """The schema with additional properties forbidden in every object that lists its properties."""
    if isinstance(schema, dict):
        tightened = {key: strict(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            tightened["additionalProperties"] = False
        return tightened
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


class Contract:
    """Validates responses against the document's schema for their operation and status."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.components = strict(spec["components"])
        self.checked: list[tuple[str, str, int]] = []

    def check(self, method: str, path: str, response) -> dict | None:
        operation = self.spec["paths"][path][method]
        status = str(response.status_code)
        # Every status a client should plan for is listed; anything else is the default problem.
        if response.status_code != 500:
            assert status in operation["responses"], f"{method} {path} answered {status}, not documented"
        documented = operation["responses"].get(status, operation["responses"]["default"])
        if "content" not in documented:
            assert not response.get_data(), f"{method} {path} {status} has a body it does not document"
            return None
        (media, content), *_ = documented["content"].items()
        assert response.mimetype == media
        body = response.json
        validator = jsonschema_rs.Draft202012Validator({**content["schema"], "components": self.components})
        errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(body)]
        assert not errors, f"{method} {path} {status}:\n" + "\n".join(errors[:10])
        self.checked.append((method, path, response.status_code))
        return body


@pytest.fixture
def contract(client) -> Contract:
    return Contract(client.get("/openapi.json").json)


def test_every_kind_of_case_validates_strictly_in_every_operation(client, bot, contract):
    created = {}
    for kind, question in KINDS.items():
        response = client.post("/api/v1/cases", json=question, headers=bot)
        assert response.status_code == 201, (kind, response.json)
        created[kind] = contract.check("post", "/api/v1/cases", response)
        read = client.get(f"/api/v1/cases/{created[kind]['id']}")
        assert contract.check("get", "/api/v1/cases/{case_id}", read) == created[kind]

    # The kinds are what their names say, so the schemas above saw each shape.
    trials = {trial["method"] for case in created.values() for trial in case["trials"]}
    assert trials == set(METHODS)
    kinds = {special["kind"] for case in created.values() for special in case["special_cases"]}
    assert kinds == {"undefined", "stationary", "kink", "diverged"}
    assert created["undefined point"]["analysis"] is None and created["mini-batches"]["data_rows"] == 3

    rerun = client.post(f"/api/v1/cases/{created['basic']['id']}/rerun", json={"lr": 0.5}, headers=bot)
    assert (
        contract.check("post", "/api/v1/cases/{case_id}/rerun", rerun)["parent_id"] == created["basic"]["id"]
    )
    page = client.get("/api/v1/cases?per_page=100", headers=ADMIN_HEADERS)
    assert contract.check("get", "/api/v1/cases", page)["total"] == len(KINDS) + 1
    flipped = client.get("/api/v1/cases?sign_flip=true&method=sequential", headers=ADMIN_HEADERS)
    assert contract.check("get", "/api/v1/cases", flipped)["items"]
    deleted = client.delete(f"/api/v1/cases/{created['basic']['id']}", headers=ADMIN_HEADERS)
    assert deleted.status_code == 204
    contract.check("delete", "/api/v1/cases/{case_id}", deleted)


def problem_type(body: dict) -> str:
    prefix = f"{PUBLIC_URL}/docs#"
    assert body["type"].startswith(prefix), body
    slug = body["type"].removeprefix(prefix)
    assert slug in PROBLEM_TYPES and PROBLEM_TYPES[slug].status == body["status"], body
    assert body["title"] == PROBLEM_TYPES[slug].title
    return slug


def test_every_problem_has_a_documented_type_and_fits_the_schema(app, client, bot, contract):
    case_id = client.post("/api/v1/cases", json=BASIC, headers=bot).json["id"]
    engine = app.extensions["tutor"].cases.analyzer
    sent = {}

    def expect(slug, method, path, response):
        body = contract.check(method, path, response)
        assert problem_type(body) == slug, body
        sent[slug] = body

    cases, one = "/api/v1/cases", "/api/v1/cases/{case_id}"
    post = client.post
    expect("parse-error", "post", cases, post(cases, json={**BASIC, "expression": "(x+y)*z)"}, headers=bot))
    assert sent["parse-error"]["column"] == 8
    expect("invalid-question", "post", cases, post(cases, json={**BASIC, "point": {"x": 1}}, headers=bot))
    expect("invalid-request", "post", cases, post(cases, json={**BASIC, "steps": "2"}, headers=bot))
    assert sent["invalid-request"]["errors"]
    body = '{"expression": '
    json_headers = {**bot, "Content-Type": "application/json"}
    expect("malformed-request", "post", cases, post(cases, data=body, headers=json_headers))
    huge = json.dumps({**BASIC, "question": "x" * 70_000})
    expect("too-large", "post", cases, post(cases, data=huge, headers=json_headers))
    expect("unauthorized", "post", cases, post(cases, json=BASIC))
    expect("forbidden", "get", cases, client.get(cases, headers=bot))
    expect("not-found", "get", one, client.get("/api/v1/cases/nothing-here"))
    keyed = {**bot, "Idempotency-Key": "k1"}
    post(cases, json=BASIC, headers=keyed)
    other = {key: value for key, value in BASIC.items() if key != "learning_rate"} | {"lr": 0.5}
    expect("idempotency-conflict", "post", cases, post(cases, json=other, headers=keyed))
    engine.failure = TooExpensive("answering this took longer than 10 seconds", "expression")
    expect("too-expensive", "post", cases, post(cases, json=BASIC, headers=bot))
    from tutor.sandbox import AnalysisUnavailable

    engine.failure = AnalysisUnavailable("the workers cannot start")
    response = post(f"/api/v1/cases/{case_id}/rerun", json={"learning_rate": 0.2}, headers=bot)
    expect("unavailable", "post", "/api/v1/cases/{case_id}/rerun", response)
    assert int(response.headers["Retry-After"]) > 0
    engine.failure = RuntimeError("a bug")
    expect("internal-error", "post", cases, post(cases, json=BASIC, headers=bot))
    method_not_allowed = client.put(cases, json=BASIC, headers=bot)
    assert problem_type(method_not_allowed.json) == "method-not-allowed"
    sent["method-not-allowed"] = method_not_allowed.json

    assert set(sent) == set(PROBLEM_TYPES) - {"rate-limited"}  # 429: the next test


def test_a_rate_limited_request_is_a_documented_problem(database_url, tmp_path):
    settings = Settings(
        database_url=database_url,
        secret_key="test",
        admin_token=ADMIN,
        public_url=PUBLIC_URL,
        rate_limit="2 per minute",
    )
    with app_for(settings, tmp_path / "instance", TESTING=True, RATELIMIT_ENABLED=True) as app:
        client = app.test_client()
        contract = Contract(client.get("/openapi.json").json)
        answers = [client.get("/api/v1/cases/nothing-here") for _ in range(3)]
        assert [a.status_code for a in answers] == [404, 404, 429]
        body = contract.check("get", "/api/v1/cases/{case_id}", answers[-1])
        assert problem_type(body) == "rate-limited"
        assert int(answers[-1].headers["Retry-After"]) > 0


def test_each_problem_type_is_documented_with_its_meaning(client):
    spec = client.get("/openapi.json").json
    described = spec["components"]["schemas"]["Problem"]["properties"]["type"]["description"]
    docs = client.get("/docs").get_data(as_text=True)
    for slug, kind in PROBLEM_TYPES.items():
        assert f"`{PUBLIC_URL}/docs#{slug}` ({kind.status}): {kind.meaning}" in described
        assert f'id="{slug}"' in docs


# The document itself


OPERATIONS = {
    ("post", "/api/v1/cases"): "create_case",
    ("get", "/api/v1/cases"): "list_cases",
    ("get", "/api/v1/cases/{case_id}"): "get_case",
    ("delete", "/api/v1/cases/{case_id}"): "delete_case",
    ("post", "/api/v1/cases/{case_id}/rerun"): "rerun_case",
}


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if path.startswith("/api/"):
                yield (method, path), operation


def test_operations_have_ids_503_a_default_problem_and_described_parameters(client):
    spec = client.get("/openapi.json").json
    found = dict(operations(spec))
    assert {key: operation["operationId"] for key, operation in found.items()} == OPERATIONS
    for (method, path), operation in found.items():
        responses = operation["responses"]
        for status in ("503", "default"):
            assert responses[status]["content"]["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }, (method, path, status)
        assert "Retry-After" in responses["503"]["headers"] and "Retry-After" in responses["429"]["headers"]
        for parameter in operation.get("parameters", []):
            assert parameter.get("description"), (path, parameter["name"])
            schema = json.dumps(parameter["schema"])
            assert '"null"' not in schema and '"default": null' not in schema, (path, parameter)
        for status, response in responses.items():
            for media, content in response.get("content", {}).items():
                assert "example" in content, (method, path, status, media)
    header = found[("post", "/api/v1/cases")]["parameters"][0]
    assert (header["name"], header["in"], header["schema"]["type"]) == ("Idempotency-Key", "header", "string")


def test_the_document_states_the_configured_limits_and_vocabulary(database_url, tmp_path):
    limits = Limits(max_expression_length=321, max_steps=77, max_data_rows=12)
    settings = Settings(database_url=database_url, secret_key="test", limits=limits)
    with app_for(settings, tmp_path / "instance", TESTING=True) as app:
        schemas = app.test_client().get("/openapi.json").json["components"]["schemas"]
    question = schemas["CaseIn"]["properties"]
    assert question["expression"]["maxLength"] == 321
    assert question["steps"]["maximum"] == 77
    assert question["data"]["anyOf"][0]["additionalProperties"]["maxItems"] == 12
    for member in ("learning_rate", "lr"):
        assert (question[member]["minimum"], question[member]["maximum"]) == (1e-12, 1e6)
    assert question["methods"]["anyOf"][0]["items"] == {"$ref": "#/components/schemas/Method"}
    assert schemas["Method"]["enum"] == list(METHODS)
    settings_schema = schemas["OptimizerSettings"]
    assert set(settings_schema["properties"]) == {"momentum", "beta1", "beta2", "betas", "alpha", "eps"}
    assert settings_schema["additionalProperties"] is False
    assert settings_schema["properties"]["betas"]["maxItems"] == 2
    assert schemas["CaseIn"]["x-required-one-of"] == [["learning_rate"], ["lr"]]
    assert schemas["Analysis"]["properties"]["verdict"]["$ref"] == "#/components/schemas/Verdict"
    assert schemas["Verdict"]["enum"] == ["decreases", "increases", "unchanged", "undefined"]
    assert schemas["Outcome"]["enum"][-2:] == ["loss_went_up", "diverged"]


def test_the_example_case_is_a_real_answer_that_fits_the_schema(client, contract):
    """The documents' example case: what the engine answers for its question, and valid strictly.
    After a change to the document, rewrite it with UPDATE_API_EXAMPLE=1 and this test."""
    example = example_case()
    given = example["input"]
    answer = tutor.engine.answer(Question(given["expression"], given["point"], given["learning_rate"]))
    path = Path(tutor.web.api.openapi.__file__).with_name("example_case.json")
    if os.environ.get(UPDATE_EXAMPLE):
        keep = {key: example[key] for key in ("id", "created_at", "source", "question", "parent_id")}
        path.write_text(json.dumps({**keep, **answer}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        example = json.loads(path.read_text("utf-8"))
    assert {key: example[key] for key in answer if key != "explanation"} == {
        key: value for key, value in answer.items() if key != "explanation"
    }, f"the example is out of date: {UPDATE_EXAMPLE}=1 pytest {__file__} -k example"
    schema = {"$ref": "#/components/schemas/CaseOut", "components": contract.components}
    errors = list(
        jsonschema_rs.Draft202012Validator(schema).iter_errors({**example, "url": f"{PUBLIC_URL}/cases/x"})
    )
    assert not errors, [error.message for error in errors[:5]]
    documented = contract.spec["paths"]["/api/v1/cases"]["post"]["responses"]["201"]["content"]
    assert documented["application/json"]["example"]["id"] == example["id"]


def test_strictness_catches_an_undocumented_key(contract):
    """The check above can fail: a key no model describes is refused."""
    case = copy.deepcopy(example_case())
    case["url"] = f"{PUBLIC_URL}/cases/x"
    case["explanation"]["key_table_html"] = "<table>…</table>"
    schema = {"$ref": "#/components/schemas/CaseOut", "components": contract.components}
    errors = list(jsonschema_rs.Draft202012Validator(schema).iter_errors(case))
    assert len(errors) == 1 and "key_table_html" in errors[0].message
