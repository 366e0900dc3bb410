"""Hostile bytes on SQLite and PostgreSQL: NUL characters anywhere (PostgreSQL cannot store them and
answered 500, which Discourse retries for ever), lone surrogates, JSON nested a thousand levels deep
(Python's parser raised RecursionError: a 500), and chunked bodies over the limit (read up to the
limit and silently cut, so a body whose first 64 KiB were valid JSON was accepted). Each is a 4xx that
says what is wrong and where; nothing is stored; the service answers normally afterwards."""

from __future__ import annotations

import html
import http.client
import io
import json

import pytest
from support.apps import app_for
from support.live_server import LiveServer
from support.questions import NORMAL

import tutor.engine
from tutor.config import Settings
from tutor.discourse import sign
from tutor.sandbox import AnalysisBusy
from tutor.web.guards import MAX_JSON_DEPTH, json_depth

ADMIN = "admin-token"
SECRET = "webhook-secret"
POST = {
    "id": 41,
    "topic_id": 7,
    "post_number": 3,
    "username": "brent",
    "raw": "@tutorbot f = x*y at x=1, y=2 lr 0.1",
}


@pytest.fixture
def app(database_url, tmp_path):
    settings = Settings(
        database_url=database_url, secret_key="test", admin_token=ADMIN, discourse_secret=SECRET
    )
    with app_for(settings, tmp_path / "instance", TESTING=True, RATELIMIT_ENABLED=False) as app:
        # The engine in this process: the bytes are refused before any analysis.
        app.extensions["tutor"].cases.analyzer = tutor.engine
        yield app


@pytest.fixture
def token(app):
    return app.extensions["tutor_api"].tokens.create("bytes-bot")


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def webhook(client, payload: bytes | dict, **headers):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(
        "/integrations/discourse",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Discourse-Event-Type": "post",
            "X-Discourse-Event": "post_created",
            "X-Discourse-Event-Signature": sign(SECRET, body),
            **headers,
        },
    )


def stored(app) -> tuple[int, int]:
    """Cases and forum posts in the database."""
    discourse = app.extensions["tutor_discourse"].service
    return app.extensions["tutor"].cases.list().total, sum(discourse.counts().values())


