"""The store's change feeds (issue 14, live updates), without Qt: on a clinic server the
database notifies each change in the change's own commit and ``PgChangeFeed`` reads them
without blocking; on SQLite ``SqliteChangeFeed`` notices another connection's commits."""

from __future__ import annotations

import itertools
import os
import select
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.ui.conftest import seed_clinic
from therapy_timer.core.model import Performer
from therapy_timer.storage.changes import Change, SqliteChangeFeed, open_feed, session_of
from therapy_timer.storage.errors import StorageError
from therapy_timer.storage.pg import notify
from therapy_timer.storage.pg.listen import PgChangeFeed, parse
from therapy_timer.storage.repository import open_repository

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
_names = itertools.count(1)


def _wait(feed, seconds: float = 2.0) -> list[Change]:
    """What the feed holds once its socket is readable (as the UI's notifier would)."""
    got: list[Change] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        fd = feed.fileno()
        if fd is None:
            return got + feed.drain()
        readable, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not readable:
            break
        got += feed.drain()
        if got and not select.select([fd], [], [], 0.05)[0]:
            break
    return got


def _rows(changes) -> list[tuple]:
    return [(c.table, c.op, c.id, c.visit_id, c.patient_id) for c in changes]


@pytest.fixture
def server_clinic(pg_database):
    repo = open_repository(pg_database)
    clinic = seed_clinic(repo)
    feed = open_feed(repo)
    assert isinstance(feed, PgChangeFeed)
    feed.connect()
    yield repo, clinic, feed
    feed.close()
    repo.close()


def test_each_change_is_notified_with_its_table_and_ids(server_clinic):
    repo, clinic, feed = server_clinic
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", Performer.PT, T0 + timedelta(minutes=1))
    interval = repo.intervals_for(visit.id)[0]
    repo.stop_interval(interval.id, T0 + timedelta(minutes=24))
    repo.save_patient(replace(repo.get_patient(clinic.patient.id), last_name="Samples"))
    changes = _wait(feed)
    assert _rows(changes) == [
        ("visits", "I", visit.id, visit.id, clinic.patient.id),
        ("intervals", "I", interval.id, visit.id, None),
        ("intervals", "U", interval.id, visit.id, None),
        ("patients", "U", clinic.patient.id, None, clinic.patient.id),
    ]
    assert {c.session for c in changes} == {session_of(repo.conn)}


def test_a_heartbeat_alone_is_not_news_and_a_rollback_sends_nothing(server_clinic):
    repo, clinic, feed = server_clinic
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", Performer.PT, T0 + timedelta(minutes=1))
    assert [c.table for c in _wait(feed)] == ["visits", "intervals"]
    assert repo.heartbeat(T0 + timedelta(minutes=3)) == 1
    repo.conn.execute("BEGIN")
    repo.conn.execute("UPDATE patients SET phone = '555-0100' WHERE id = ?",
                      (clinic.patient.id,))
    repo.conn.execute("ROLLBACK")
    assert _wait(feed, 0.5) == []


def test_finalizing_notifies_the_visit_and_its_lines_once(server_clinic):
    repo, clinic, feed = server_clinic
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", Performer.PT, T0)
    repo.start_interval(visit.id, "97530", Performer.PT, T0 + timedelta(minutes=23))
    repo.stop_interval(repo.intervals_for(visit.id)[-1].id, T0 + timedelta(minutes=46))
    repo.set_diagnoses(visit.id, ["M54.50"], user="Dana", validate=False)
    _wait(feed)
    lines = repo.finalize_visit(visit.id, None, "Dana", T0 + timedelta(minutes=50))
    assert len(lines) == 2
    changes = _rows(_wait(feed))
    assert changes.count(("charge_lines", "I", None, visit.id, None)) == 1  # two lines: one
    assert ("visits", "U", visit.id, visit.id, clinic.patient.id) in changes
    assert all(len(str(c)) < 200 for c in changes)


def test_a_payment_names_its_visit(server_clinic):
    repo, clinic, feed = server_clinic
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", Performer.PT, T0)
    repo.stop_interval(repo.intervals_for(visit.id)[0].id, T0 + timedelta(minutes=23))
    repo.set_diagnoses(visit.id, ["M54.50"], user="Dana", validate=False)
    repo.finalize_visit(visit.id, None, "Dana", T0 + timedelta(minutes=24))
    _wait(feed)
    payment = repo.record_payment(visit.id, 2500, "cash", "", T0 + timedelta(minutes=30),
                                  user="desk")
    payment_id = getattr(payment, "id", payment)
    assert _rows(_wait(feed)) == [("payments", "I", payment_id, visit.id, None)]


