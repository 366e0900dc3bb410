"""What several processes and instances share: plots drawn once and stored with their case, rate-limit
headers, the client address behind a proxy, and how `tutor serve` and `tutor worker` settle their
shared state before they start.

Two apps on one database stand for two instances: each has its own Database, plot service and locks.
Across real processes and machines the same is shown by tests/topology/ (nginx, two `tutor serve`).
"""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select
from support.apps import app_for, migrated_sqlite
from support.ci import skip_or_fail_in_ci
from support.forum import FakeForum

import tutor.engine
from tutor import plots
from tutor.cli import main
from tutor.cli.serve import SHARED_RATE_LIMIT_STORAGE, rate_limit_storage
from tutor.config import Settings
from tutor.engine import TooExpensive
from tutor.persistence.shared import StoredPlot
from tutor.sandbox import AnalysisUnavailable
from tutor.services.discourse import IncomingPost
from tutor.services.plots import PlotService

QUESTION = tutor.engine.Question(expression="x**2 + 3*y**2", point={"x": 1, "y": 1}, learning_rate=0.1)


class CountingAnalyzer:
    """Draws in this process and counts what it draws; ``fail`` makes the next drawings raise it."""

    def __init__(self):
        self.drawn: list[tuple[str, str]] = []
        self.fail: Exception | None = None
        self.lock = threading.Lock()

    def run(self, function, case, name, limits):
        with self.lock:
            self.drawn.append((case["id"], name))
        if self.fail is not None:
            raise self.fail
        return function(case, name, limits)


@contextmanager
def instance(database_url: str, root) -> Iterator[tuple[Flask, CountingAnalyzer]]:
    """One instance's app on the shared database, its plots drawn by a CountingAnalyzer."""
    settings = Settings(database_url=database_url, secret_key="test")
    with app_for(settings, root, TESTING=True, RATELIMIT_ENABLED=False) as app:
        app.extensions["tutor"].cases.analyzer = tutor.engine
        counting = CountingAnalyzer()
        app.extensions["tutor"].plots.analyzer = counting
        yield app, counting


@pytest.fixture
def two_instances(database_url, tmp_path):
    with instance(database_url, tmp_path / "one") as one, instance(database_url, tmp_path / "two") as two:
        yield [one, two]


def new_case(app) -> str:
    return app.extensions["tutor"].cases.ask(QUESTION, source="web")["id"]


# Plots


def test_a_plot_asked_at_once_on_two_instances_is_drawn_once(two_instances):
    (one, one_drawn), (two, two_drawn) = two_instances
    case_id = new_case(one)
    barrier = threading.Barrier(12)
    answers = []

    def ask(app):
        client = app.test_client()
        barrier.wait()
        answers.append(client.get(f"/cases/{case_id}/plots/contour.png"))

    threads = [threading.Thread(target=ask, args=(app,)) for app in (one, two) * 6]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert [answer.status_code for answer in answers] == [200] * 12
    assert len({answer.data for answer in answers}) == 1 and answers[0].data.startswith(b"\x89PNG")
    assert one_drawn.drawn + two_drawn.drawn == [(case_id, "contour")]
    # Served from the database afterwards, by either instance, without drawing it again.
    assert two.test_client().get(f"/cases/{case_id}/plots/contour.png").data == answers[0].data
    assert len(one_drawn.drawn + two_drawn.drawn) == 1


def test_a_plot_whose_drawer_died_is_drawn_by_the_next_to_ask(two_instances):
    (one, drawn), _ = two_instances
    case_id = new_case(one)
    with one.extensions["tutor"].cases.database.session(write=True) as session:
        # A process took the drawing and was killed: its lease runs out a moment from now.
        session.add(
            StoredPlot(case_id=case_id, name="loss", drawing_until=datetime.now(UTC) + timedelta(seconds=1))
        )

    response = one.test_client().get(f"/cases/{case_id}/plots/loss.png")

    assert response.status_code == 200 and response.data.startswith(b"\x89PNG")
    assert drawn.drawn == [(case_id, "loss")]


def test_a_plot_too_expensive_to_draw_is_refused_at_once_afterwards(two_instances):
    (one, one_drawn), (two, two_drawn) = two_instances
    case_id = new_case(one)
    one_drawn.fail = TooExpensive("drawing this took longer than 10 seconds", "expression")

    first = one.test_client().get(f"/cases/{case_id}/plots/line.png")
    again = two.test_client().get(f"/cases/{case_id}/plots/line.png")

    assert first.status_code == again.status_code == 422
    assert "longer than 10 seconds" in again.get_data(as_text=True)
    assert one_drawn.drawn == [(case_id, "line")] and two_drawn.drawn == []


