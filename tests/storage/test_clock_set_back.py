"""Issue 11, items 4 and 5: the clock set back never loses treatment time, and every running
timer of the station gets its heartbeat.

A running timer under a clock flag counts what the monotonic clock measured (the wall clock only
anchored its start): a stop stores start + the measured duration, the wall reading kept in the
flag and the audit log; the clinician's three answers (the computer's clock, the measured time,
the last certain moment) are each stored and audited. At start-up, a last-alive moment later
than now is flagged like any other jump. Every expected time is written out as a literal.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from therapy_timer.core.live import LiveTally
from therapy_timer.core.model import Performer
from therapy_timer.core.records import ClockFlag, VisitStatus
from therapy_timer.storage.clock_flags import ClockAnswer
from therapy_timer.storage.errors import InvalidDataError, StorageError
from therapy_timer.storage.recovery import Resolution
from therapy_timer.storage.repository import open_repository

from .conftest import T0, build_clinic

# 97110 starts at 15:00 UTC; at 15:10 someone sets the clock back an hour (to 14:10); the watch
# notices 1 s later (the wall clock says 14:10:01: it went -3599 s while 1 s really passed).
JUMPED = datetime(2026, 11, 20, 15, 10, tzinfo=UTC)
NOTICED = datetime(2026, 11, 20, 14, 10, 1, tzinfo=UTC)


@pytest.fixture
def clinic(store_target):
    repo = open_repository(store_target)  # a real SQLite file, or a clinic server
    yield build_clinic(repo)
    repo.close()


def set_back_during_97110(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    started = repo.start_interval(visit.id, "97110", "PT", T0)
    repo.heartbeat(JUMPED)
    [flagged] = repo.flag_clock_jump(JUMPED, NOTICED, -3599.0, 1.0, user="avery")
    return visit, started, flagged


def actions(repo, entity, entity_id, action):
    return [json.loads(e.detail) for e in repo.audit_entries(entity, entity_id)
            if e.action == action]


def test_the_flag_holds_the_measured_offset_of_a_clock_set_back(clinic):
    _visit, _started, flagged = set_back_during_97110(clinic)
    flag = flagged.clock_flag
    assert flag == ClockFlag(JUMPED, NOTICED, -3599.0, 1.0)
    assert flag.offset_seconds == 3600.0 and flag.pending
    # 15 real minutes after the jump the wall clock says 14:25:01; measured, 25:01 have run.
    wall = datetime(2026, 11, 20, 14, 25, 1, tzinfo=UTC)
    assert flagged.measured_end(wall) == datetime(2026, 11, 20, 15, 25, 1, tzinfo=UTC)
    assert flagged.measured_seconds(wall) == 25 * 60 + 1
    assert flagged.interval.seconds(wall) == 0  # the wall clock's answer: nothing


def test_stopping_after_a_set_back_stores_the_measured_minutes_and_keeps_the_question(clinic):
    repo = clinic.repo
    visit, started, _flagged = set_back_during_97110(clinic)
    wall = datetime(2026, 11, 20, 14, 25, 1, tzinfo=UTC)
    stopped = repo.stop_interval(started.id, wall, user="avery")
    assert stopped.end == datetime(2026, 11, 20, 15, 25, 1, tzinfo=UTC)  # not 15:00 (0 min)
    assert stopped.clock_flag.pending and stopped.clock_flag.wall_end == wall
    [stop] = actions(repo, "interval", started.id, "stop_interval")
    assert stop["end"] == "2026-11-20T15:25:01.000000+00:00"
    assert stop["wall_end"] == "2026-11-20T14:25:01.000000+00:00"
    assert stop["measured_end"] == "2026-11-20T15:25:01.000000+00:00"
    repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
    with pytest.raises(StorageError, match="confirm its time"):  # still asked before billing
        repo.finalize_visit(visit.id, None, "avery", wall)


@pytest.mark.parametrize(("answer", "end", "minutes"), [
    (ClockAnswer.WALL, datetime(2026, 11, 20, 15, 0, tzinfo=UTC), 0),  # the wall's 14:25
    (ClockAnswer.MEASURED, datetime(2026, 11, 20, 15, 25, 1, tzinfo=UTC), 25),
    (ClockAnswer.STOP, datetime(2026, 11, 20, 15, 10, 1, tzinfo=UTC), 10),
])
def test_each_answer_to_a_stopped_flagged_timer_is_stored_and_audited(clinic, answer, end,
                                                                      minutes):
    repo = clinic.repo
    visit, started, _flagged = set_back_during_97110(clinic)
    wall = datetime(2026, 11, 20, 14, 25, 1, tzinfo=UTC)
    repo.stop_interval(started.id, wall)
    [done] = repo.resolve_clock_flags([started.id], answer=answer, user="avery",
                                      now=wall + timedelta(seconds=30))
    assert (done.end, done.clock_flag) == (end, None)
    assert (done.end - done.start) // timedelta(minutes=1) == minutes
    [entry] = actions(repo, "interval", started.id, "resolve_clock_jump")
    assert entry["choice"] == answer.value
    assert entry["end_before"] == "2026-11-20T15:25:01.000000+00:00"
    assert entry["wall_end"] == "2026-11-20T14:25:01.000000+00:00"
    assert entry["measured_end"] == "2026-11-20T15:25:01.000000+00:00"
    assert entry["wall_seconds"] == -3599.0 and entry["real_seconds"] == 1.0
    repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
    if minutes:
        lines = repo.finalize_visit(visit.id, None, "avery", wall + timedelta(minutes=1))
        assert [(line.code, line.units) for line in lines] == [("97110", 2 if minutes == 25
                                                                 else 1)]


def test_keeping_the_measured_time_while_it_runs_counts_on_and_stores_it_at_the_stop(clinic):
    repo = clinic.repo
    _visit, started, _flagged = set_back_during_97110(clinic)
    asked = datetime(2026, 11, 20, 14, 12, tzinfo=UTC)
    [answered] = repo.resolve_clock_flags([started.id], answer="measured", user="avery",
                                          now=asked)
    assert answered.running and answered.clock_flag.answer == "measured"
    assert not answered.clock_flag.pending  # no longer a question
    assert answered.measured_seconds(asked) == 12 * 60
    [entry] = actions(repo, "interval", started.id, "resolve_clock_jump")
    assert entry["choice"] == "measured" and entry["end_after"] is None
    assert entry["measured_end"] == "2026-11-20T15:12:00.000000+00:00"
    [day] = [v for v in repo.visits_on(T0.date()) if v.visit.id == started.visit_id]
    assert day.time_to_confirm is False and day.running  # answered: Today asks no more
    stopped = repo.stop_interval(started.id, datetime(2026, 11, 20, 14, 30, tzinfo=UTC))
    assert stopped.end == datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
    assert stopped.clock_flag is None  # answered before: nothing more to ask
    [stop] = actions(repo, "interval", started.id, "stop_interval")
    assert stop["by_answer"] == "measured"
    assert stop["wall_end"] == "2026-11-20T14:30:00.000000+00:00"
    [day] = [v for v in repo.visits_on(T0.date()) if v.visit.id == started.visit_id]
    assert day.time_to_confirm is False


def test_the_time_is_right_while_running_counts_the_wall_clock_again(clinic):
    repo = clinic.repo
    _visit, started, _flagged = set_back_during_97110(clinic)
    [kept] = repo.resolve_clock_flags([started.id], keep=True, user="avery", now=NOTICED)
    assert kept.clock_flag is None and kept.running
    stopped = repo.stop_interval(started.id, datetime(2026, 11, 20, 15, 20, tzinfo=UTC))
    assert stopped.end == datetime(2026, 11, 20, 15, 20, tzinfo=UTC)


def test_a_pause_and_a_switch_store_the_measured_end(clinic):
    repo = clinic.repo
    visit, started, _flagged = set_back_during_97110(clinic)
    repo.start_interval(visit.id, "97010", "PT", NOTICED)  # a modality runs alongside
    switched = repo.start_interval(visit.id, "97112", "PT",
                                   datetime(2026, 11, 20, 14, 20, tzinfo=UTC))
    assert repo.get_interval(started.id).end == datetime(2026, 11, 20, 15, 20, tzinfo=UTC)
    [stop] = actions(repo, "interval", started.id, "stop_interval")
    assert stop["by"] == "switch" and stop["wall_end"] == "2026-11-20T14:20:00.000000+00:00"
    assert switched.clock_flag is None  # started after the jump: the wall clock anchors it
    paused = repo.pause_visit(visit.id, datetime(2026, 11, 20, 14, 30, tzinfo=UTC))
    ends = {i.code: i.end for i in paused}
    assert ends == {"97010": datetime(2026, 11, 20, 14, 30, tzinfo=UTC),
                    "97112": datetime(2026, 11, 20, 14, 30, tzinfo=UTC)}


def test_a_heartbeat_of_a_flagged_timer_moves_on_with_the_measured_time(clinic):
    repo = clinic.repo
    visit, started, _flagged = set_back_during_97110(clinic)
    other = repo.start_interval(visit.id, "97010", "PT", NOTICED)  # after the jump: wall
    assert repo.heartbeat(datetime(2026, 11, 20, 14, 20, tzinfo=UTC)) == 2
    assert repo.get_interval(started.id).heartbeat == datetime(2026, 11, 20, 15, 20,
                                                               tzinfo=UTC)
    assert repo.get_interval(other.id).heartbeat == datetime(2026, 11, 20, 14, 20, tzinfo=UTC)
    [crashed] = [c for c in repo.crashed_intervals() if c.interval.id == started.id]
    assert crashed.last_alive == datetime(2026, 11, 20, 15, 20, tzinfo=UTC)
    # After a crash, stopping at the last-alive moment keeps the 20 measured minutes.
    done = repo.resolve_crashed(started.id, Resolution.STOP_AT_LAST_ALIVE, user="avery",
                                now=datetime(2026, 11, 20, 14, 25, tzinfo=UTC))
    assert done.end == datetime(2026, 11, 20, 15, 20, tzinfo=UTC) and done.clock_flag is None


def test_a_last_alive_later_than_now_at_start_is_flagged_like_a_jump(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    started = repo.start_interval(visit.id, "97110", "PT", T0)
    repo.heartbeat(T0 + timedelta(minutes=40))  # then the app died
    reopened = T0 - timedelta(minutes=15)  # the clock was set back an hour meanwhile
    assert repo.flag_clock_behind(T0 + timedelta(minutes=41)) == []  # not behind: nothing
    [flagged] = repo.flag_clock_behind(reopened, user="recovery")
    assert flagged.clock_flag == ClockFlag(T0 + timedelta(minutes=40), reopened, -3300.0, 0.0)
    assert flagged.clock_flag.trusted_until == T0 + timedelta(minutes=40)
    [entry] = actions(repo, "visit", visit.id, "clock_jump")
    assert entry["by"] == "restart" and entry["intervals"] == [started.id]
    assert entry["last_good"] == "2026-11-20T15:40:00.000000+00:00"
    # The measured timeline goes on from the last-alive moment (the app measured nothing while
    # it was down): 5 real minutes after the restart, 45 minutes have run.
    assert flagged.measured_seconds(reopened + timedelta(minutes=5)) == 45 * 60
    repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
    assert repo.stop_interval(started.id, reopened).end == T0 + timedelta(minutes=40)
    with pytest.raises(StorageError, match="confirm its time"):
        repo.finalize_visit(visit.id, None, "avery", reopened)


def test_keep_running_after_a_restart_behind_never_moves_last_alive_back(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    started = repo.start_interval(visit.id, "97110", "PT", T0)
    repo.heartbeat(T0 + timedelta(minutes=40))
    reopened = T0 - timedelta(minutes=15)
    repo.flag_clock_behind(reopened)
    kept = repo.resolve_crashed(started.id, Resolution.KEEP_RUNNING, user="avery",
                                now=reopened)
    assert kept.heartbeat == T0 + timedelta(minutes=40)
    assert kept.clock_flag.pending  # the visit screen still asks
    [entry] = actions(repo, "interval", started.id, "recover")
    assert entry["clock_flag"]["answered"] is False
    stopped = repo.stop_interval(started.id, reopened + timedelta(minutes=10))
    assert stopped.end == T0 + timedelta(minutes=50)  # 40 before the crash + 10 after


def test_stop_at_a_time_after_a_restart_behind_may_reach_last_alive(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    started = repo.start_interval(visit.id, "97110", "PT", T0)
    repo.heartbeat(T0 + timedelta(minutes=40))
    reopened = T0 - timedelta(minutes=15)
    repo.flag_clock_behind(reopened)
    done = repo.resolve_crashed(started.id, Resolution.STOP_AT, user="avery", now=reopened,
                                at=T0 + timedelta(minutes=30))
    assert done.end == T0 + timedelta(minutes=30) and done.clock_flag is None
    [entry] = actions(repo, "interval", started.id, "recover")
    assert entry["clock_flag"]["answered"] is True
    with pytest.raises(InvalidDataError):
        repo.resolve_crashed(started.id, Resolution.STOP_AT, user="avery", now=reopened,
                             at=T0 + timedelta(minutes=30))


def test_an_unknown_answer_is_refused_with_its_name(clinic):
    _visit, started, _flagged = set_back_during_97110(clinic)
    with pytest.raises(InvalidDataError, match="'later'"):
        clinic.repo.resolve_clock_flags([started.id], answer="later", user="a", now=NOTICED)
    with pytest.raises(InvalidDataError, match="keep, measured or stop"):
        clinic.repo.resolve_clock_flags([started.id], user="a", now=NOTICED)


def test_flags_with_the_new_keys_survive_reopening_the_file(store_target):
    path = store_target
    repo = open_repository(path)
    clinic = build_clinic(repo)
    _visit, started, _flagged = set_back_during_97110(clinic)
    repo.stop_interval(started.id, datetime(2026, 11, 20, 14, 25, 1, tzinfo=UTC))
    repo.close()
    repo = open_repository(path)
    try:
        flag = repo.get_interval(started.id).clock_flag
        assert flag.wall_end == datetime(2026, 11, 20, 14, 25, 1, tzinfo=UTC)
        assert flag.pending and flag.offset_seconds == 3600.0
    finally:
        repo.close()


# --- item 5: every running timer of the station is beaten ---------------------------------

def test_one_heartbeat_marks_the_running_timers_of_every_open_visit(clinic):
    repo = clinic.repo
    first = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    second = repo.start_visit(clinic.other.id, clinic.pt.id, clinic.other_plan.id, T0)
    shown = repo.start_visit(clinic.patient.id, clinic.ot.id, clinic.ot_plan.id, T0)
    a = repo.start_interval(first.id, "97010", "PT", T0)
    b = repo.start_interval(second.id, "97110", "PT", T0 + timedelta(minutes=1))
    assert not repo.intervals_for(shown.id)  # the visit on screen runs nothing
    assert repo.heartbeat(T0 + timedelta(minutes=20)) == 2
    assert {c.interval.id: c.last_alive for c in repo.crashed_intervals()} == {
        a.id: T0 + timedelta(minutes=20), b.id: T0 + timedelta(minutes=20)}
    assert repo.get_visit(shown.id).status is VisitStatus.OPEN


def test_the_live_tally_counts_the_measured_time_of_a_running_code():
    from therapy_timer.core.model import Interval

    tally = LiveTally([Interval("97110", T0, None), Interval("97010", T0, None)],
                      offsets={"97110": 3600.0})
    facts = tally.facts(T0 - timedelta(minutes=35))  # the wall clock went back an hour
    assert facts.seconds_by_code == {"97110": 25 * 60, "97010": 0}
    assert facts.units("97110") == 2


def test_a_measured_end_ahead_of_the_wall_clock_still_lets_the_code_be_corrected(clinic):
    repo = clinic.repo
    _visit, started, _flagged = set_back_during_97110(clinic)
    wall = datetime(2026, 11, 20, 14, 25, 1, tzinfo=UTC)
    repo.stop_interval(started.id, wall)
    edited = repo.edit_interval(started.id, code="97530", reason="wrong tile", user="avery",
                                now=wall + timedelta(minutes=1))
    assert (edited.code, edited.end) == ("97530", datetime(2026, 11, 20, 15, 25, 1, tzinfo=UTC))
    with pytest.raises(InvalidDataError, match="future"):
        repo.edit_interval(started.id, end=wall + timedelta(minutes=5), reason="x",
                           user="avery", now=wall + timedelta(minutes=1))


def test_today_and_the_review_bill_a_running_flagged_timer_by_its_measured_minutes(clinic):
    repo = clinic.repo
    visit, _started, _flagged = set_back_during_97110(clinic)
    wall = datetime(2026, 11, 20, 14, 25, 1, tzinfo=UTC)  # 25:01 measured, 0 by the wall
    [day] = [v for v in repo.visits_on(T0.date(), wall) if v.visit.id == visit.id]
    assert day.units == 2
    billing = repo.bill_visit(visit.id, wall)
    assert [(line.code, line.units) for line in billing.allocation.lines] == [("97110", 2)]


# --- the rule as a property: whatever the wall clock does, the stored time is the measured --

#: (seconds that really pass, what the wall clock is moved by meanwhile); a step's wall move
#: is 0 (no change), an hour back, or up to two hours ahead (a sleep or a clock set forward).
STEPS = st.lists(st.tuples(st.integers(1, 600),
                           st.sampled_from([0, 0, 0, -3600, -1800, 900, 7200])),
                 min_size=1, max_size=12)


def test_the_stored_duration_is_what_the_monotonic_clock_measured(store_maker):
    @store_maker.settings(60)
    @given(steps=STEPS, answer=st.sampled_from([None, "measured"]))
    def prop(steps, answer):
        the_stored_duration_is_what_the_monotonic_clock_measured(store_maker(), steps, answer)

    prop()


def the_stored_duration_is_what_the_monotonic_clock_measured(target, steps, answer):
    repo = open_repository(target)
    try:
        clinic = build_clinic(repo)
        visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
        started = repo.start_interval(visit.id, "97110", Performer.PT, T0)
        wall, real = T0, 0
        last_wall, last_real = wall, real
        for passed, moved in steps:  # the watch's check after each step, as the app does
            wall += timedelta(seconds=passed + moved)
            real += passed
            wall_delta = (wall - last_wall).total_seconds()
            if abs(wall_delta - (real - last_real)) > 10:
                repo.flag_clock_jump(last_wall, wall, wall_delta, real - last_real)
                if answer:
                    repo.resolve_clock_flags([started.id], answer=answer, user="a", now=wall)
            last_wall, last_real = wall, real
            repo.heartbeat(wall)
            # alive at the measured moment: "stop at last alive" after a crash keeps it all
            assert repo.get_interval(started.id).heartbeat == T0 + timedelta(seconds=real)
        stopped = repo.stop_interval(started.id, wall)
        assert stopped.end == T0 + timedelta(seconds=real)  # (at most 2 h: the same day)
    finally:
        repo.close()