def assert_refused(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    text = (
        response.json["detail"]
        if response.mimetype == "application/problem+json"
        else html.unescape(response.get_data(as_text=True))
    )
    for word in words:
        assert word in text


def assert_answers_normally(app, token) -> None:
    client = app.test_client()
    created = client.post("/api/v1/cases", json=NORMAL, headers=auth(token))
    assert created.status_code == 201
    assert client.get(f"/api/v1/cases/{created.json['id']}").status_code == 200
    assert webhook(client, {"post": {**POST, "id": 99}}, **{"X-Discourse-Event-Id": "ok"}).status_code == 202


NUL_REQUESTS = {
    "case id in the address, no token": ("GET", "/api/v1/cases/%00", {}, 404, "The address"),
    "admin search": ("GET", "/api/v1/cases?search=a%00b", {"admin": True}, 422, "search:"),
    "admin delete": ("DELETE", "/api/v1/cases/%00", {"admin": True}, 404, "The address"),
    "case page": ("GET", "/cases/%00", {}, 404, "The address"),
    "prefilled form": ("GET", "/?expression=x%00", {}, 422, "expression:"),
    "a header": (
        "GET",
        "/api/v1/cases/x",
        {"headers": {"Idempotency-Key": "a\x00b"}},
        400,
        "Idempotency-Key",
    ),
}


@pytest.mark.parametrize("case", NUL_REQUESTS.values(), ids=NUL_REQUESTS.keys())
def test_nul_outside_the_body_is_a_4xx_that_says_where(app, token, case):
    method, path, options, status, where = case
    headers = {**auth(ADMIN if options.get("admin") else token), **options.get("headers", {})}
    before = stored(app)

    response = app.test_client().open(path, method=method, headers=headers)

    assert_refused(response, status, where, "NUL character")
    assert response.mimetype == ("application/problem+json" if path.startswith("/api/") else "text/html")
    assert stored(app) == before
    assert_answers_normally(app, token)


@pytest.mark.parametrize(
    ("body", "field", "column", "what"),
    [
        ({**NORMAL, "question": "why?\u0000"}, "question", 5, "NUL character"),
        ({**NORMAL, "expression": "(x+y)*z\u0000"}, "expression", 8, "NUL character"),
        ({**NORMAL, "point": {"x\u0000": 1, "y": 5, "z": -4}}, "point", 2, "NUL character"),
        ({**NORMAL, "question": "lone \ud800 surrogate"}, "question", 6, "unpaired surrogate"),
    ],
)
def test_nul_or_a_lone_surrogate_in_a_question_is_a_422_at_its_field(app, token, body, field, column, what):
    response = app.test_client().post(
        "/api/v1/cases",
        data=json.dumps(body),  # ensure_ascii: the characters go as \u escapes, as clients send them
        headers={**auth(token), "Content-Type": "application/json"},
    )

    assert_refused(response, 422, what)
    assert (response.json["field"], response.json["column"]) == (field, column)
    assert stored(app) == (0, 0)
    assert_answers_normally(app, token)


def test_nul_in_a_form_field_is_a_400_page(app, token):
    response = app.test_client().post("/", data={"expression": "x*y", "question": "why\x00"})

    assert_refused(response, 400, "'question'", "NUL character")
    assert stored(app) == (0, 0)
    assert_answers_normally(app, token)


@pytest.mark.parametrize("member", ["raw", "username"])
def test_a_signed_webhook_with_nul_is_a_422_not_a_500_discourse_retries_for_ever(app, token, member):
    post = {**POST, member: POST[member] + "\u0000"}

    response = webhook(app.test_client(), {"post": post})

    assert_refused(response, 422, f"post.{member}", "NUL character")
    assert response.mimetype == "application/problem+json"
    assert stored(app) == (0, 0)
    assert_answers_normally(app, token)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 30_000])
def test_deep_json_is_refused_before_parsing_through_the_api(app, token, depth):
    body = '{"expression": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"

    response = app.test_client().post(
        "/api/v1/cases", data=body, headers={**auth(token), "Content-Type": "application/json"}
    )

    assert_refused(response, 400, f"nested {depth} levels deep", f"at most {MAX_JSON_DEPTH}")
    assert_answers_normally(app, token)


def test_deep_json_is_refused_through_the_signed_webhook(app, token):
    depth = 400_000  # within the webhook's 1 MiB
    body = ('{"post": ' + "[" * depth + "]" * depth + "}").encode()

    response = webhook(app.test_client(), body)

    assert_refused(response, 400, f"nested {depth + 1} levels deep")
    assert stored(app) == (0, 0)
    assert_answers_normally(app, token)


def test_json_as_deep_as_allowed_goes_through_to_the_validation(app, token):
    body = {
        **NORMAL,
        "question": None,
        "data": {"x": [[[[]]]]},
    }  # 4 levels: refused by the schema, not the guard
    response = app.test_client().post("/api/v1/cases", json=body, headers=auth(token))
    assert response.status_code == 422
    assert "nested" not in response.json["detail"]


def chunked(client, path: str, body: bytes, headers: dict):
    """A chunked request as a WSGI server that ends the stream itself passes it on (no Content-Length)."""
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json", **headers},
        environ_overrides={"wsgi.input_terminated": True},
    )


def padded(limit: int) -> bytes:
    """NORMAL as JSON, then whitespace past ``limit``: what used to be accepted, cut at the limit."""
    body = json.dumps(NORMAL).encode()
    return body + b" " * (limit + 1 - len(body))


def test_a_chunked_body_over_the_limit_is_a_413_not_cut_and_accepted(app, token):
    limit = app.config["MAX_CONTENT_LENGTH"]
    client = app.test_client()

    over = chunked(client, "/api/v1/cases", padded(limit), auth(token))
    within = chunked(client, "/api/v1/cases", json.dumps(NORMAL).encode(), auth(token))

    assert_refused(over, 413, f"at most {limit} bytes")
    assert within.status_code == 201
    assert stored(app) == (1, 0)


