"""Two stations, one visit (issue 14, item 2): the store is the referee. Each interval names
the station timing it; a tap from another station is refused naming the holder until the
clinician takes the visit over, which moves the running timers without stopping them. Every
test runs on both databases, with two stores (two connections) on one clinic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.sql_dialect import REFUSED
from therapy_timer.core.model import Performer
from therapy_timer.storage.errors import InvalidDataError, VisitHeldElsewhereError
from therapy_timer.storage.repository import open_repository
from therapy_timer.storage.stations import STALE_SECONDS, default_station

from .conftest import T0

MIN = timedelta(minutes=1)


@pytest.fixture
def rooms(clinic):
    """Room 1 and Room 2: two stores on the clinic's one database."""
    room1 = clinic.repo
    room1.station = "Room 1"
    room2 = open_repository(room1.target)
    room2.station = "Room 2"
    yield room1, room2
    room2.close()


@pytest.fixture
def timed_in_room2(clinic, rooms):
    """A visit whose 97110 and 97010 (alongside) Room 2 started at 09:00."""
    _room1, room2 = rooms
    visit = room2.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    room2.start_interval(visit.id, "97110", Performer.PT, T0)
    room2.start_interval(visit.id, "97010", Performer.PT, T0 + MIN)
    return visit


def _details(repo, action):
    return [json.loads(e.detail) for e in repo.audit_entries() if e.action == action]


def test_the_station_defaults_to_the_computers_name_and_is_one_trimmed_line(repo):
    assert repo.station == default_station() != ""
    repo.station = "  Room\n 2 "
    assert repo.station == "Room 2"
    with pytest.raises(InvalidDataError, match="station needs a name"):
        repo.station = "   "


def test_each_interval_and_each_timer_entry_names_its_station(clinic, rooms, timed_in_room2):
    _room1, room2 = rooms
    visit = timed_in_room2
    assert [(i.code, i.station) for i in room2.intervals_for(visit.id)] == [
        ("97110", "Room 2"), ("97010", "Room 2")]
    assert room2.visit_station(visit.id) == ("Room 2", T0)
    room2.pause_visit(visit.id, T0 + 10 * MIN)
    room2.resume_visit(visit.id, Performer.PT, T0 + 12 * MIN)
    room2.stop_interval(room2.intervals_for(visit.id)[-1].id, T0 + 20 * MIN)
    for action in ("start_interval", "pause_visit", "resume_visit", "stop_interval"):
        assert {d["station"] for d in _details(room2, action)} == {"Room 2"}, action


def test_a_tap_from_another_station_is_refused_naming_the_holder_and_changes_nothing(
        clinic, rooms, timed_in_room2):
    room1, _room2 = rooms
    visit = timed_in_room2
    before = room1.intervals_for(visit.id)
    entries = len(room1.audit_entries())
    now = T0 + 2 * MIN  # Room 2 beat last at 09:01: not silent
    taps = [
        lambda: room1.start_interval(visit.id, "97140", Performer.PT, now),
        lambda: room1.start_interval(visit.id, "97110", Performer.PT, now),
        lambda: room1.stop_interval(before[0].id, now),
        lambda: room1.pause_visit(visit.id, now),
        lambda: room1.delete_interval(before[0].id, reason="wrong tile", user="Avery Stone",
                                      now=now),
    ]
    for tap in taps:
        with pytest.raises(VisitHeldElsewhereError,
                           match="being timed on Room 2 \\(97110, 97010\\)") as refused:
            tap()
        assert refused.value.station == "Room 2"
        assert refused.value.since == T0
        assert refused.value.codes == ("97110", "97010")
        assert refused.value.silent is False
    assert room1.intervals_for(visit.id) == before
    assert len(room1.audit_entries()) == entries


