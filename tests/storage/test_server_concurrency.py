"""Several stations on one clinic server at once (issue 13, item 2): real processes and
threads, each with its own open_repository on one PostgreSQL database.

- two stations starting one-on-one timers for ONE provider for two patients at the same
  moment, round after round: exactly one wins, the other is told why (ProviderBusyError);
- audit appends from several processes in parallel: one unbroken chain;
- a finalize racing an edit of the same visit: one order or the other, never an edit landing
  in a finalized visit or a finalize billing time that was changed under it;
- a station killed (SIGKILL) in the middle of a write: the server rolls the transaction back,
  the write lock is free again, the chain verifies, the counts agree;
- the server restarted during a visit with a running timer: nothing committed is lost and the
  same Repository object connects again on its next call.

How "one provider, one one-on-one timer" holds on the server: every write transaction takes
the clinic-wide advisory lock (``pg/connection.py WRITE_LOCK``) before its first statement,
and ``start_interval`` checks the provider's running timers inside that transaction (a fresh
snapshot per statement in READ COMMITTED: it sees every change committed before the lock was
granted). An exclusion constraint cannot say it without a schema change: which codes are
one-on-one is the code catalog's (shipped data, not a column), and the interval row carries
neither the patient nor the kind. So this is the "locked check" the issue allows, and the
tests below prove that it holds, including one that shows the same interleaving without the
lock lets two timers run.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import time
from datetime import timedelta
from itertools import pairwise

import pytest

from tests.pg_server import running_server
from therapy_timer.core.records import VisitStatus
from therapy_timer.storage import audit
from therapy_timer.storage.errors import (
    ConnectionLostError,
    DatabaseLockedError,
    FrozenVisitError,
    ProviderBusyError,
)
from therapy_timer.storage.pg import connection as pg_connection
from therapy_timer.storage.repository import open_repository

from .conftest import T0, build_clinic

FORK = multiprocessing.get_context("fork")
ROUNDS = 40
BUSY_WORDS = "one provider cannot bill one-on-one time for two patients at once"


def dbname(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


@pytest.fixture
def two_visits(pg_database):
    """One provider (the PT) with an open visit for each of two patients."""
    repo = open_repository(pg_database)
    clinic = build_clinic(repo)
    first = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    second = repo.start_visit(clinic.other.id, clinic.pt.id, clinic.other_plan.id, T0)
    repo.close()
    return pg_database, clinic.pt.id, first.id, second.id


# --- one provider, two patients, two stations, the same moment ---

def _timer_station(uri, visit_id, provider_id, rounds, barrier, results) -> None:
    """A station process: each round, start a one-on-one timer at the barrier's signal."""
    try:
        repo = open_repository(uri)
        for n in range(rounds):
            now = T0 + timedelta(minutes=n + 1)
            barrier.wait(30)
            try:
                won = repo.start_interval(visit_id, "97110", "PT", now,
                                          provider_id=provider_id)
            except ProviderBusyError as exc:
                results.put((n, visit_id, "busy", exc.other_visit_id, str(exc)))
                barrier.wait(30)
            else:
                results.put((n, visit_id, "won", won.id, ""))
                barrier.wait(30)  # the other station has tried (and been refused)
                repo.stop_interval(won.id, now + timedelta(seconds=40))
            barrier.wait(30)  # the winner's timer is stopped: next round
        repo.close()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails
        results.put((-1, visit_id, "error", 0, f"{type(exc).__name__}: {exc}"))
        barrier.abort()


def test_two_stations_start_one_providers_timers_at_once_exactly_one_wins(two_visits):
    uri, provider, first, second = two_visits
    barrier, results = FORK.Barrier(2), FORK.Queue()
    stations = [FORK.Process(target=_timer_station,
                             args=(uri, visit, provider, ROUNDS, barrier, results))
                for visit in (first, second)]
    for station in stations:
        station.start()
    outcomes: dict[int, dict[int, tuple]] = {}
    try:
        for _ in range(2 * ROUNDS):
            n, visit, kind, other, message = results.get(timeout=60)
            assert kind != "error", message
            outcomes.setdefault(n, {})[visit] = (kind, other, message)
    finally:
        for station in stations:
            station.join(30)
    assert all(s.exitcode == 0 for s in stations)
    winners = []
    for n in range(ROUNDS):
        by_visit = outcomes[n]
        kinds = sorted(kind for kind, _other, _msg in by_visit.values())
        assert kinds == ["busy", "won"], f"round {n}: {by_visit}"
        winner = next(v for v, (kind, _o, _m) in by_visit.items() if kind == "won")
        loser = first if winner == second else second
        _kind, other_visit, message = by_visit[loser]
        assert other_visit == winner
        assert f"already running 97110 one-on-one with another patient (visit {winner})" \
            in message
        assert BUSY_WORDS in message and "record 97150 (group)" in message
        winners.append(winner)
    repo = open_repository(uri)
    try:
        # The store holds exactly the winners' timers, one per round, never two at once.
        rows = repo.conn.execute(
            'SELECT visit_id, start, "end" FROM intervals ORDER BY start, id').fetchall()
        assert [r[0] for r in rows] == winners
        assert all(r[2] is not None for r in rows)
        assert all(a[2] <= b[1] for a, b in pairwise(rows))  # no two overlap
        assert repo.audit_verify() is None
    finally:
        repo.close()