def test_a_chunked_webhook_over_its_limit_is_a_413(app, token):
    from tutor.web.discourse import WEBHOOK_MAX_BYTES

    body = padded(WEBHOOK_MAX_BYTES)
    response = chunked(
        app.test_client(),
        "/integrations/discourse",
        body,
        {"X-Discourse-Event-Signature": sign(SECRET, body)},
    )

    assert_refused(response, 413, f"at most {WEBHOOK_MAX_BYTES} bytes")
    assert_answers_normally(app, token)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("bytes-live"), admin_token=ADMIN, secret_key="live")
    token = server.tutor("tokens", "create", "live-bot").strip().splitlines()[-1]
    with server.tutor_serve("--workers", "1", probe="/openapi.json"):
        yield server, token


def test_through_gunicorn_chunked_bodies_are_read_whole_or_refused_and_nul_is_a_404(live):
    server, token = live
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def send(method: str, path: str, body: bytes | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        try:
            chunks = None if body is None else (body[i : i + 8192] for i in range(0, len(body), 8192))
            connection.request(method, path, body=chunks, headers=headers, encode_chunked=body is not None)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    over_status, over = send("POST", "/api/v1/cases", padded(64 * 1024))
    within_status, within = send("POST", "/api/v1/cases", json.dumps(NORMAL).encode())
    nul_status, nul = send("GET", "/api/v1/cases/%00")

    assert over_status == 413, over
    assert within_status == 201, within
    assert nul_status == 404 and b"NUL character" in nul


class BusyAnalyzer:
    def answer(self, question):
        raise AnalysisBusy("busy for the test", retry_after=7)


def test_retry_after_is_sent_only_with_429_and_503(database_url, tmp_path):
    # The rate limiter's headers are on: it adds Retry-After to every response it counts (each route
    # counted apart), and rewrote a 503's own value with its window's end.
    settings = Settings(
        database_url=database_url, secret_key="test", admin_token=ADMIN, rate_limit="2 per minute"
    )
    with app_for(settings, tmp_path / "limited", TESTING=True, RATELIMIT_KEY_PREFIX=tmp_path.name) as app:
        cases = app.extensions["tutor"].cases
        client = app.test_client()
        bot = auth(app.extensions["tutor_api"].tokens.create("limited-bot"))

        cases.analyzer = BusyAnalyzer()
        busy = client.post("/api/v1/cases", json=NORMAL, headers=bot)
        cases.analyzer = tutor.engine
        created = client.post("/api/v1/cases", json=NORMAL, headers=bot)
        missing = client.get("/api/v1/cases/nothing-here", headers=bot)
        client.get("/api/v1/cases/nothing-here", headers=bot)
        limited = client.get("/api/v1/cases/nothing-here", headers=bot)

        statuses = (busy.status_code, created.status_code, missing.status_code, limited.status_code)
        assert statuses == (503, 201, 404, 429)
        assert busy.headers["Retry-After"] == "7"
        assert "Retry-After" not in created.headers
        assert "Retry-After" not in missing.headers
        assert int(limited.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"", 0),
        (b"{}", 1),
        (b'[[1, [2]], {"a": [3]}]', 3),
        (b'{"a": "[[[[{{{{"}', 1),  # brackets in strings do not count
        (b'{"a": "\\\\", "b": [[]]}', 3),  # an escaped backslash ends before the quote
        (b'{"a": "\\"[[["}', 1),  # an escaped quote does not end the string
    ],
)
def test_json_depth_counts_brackets_outside_strings(body, depth):
    assert json_depth(body) == depth


def test_a_mile_of_escaped_quotes_is_refused_not_mulled_over(app, token):
    # An unterminated string of escaped quotes made a regular expression for strings quadratic: 37 s
    # for 100 kB. Through the webhook's 1 MiB it would hold a thread for an hour.
    body = b'{"post": "' + b'\\"' * 500_000

    response = webhook(app.test_client(), body)

    assert 400 <= response.status_code < 500
    assert_answers_normally(app, token)