def test_take_over_moves_the_running_timers_here_without_stopping_them(
        clinic, rooms, timed_in_room2):
    room1, room2 = rooms
    visit = timed_in_room2
    before = room2.intervals_for(visit.id)
    at = T0 + 25 * MIN
    room1.start_interval(visit.id, "97140", Performer.PT, at, take_over="Room 2",
                         technique="STM", body_region="lumbar", user="Avery Stone")
    after = room1.intervals_for(visit.id)
    # 97110 stopped by 97140 (one-on-one replaces one-on-one) at 09:25: all 25 minutes kept.
    by_code = {i.code: i for i in after}
    assert by_code["97110"].id == before[0].id
    assert (by_code["97110"].start, by_code["97110"].end) == (T0, at)
    # 97010 runs alongside: the same interval goes on, same start, now Room 1's.
    assert by_code["97010"].id == before[1].id
    assert (by_code["97010"].start, by_code["97010"].end) == (T0 + MIN, None)
    assert [(i.code, i.station) for i in after] == [
        ("97110", "Room 1"), ("97010", "Room 1"), ("97140", "Room 1")]
    assert room1.visit_station(visit.id) == ("Room 1", at)
    [taken] = [e for e in room1.audit_entries() if e.action == "take_over"]
    detail = json.loads(taken.detail)
    assert detail["text"] == "taken over from Room 2 by Room 1"
    assert (detail["from"], detail["to"], detail["intervals"]) == (
        "Room 2", "Room 1", [before[0].id, before[1].id])
    assert (taken.user, taken.entity, taken.entity_id) == ("Avery Stone", "visit", visit.id)
    # Room 2 is now the other station: its taps are refused, naming Room 1 since 09:25.
    with pytest.raises(VisitHeldElsewhereError, match="timed on Room 1") as refused:
        room2.stop_interval(before[1].id, at + MIN)
    assert refused.value.since == at
    room1.stop_interval(before[1].id, at + MIN)
    assert room1.running_intervals()[0].code == "97140"


def test_take_over_of_a_code_already_running_continues_it_never_a_second_interval(
        clinic, rooms, timed_in_room2):
    """Room 1's screen was not refreshed yet and showed 97110 stopped: its tap, taking the
    visit over, finds 97110 running and lets it go on (one interval, from 09:00)."""
    room1, _room2 = rooms
    visit = timed_in_room2
    [original, _alongside] = room1.intervals_for(visit.id)
    same = room1.start_interval(visit.id, "97110", Performer.PT, T0 + 30 * MIN, take_over=True)
    assert (same.id, same.start, same.end, same.station) == (original.id, T0, None, "Room 1")
    assert [i.code for i in room1.intervals_for(visit.id)] == ["97110", "97010"]
    assert len(_details(room1, "start_interval")) == 2  # Room 2's two starts only


def test_take_over_asked_about_one_station_is_refused_when_a_third_took_it_meanwhile(
        clinic, rooms, timed_in_room2):
    room1, _room2 = rooms
    visit = timed_in_room2
    room3 = open_repository(room1.target)
    try:
        room3.station = "Front desk"
        room3.pause_visit(visit.id, T0 + 3 * MIN, take_over="Room 2")
        room3.resume_visit(visit.id, Performer.PT, T0 + 4 * MIN)
        with pytest.raises(VisitHeldElsewhereError, match="timed on Front desk"):
            room1.stop_interval(room1.running_intervals()[0].id, T0 + 5 * MIN,
                                take_over="Room 2")
        assert {i.station for i in room1.running_intervals()} == {"Front desk"}
    finally:
        room3.close()


def test_a_heartbeat_marks_only_its_own_stations_timers(clinic, rooms, timed_in_room2):
    room1, room2 = rooms
    visit = timed_in_room2
    assert room1.heartbeat(T0 + 2 * MIN) == 0  # Room 2's timers are not Room 1's to beat
    assert {i.heartbeat for i in room1.intervals_for(visit.id)} == {T0, T0 + MIN}
    assert room2.heartbeat(T0 + 2 * MIN) == 2
    assert {i.heartbeat for i in room1.intervals_for(visit.id)} == {T0 + 2 * MIN}


@pytest.mark.parametrize(("quiet", "silent"), [(STALE_SECONDS, False),
                                                (STALE_SECONDS + 1, True)])
def test_a_silent_holder_is_still_asked_about_and_named_silent_since_its_last_beat(
        clinic, rooms, timed_in_room2, quiet, silent):
    room1, room2 = rooms
    visit = timed_in_room2
    room2.heartbeat(T0 + 4 * MIN)
    now = T0 + 4 * MIN + timedelta(seconds=quiet)
    with pytest.raises(VisitHeldElsewhereError) as refused:
        room1.start_interval(visit.id, "97140", Performer.PT, now)
    assert (refused.value.silent, refused.value.last_alive) == (silent, T0 + 4 * MIN)
    # 09:04 in the clinic's zone (America/Chicago)
    assert ("silent since 9:04 AM" in str(refused.value)) is silent
    assert room1.visit_holder(visit.id, now).silent is silent