def test_a_dropped_listen_connection_is_lost_then_back_saying_changes_were_missed(
        server_clinic, pg_server):
    repo, clinic, feed = server_clinic
    pid = feed.session
    pg_server.sql(f"SELECT pg_terminate_backend({pid})", repo.conn.raw.info.dbname)
    deadline = time.monotonic() + 5
    while not feed.lost and time.monotonic() < deadline:
        _wait(feed, 0.5)
    assert feed.lost and feed.fileno() is None
    assert feed.drain() == []  # nothing to read, and no error raised
    repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)  # while away
    assert feed.reconnect() is True
    assert feed.session not in (None, pid)
    assert feed.drain()[:1] == [Change.everything("missed")]
    repo.save_patient(replace(repo.get_patient(clinic.patient.id), phone="555-0199"))
    assert [c.table for c in _wait(feed)] == ["patients"]


def test_a_feed_that_cannot_reach_the_server_says_so(pg_server):
    from tests.pg_server import free_port

    feed = PgChangeFeed(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere",
                        "the clinic server 127.0.0.1/nowhere")
    with pytest.raises(StorageError, match="cannot reach the clinic server 127.0.0.1/nowhere"):
        feed.connect()
    assert feed.reconnect() is False


@pytest.mark.parametrize(("payload", "expected"), [
    ('{"table": "visits", "op": "U", "id": 7, "visit_id": 7, "patient_id": 3}',
     Change("visits", "U", 7, 7, 3, 42)),
    ('{"table": "providers", "op": "I", "id": 2, "visit_id": null, "patient_id": null}',
     Change("providers", "I", 2, None, None, 42)),
    ("not json", None),
    ('{"op": "U"}', None),
    ('{"table": "visits", "id": "seven"}', None),
])
def test_payloads_parse_or_are_left_out(payload, expected):
    assert parse(payload, 42) == expected


def test_every_shown_table_has_its_trigger_and_the_station_may_run_it(pg_database):
    repo = open_repository(pg_database)
    try:
        assert notify.problems(repo.conn) == []
        assert set(notify.TABLES) >= {"visits", "intervals", "charge_lines", "payments",
                                      "patients", "amendments"}
        function = notify.function_statement()
        assert "pg_notify('therapy_timer'" in function
    finally:
        repo.close()


def test_a_station_without_the_live_triggers_asks_for_server_repair(pg_server):
    """A station role cannot create them; it refuses to open (as for a missing guard) and
    names the administrator's command, which puts them back."""
    from therapy_timer.storage.pg.setup import init_server, repair_server

    name = f"live_{os.getpid()}_{next(_names)}"
    init_server(pg_server.admin_uri, name, password="not-used-with-trust", write_password=False)
    station = pg_server.uri(name, f"{name}_station")
    pg_server.sql("DROP TRIGGER tt_live_payments ON payments", name)
    with pytest.raises(StorageError) as exc:
        open_repository(station)
    assert "tt_live_payments missing or altered" in str(exc.value)
    assert f"server repair --admin ADMIN_URI --database {name}" in str(exc.value)
    repair_server(pg_server.admin_uri, name)
    repo = open_repository(station)
    try:
        feed = open_feed(repo)
        feed.connect()
        clinic = seed_clinic(repo)
        assert "patients" in [c.table for c in _wait(feed)]
        assert clinic.patient.id
        feed.close()
        report = repo.verify_report()
        assert not [p for p in report.problems if "tt_live" in str(p)]
    finally:
        repo.close()


# --- SQLite: another connection's commits ---

def test_sqlite_feed_notices_another_connections_commit_not_its_own(tmp_path):
    path = tmp_path / "clinic.db"
    mine = open_repository(path)
    other = open_repository(path)
    try:
        feed = open_feed(mine)
        assert isinstance(feed, SqliteChangeFeed) and feed.fileno() is None
        assert feed.poll_ms == 250
        seed_clinic(mine)  # this window's own commits
        assert feed.drain() == []
        other.save_patient(replace(other.get_patient(1), phone="555-0101"))
        assert feed.drain() == [Change.everything("another connection committed")]
        assert feed.drain() == []  # once per commit seen
        # A running timer's heartbeat (the other window, every few seconds) is no news.
        from therapy_timer.core.model import Performer

        visit = other.start_visit(1, 1, None, T0)
        other.start_interval(visit.id, "97110", Performer.PT, T0)
        assert feed.drain() == [Change.everything("another connection committed")]
        assert other.heartbeat(T0 + timedelta(minutes=2)) == 1
        assert feed.drain() == []
        other.stop_interval(other.intervals_for(visit.id)[0].id, T0 + timedelta(minutes=9))
        assert feed.drain() == [Change.everything("another connection committed")]
        feed.close()
        mine.close()
        assert feed.drain() == []  # a closed connection: nothing, no error
    finally:
        other.close()
        mine.close()


def test_the_sqlite_feed_has_nothing_to_connect_or_lose(tmp_path):
    repo = open_repository(tmp_path / "c.db")
    try:
        feed = open_feed(repo)
        feed.connect()
        assert feed.drain() == [] and feed.reconnect() is True and not feed.lost
        assert session_of(repo.conn) is None
    finally:
        repo.close()
