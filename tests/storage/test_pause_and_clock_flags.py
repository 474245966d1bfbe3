"""Schema 6: a paused visit remembers what Resume restarts, and clock-jump flags on intervals
wait in the store for the clinician's answer; both survive reopening the file."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from therapy_timer.core.records import ClockFlag, VisitStatus
from therapy_timer.storage.errors import InvalidDataError, StorageError
from therapy_timer.storage.repository import open_repository

from .conftest import T0, build_clinic


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def running_visit(clinic, *codes, at=T0, patient=None, plan=None, provider=None):
    repo = clinic.repo
    provider = provider or clinic.pt
    visit = repo.start_visit((patient or clinic.patient).id, provider.id,
                             (plan or clinic.plan).id, at)
    for code in codes:
        repo.start_interval(visit.id, code, provider.role, at)
    return visit


# --- pause ---------------------------------------------------------------------------------

def test_pause_stores_the_running_codes_and_resume_restarts_them(clinic):
    repo = clinic.repo
    visit = running_visit(clinic, "97110", "97010")  # 97010 runs alongside
    assert repo.get_visit(visit.id).paused_codes == ()
    stopped = repo.pause_visit(visit.id, T0 + minutes(10), user="avery")
    assert sorted(i.code for i in stopped) == ["97010", "97110"]
    assert repo.running_intervals() == []
    assert repo.get_visit(visit.id).paused_codes == ("97110", "97010")
    started = repo.resume_visit(visit.id, "PT", T0 + minutes(15), user="avery")
    assert [i.code for i in started] == ["97110", "97010"]
    assert all(i.start == T0 + minutes(15) for i in started)
    assert repo.get_visit(visit.id).paused_codes == ()
    # The five paused minutes are in no interval: not treatment time.
    spans = [(i.code, i.start, i.end) for i in repo.intervals_for(visit.id)
             if i.code == "97110"]
    assert spans == [("97110", T0, T0 + minutes(10)), ("97110", T0 + minutes(15), None)]
    actions = [(e.action, json.loads(e.detail).get("codes"), e.user)
               for e in repo.audit_entries("visit", visit.id)]
    assert ("pause_visit", ["97110", "97010"], "avery") in actions
    assert ("resume_visit", ["97110", "97010"], "avery") in actions


def test_starting_any_timer_ends_the_pause(clinic):
    repo = clinic.repo
    visit = running_visit(clinic, "97110")
    repo.pause_visit(visit.id, T0 + minutes(10))
    repo.start_interval(visit.id, "97112", "PT", T0 + minutes(12))
    assert repo.get_visit(visit.id).paused_codes == ()
    with pytest.raises(InvalidDataError, match="not paused"):
        repo.resume_visit(visit.id, "PT", T0 + minutes(13))


def test_pausing_with_nothing_running_leaves_the_visit_unpaused(clinic):
    repo = clinic.repo
    visit = running_visit(clinic)
    assert repo.pause_visit(visit.id, T0 + minutes(1)) == []
    assert repo.get_visit(visit.id).paused_codes == ()
    assert [e.action for e in repo.audit_entries("visit", visit.id)] == ["start_visit"]


def test_a_refused_resume_restarts_nothing_and_stays_paused(clinic):
    repo = clinic.repo
    mine = running_visit(clinic, "97110")
    repo.pause_visit(mine.id, T0 + minutes(10))
    other = running_visit(clinic, "97530", at=T0 + minutes(11), patient=clinic.other,
                          plan=clinic.other_plan)
    with pytest.raises(StorageError, match="one-on-one"):
        repo.resume_visit(mine.id, "PT", T0 + minutes(12))
    assert repo.get_visit(mine.id).paused_codes == ("97110",)
    assert [i.visit_id for i in repo.running_intervals()] == [other.id]


def test_a_finalized_visit_is_never_paused(clinic):
    repo = clinic.repo
    visit = running_visit(clinic, "97110")
    repo.pause_visit(visit.id, T0 + minutes(30))
    repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
    repo.finalize_visit(visit.id, None, "avery", T0 + minutes(31))
    finalized = repo.get_visit(visit.id)
    assert finalized.status is VisitStatus.FINALIZED and finalized.paused_codes == ()
    [summary] = repo.visits_on(finalized.day)
    assert summary.visit.paused_codes == ()


def test_the_pause_survives_reopening_the_file(store_target):
    path = store_target
    repo = open_repository(path)
    clinic = build_clinic(repo)
    visit = running_visit(clinic, "97140")
    repo.pause_visit(visit.id, T0 + minutes(8))
    repo.close()
    repo = open_repository(path)
    try:
        assert repo.get_visit(visit.id).paused_codes == ("97140",)
        [summary] = repo.visits_on(repo.get_visit(visit.id).day, T0 + minutes(20))
        assert summary.visit.paused_codes == ("97140",) and not summary.running
        [started] = repo.resume_visit(visit.id, "PT", T0 + minutes(20))
        assert started.code == "97140" and started.running
    finally:
        repo.close()


# --- clock flags ---------------------------------------------------------------------------

LAST_GOOD = T0 + timedelta(minutes=5)


def jump_ahead(repo, at=LAST_GOOD, hours=2, real=5.0):
    """The clock moved ``hours`` ahead between two checks ``real`` seconds apart."""
    now = at + timedelta(hours=hours, seconds=real)
    return repo.flag_clock_jump(at, now, hours * 3600 + real, real, user="avery")


def test_a_jump_flags_every_running_interval_of_every_open_visit(clinic):
    repo = clinic.repo
    first = running_visit(clinic, "97110")
    second = running_visit(clinic, "97530", at=T0 + minutes(1), plan=clinic.ot_plan,
                           provider=clinic.ot)
    repo.start_interval(first.id, "97010", "PT", T0 + minutes(2))
    repo.start_interval(first.id, "97112", "PT", T0 + minutes(3))  # stops 97110
    flagged = jump_ahead(repo)
    assert sorted(i.code for i in flagged) == ["97010", "97112", "97530"]
    expected = ClockFlag(T0 + minutes(5), T0 + minutes(5) + timedelta(hours=2, seconds=5),
                         7205.0, 5.0)
    assert {i.clock_flag for i in flagged} == {expected}
    assert expected.trusted_until == T0 + minutes(5) + timedelta(seconds=5)
    stopped = next(i for i in repo.intervals_for(first.id) if i.code == "97110")
    assert stopped.clock_flag is None
    for visit in (first, second):
        [entry] = [e for e in repo.audit_entries("visit", visit.id) if e.action == "clock_jump"]
        assert entry.user == "avery" and json.loads(entry.detail)["wall_seconds"] == 7205.0


def test_a_jump_with_nothing_running_writes_nothing(clinic):
    repo = clinic.repo
    visit = running_visit(clinic)
    assert jump_ahead(repo) == []
    assert [e.action for e in repo.audit_entries("visit", visit.id)] == ["start_visit"]


def test_a_second_jump_before_an_answer_adds_up_and_keeps_the_first_certain_moment(clinic):
    repo = clinic.repo
    visit = running_visit(clinic, "97110")
    jump_ahead(repo, hours=1)
    later = T0 + minutes(5) + timedelta(hours=1, minutes=10)
    [interval] = repo.flag_clock_jump(later, later + timedelta(minutes=30, seconds=2), 1802, 2)
    flag = interval.clock_flag
    assert flag.last_good == T0 + minutes(5) and flag.real_seconds == 5.0
    assert flag.wall_seconds - flag.real_seconds == 3600 + 1800
    assert flag.now == later + timedelta(minutes=30, seconds=2)
    assert interval.visit_id == visit.id


def test_keeping_the_time_clears_the_flag_and_changes_no_time(clinic):
    repo = clinic.repo
    visit = running_visit(clinic, "97110")
    [flagged] = jump_ahead(repo)
    [kept] = repo.resolve_clock_flags([flagged.id], keep=True, user="avery",
                                      now=T0 + timedelta(hours=3))
    assert kept.clock_flag is None and kept.running and kept.start == T0
    [entry] = [e for e in repo.audit_entries("interval", flagged.id)
               if e.action == "resolve_clock_jump"]
    assert json.loads(entry.detail)["choice"] == "keep" and entry.user == "avery"
    assert visit.id == kept.visit_id


def test_stopping_ends_at_the_last_certain_moment(clinic):
    repo = clinic.repo
    visit = running_visit(clinic, "97110")
    repo.start_interval(visit.id, "97010", "PT", T0)
    flagged = jump_ahead(repo)
    after = T0 + timedelta(hours=2, minutes=10)
    repo.stop_interval(next(i.id for i in flagged if i.code == "97010"), after)
    resolved = repo.resolve_clock_flags([i.id for i in flagged], keep=False, user="avery",
                                        now=after)
    certain = T0 + minutes(5) + timedelta(seconds=5)
    assert sorted((i.code, i.end, i.clock_flag) for i in resolved) == [
        ("97010", certain, None), ("97110", certain, None)]  # running stopped, stopped cut
    assert repo.running_intervals() == []
    details = [json.loads(e.detail) for e in repo.audit_entries("interval", flagged[0].id)
               if e.action == "resolve_clock_jump"]
    assert details[0]["choice"] == "stop" and details[0]["end_before"] is None


def test_a_flagged_visit_cannot_be_finalized_until_answered(clinic):
    repo = clinic.repo
    visit = running_visit(clinic, "97110")
    [flagged] = jump_ahead(repo)
    repo.stop_interval(flagged.id, T0 + timedelta(hours=2, minutes=10))
    repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
    with pytest.raises(InvalidDataError, match="clock jumped"):
        repo.finalize_visit(visit.id, None, "avery", T0 + timedelta(hours=3))
    assert repo.get_visit(visit.id).status is VisitStatus.OPEN
    repo.resolve_clock_flags([flagged.id], keep=True, user="avery",
                             now=T0 + timedelta(hours=3))
    repo.finalize_visit(visit.id, None, "avery", T0 + timedelta(hours=3))
    assert repo.get_visit(visit.id).status is VisitStatus.FINALIZED


def test_naive_times_are_refused(clinic):
    with pytest.raises(InvalidDataError, match="time zone"):
        clinic.repo.flag_clock_jump(T0.replace(tzinfo=None), T0, 10, 0)


def test_flags_survive_reopening_the_file(store_target):
    path = store_target
    repo = open_repository(path)
    clinic = build_clinic(repo)
    visit = running_visit(clinic, "97110")
    [flagged] = jump_ahead(repo)
    repo.close()
    repo = open_repository(path)
    try:
        [again] = repo.intervals_for(visit.id)
        assert again.clock_flag == flagged.clock_flag
        [crashed] = repo.crashed_intervals()  # recovery still sees it running
        assert crashed.interval.clock_flag == flagged.clock_flag
    finally:
        repo.close()