def test_crash_recovery_and_clock_flags_see_only_this_stations_timers(
        clinic, rooms, timed_in_room2):
    room1, room2 = rooms
    assert room1.crashed_intervals() == []
    assert [c.interval.code for c in room2.crashed_intervals()] == ["97110", "97010"]
    assert room1.flag_clock_jump(T0, T0 + 30 * MIN, 1800.0, 5.0) == []
    assert all(i.clock_flag is None for i in room2.running_intervals())


def test_intervals_recorded_before_stations_belong_to_no_station(clinic, rooms):
    """Schema 12's running intervals (station NULL): any station taps them without a
    question and beats them, as on one computer."""
    room1, room2 = rooms
    visit = room2.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    interval = room2.start_interval(visit.id, "97110", Performer.PT, T0)
    room2.conn.execute("UPDATE intervals SET station = NULL WHERE id = ?", (interval.id,))
    if room2.conn.in_transaction:
        room2.conn.commit()
    assert room1.heartbeat(T0 + MIN) == 1
    assert room1.visit_holder(visit.id, T0 + MIN) is None
    assert room1.stop_interval(interval.id, T0 + 2 * MIN).end == T0 + 2 * MIN


def test_the_database_itself_keeps_one_running_interval_per_visit_and_code(clinic):
    """Whatever the app checked, plain SQL cannot add a second running 97110 to the visit
    (the unique index ``intervals_one_running``); a stopped one, or another code, goes in."""
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", Performer.PT, T0)
    insert = ('INSERT INTO intervals (visit_id, code, start, "end", performer, station)'
              " VALUES (?, ?, ?, ?, 'PT', 'Room 9')")
    with pytest.raises(REFUSED, match="(?i)unique|already running"):
        repo.conn.execute(insert, (visit.id, "97110", "2026-11-20T15:01:00+00:00", None))
    if repo.conn.in_transaction:
        repo.conn.rollback()
    repo.conn.execute(insert, (visit.id, "97110", "2026-11-20T14:00:00+00:00",
                               "2026-11-20T14:10:00+00:00"))
    repo.conn.execute(insert, (visit.id, "97530", "2026-11-20T15:01:00+00:00", None))
    if repo.conn.in_transaction:
        repo.conn.commit()
    assert sorted(i.code for i in repo.running_intervals()) == ["97110", "97530"]


def test_the_stores_message_for_a_second_running_timer_says_what_happened(clinic,
                                                                          monkeypatch):
    """Should a write slip past the check, the store's error reads as a sentence."""
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    first = repo.start_interval(visit.id, "97110", Performer.PT, T0)
    monkeypatch.setattr(type(repo), "_stop_end", lambda *a: ("x", {}, 0))  # no restart stop
    with pytest.raises(InvalidDataError, match="already running on this visit"):
        repo.start_interval(visit.id, "97110", Performer.PT, T0 + MIN)
    assert [i.id for i in repo.intervals_for(visit.id)] == [first.id]


def test_the_holders_times_are_aware_moments(
        clinic, rooms, timed_in_room2):
    room1, _room2 = rooms
    held = room1.visit_holder(timed_in_room2.id, T0 + MIN)
    assert held.since.tzinfo is not None and held.since == datetime(2026, 11, 20, 15, 0,
                                                                    tzinfo=UTC)


def test_a_visit_closes_only_with_every_timer_stopped_whoever_started_it(
        clinic, rooms, timed_in_room2):
    """Room 1 voids (or finalizes) as Room 2's timer runs: refused by the store, read in the
    same transaction, and by the database itself for any writer."""
    room1, _room2 = rooms
    visit = timed_in_room2
    with pytest.raises(InvalidDataError, match="stop the running timers"):
        room1.void_visit(visit.id, "entered twice", "Avery Stone", T0 + MIN)
    for status in ("void", "finalized"):
        with pytest.raises(REFUSED, match="runs \\(perhaps on another station\\)"):
            room1.conn.execute("UPDATE visits SET status = ? WHERE id = ?", (status, visit.id))
        if room1.conn.in_transaction:
            room1.conn.rollback()
    assert room1.get_visit(visit.id).status.value == "open"
