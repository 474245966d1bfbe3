"""Visits of other days (issue 16): the store refuses a timer on a visit of an earlier day (its
minutes would bill under that date of service), ends a timer that runs past midnight at the end
of the visit's day, still finishes and finalizes an old visit with its recorded time, and
lists a patient's history and the open visits of any day in one query each. Plans of care
keep diagnoses that each new visit starts with. Synthetic data; the clinic is in Chicago."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from therapy_timer.core.model import Discipline, Performer
from therapy_timer.core.records import PlanOfCare, VisitStatus
from therapy_timer.storage.errors import EarlierDayError, InvalidDataError
from therapy_timer.storage.recovery import Resolution

from .conftest import T0

YESTERDAY = T0 - timedelta(days=1)  # Thu 11/19/2026 09:00 in Chicago
#: Thu 11/19/2026 23:50 in Chicago (UTC-6): ten minutes before the clinic's midnight.
LATE = datetime(2026, 11, 20, 5, 50, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def _audit_count(repo) -> int:
    return repo.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]


def _yesterdays_visit(clinic, minutes=20):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, YESTERDAY)
    repo.start_interval(visit.id, "97110", Performer.PT, YESTERDAY)
    repo.pause_visit(visit.id, YESTERDAY + timedelta(minutes=minutes))
    return repo.get_visit(visit.id)


def test_a_timer_on_yesterdays_visit_is_refused_naming_its_date(clinic):
    repo = clinic.repo
    visit = _yesterdays_visit(clinic)
    before = (len(repo.intervals_for(visit.id)), _audit_count(repo))
    with pytest.raises(EarlierDayError, match=r"from 11/19/2026.*11/20/2026") as refused:
        repo.start_interval(visit.id, "97140", Performer.PT, T0)
    assert refused.value.day == date(2026, 11, 19)
    assert isinstance(refused.value, InvalidDataError)  # the UI's usual "not done" path
    # Resume (a paused visit restarts its codes) is a timer too.
    assert repo.get_visit(visit.id).paused_codes == ("97110",)
    with pytest.raises(EarlierDayError, match="11/19/2026"):
        repo.resume_visit(visit.id, Performer.PT, T0)
    assert (len(repo.intervals_for(visit.id)), _audit_count(repo)) == before
    assert not repo.running_intervals()
    # Today's visit of the same patient times as ever.
    today = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    assert repo.start_interval(today.id, "97140", Performer.PT, T0).running


def test_yesterdays_visit_is_finished_and_finalized_with_its_recorded_time(clinic):
    repo = clinic.repo
    visit = _yesterdays_visit(clinic, minutes=24)
    repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
    # The clinician corrects yesterday's time by hand: within yesterday, that is allowed.
    [interval] = repo.intervals_for(visit.id)
    repo.edit_interval(interval.id, end=interval.end + timedelta(minutes=2),
                       reason="stopped late", user="Avery Stone", now=T0)
    lines = repo.finalize_visit(visit.id, None, "Avery Stone", T0)
    assert [(line.code, line.units, line.minutes) for line in lines] == [("97110", 2, 26)]
    finalized = repo.get_visit(visit.id)
    assert finalized.status is VisitStatus.FINALIZED
    assert finalized.day == date(2026, 11, 19)  # the date of service stays yesterday's
    assert finalized.session_start == YESTERDAY


def test_time_entered_by_hand_must_fall_on_the_visits_day(clinic):
    repo = clinic.repo
    visit = _yesterdays_visit(clinic)
    [interval] = repo.intervals_for(visit.id)
    with pytest.raises(InvalidDataError, match="11/19/2026.*must fall on that day"):
        repo.add_interval(visit.id, "97140", Performer.PT, T0 - timedelta(minutes=10), T0,
                          reason="forgot the timer", user="Avery Stone", now=T0)
    with pytest.raises(InvalidDataError, match="must fall on that day"):
        repo.edit_interval(interval.id, end=MIDNIGHT + timedelta(minutes=1), reason="late",
                           user="Avery Stone", now=T0)
    assert repo.get_interval(interval.id).end == interval.end
    # Up to midnight itself is still the visit's day.
    added = repo.add_interval(visit.id, "97140", Performer.PT, MIDNIGHT - timedelta(minutes=8),
                              MIDNIGHT, reason="late session", user="Avery Stone", now=T0)
    assert added.end == MIDNIGHT


def test_a_timer_running_past_midnight_stops_at_the_end_of_the_visits_day(clinic):
    """Decision (timers.py, "the visit's day"): minutes after midnight never bill under the
    earlier date; the audit keeps when the timer was really stopped."""
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, LATE)
    assert visit.day == date(2026, 11, 19)
    running = repo.start_interval(visit.id, "97110", Performer.PT, LATE)
    after = MIDNIGHT + timedelta(minutes=10)  # 00:10 on 11/20
    stopped = repo.stop_interval(running.id, after)
    assert stopped.end == MIDNIGHT
    [entry] = [e for e in repo.audit_entries("interval", running.id)
               if e.action == "stop_interval"]
    detail = json.loads(entry.detail)
    assert detail["by"] == "end of the visit's day"
    assert datetime.fromisoformat(detail["asked"]) == after
    # Nothing restarts after midnight: not a tile, not the PT/PTA switch's restart.
    with pytest.raises(EarlierDayError, match="11/19/2026"):
        repo.start_interval(visit.id, "97110", Performer.PTA, after)
    assert repo.bill_visit(visit.id, after).total_timed_minutes == 10


def test_a_pause_past_midnight_also_ends_at_midnight(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, LATE)
    repo.start_interval(visit.id, "97110", Performer.PT, LATE)
    repo.start_interval(visit.id, "97010", Performer.PT, LATE)
    stopped = repo.pause_visit(visit.id, MIDNIGHT + timedelta(minutes=30))
    assert {i.end for i in stopped} == {MIDNIGHT}
    # Before midnight a stop is where the clinician stopped.
    visit2 = repo.start_visit(clinic.other.id, clinic.pt.id, clinic.other_plan.id, LATE)
    interval = repo.start_interval(visit2.id, "97110", Performer.PT, LATE)
    assert repo.stop_interval(interval.id, LATE + timedelta(minutes=5)).end == (
        LATE + timedelta(minutes=5))


def test_crash_recovery_of_a_timer_left_running_yesterday(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, LATE)
    interval = repo.start_interval(visit.id, "97110", Performer.PT, LATE)
    repo.heartbeat(MIDNIGHT + timedelta(minutes=20))  # the app died at 00:20
    [crashed] = repo.crashed_intervals()
    with pytest.raises(InvalidDataError, match="began on 11/19/2026.*cannot run on"):
        repo.resolve_crashed(interval.id, Resolution.KEEP_RUNNING, user="Avery Stone", now=T0)
    assert repo.get_interval(interval.id).running
    done = repo.resolve_crashed(interval.id, Resolution.STOP_AT_LAST_ALIVE, user="Avery Stone",
                                now=T0)
    assert crashed.last_alive == MIDNIGHT + timedelta(minutes=20)
    assert done.end == MIDNIGHT  # the minutes after midnight are not yesterday's
    # A timer of today's visit may still be kept running after a crash.
    today = repo.start_visit(clinic.other.id, clinic.pt.id, clinic.other_plan.id, T0)
    kept = repo.start_interval(today.id, "97110", Performer.PT, T0)
    later = T0 + timedelta(minutes=5)
    assert repo.resolve_crashed(kept.id, Resolution.KEEP_RUNNING, user="Avery Stone",
                                now=later).running


def test_history_and_open_visits_one_query_each(clinic):
    repo = clinic.repo
    last_week = T0 - timedelta(days=7)
    old = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, last_week)
    repo.start_interval(old.id, "97110", Performer.PT, last_week)
    repo.stop_interval(repo.running_intervals()[0].id, last_week + timedelta(minutes=38))
    repo.set_diagnoses(old.id, ["M54.50"], validate=False)
    repo.finalize_visit(old.id, None, "Avery Stone", last_week + timedelta(hours=1))
    left_open = _yesterdays_visit(clinic)
    today = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(today.id, "97140", Performer.PT, T0)
    other_open = repo.start_visit(clinic.other.id, clinic.pt.id, clinic.other_plan.id,
                                  T0 - timedelta(days=3))

    statements = []
    repo.conn.set_trace_callback(statements.append)
    history = repo.visit_history(clinic.patient.id)
    assert len(statements) == 1
    statements.clear()
    opened = repo.open_visit_list()
    assert len(statements) == 1
    repo.conn.set_trace_callback(None)

    assert [e.visit.id for e in history] == [today.id, left_open.id, old.id]  # newest first
    assert [(e.status_text(), e.units, e.charges_cents) for e in history] == [
        ("running", None, None), ("paused", None, None), ("finalized", 3, 3 * 4500)]
    assert history[0].provider_name == "Avery Stone"
    assert [e.visit.id for e in opened] == [other_open.id, left_open.id, today.id]  # oldest
    assert [e.days_old(date(2026, 11, 20)) for e in opened] == [3, 1, 0]
    assert opened[0].patient_name == "Patientb, Testb"
    assert [e.visit.id for e in repo.open_visits_before(clinic.patient.id,
                                                        date(2026, 11, 20))] == [left_open.id]


def test_plan_diagnoses_are_kept_and_each_visit_starts_with_a_copy(clinic):
    repo = clinic.repo
    plan = repo.save_plan(dataclasses.replace(clinic.plan, diagnoses=("m54.50", "R26.89")))
    assert repo.get_plan(plan.id).diagnoses == ("M54.50", "R26.89")
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, plan.id, T0)
    assert visit.diagnoses == ("M54.50", "R26.89")
    # The clinician changes this visit's list: the plan keeps its own.
    repo.set_diagnoses(visit.id, ["R26.89", "M25.561"], validate=False)
    assert repo.get_plan(plan.id).diagnoses == ("M54.50", "R26.89")
    # A later change to the plan leaves the visits already started alone.
    repo.save_plan(dataclasses.replace(repo.get_plan(plan.id), diagnoses=("M17.11",)))
    assert repo.get_visit(visit.id).diagnoses == ("R26.89", "M25.561")
    assert repo.start_visit(clinic.patient.id, clinic.pt.id, plan.id,
                            T0 + timedelta(hours=2)).diagnoses == ("M17.11",)
    # Without a plan there is nothing to copy.
    assert repo.start_visit(clinic.other.id, clinic.pt.id, None, T0).diagnoses == ()


def test_plan_diagnoses_are_checked(clinic):
    repo = clinic.repo
    with pytest.raises(InvalidDataError, match="not an ICD-10-CM code"):
        repo.save_plan(dataclasses.replace(clinic.plan, diagnoses=("hello",)))
    with pytest.raises(InvalidDataError, match="listed twice"):
        repo.save_plan(dataclasses.replace(clinic.plan, diagnoses=("M54.50", "M5450")))
    with pytest.raises(InvalidDataError, match="at most 12"):
        repo.save_plan(dataclasses.replace(
            clinic.plan, diagnoses=tuple(f"M54.{n}" for n in range(10, 23))))
    assert repo.get_plan(clinic.plan.id).diagnoses == ()


def test_current_plan_is_the_newest_started_one_of_the_discipline(clinic):
    repo = clinic.repo
    newer = repo.save_plan(PlanOfCare(clinic.patient.id, Discipline.PT, clinic.pt.id,
                                      date(2026, 11, 15)))
    future = repo.save_plan(PlanOfCare(clinic.patient.id, Discipline.PT, clinic.pt.id,
                                       date(2026, 12, 10)))
    day = date(2026, 11, 20)
    assert repo.current_plan(clinic.patient.id, Discipline.PT, day).id == newer.id
    assert repo.current_plan(clinic.patient.id, Discipline.OT, day).id == clinic.ot_plan.id
    assert repo.current_plan(clinic.patient.id, Discipline.PT, date(2026, 12, 11)).id == (
        future.id)
    assert repo.current_plan(clinic.other.id, Discipline.OT, day) is None


def test_a_clock_jump_over_midnight_stops_at_most_at_midnight(clinic):
    """The computer slept at 23:55 with a timer running and its clock jumped; the real time
    that passed reaches past midnight: "stop at the last certain moment" stops at midnight."""
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, LATE)
    interval = repo.start_interval(visit.id, "97110", Performer.PT, LATE)
    last_good = LATE + timedelta(minutes=5)
    woke = MIDNIGHT + timedelta(hours=8)
    repo.flag_clock_jump(last_good, woke, (woke - last_good).total_seconds(), 15 * 60)
    [flagged] = repo.resolve_clock_flags([interval.id], keep=False, user="Avery Stone",
                                         now=woke)
    assert flagged.end == MIDNIGHT  # 00:10 was the last certain moment: midnight first