def _pause_inside(repo, statement: str, reached: threading.Event, go: threading.Event):
    def trace(sql: str) -> None:
        if sql.lstrip().startswith(statement):
            reached.set()
            go.wait(20)

    repo.conn.set_trace_callback(trace)


@pytest.mark.parametrize("locked", [True, False], ids=["with the lock", "without it"])
def test_the_busy_check_holds_because_it_is_locked(two_visits, monkeypatch, locked):
    """Station A is held inside its transaction after its check, before its INSERT; station
    B starts meanwhile. With the write lock B waits, then is refused. The same interleaving
    without the lock (the check alone) lets both timers run: the lock is what holds it."""
    uri, provider, first, second = two_visits
    if not locked:  # every write transaction begins without the write lock
        original = pg_connection.PgConnection._start_pipeline
        monkeypatch.setattr(pg_connection.PgConnection, "_start_pipeline",
                            lambda self, begin="BEGIN", lock=True: original(self, begin, False))
    station_a, station_b = open_repository(uri), open_repository(uri)
    reached, go = threading.Event(), threading.Event()
    _pause_inside(station_a, "INSERT INTO intervals", reached, go)
    outcome: dict[str, object] = {}

    def run(name, repo, visit):
        try:
            outcome[name] = repo.start_interval(visit, "97110", "PT", T0, provider_id=provider)
        except ProviderBusyError as exc:
            outcome[name] = exc

    a = threading.Thread(target=run, args=("a", station_a, first))
    a.start()
    assert reached.wait(20)
    b = threading.Thread(target=run, args=("b", station_b, second))
    b.start()
    b.join(1.0)
    if locked:
        assert b.is_alive(), "station B passed its check while A held the write lock"
    go.set()
    a.join(20)
    b.join(20)
    station_a.conn.set_trace_callback(None)
    running = station_a.running_intervals()
    station_a.close()
    station_b.close()
    assert not isinstance(outcome["a"], ProviderBusyError)
    if locked:
        assert isinstance(outcome["b"], ProviderBusyError)
        assert f"(visit {first})" in str(outcome["b"])
        assert [i.visit_id for i in running] == [first]
    else:  # the unlocked check lets one provider run one-on-one for two patients
        assert sorted(i.visit_id for i in running) == [first, second]


def test_supervised_modalities_still_run_beside_one_on_one_time(two_visits):
    uri, provider, first, second = two_visits
    station_a, station_b = open_repository(uri), open_repository(uri)
    station_a.start_interval(first, "97110", "PT", T0, provider_id=provider)
    hot_pack = station_b.start_interval(second, "97010", "PT", T0, provider_id=provider)
    assert hot_pack.running
    with pytest.raises(ProviderBusyError):
        station_b.start_interval(second, "97530", "PT", T0 + timedelta(minutes=1),
                                 provider_id=provider)
    station_a.close()
    station_b.close()


def test_a_read_only_transaction_reads_one_snapshot_and_blocks_no_station(pg_database):
    """A consistent read (a backup: BEGIN ... READ ONLY) takes no write lock, so stations go
    on writing meanwhile; SQLite's BEGIN IMMEDIATE takes it, as on the file."""
    reader = open_repository(pg_database)
    station = open_repository(pg_database, busy_timeout_ms=300)
    clinic = build_clinic(station)
    reader.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    assert reader.conn.execute("SELECT count(*) FROM visits").fetchone()[0] == 0
    visit = station.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    assert reader.conn.execute("SELECT count(*) FROM visits").fetchone()[0] == 0  # snapshot
    reader.conn.execute("COMMIT")
    assert [v.id for v in reader.open_visits()] == [visit.id]
    reader.conn.execute("BEGIN IMMEDIATE")
    reader.conn.execute("SELECT count(*) FROM visits").fetchone()  # the lock is held now
    with pytest.raises(DatabaseLockedError, match="busy with another station's change"):
        station.start_interval(visit.id, "97110", "PT", T0)
    reader.conn.execute("ROLLBACK")
    assert station.start_interval(visit.id, "97110", "PT", T0).running
    reader.close()
    station.close()


