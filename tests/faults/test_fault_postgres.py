"""PostgreSQL failing under the app: its backends terminated (idle, and in the middle of saving a case),
a lock held past the lock timeout, and the network to it refusing and then silently dropping every
packet for ten seconds (a TCP proxy this test controls stands between the app and 127.0.0.1:5432).

Each answer is right (503 problem+json with Retry-After saying the database is unavailable, never a
500 or a hang), no acknowledged case is lost or half-written, and the app answers normally afterwards
without a restart. Nothing is timed: the app's timeouts are set here, and a request during an outage
must come back while the outage goes on (the test ends the outage only after it has)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator

import pytest
from integration.conftest import postgres_base_url, url_with_schema
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from support.analysis_workers import PATIENCE_SECONDS, wait_until
from support.apps import app_for
from support.questions import NORMAL
from support.tcp_proxy import TcpProxy

import tutor.engine
from tutor.config import Settings
from tutor.persistence import Case, Trial, migrate

pytestmark = pytest.mark.postgres

# Short, so that outages are found quickly; far above what a query here takes, even on a busy machine.
QUICK = {"database_connect_timeout": 2.0, "database_statement_timeout": 2.0, "database_lock_timeout": 2.0}
# For tests in which the test, not a timeout, decides when a wait ends.
PATIENT = {"database_statement_timeout": PATIENCE_SECONDS, "database_lock_timeout": PATIENCE_SECONDS}
DROP_SECONDS = 10  # how long the network drops everything (the outage, not a limit on an answer)


@pytest.fixture
def schema_url() -> Iterator[str]:
    """A migrated schema of its own on the test database; its URL names the app's connections."""
    base = postgres_base_url()
    schema = f"tutor_fault_{secrets.token_hex(6)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(url_with_schema(base, schema)).update_query_dict({"application_name": schema})
    migrate.upgrade(url.render_as_string(hide_password=False))
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": schema},
            )
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def admin(schema_url):
    """A connection of the test's own, straight to PostgreSQL."""
    engine = create_engine(schema_url.replace("application_name=", "application_name=test-"))
    yield engine
    engine.dispose()


class Asker:
    """The app, and every case it acknowledged."""

    def __init__(self, app):
        self.app = app
        self.token = app.extensions["tutor_api"].tokens.create("fault-bot")
        self.acknowledged: list[dict] = []

    def ask(self, **changes):
        response = self.app.test_client().post(
            "/api/v1/cases", json={**NORMAL, **changes}, headers={"Authorization": f"Bearer {self.token}"}
        )
        if response.status_code == 201:
            self.acknowledged.append(response.json)
        return response


def app_on(url: str, tmp_path, **settings):
    config = Settings(database_url=url, secret_key="test", admin_token="admin", **settings)
    return app_for(config, tmp_path / "instance", TESTING=True, RATELIMIT_ENABLED=False)


