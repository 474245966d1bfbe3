"""A mistaken interval is deleted by marking it: kept with who, when and why, audited, and left
out of every minute, unit, running timer, recovery, clock flag and amendment afterwards."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from therapy_timer.storage.errors import FrozenVisitError, InvalidDataError, StorageError

from .conftest import T0


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


@pytest.fixture
def tapped(clinic):
    """A visit with 20 minutes of 97110 and a one-minute mistaken 97530 tap."""
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    good = repo.start_interval(visit.id, "97110", "PT", T0)
    repo.stop_interval(good.id, T0 + minutes(20))
    wrong = repo.start_interval(visit.id, "97530", "PT", T0 + minutes(20))
    repo.stop_interval(wrong.id, T0 + minutes(29))
    return repo, visit, good, wrong


def test_deleted_interval_is_kept_marked_and_counts_nothing(tapped):
    repo, visit, good, wrong = tapped
    assert repo.bill_visit(visit.id, T0 + minutes(30)).total_units == 2  # 29 min: 2 units
    later = T0 + minutes(30)
    deleted = repo.delete_interval(wrong.id, reason="tapped the wrong tile", user="avery",
                                   now=later)
    assert deleted.deleted and deleted.deleted_by == "avery"
    assert deleted.delete_reason == "tapped the wrong tile" and deleted.deleted_at == later
    assert deleted.end == T0 + minutes(29)  # its times are kept as they were
    assert [i.id for i in repo.intervals_for(visit.id)] == [good.id]
    assert [i.id for i in repo.deleted_intervals(visit.id)] == [wrong.id]
    billing = repo.bill_visit(visit.id, later)
    assert [(line.code, line.units) for line in billing.lines] == [("97110", 1)]
    assert billing.total_timed_minutes == 20
    [summary] = repo.visits_on(visit.day, later)
    assert summary.units == 1
    entry = repo.audit_entries("interval", wrong.id)[0]
    assert entry.action == "delete_interval" and entry.user == "avery"
    assert "tapped the wrong tile" in entry.detail and "97530" in entry.detail


def test_delete_needs_a_reason_and_happens_once(tapped):
    repo, visit, _good, wrong = tapped
    with pytest.raises(InvalidDataError, match="reason"):
        repo.delete_interval(wrong.id, reason="  ", user="avery", now=T0 + minutes(30))
    assert not repo.get_interval(wrong.id).deleted
    repo.delete_interval(wrong.id, reason="wrong tile", user="avery", now=T0 + minutes(30))
    with pytest.raises(InvalidDataError, match="already deleted"):
        repo.delete_interval(wrong.id, reason="again", user="avery", now=T0 + minutes(31))
    with pytest.raises(InvalidDataError, match="deleted"):
        repo.edit_interval(wrong.id, end=T0 + minutes(25), reason="x", user="avery",
                           now=T0 + minutes(31))
    # The schema itself refuses an undelete or a silent erase of the reason.
    with pytest.raises((sqlite3.Error, StorageError)), repo._write() as conn:
        conn.execute("UPDATE intervals SET deleted_at = NULL WHERE id = ?", (wrong.id,))
    assert repo.get_interval(wrong.id).deleted


def test_deleting_a_running_interval_stops_it_first(tapped):
    repo, visit, _good, _wrong = tapped
    running = repo.start_interval(visit.id, "97140", "PT", T0 + minutes(30))
    now = T0 + minutes(31)
    deleted = repo.delete_interval(running.id, reason="meant 97110", user="avery", now=now)
    assert deleted.end == now and deleted.deleted
    assert repo.running_intervals() == [] and repo.crashed_intervals() == []
    actions = [e.action for e in repo.audit_entries("interval", running.id)]
    assert actions[:2] == ["delete_interval", "stop_interval"]
    # A clock jump later flags nothing of it.
    assert repo.flag_clock_jump(now, now + minutes(5), 300, 1) == []


def test_a_paused_visit_does_not_resume_a_deleted_code(tapped):
    repo, visit, _good, _wrong = tapped
    running = repo.start_interval(visit.id, "97140", "PT", T0 + minutes(30))
    repo.pause_visit(visit.id, T0 + minutes(32))
    assert repo.get_visit(visit.id).paused_codes == ("97140",)
    repo.delete_interval(running.id, reason="wrong tile", user="avery", now=T0 + minutes(33))
    assert repo.get_visit(visit.id).paused_codes == ()


def test_finalized_visit_refuses_delete_and_amendment_leaves_deleted_out(tapped):
    repo, visit, good, wrong = tapped
    repo.delete_interval(wrong.id, reason="wrong tile", user="avery", now=T0 + minutes(30))
    repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
    repo.finalize_visit(visit.id, None, "avery", T0 + minutes(40))
    assert [(c.code, c.units) for c in repo.charge_lines(visit.id)] == [("97110", 1)]
    with pytest.raises(FrozenVisitError, match="amend"):
        repo.delete_interval(good.id, reason="x", user="avery", now=T0 + minutes(41))
    amended = repo.amend_visit(visit.id, "add a code", "avery", T0 + minutes(45))
    assert [i.code for i in repo.intervals_for(amended.id)] == ["97110"]
    assert repo.deleted_intervals(amended.id) == []