def test_a_plot_that_cannot_be_drawn_now_is_a_503_and_drawn_on_the_next_request(two_instances):
    (one, drawn), _ = two_instances
    case_id = new_case(one)
    drawn.fail = AnalysisUnavailable("the analysis workers cannot start")

    refused = one.test_client().get(f"/cases/{case_id}/plots/loss.png")
    drawn.fail = None
    answered = one.test_client().get(f"/cases/{case_id}/plots/loss.png")

    assert refused.status_code == 503 and refused.headers["Retry-After"]
    assert answered.status_code == 200 and answered.data.startswith(b"\x89PNG")


def test_workers_draw_each_plot_of_a_new_case_once_before_anyone_asks(two_instances):
    (one, one_drawn), (two, two_drawn) = two_instances
    case_id = new_case(one)
    services: list[PlotService] = [app.extensions["tutor"].plots for app in (one, two)]
    barrier = threading.Barrier(2)

    def prerender(service):
        barrier.wait()
        service.prerender_due()

    threads = [threading.Thread(target=prerender, args=(service,)) for service in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    available = plots.available(one.extensions["tutor"].cases.get(case_id))
    assert sorted(one_drawn.drawn + two_drawn.drawn) == sorted((case_id, name) for name in available)
    for name in available:
        assert two.test_client().get(f"/cases/{case_id}/plots/{name}.png").status_code == 200
    assert len(one_drawn.drawn + two_drawn.drawn) == len(available)
    assert services[0].prerender_due() == services[1].prerender_due() == 0


def test_plot_requests_count_against_the_rate_limit(tmp_path):
    settings = Settings(database_url=migrated_sqlite(tmp_path), secret_key="test", rate_limit="3 per minute")
    prefix = f"test-{secrets.token_hex(4)}"
    with app_for(settings, tmp_path / "instance", TESTING=True, RATELIMIT_KEY_PREFIX=prefix) as app:
        app.extensions["tutor"].cases.analyzer = tutor.engine
        app.extensions["tutor"].plots.analyzer = CountingAnalyzer()
        case_id = new_case(app)
        client = app.test_client()
        statuses = [client.get(f"/cases/{case_id}/plots/loss.png").status_code for _ in range(4)]
        # The pages keep their own allowance: a page's plots do not use it up.
        page = client.get(f"/cases/{case_id}")

    assert statuses == [200, 200, 200, 429]
    assert page.status_code == 200


# Headers and addresses


@pytest.fixture
def limited(tmp_path):
    def make(**settings):
        settings = Settings(
            database_url=migrated_sqlite(tmp_path), secret_key="test", admin_token="admin", **settings
        )
        return app_for(
            settings, tmp_path / "instance", TESTING=True, RATELIMIT_KEY_PREFIX=f"t-{secrets.token_hex(4)}"
        )

    return make


def test_retry_after_is_only_on_429_and_503(limited, monkeypatch):
    with limited(rate_limit="3 per minute") as app:
        app.extensions["tutor"].cases.analyzer = tutor.engine

        @app.get("/boom")
        def boom():
            raise RuntimeError("a bug")

        admin = {"Authorization": "Bearer admin"}
        client = app.test_client()
        created = client.post(
            "/api/v1/cases",
            json={"expression": "x**2", "point": {"x": 1}, "learning_rate": 0.1},
            headers=admin,
        )
        refused = client.post(
            "/api/v1/cases",
            json={"expression": "x**2", "point": {"x": 1}, "learning_rate": -1},
            headers=admin,
        )
        page = client.get("/")  # each route counts on its own (and the API apart from the pages)
        client.get("/"), client.get("/")
        broken = client.get("/boom")
        limited_page = client.get("/")
        monkeypatch.setattr(app.extensions["tutor"].cases, "analyzer", BrokenAnalyzer())
        unavailable = app.test_client().post(
            "/api/v1/cases",
            json={"expression": "x**3", "point": {"x": 1}, "learning_rate": 0.1},
            headers={**admin, "X-Test": "1"},
            environ_base={"REMOTE_ADDR": "10.9.9.9"},
        )

    assert [r.status_code for r in (created, refused, page, broken, limited_page)] == [
        201,
        422,
        200,
        500,
        429,
    ]
    for response in (created, refused, page, broken):
        assert "Retry-After" not in response.headers, response.status_code
        assert response.headers["X-RateLimit-Limit"] == "3"
    assert 0 < int(limited_page.headers["Retry-After"]) <= 61  # the window, rounded up
    assert limited_page.headers["X-RateLimit-Remaining"] == "0"
    assert unavailable.status_code == 503 and unavailable.headers["Retry-After"] == "30"


class BrokenAnalyzer:
    def answer(self, question):
        raise AnalysisUnavailable("the analysis workers cannot start")


@pytest.mark.parametrize("proxies", [0, 1])
def test_behind_a_proxy_the_limit_counts_the_client_the_proxy_names(limited, proxies):
    with limited(rate_limit="2 per minute", proxies=proxies) as app:

        def get(forwarded_for: str):
            client = app.test_client()
            client.environ_base["REMOTE_ADDR"] = "127.0.0.1"  # nginx
            return client.get("/", headers={"X-Forwarded-For": forwarded_for}).status_code

        first = [get("203.0.113.1"), get("203.0.113.1"), get("198.51.100.7, 203.0.113.1")]
        other = get("203.0.113.2")

    assert first == [200, 200, 429]  # a made-up first address changes nothing: nginx's last one counts
    # Without TUTOR_PROXIES every client behind the proxy shares its address and its allowance.
    assert other == (200 if proxies else 429)


# Settling shared state before start


def test_one_process_counts_in_memory_and_more_share_redis_by_default():
    assert rate_limit_storage(Settings(), 1) == "memory://"
    assert rate_limit_storage(Settings(rate_limit_storage_url="memory://"), 4) == "memory://"
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(SHARED_RATE_LIMIT_STORAGE, socket_connect_timeout=1).ping()
    except redis.RedisError:
        skip_or_fail_in_ci(f"no Redis at {SHARED_RATE_LIMIT_STORAGE}")
    assert rate_limit_storage(Settings(), 2) == SHARED_RATE_LIMIT_STORAGE


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_refuses_to_start_with_a_shared_store_that_does_not_answer(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTOR_DATABASE_URL", migrated_sqlite(tmp_path))
    monkeypatch.setenv("TUTOR_RATE_LIMIT_STORAGE_URL", f"redis://127.0.0.1:{closed_port()}/0")

    result = CliRunner().invoke(main, ["serve", "--workers", "2"])

    assert result.exit_code == 2
    assert "does not answer" in result.output and "--workers 1" in result.output


@contextmanager
def silent_store() -> Iterator[str]:
    """A "Redis" that takes connections and never answers: its URL."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def test_serve_refuses_to_start_with_a_store_that_hangs(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTOR_DATABASE_URL", migrated_sqlite(tmp_path))
    with silent_store() as url:
        monkeypatch.setenv("TUTOR_RATE_LIMIT_STORAGE_URL", url)

        result = CliRunner().invoke(main, ["serve", "--workers", "2"])

    assert result.exit_code == 2 and "does not answer" in result.output


def test_a_store_that_hangs_later_does_not_hang_the_requests(tmp_path):
    with silent_store() as url:
        settings = Settings(
            database_url=migrated_sqlite(tmp_path),
            secret_key="test",
            rate_limit="2 per minute",
            rate_limit_storage_url=url,
        )
        with app_for(settings, tmp_path / "instance", TESTING=True) as app:
            client = app.test_client()
            statuses = [client.get("/").status_code for _ in range(3)]

    # The first request waits out the store's timeouts (a second to send, a second to hear nothing);
    # from then on requests are counted in the process until the store answers again.
    assert statuses == [200, 200, 429]


def test_serve_refuses_to_start_on_a_database_that_is_not_migrated(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTOR_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")

    result = CliRunner().invoke(main, ["serve", "--workers", "1"])

    assert result.exit_code == 2 and "run `tutor db upgrade`" in result.output


def test_tutor_worker_once_replies_to_stored_posts_and_draws_new_plots(tmp_path, monkeypatch):
    database_url = migrated_sqlite(tmp_path)
    forum = FakeForum()
    try:
        for name, value in {
            "TUTOR_DATABASE_URL": database_url,
            "TUTOR_INSTANCE_PATH": str(tmp_path / "instance"),
            "TUTOR_DISCOURSE_URL": forum.url,
            "TUTOR_DISCOURSE_API_KEY": "key",
            "TUTOR_SECRET_KEY": "test",
        }.items():
            monkeypatch.setenv(name, value)
        with instance(database_url, tmp_path / "web") as (app, _):
            service = app.extensions["tutor_discourse"].service
            service.receive(IncomingPost(3, 7, 2, "brent", "@tutorbot f = x**2 + y**2 at x=1, y=2 lr 0.1"))
            case_id = new_case(app)

            result = CliRunner().invoke(main, ["worker", "--once"])

            assert result.exit_code == 0, result.output
            [reply] = forum.wait_for(1)
            assert reply["json"]["topic_id"] == 7
            with app.extensions["tutor"].cases.database.session() as session:
                stored = set(session.scalars(select(StoredPlot.name).where(StoredPlot.case_id == case_id)))
            assert stored == set(plots.available(app.extensions["tutor"].cases.get(case_id)))
    finally:
        forum.close()


def test_settings_refuse_a_negative_number_of_proxies(monkeypatch):
    monkeypatch.setenv("TUTOR_PROXIES", "-1")
    with pytest.raises(ValueError, match="TUTOR_PROXIES must be at least 0"):
        Settings.from_env()
    assert Settings().with_changes(proxies=2).proxies == 2