# --- the audit chain under parallel appends ---

def _appending_station(uri, patient_id, provider_id, plan_id, count, start, results) -> None:
    try:
        repo = open_repository(uri)
        start.wait(30)
        for n in range(count):
            now = T0 + timedelta(seconds=n)
            visit = repo.start_visit(patient_id, provider_id, plan_id, now)
            repo.start_interval(visit.id, "97010", "PT", now)  # supervised: never busy
            repo.set_notes(visit.id, f"station note {n}", user="station")
        repo.close()
        results.put("done")
    except BaseException as exc:  # noqa: BLE001
        results.put(f"error {type(exc).__name__}: {exc}")


def test_parallel_audit_appends_from_several_processes_keep_one_chain(pg_database):
    repo = open_repository(pg_database)
    clinic = build_clinic(repo)
    before = repo.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    repo.close()
    stations, each = 4, 12
    start, results = FORK.Barrier(stations), FORK.Queue()
    people = [(clinic.patient.id, clinic.pt.id, clinic.plan.id),
              (clinic.other.id, clinic.pt.id, clinic.other_plan.id)]
    processes = [FORK.Process(target=_appending_station,
                              args=(pg_database, *people[k % 2], each, start, results))
                 for k in range(stations)]
    for process in processes:
        process.start()
    reports = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(30)
    assert reports == ["done"] * stations
    repo = open_repository(pg_database)
    try:
        rows = repo.conn.execute("SELECT seq, prev_hash, hash FROM audit_log ORDER BY seq"
                                 ).fetchall()
        # three entries per visit (start_visit, start_interval, set_notes), none lost
        assert len(rows) == before + stations * each * 3
        assert [r[0] for r in rows] == list(range(1, len(rows) + 1))  # contiguous
        assert rows[0][1] == audit.GENESIS
        assert all(b[1] == a[2] for a, b in pairwise(rows))  # each links its parent
        assert len({r[1] for r in rows}) == len(rows)  # no entry has two children: no fork
        assert repo.audit_verify() is None
        assert repo.verify_report().ok
    finally:
        repo.close()


# --- a finalize racing an edit of the same visit ---

