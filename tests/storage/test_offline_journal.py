"""The treatment room keeps timing when the clinic server is away (issue 14, item 4): the
offline journal (storage/journal.py) and the visit screen's store in front of it
(storage/offline.py), against the session's server through a relay the tests cut.

PostgreSQL only: the embedded file has no server to lose.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.pg_relay import Relay
from therapy_timer.storage.journal import Journal, journal_path
from therapy_timer.storage.offline import JournaledTimers
from therapy_timer.storage.repository import open_repository

from .conftest import T0, build_clinic


def at(minutes: float):
    return T0 + timedelta(minutes=minutes)


def dbname(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


@pytest.fixture
def relay(pg_server):
    relay = Relay(pg_server.port)
    yield relay
    relay.close()


@pytest.fixture
def room(pg_server, pg_database, relay, tmp_path):
    """A treatment room: its store through the relay behind the journal, an open visit with
    97110 running since T0 (committed before the cut); and the front desk's own connection."""
    repo = open_repository(relay.uri(dbname(pg_database)))
    repo.station = "Room 2"
    clinic = build_clinic(repo)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    first = repo.start_interval(visit.id, "97110", "PT", T0)
    journal = Journal(journal_path(tmp_path, "Room 2", repo.path))
    timers = JournaledTimers(repo, journal)
    assert [i.id for i in timers.intervals_for(visit.id)] == [first.id]  # read while online
    assert timers.get_visit(visit.id).paused_codes == ()
    desk = open_repository(pg_database)
    desk.station = "Room 3"
    yield timers, visit, first, desk, relay, clinic
    desk.close()
    journal.close()
    repo.close()


def cut(relay: Relay) -> None:
    relay.refuse()
    relay.cut()


def on_server(desk, visit_id):
    return [(i.code, i.start, i.end) for i in desk.intervals_for(visit_id)]


def test_taps_while_cut_keep_counting_land_in_the_journal_and_reach_the_server_in_order(room):
    timers, visit, first, desk, relay, clinic = room
    cut(relay)
    timers.stop_interval(first.id, at(10))  # the tap fails on the server: kept
    assert timers.offline and timers.waiting == 1
    timers.start_interval(visit.id, "97140", "PT", at(10), technique="STM",
                          body_region="lumbar")
    timers.start_interval(visit.id, "97530", "PT", at(22))  # switches 97140 off, as online
    # The screen's view: what it had, with the taps applied (no server read at all).
    assert [(i.code, i.start, i.end) for i in timers.intervals_for(visit.id)] == [
        ("97110", T0, at(10)), ("97140", at(10), at(22)), ("97530", at(22), None)]
    assert [i.id < 0 for i in timers.intervals_for(visit.id)] == [False, True, True]
    assert timers.waiting == 3
    assert on_server(desk, visit.id) == [("97110", T0, None)]  # nothing reached the server
    assert timers.replay() is False  # still away: nothing lost, nothing sent
    assert timers.waiting == 3
    relay.accept()
    assert timers.replay() is True
    assert not timers.offline and timers.waiting == 0
    assert on_server(desk, visit.id) == [
        ("97110", T0, at(10)), ("97140", at(10), at(22)), ("97530", at(22), None)]
    stored = desk.intervals_for(visit.id)
    assert (stored[1].technique, stored[1].body_region) == ("STM", "lumbar")
    # the screen now reads the server's ids
    assert all(i.id > 0 for i in timers.intervals_for(visit.id))
    assert desk.audit_verify() is None


def test_a_stop_of_a_timer_started_offline_reaches_the_interval_the_server_made(room):
    timers, visit, first, desk, relay, clinic = room
    cut(relay)
    timers.start_interval(visit.id, "97112", "PT", at(5))
    provisional = [i for i in timers.intervals_for(visit.id) if i.code == "97112"][0]
    assert provisional.id < 0
    timers.stop_interval(provisional.id, at(12))
    timers.pause_visit(visit.id, at(12))  # nothing runs: the store changes nothing
    relay.accept()
    assert timers.replay() is True
    assert on_server(desk, visit.id) == [("97110", T0, at(5)), ("97112", at(5), at(12))]


