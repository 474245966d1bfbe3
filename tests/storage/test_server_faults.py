"""Faults of a clinic server (issue 13, item 5): the connection dropping, the server not
answering, a statement timeout, another station holding the write lock, a wrong password, a
server too old, a database of another program, a schema newer than the app, a full disk. Each
gives a clear message, nothing committed is lost, and the same Repository goes on working
once the server is back.

PostgreSQL only: these are the server's faults (the SQLite file's own are in
test_bad_conditions.py). The network is cut with a TCP relay (tests/pg_relay.py) between the
store and the session's server.
"""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest
from psycopg import errors as pg_errors

from tests.pg_relay import Relay
from tests.pg_server import running_server
from therapy_timer.core.records import Patient
from therapy_timer.storage.errors import (
    CommitOutcomeUnknownError,
    ConnectionLostError,
    DatabaseLockedError,
    DiskFullError,
    ForeignDatabaseError,
    FrozenVisitError,
    ReadOnlyError,
    SchemaTooNewError,
    UnsupportedServerError,
)
from therapy_timer.storage.pg.connection import WRITE_LOCK, translate
from therapy_timer.storage.repository import open_repository

from .conftest import T0, build_clinic


def dbname(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


def count(server, db: str, table: str) -> int:
    return server.sql(f"SELECT count(*) FROM {table}", db)[0][0]


@pytest.fixture
def relay(pg_server):
    relay = Relay(pg_server.port)
    yield relay
    relay.close()


@pytest.fixture
def relayed(pg_server, pg_database, relay):
    """A clinic on the session's server, its store connected through the relay; an open
    visit with one committed timer."""
    repo = open_repository(relay.uri(dbname(pg_database)))
    clinic = build_clinic(repo)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    interval = repo.start_interval(visit.id, "97110", "PT", T0)
    yield repo, visit, interval, dbname(pg_database)
    repo.close()


def test_a_dropped_connection_is_opened_again_and_the_read_sent_again(relayed, relay):
    repo, visit, interval, _db = relayed
    assert relay.cut() == 1
    # The same Repository: the read fails on the dead connection, reconnects once, succeeds.
    assert [i.id for i in repo.intervals_for(visit.id)] == [interval.id]
    assert repo.conn.reconnects == 1
    assert relay.accepted == 2
    # and writes go on, on the new connection
    stopped = repo.stop_interval(interval.id, T0 + timedelta(minutes=10))
    assert stopped.end == T0 + timedelta(minutes=10)
    assert repo.audit_verify() is None


def test_an_unreachable_server_is_named_and_the_store_reconnects_when_it_is_back(
        relayed, relay, pg_server):
    repo, visit, interval, db = relayed
    relay.refuse()
    relay.cut()
    with pytest.raises(ConnectionLostError) as raised:
        repo.stop_interval(interval.id, T0 + timedelta(minutes=8))
    message = str(raised.value)
    assert f"cannot reach the clinic server 127.0.0.1:{relay.port}/{db}" in message
    assert "Check that the server is running and this computer is on the network" in message
    # A write of a dead server does not wait forever and nothing of it reached the server.
    assert server_interval_end(pg_server, db, interval.id) is None
    with pytest.raises(ConnectionLostError, match="cannot reach"):  # still away: told again
        repo.get_visit(visit.id)
    relay.accept()
    stopped = repo.stop_interval(interval.id, T0 + timedelta(minutes=8))  # same object
    assert stopped.end == T0 + timedelta(minutes=8)
    assert server_interval_end(pg_server, db, interval.id) is not None
    assert repo.audit_verify() is None


def test_a_change_whose_transaction_meets_a_dead_connection_first_is_sent_again_whole(
        relayed, relay, pg_server):
    """A save whose first statement is already inside its transaction (nothing read
    before): the dead connection shows at the transaction's first answer, when nothing of
    it can have been applied, so the whole transaction goes again on a new connection."""
    repo, _visit, _interval, db = relayed
    patients = count(pg_server, db, "patients")
    entries = count(pg_server, db, "audit_log")
    assert relay.cut() == 1
    statements: list[str] = []
    repo.conn.set_trace_callback(statements.append)
    saved = repo.save_patient(Patient("Testc", "Patientc", date(1970, 1, 2), "F",
                                      chart_number="S-0003"))
    repo.conn.set_trace_callback(None)
    assert statements[0].startswith("INSERT INTO patients")  # no read before it
    assert repo.conn.reconnects == 1
    assert count(pg_server, db, "patients") == patients + 1  # once, not twice
    assert count(pg_server, db, "audit_log") == entries + 1
    assert repo.get_patient(saved.id).chart_number == "S-0003"
    assert repo.audit_verify() is None


def test_a_transaction_cut_before_its_first_answer_is_sent_again_whole(relayed, relay,
                                                                       pg_server):
    """The connection drops after the transaction's BEGIN went out and before the server
    answered anything: the server rolls back what it got, and the store sends the whole
    transaction again on a new connection (nothing of it was applied or read)."""
    repo, _visit, _interval, db = relayed
    patients = count(pg_server, db, "patients")
    entries = count(pg_server, db, "audit_log")
    relay.cut_when(b"BEGIN")
    saved = repo.save_patient(Patient("Testd", "Patientd", date(1971, 1, 2), "M",
                                      chart_number="S-0004"))
    assert repo.conn.reconnects == 1 and relay.accepted == 2
    assert count(pg_server, db, "patients") == patients + 1  # once, not twice
    assert count(pg_server, db, "audit_log") == entries + 1
    assert repo.get_patient(saved.id).chart_number == "S-0004"
    assert repo.audit_verify() is None


def test_a_change_meeting_a_dead_connection_and_no_server_saves_nothing(relayed, relay,
                                                                        pg_server):
    repo, _visit, _interval, db = relayed
    patients = count(pg_server, db, "patients")
    relay.refuse()
    relay.cut()
    with pytest.raises(ConnectionLostError, match="cannot reach the clinic server"):
        repo.save_patient(Patient("Testc", "Patientc", date(1970, 1, 2), "F"))
    assert not repo.conn.in_transaction
    assert count(pg_server, db, "patients") == patients
    relay.accept()
    repo.save_patient(Patient("Testc", "Patientc", date(1970, 1, 2), "F"))
    assert count(pg_server, db, "patients") == patients + 1
    assert repo.audit_verify() is None


def server_interval_end(server, db: str, interval_id: int):
    return server.sql(f'SELECT "end" FROM intervals WHERE id = {interval_id}', db)[0][0]


def test_a_drop_inside_a_transaction_fails_it_cleanly(relayed, relay, pg_server):
    repo, visit, interval, db = relayed
    before = (count(pg_server, db, "intervals"), count(pg_server, db, "audit_log"))

    def cut_before_the_insert(sql: str) -> None:
        if sql.lstrip().startswith("INSERT INTO intervals"):
            relay.cut()

    repo.conn.set_trace_callback(cut_before_the_insert)
    with pytest.raises(ConnectionLostError) as raised:
        # stops 97110 (an UPDATE sent), then the INSERT of 97530 meets the cut
        repo.start_interval(visit.id, "97530", "PT", T0 + timedelta(minutes=12))
    repo.conn.set_trace_callback(None)
    assert "dropped in the middle of this change" in str(raised.value)
    assert "nothing of it was saved" in str(raised.value)
    assert not isinstance(raised.value, CommitOutcomeUnknownError)
    # The server rolled the whole change back: the switch's stop did not land either.
    assert (count(pg_server, db, "intervals"), count(pg_server, db, "audit_log")) == before
    assert server_interval_end(pg_server, db, interval.id) is None
    assert not repo.conn.in_transaction
    # The same store goes on, on a new connection, and the chain is one chain.
    started = repo.start_interval(visit.id, "97530", "PT", T0 + timedelta(minutes=12))
    assert [i.code for i in repo.intervals_for(visit.id) if i.running] == ["97530"]
    assert started.id > interval.id
    assert repo.audit_verify() is None


def test_a_commit_whose_answer_is_lost_is_reported_not_sent_twice(relayed, relay, pg_server):
    repo, visit, interval, db = relayed
    entries = count(pg_server, db, "audit_log")
    relay.cut_when(b"COMMIT")
    with pytest.raises(CommitOutcomeUnknownError) as raised:
        repo.stop_interval(interval.id, T0 + timedelta(minutes=9))
    message = str(raised.value)
    assert "may or may not have been saved" in message
    assert "Look at the visit before entering it again" in message
    # The server did commit it (the relay passed the COMMIT on): once, not twice.
    assert server_interval_end(pg_server, db, interval.id) is not None
    assert count(pg_server, db, "audit_log") == entries + 1
    # Looking (the next call) reconnects and shows what the server kept.
    assert repo.get_interval(interval.id).end == T0 + timedelta(minutes=9)
    assert repo.audit_verify() is None


def test_another_station_holding_the_write_lock_is_told_and_nothing_is_saved(
        pg_server, pg_database):
    repo = open_repository(pg_database, busy_timeout_ms=200)
    clinic = build_clinic(repo)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    other = psycopg.connect(pg_database, autocommit=True)
    other.execute("BEGIN")
    other.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
    with pytest.raises(DatabaseLockedError) as raised:
        repo.start_interval(visit.id, "97110", "PT", T0)
    assert "busy with another station's change; nothing was saved" in str(raised.value)
    assert repo.intervals_for(visit.id) == []
    other.execute("ROLLBACK")
    other.close()
    assert repo.start_interval(visit.id, "97110", "PT", T0).running  # free again: it works
    repo.close()


def test_a_statement_timeout_is_told_and_the_store_goes_on(pg_server, pg_database):
    repo = open_repository(pg_database)
    clinic = build_clinic(repo)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", "PT", T0)
    repo.conn.execute("SET statement_timeout = 150")
    repo.conn.execute("SET lock_timeout = 0")  # wait on the lock until the statement times out
    other = psycopg.connect(pg_database, autocommit=True)
    other.execute("BEGIN")
    other.execute("LOCK TABLE intervals IN ACCESS EXCLUSIVE MODE")
    with pytest.raises(DatabaseLockedError) as raised:
        repo.running_intervals()
    assert "took too long to answer (statement timeout)" in str(raised.value)
    other.execute("ROLLBACK")
    other.close()
    assert [i.code for i in repo.running_intervals()] == ["97110"]  # nothing lost
    repo.close()


@pytest.fixture(scope="module")
def scram_server():
    """A server of its own that asks the role ``ttpw`` for its password (scram-sha-256), as
    a real clinic server does (the session's server trusts loopback: tests only)."""
    with running_server() as server:
        hba = server.data / "pg_hba.conf"
        hba.write_text("host all ttpw 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        server.sql("SET password_encryption = 'scram-sha-256'; "
                   "CREATE ROLE ttpw LOGIN PASSWORD 'right-horse-battery'")
        server.sql("CREATE DATABASE ttpw OWNER ttpw")
        server.sql("SELECT pg_reload_conf()")
        yield server


def test_a_wrong_password_is_named_without_showing_it(scram_server, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    base = f"127.0.0.1:{scram_server.port}/ttpw"
    with pytest.raises(ReadOnlyError) as raised:
        open_repository(f"postgresql://ttpw:not-the-password@{base}")
    message = str(raised.value)
    assert f"the clinic server {base} refused the password" in message
    assert "not-the-password" not in message
    with pytest.raises(ReadOnlyError, match="no password found in .pgpass"):
        open_repository(f"postgresql://ttpw@{base}")
    # the right one opens the clinic: the refusal was the password's, not the server's
    repo = open_repository(f"postgresql://ttpw:right-horse-battery@{base}")
    assert repo.on_server and "right-horse-battery" not in repo.path
    repo.close()


def test_a_server_too_old_is_refused_with_its_version(pg_database, monkeypatch):
    monkeypatch.setattr(psycopg.ConnectionInfo, "server_version",
                        property(lambda self: 120017))
    with pytest.raises(UnsupportedServerError) as raised:
        open_repository(pg_database)
    assert "runs PostgreSQL 12; Therapy Timer needs PostgreSQL 13 or newer" in str(raised.value)


def test_a_database_of_another_program_is_refused_unchanged(pg_server):
    uri = pg_server.new_database()
    pg_server.sql("CREATE TABLE foo (id integer); INSERT INTO foo VALUES (7)", dbname(uri))
    with pytest.raises(ForeignDatabaseError) as raised:
        open_repository(uri)
    assert "holds another program's tables, not a Therapy Timer database" in str(raised.value)
    tables = pg_server.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
                           dbname(uri))
    assert tables == [("foo",)]  # nothing created beside it
    assert pg_server.sql("SELECT id FROM foo", dbname(uri)) == [(7,)]


def test_a_schema_newer_than_the_app_is_refused_unchanged(pg_server, pg_database):
    repo = open_repository(pg_database)
    build_clinic(repo)
    repo.close()
    db = dbname(pg_database)
    pg_server.sql("UPDATE therapy_timer_meta SET schema_version = 99", db)
    with pytest.raises(SchemaTooNewError) as raised:
        open_repository(pg_database)
    assert "written by a newer Therapy Timer (schema 99" in str(raised.value)
    assert "update the app on this computer" in str(raised.value)
    assert pg_server.sql("SELECT schema_version FROM therapy_timer_meta", db) == [(99,)]
    assert count(pg_server, db, "providers") == 4


@pytest.mark.parametrize("error", [
    pg_errors.DiskFull("could not extend file \"base/16384/16390\": No space left on device"),
    pg_errors.InsufficientResources("could not write to file: No space left on device"),
])
def test_a_full_disk_on_the_server_is_named(error):
    """A unit test with a constructed error (SQLSTATE 53100 and its class 53): filling the
    server's disk needs a mount this machine does not give a test."""
    translated = translate(error, "the clinic server 10.0.0.5:5432/clinic")
    assert isinstance(translated, DiskFullError)
    assert str(translated) == ("the disk of the clinic server 10.0.0.5:5432/clinic is full; "
                               "nothing was saved. Free space on the server and try again")


def test_refusals_inside_transactions_leave_the_connection_usable(pg_database):
    """A guard trigger's refusal inside a write transaction aborts the rest of what was sent
    with it (the connection pipelines inside transactions); again and again on one
    connection, the store must go on working. (The drift of psycopg's prepared-statement
    cache this once caused showed in the finalize-versus-edit race of
    test_server_concurrency.py, about one run in two, until automatic preparing was
    turned off.)"""
    repo = open_repository(pg_database)
    clinic = build_clinic(repo)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    interval = repo.start_interval(visit.id, "97110", "PT", T0)
    repo.pause_visit(visit.id, T0 + timedelta(minutes=30))
    repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
    repo.finalize_visit(visit.id, None, "avery", T0 + timedelta(minutes=31))
    for n in range(8):
        repo.conn.execute("BEGIN")
        repo.conn.execute('UPDATE intervals SET "end" = ? WHERE id = ?',
                          (f"2026-11-20T15:{10 + n}:00.000000+00:00", interval.id))
        with pytest.raises(FrozenVisitError, match="frozen"):
            repo.conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
                              ).fetchone()
        repo.conn.execute("ROLLBACK")
        assert repo.get_interval(interval.id).end == T0 + timedelta(minutes=30)
    other = repo.start_visit(clinic.other.id, clinic.pt.id, clinic.other_plan.id,
                             T0 + timedelta(hours=1))
    assert repo.start_interval(other.id, "97110", "PT", T0 + timedelta(hours=1)).running
    assert repo.audit_verify() is None
    repo.close()