def assert_database_unavailable(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    assert "database is unavailable" in response.json["detail"]
    assert int(response.headers["Retry-After"]) >= 1


def assert_all_saved_whole(admin, asker: Asker) -> None:
    """Every acknowledged case is there, with every trial of its document; nothing else is."""
    with admin.connect() as connection:
        ids = set(connection.scalars(select(Case.id)))
        for case in asker.acknowledged:
            trials = connection.scalar(
                select(func.count()).select_from(Trial).where(Trial.case_id == case["id"])
            )
            assert trials == len(case["trials"])
    assert ids == {case["id"] for case in asker.acknowledged}


def backends(admin, name: str, waiting_on_lock: bool = False) -> set[int]:
    query = "SELECT pid FROM pg_stat_activity WHERE application_name = :name"
    if waiting_on_lock:
        query += " AND wait_event_type = 'Lock'"
    with admin.connect() as connection:
        return set(connection.scalars(text(query), {"name": name}))


def terminate(admin, pids: set[int]) -> None:
    with admin.connect() as connection:
        for pid in pids:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


def test_terminated_idle_backends_are_replaced_without_a_restart(schema_url, admin, tmp_path):
    name = make_url(schema_url).query["application_name"]
    with app_on(schema_url, tmp_path, **QUICK) as app:
        app.extensions["tutor"].cases.analyzer = tutor.engine
        asker = Asker(app)
        assert asker.ask().status_code == 201
        terminate(admin, backends(admin, name))

        assert asker.ask().status_code == 201
        assert app.test_client().get(f"/api/v1/cases/{asker.acknowledged[0]['id']}").status_code == 200
    assert_all_saved_whole(admin, asker)


def test_a_backend_terminated_while_saving_is_saved_once_more_on_a_fresh_connection(
    schema_url, admin, tmp_path
):
    name = make_url(schema_url).query["application_name"]
    with app_on(schema_url, tmp_path, **PATIENT) as app:
        app.extensions["tutor"].cases.analyzer = tutor.engine
        asker = Asker(app)
        with admin.connect() as holder:
            # The save waits on this lock: the moment to pull its connection away.
            holder.execute(text("LOCK TABLE cases IN ACCESS EXCLUSIVE MODE"))
            asking = threading.Thread(target=asker.ask)
            asking.start()
            wait_until(lambda: backends(admin, name, waiting_on_lock=True), "the save to wait on the lock")
            first = backends(admin, name, waiting_on_lock=True)
            terminate(admin, first)
            # Saved once more, on another connection (which waits on the lock in its turn).
            wait_until(
                lambda: backends(admin, name, waiting_on_lock=True) - first, "the save to be tried again"
            )
            holder.rollback()
        asking.join()

        assert len(asker.acknowledged) == 1
    assert_all_saved_whole(admin, asker)


def test_a_lock_held_past_the_lock_timeout_is_a_503_and_nothing_half_written(schema_url, admin, tmp_path):
    with app_on(schema_url, tmp_path, **QUICK) as app:
        app.extensions["tutor"].cases.analyzer = tutor.engine
        asker = Asker(app)
        assert asker.ask().status_code == 201
        with admin.connect() as holder:
            holder.execute(text("LOCK TABLE trials IN ACCESS EXCLUSIVE MODE"))  # the case row goes in first
            assert_database_unavailable(asker.ask())
            holder.rollback()

        assert asker.ask().status_code == 201
    assert_all_saved_whole(admin, asker)


def test_a_database_that_refuses_then_drops_everything_is_a_503_and_then_answers_again(
    schema_url, admin, tmp_path
):
    proxy = TcpProxy("127.0.0.1", make_url(schema_url).port or 5432)
    proxied = (
        make_url(schema_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    )
    try:
        with app_on(proxied, tmp_path, **QUICK) as app:
            app.extensions["tutor"].cases.analyzer = tutor.engine
            asker = Asker(app)
            client = app.test_client()
            assert asker.ask().status_code == 201

            proxy.refuse()
            assert_database_unavailable(asker.ask())
            assert_database_unavailable(client.get(f"/api/v1/cases/{asker.acknowledged[0]['id']}"))
            proxy.forward()
            assert asker.ask().status_code == 201

            proxy.drop()
            dropped_since = time.monotonic()
            while time.monotonic() - dropped_since < DROP_SECONDS:
                # Several at once: none may hang, and no thread is kept for as long as the drop lasts.
                answers = []
                threads = [threading.Thread(target=lambda: answers.append(asker.ask())) for _ in range(4)]
                for thread in threads:
                    thread.start()
                assert client.get("/openapi.json").status_code == 200  # needs no database
                for thread in threads:
                    thread.join(PATIENCE_SECONDS)  # only so that a hang fails instead of hanging
                assert not any(thread.is_alive() for thread in threads), "requests hung during the drop"
                for answer in answers:
                    assert_database_unavailable(answer)
            proxy.forward()

            assert asker.ask().status_code == 201
            assert client.get(f"/api/v1/cases/{asker.acknowledged[-1]['id']}").status_code == 200
    finally:
        proxy.close()
    assert_all_saved_whole(admin, asker)