def test_pause_and_resume_offline_are_replayed(room):
    timers, visit, first, desk, relay, clinic = room
    cut(relay)
    timers.pause_visit(visit.id, at(8))
    assert timers.get_visit(visit.id).paused_codes == ("97110",)
    timers.resume_visit(visit.id, "PT", at(11))
    assert timers.get_visit(visit.id).paused_codes == ()
    assert [(i.code, i.start, i.end) for i in timers.intervals_for(visit.id)] == [
        ("97110", T0, at(8)), ("97110", at(11), None)]
    relay.accept()
    assert timers.replay() is True
    assert on_server(desk, visit.id) == [("97110", T0, at(8)), ("97110", at(11), None)]
    assert desk.get_visit(visit.id).paused_codes == ()


def test_a_replay_cut_after_the_commit_before_the_journal_delete_sends_nothing_twice(
        room, monkeypatch):
    """The crash window: the server committed the start, the station died before the
    journal forgot it. The replay recognises the start (same code, same microsecond) and
    its later stop still reaches the interval the first attempt made."""
    timers, visit, first, desk, relay, clinic = room
    cut(relay)
    timers.start_interval(visit.id, "97140", "PT", at(10) + timedelta(microseconds=417))
    stop_of = [i for i in timers.intervals_for(visit.id) if i.code == "97140"][0].id
    timers.stop_interval(stop_of, at(20))
    relay.accept()
    journal = timers.journal
    real_done = journal.done

    def dies(entry, real_ids=()):
        raise SystemExit("killed between the server's commit and the journal's delete")

    monkeypatch.setattr(journal, "done", dies)
    with pytest.raises(SystemExit):
        timers.replay()
    assert [c for c, _s, _e in on_server(desk, visit.id)] == ["97110", "97140"]  # committed
    assert len(journal) == 2  # and still waiting here
    monkeypatch.setattr(journal, "done", real_done)
    assert timers.replay() is True
    assert on_server(desk, visit.id) == [
        ("97110", T0, at(10) + timedelta(microseconds=417)),
        ("97140", at(10) + timedelta(microseconds=417), at(20))]  # one 97140, stopped
    assert len(journal) == 0


def test_a_commit_whose_answer_is_lost_is_journaled_and_not_duplicated(room):
    timers, visit, first, desk, relay, clinic = room
    relay.cut_when(b"COMMIT")  # the server keeps the start; the station never hears
    timers.start_interval(visit.id, "97530", "PT", at(15))
    assert timers.offline and timers.waiting == 1
    assert timers.replay() is True
    assert [c for c, _s, _e in on_server(desk, visit.id)] == ["97110", "97530"]


def test_a_refused_replay_stays_marked_blocks_what_follows_until_answered(room):
    timers, visit, first, desk, relay, clinic = room
    cut(relay)
    timers.stop_interval(first.id, at(10))
    timers.start_interval(visit.id, "97140", "PT", at(10))
    timers.start_interval(visit.id, "97530", "PT", at(20))
    # Meanwhile the front desk stops the timer and finalizes the visit on the server.
    desk.stop_interval(first.id, at(12), take_over=True)  # Room 2 is silent: asked, yes
    desk.set_diagnoses(visit.id, ["M54.50"], validate=False)
    desk.finalize_visit(visit.id, None, "Front desk", at(13))
    relay.accept()
    assert timers.replay() is False
    waiting = timers.journal.entries()
    assert [(e.op, e.refused_kind) for e in waiting] == [
        ("start_interval", "FrozenVisitError"), ("start_interval", None)]
    assert "finalized" in waiting[0].refused
    assert not timers.offline  # the server answers: it is the refusal that waits
    assert timers.replay() is False and timers.waiting == 2  # stays until answered
    timers.discard(waiting[0].id)
    assert [e.refused_kind for e in timers.journal.entries()] == ["FrozenVisitError"]
    assert timers.journal.entries()[0].args["code"] == "97530"
    timers.discard(timers.journal.entries()[0].id)
    assert timers.waiting == 0
    assert on_server(desk, visit.id) == [("97110", T0, at(12))]