def test_a_finalize_racing_an_edit_never_loses_the_edit_or_lands_it_late(pg_database):
    repo = open_repository(pg_database)
    clinic = build_clinic(repo)
    cases = []
    for n in range(16):
        start = T0 + timedelta(days=n)  # one visit a day: no pooling with another visit
        visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, start)
        interval = repo.start_interval(visit.id, "97110", "PT", start)
        repo.pause_visit(visit.id, start + timedelta(minutes=30))  # 30 min: 2 units
        repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
        cases.append((visit.id, interval.id, start))
    repo.close()
    finalizer, editor = open_repository(pg_database), open_repository(pg_database)
    later = T0 + timedelta(days=17)
    orders = set()
    for visit_id, interval_id, start in cases:
        barrier = threading.Barrier(2)
        outcome: dict[str, object] = {}

        def finalize(visit_id=visit_id, barrier=barrier, outcome=outcome):
            barrier.wait(10)
            outcome["finalize"] = finalizer.finalize_visit(visit_id, None, "avery", later)

        def edit(interval_id=interval_id, start=start, barrier=barrier, outcome=outcome):
            barrier.wait(10)
            try:  # 20 minutes: 1 unit
                outcome["edit"] = editor.edit_interval(
                    interval_id, end=start + timedelta(minutes=20), reason="stopped late",
                    user="blake", now=later)
            except FrozenVisitError as exc:
                outcome["edit"] = exc

        threads = [threading.Thread(target=finalize), threading.Thread(target=edit)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        lines = outcome["finalize"]
        stored = finalizer.get_interval(interval_id)
        assert finalizer.get_visit(visit_id).status is VisitStatus.FINALIZED
        if isinstance(outcome["edit"], FrozenVisitError):  # the finalize went first
            orders.add("finalize first")
            assert stored.end == start + timedelta(minutes=30)  # the late edit never landed
            assert [(ln.code, ln.minutes, ln.units) for ln in lines] == [("97110", 30, 2)]
        else:  # the edit went first: the finalize billed the edited time
            orders.add("edit first")
            assert stored.end == start + timedelta(minutes=20)
            assert [(ln.code, ln.minutes, ln.units) for ln in lines] == [("97110", 20, 1)]
        frozen = finalizer.charge_lines(visit_id)
        assert [(ln.code, ln.minutes, ln.units) for ln in frozen] == \
            [(ln.code, ln.minutes, ln.units) for ln in lines]
    assert finalizer.audit_verify() is None
    finalizer.close()
    editor.close()
    assert orders  # (which orders happened depends on the scheduler: both are checked)


@pytest.mark.parametrize("first", ["edit", "finalize"])
def test_a_finalize_and_an_edit_in_each_order_while_the_other_holds_the_lock(pg_database,
                                                                              first):
    """Both orders for certain: one station is held inside its transaction (the write lock
    held, its change sent, not committed) while the other starts; the other waits, then
    sees the first one's change whole."""
    repo = open_repository(pg_database)
    clinic = build_clinic(repo)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    interval = repo.start_interval(visit.id, "97110", "PT", T0)
    repo.pause_visit(visit.id, T0 + timedelta(minutes=30))
    repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
    repo.close()
    finalizer, editor = open_repository(pg_database), open_repository(pg_database)
    later = T0 + timedelta(hours=3)
    outcome: dict[str, object] = {}

    def finalize():
        outcome["finalize"] = finalizer.finalize_visit(visit.id, None, "avery", later)

    def edit():
        try:
            outcome["edit"] = editor.edit_interval(interval.id, end=T0 + timedelta(minutes=20),
                                                   reason="stopped late", user="blake",
                                                   now=later)
        except FrozenVisitError as exc:
            outcome["edit"] = exc

    reached, go = threading.Event(), threading.Event()
    if first == "edit":  # held after its UPDATE went through, before its audit entry
        _pause_inside(editor, "INSERT INTO audit_log", reached, go)
        holder, waiter = threading.Thread(target=edit), threading.Thread(target=finalize)
    else:  # held after billing, before its claim lines
        _pause_inside(finalizer, "INSERT INTO charge_lines", reached, go)
        holder, waiter = threading.Thread(target=finalize), threading.Thread(target=edit)
    holder.start()
    assert reached.wait(20)
    waiter.start()
    waiter.join(0.8)
    assert waiter.is_alive(), "the second station did not wait for the first one's lock"
    go.set()
    holder.join(20)
    waiter.join(20)
    lines = [(ln.code, ln.minutes, ln.units) for ln in outcome["finalize"]]
    stored = finalizer.get_interval(interval.id)
    if first == "edit":
        assert stored.end == T0 + timedelta(minutes=20)
        assert lines == [("97110", 20, 1)]  # billed the edited time
    else:
        assert isinstance(outcome["edit"], FrozenVisitError)
        assert "frozen" in str(outcome["edit"])
        assert stored.end == T0 + timedelta(minutes=30)  # the late edit never landed
        assert lines == [("97110", 30, 2)]
    assert [(ln.code, ln.minutes, ln.units) for ln in finalizer.charge_lines(visit.id)] == lines
    assert finalizer.audit_verify() is None
    finalizer.close()
    editor.close()


# --- a station killed in the middle of a write ---

def _killed_station(uri, visit_id, statement, ready_fd) -> None:
    """Starts a timer and stops dead inside the transaction, before ``statement``."""
    repo = open_repository(uri)

    def trace(sql: str) -> None:
        if sql.lstrip().startswith(statement):
            os.write(ready_fd, b"inside\n")
            time.sleep(120)  # killed here

    repo.conn.set_trace_callback(trace)
    if statement.startswith("INSERT INTO charge_lines"):
        repo.finalize_visit(visit_id, None, "avery", T0 + timedelta(hours=2))
    else:
        repo.start_interval(visit_id, "97530", "PT", T0 + timedelta(minutes=35))


def _counts(server, db: str) -> tuple:
    return server.sql("SELECT (SELECT count(*) FROM intervals), (SELECT count(*) FROM"
                      " audit_log), (SELECT count(*) FROM charge_lines), (SELECT"
                      " string_agg(status, ',' ORDER BY id) FROM visits)", db)[0]


@pytest.mark.parametrize("statement", ["INSERT INTO audit_log", "INSERT INTO charge_lines"],
                         ids=["timer start, before its audit entry",
                              "finalize, before its claim lines"])
def test_a_station_killed_mid_write_leaves_nothing_half_written(pg_server, pg_database,
                                                                statement):
    repo = open_repository(pg_database)
    clinic = build_clinic(repo)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", "PT", T0)
    repo.pause_visit(visit.id, T0 + timedelta(minutes=30))
    repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
    db = dbname(pg_database)
    before = _counts(pg_server, db)
    read_fd, write_fd = os.pipe()
    child = FORK.Process(target=_killed_station, args=(pg_database, visit.id, statement,
                                                       write_fd))
    child.start()
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            assert pipe.readline() == b"inside\n"
            # It holds the write lock, with part of its change sent and not committed.
            assert pg_server.sql("SELECT count(*) FROM pg_stat_activity WHERE state ="
                                 " 'idle in transaction' AND datname = current_database()",
                                 db) == [(1,)]
            assert _counts(pg_server, db) == before
            os.kill(child.pid, signal.SIGKILL)
            child.join(10)
    finally:
        if child.is_alive():
            child.kill()
    assert child.exitcode == -signal.SIGKILL
    # The server rolls the dead station's transaction back and frees the lock: the next
    # station's write goes through at once (not after a lock timeout).
    started = time.monotonic()
    other = repo.start_visit(clinic.other.id, clinic.pt.id, clinic.other_plan.id,
                             T0 + timedelta(hours=1))
    assert time.monotonic() - started < 2
    after = _counts(pg_server, db)
    assert after[:3] == (before[0], before[1] + 1, before[2])  # only the new visit's entry
    assert after[3] == before[3] + ",open"
    assert repo.get_visit(visit.id).status is VisitStatus.OPEN
    assert repo.get_visit(other.id).status is VisitStatus.OPEN
    assert repo.audit_verify() is None and repo.verify_report().ok
    repo.close()


# --- the server restarted during a visit ---

@pytest.fixture(scope="module")
def own_server():
    """A server of this module's own: restarting the session's would cut other tests."""
    with running_server() as server:
        yield server


def test_the_server_restarted_during_a_visit_loses_nothing_and_the_store_reconnects(
        own_server):
    uri = own_server.new_database()
    repo = open_repository(uri)
    front_desk = open_repository(uri)
    clinic = build_clinic(repo)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    done = repo.start_interval(visit.id, "97140", "PT", T0)
    repo.stop_interval(done.id, T0 + timedelta(minutes=12))
    running = repo.start_interval(visit.id, "97110", "PT", T0 + timedelta(minutes=12))
    repo.heartbeat(T0 + timedelta(minutes=14))
    own_server.restart()
    # The same objects: the next call connects again (a heartbeat write: its BEGIN is sent
    # again on the new connection; nothing of it had been written).
    assert repo.heartbeat(T0 + timedelta(minutes=16)) == 1
    assert repo.conn.reconnects == 1
    assert [v.id for v in front_desk.open_visits()] == [visit.id]
    assert [i.code for i in front_desk.intervals_for(visit.id)] == ["97140", "97110"]
    assert front_desk.conn.reconnects == 1
    stored = {i.id: i for i in repo.intervals_for(visit.id)}
    assert stored[done.id].end == T0 + timedelta(minutes=12)  # the committed stop kept
    assert stored[running.id].running and stored[running.id].start == T0 + timedelta(minutes=12)
    assert stored[running.id].heartbeat == T0 + timedelta(minutes=16)
    stopped = repo.stop_interval(running.id, T0 + timedelta(minutes=30))
    assert stopped.end == T0 + timedelta(minutes=30)
    assert repo.audit_verify() is None
    repo.close()
    front_desk.close()


def test_a_restart_in_the_middle_of_a_write_fails_that_write_only(own_server):
    uri = own_server.new_database()
    repo = open_repository(uri)
    clinic = build_clinic(repo)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    first = repo.start_interval(visit.id, "97110", "PT", T0)
    entries = repo.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    restarted = queue.Queue()

    def restart_before_insert(sql: str) -> None:
        if sql.lstrip().startswith("INSERT INTO intervals") and restarted.empty():
            restarted.put(True)
            own_server.restart()

    repo.conn.set_trace_callback(restart_before_insert)
    with pytest.raises(ConnectionLostError, match="nothing of it was saved"):
        repo.start_interval(visit.id, "97530", "PT", T0 + timedelta(minutes=10))
    repo.conn.set_trace_callback(None)
    # The switch's stop of 97110 was part of the failed change: it did not land either.
    assert [(i.code, i.end) for i in repo.intervals_for(visit.id)] == [("97110", None)]
    assert repo.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == entries
    again = repo.start_interval(visit.id, "97530", "PT", T0 + timedelta(minutes=10))
    assert repo.get_interval(first.id).end == T0 + timedelta(minutes=10)
    assert again.running
    assert repo.audit_verify() is None
    repo.close()
