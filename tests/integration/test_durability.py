"""A case is saved whole or not at all, and several processes writing at once lose nothing."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import queue
import threading

import pytest
from case_samples import SEQUENTIAL_BETTER, question, save_cases
from sqlalchemy import event, func, select, text

import tutor.engine
from tutor.persistence import Case, Database, Trial, TrialStep, repository
from tutor.persistence.database import DatabaseTimeouts
from tutor.services.cases import CaseFilter, CaseService


class Boom(RuntimeError):
    pass


def counts(database) -> tuple[int, int, int]:
    with database.session() as session:
        return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Case, Trial, TrialStep))


def fail_while_writing_steps(monkeypatch) -> None:
    """Step rows go through the driver (a COPY on PostgreSQL, where no statement event fires): the
    failure comes after the first row, with the case and its trials already sent."""
    insert = repository.insert_step_rows

    def first_row_then_fail(connection, rows):
        def one_row_then_boom():
            yield next(iter(rows))
            raise Boom("disk on fire while writing trial_steps")

        insert(connection, one_row_then_boom())

    monkeypatch.setattr(repository, "insert_step_rows", first_row_then_fail)


@pytest.mark.parametrize("table", ["trials", "trial_steps"])
def test_a_failure_mid_save_leaves_nothing(service, database, table, monkeypatch):
    service.ask(question("x**2", "x=1"), source="cli")
    before = counts(database)
    inserts = []

    # Fails the first INSERT into the trials, or the writing of the steps, after the case row (and
    # the trials) went to the database in the same transaction.
    def record_inserts(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO"):
            inserts.append(statement.split()[2].strip('"'))
            if inserts[-1] == table == "trials":
                raise Boom("disk on fire while writing trials")

    if table == "trial_steps":
        fail_while_writing_steps(monkeypatch)
    event.listen(database.engine, "before_cursor_execute", record_inserts)
    try:
        with pytest.raises(Boom):
            service.ask(question(*SEQUENTIAL_BETTER), source="cli")
    finally:
        event.remove(database.engine, "before_cursor_execute", record_inserts)

    assert inserts[:2] == ["cases", "trials"]  # the failure really was mid-save
    assert counts(database) == before
    assert service.list().total == 1


def test_saving_after_a_failed_save_works(service, database, monkeypatch):
    fail_while_writing_steps(monkeypatch)
    with pytest.raises(Boom):
        service.ask(question(*SEQUENTIAL_BETTER), source="cli")
    monkeypatch.undo()
    case = service.ask(question(*SEQUENTIAL_BETTER), source="cli")
    assert service.get(case["id"]) == case
    assert counts(database)[0] == 1


def run_workers(database_url: str, jobs: list[dict]) -> list[list[str]]:
    """Runs save_cases in one process per job, all released at once; returns each one's case ids."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(jobs))
    results = context.Queue()
    processes = [
        context.Process(target=save_cases, args=(database_url, job, barrier, results, number))
        for number, job in enumerate(jobs)
    ]
    for process in processes:
        process.start()
    acknowledged: dict[int, list[str]] = {}
    try:
        for _ in processes:
            number, ids, error = results.get(timeout=180)
            assert error is None, f"worker {number}: {error}"
            acknowledged[number] = ids
    except queue.Empty:
        pytest.fail("a worker did not report within 3 minutes")
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    assert all(p.exitcode == 0 for p in processes)
    return [acknowledged[n] for n in range(len(jobs))]


@pytest.mark.slow
def test_several_processes_writing_at_once_lose_nothing(database_url, database):
    document = tutor.engine.answer(question("(x+y)*z + w**2", "x=-2, y=5, z=-4, w=1", "0.01", "25"))
    rows_per_case = sum(
        len(t["steps"]) + sum(len(s.get("updates", [])) for s in t["steps"]) for t in document["trials"]
    )
    jobs = [{"document": document, "cases": 10, "source": f"api:worker{n}"} for n in range(4)]

    acknowledged = run_workers(database_url, jobs)

    ids = [case_id for worker in acknowledged for case_id in worker]
    assert len(ids) == len(set(ids)) == 40
    service = CaseService(Database.from_url(database_url), tutor.engine)
    for case_id in ids:
        case = service.get(case_id)
        assert {k: case[k] for k in document} == document
    for n, worker in enumerate(acknowledged):
        listed = service.list(CaseFilter(source=f"api:worker{n}"), per_page=100)
        assert sorted(i["id"] for i in listed.items) == sorted(worker)
    assert counts(database) == (40, 40 * len(document["trials"]), 40 * rows_per_case)
    service.close()


@pytest.mark.slow
def test_racing_processes_with_one_idempotency_key_make_one_case(database_url, database):
    document = tutor.engine.answer(question(*SEQUENTIAL_BETTER))
    jobs = [{"document": document, "cases": 1, "source": "api:bot", "key": "same-key"} for _ in range(4)]

    acknowledged = run_workers(database_url, jobs)

    assert len({worker[0] for worker in acknowledged}) == 1
    assert counts(database)[0] == 1


def test_sqlite_connections_are_set_up_for_durable_concurrent_writes(tmp_path):
    database = Database.from_url(f"sqlite:///{tmp_path / 'deep' / 'folder' / 'tutor.sqlite3'}")
    with database.session(write=True) as session:
        connection = session.connection()

        def pragma(name):
            return connection.exec_driver_sql(f"PRAGMA {name}").scalar()

        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL
        assert pragma("busy_timeout") == DatabaseTimeouts().lock * 1000  # the lock timeout
        assert pragma("foreign_keys") == 1
    assert (tmp_path / "deep" / "folder" / "tutor.sqlite3").exists()
    database.dispose()


def test_sqlite_writers_wait_their_turn_on_the_write_lock(tmp_path):
    # SQLite's own busy handler sleeps up to 100 ms between tries, so waiting writers kept losing the
    # lock to later ones; writers queue on a file lock beside the database instead.
    database = Database.from_url(f"sqlite:///{tmp_path / 'tutor.sqlite3'}")
    other_writer = os.open(tmp_path / "tutor.sqlite3.write-lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(other_writer, fcntl.LOCK_EX)
    written = threading.Event()

    def write():
        with database.session(write=True) as session:
            session.execute(text("CREATE TABLE t (x INTEGER)"))
        written.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert not written.wait(0.5)  # still waiting while the other writer holds the lock
    finally:
        os.close(other_writer)
    assert written.wait(120)  # and goes on once it is let go (the bound only keeps a failure from hanging)
    writer.join()
    with database.session() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 0
    database.dispose()