def test_a_refused_change_may_be_sent_again(room):
    timers, visit, first, desk, relay, clinic = room
    cut(relay)
    timers.stop_interval(first.id, at(3))
    timers.start_interval(visit.id, "97530", "PT", at(4))
    # Meanwhile the therapist stops this timer in another room (a second station) and
    # starts one-on-one time there with another patient.
    desk.stop_interval(first.id, at(3), take_over=True)
    other = desk.start_visit(clinic.other.id, clinic.pt.id, clinic.other_plan.id, at(1))
    elsewhere = desk.start_interval(other.id, "97110", "PT", at(3.5))
    relay.accept()
    assert timers.replay() is False
    refused = timers.refused()
    assert [(e.args["code"], e.refused_kind) for e in refused] == [
        ("97530", "ProviderBusyError")]
    assert "already running 97110 one-on-one" in refused[0].refused
    assert on_server(desk, visit.id) == [("97110", T0, at(3))]  # the stop before it went
    # The screen still shows the waiting start (kept, not lost).
    assert [i.code for i in timers.intervals_for(visit.id)] == ["97110", "97530"]
    desk.stop_interval(elsewhere.id, at(5))  # the other room stops: the retry goes through
    assert timers.retry(refused[0].id) is True
    assert on_server(desk, visit.id) == [("97110", T0, at(3)), ("97530", at(4), None)]
    assert timers.waiting == 0


def test_a_visit_taken_over_elsewhere_meanwhile_is_refused_until_taken_back(room):
    """While Room 2 is cut off, Room 3 takes its visit over (asked: Room 2 is silent). Room
    2's waiting stop is refused (the visit is timed on Room 3) and shown; "send it again"
    takes the visit back, as the take-over question's yes does."""
    timers, visit, first, desk, relay, clinic = room
    cut(relay)
    timers.stop_interval(first.id, at(10))
    timers.start_interval(visit.id, "97530", "PT", at(10))
    desk.start_interval(visit.id, "97110", "PT", at(8), take_over=True)  # goes on there
    relay.accept()
    assert timers.replay() is False
    refused = timers.refused()
    assert [(e.op, e.refused_kind) for e in refused] == [
        ("stop_interval", "VisitHeldElsewhereError")]
    assert "Room 3" in refused[0].refused
    assert on_server(desk, visit.id) == [("97110", T0, None)]  # Room 3's timer runs on
    assert timers.retry(refused[0].id) is True
    assert on_server(desk, visit.id) == [("97110", T0, at(10)), ("97530", at(10), None)]
    assert timers.waiting == 0


def test_the_journal_is_owner_only_and_survives_a_reopen(tmp_path):
    path = journal_path(tmp_path, "Room 2", "the clinic server h:5432/db")
    journal = Journal(path)
    journal.append("start_interval", 7, T0, code="97110", performer="PT")
    journal.close()
    for name in [path, *path.parent.glob(path.name + "-*")]:
        assert stat.S_IMODE(os.stat(name).st_mode) == 0o600, name
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    again = Journal(path)
    assert [(e.op, e.visit_id, e.at, e.args) for e in again.entries()] == [
        ("start_interval", 7, T0, {"code": "97110", "performer": "PT"})]
    assert again.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert again.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    again.close()


def test_one_journal_per_station_and_server(tmp_path):
    a = journal_path(tmp_path, "Room 2", "the clinic server h:5432/db")
    assert a != journal_path(tmp_path, "Room 3", "the clinic server h:5432/db")
    assert a != journal_path(tmp_path, "Room 2", "the clinic server h:5432/other")
    assert a.name.startswith("Room-2-")


def test_a_station_killed_while_cut_replays_its_journal_at_the_next_start(
        pg_server, pg_database, relay, tmp_path):
    repo = open_repository(pg_database)
    repo.station = "Room 2"  # the room's first run, online
    clinic = build_clinic(repo)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    first = repo.start_interval(visit.id, "97110", "PT", T0)
    repo.station = "Front desk"
    path = journal_path(tmp_path, "Room 2", "the clinic server")
    script = Path(__file__).with_name("offline_child.py")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    child = subprocess.Popen(
        [sys.executable, str(script), relay.uri(dbname(pg_database)), str(path),
         str(visit.id), str(first.id)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "ready"
        cut(relay)
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "kept 2 offline=True"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdin.close()
        child.stdout.close()
    assert on_server(repo, visit.id) == [("97110", T0, None)]  # nothing reached the server
    relay.accept()
    # The next start of the station: the same journal, a new connection; replay first.
    again = open_repository(relay.uri(dbname(pg_database)))
    again.station = "Room 2"
    station = JournaledTimers(again, Journal(path))
    assert station.offline and station.waiting == 2  # it remembers it was offline
    assert station.replay() is True
    assert on_server(repo, visit.id) == [("97110", T0, at(10)), ("97530", at(10), None)]
    assert station.waiting == 0 and not station.offline
    station.journal.close()
    station.repo.close()
    repo.close()
