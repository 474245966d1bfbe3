"""Crash recovery: running intervals are found with their last heartbeat and resolved three
ways, each audit-logged; hand-entered and deleted time is audited too."""

from __future__ import annotations

from datetime import timedelta

import pytest

from therapy_timer.storage.errors import InvalidDataError
from therapy_timer.storage.recovery import Resolution

from .conftest import T0


@pytest.fixture
def crashed(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    ids = [repo.start_interval(visit.id, code, "PT", T0 + timedelta(minutes=n)).id
           for n, code in enumerate(["97010", "97110"])]
    repo.heartbeat(T0 + timedelta(minutes=12))
    return repo, visit, ids


def test_finds_running_intervals_with_last_alive(crashed, clinic):
    repo, visit, ids = crashed
    found = repo.crashed_intervals()
    assert [c.interval.id for c in found] == ids
    assert {c.last_alive for c in found} == {T0 + timedelta(minutes=12)}
    assert {c.patient_id for c in found} == {clinic.patient.id}


def test_stop_at_last_alive(crashed):
    repo, _, ids = crashed
    later = T0 + timedelta(hours=3)
    done = repo.resolve_crashed(ids[1], Resolution.STOP_AT_LAST_ALIVE, user="avery", now=later)
    assert done.end == T0 + timedelta(minutes=12)
    entry = repo.audit_entries("interval", ids[1])[0]
    assert entry.action == "recover" and "stop-at-last-alive" in entry.detail
    assert entry.user == "avery"


def test_stop_at_a_given_time_and_keep_running(crashed):
    repo, _, ids = crashed
    later = T0 + timedelta(hours=3)
    with pytest.raises(InvalidDataError, match="between"):
        repo.resolve_crashed(ids[1], "stop-at", user="a", now=later,
                             at=T0 - timedelta(minutes=1))
    done = repo.resolve_crashed(ids[1], "stop-at", user="a", now=later,
                                at=T0 + timedelta(minutes=40))
    assert done.end == T0 + timedelta(minutes=40)
    kept = repo.resolve_crashed(ids[0], Resolution.KEEP_RUNNING, user="a", now=later)
    assert kept.running and kept.heartbeat == later
    with pytest.raises(InvalidDataError, match="not running"):
        repo.resolve_crashed(ids[1], "keep-running", user="a", now=later)
    assert [c.interval.id for c in repo.crashed_intervals()] == [ids[0]]
    assert repo.audit_verify() is None


def test_hand_entered_and_deleted_time_is_audited(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    now = T0 + timedelta(hours=1)
    with pytest.raises(InvalidDataError, match="future"):
        repo.add_interval(visit.id, "97110", "PT", T0, now + timedelta(minutes=1),
                          reason="forgot the timer", user="avery", now=now)
    added = repo.add_interval(visit.id, "97110", "PT", T0, T0 + timedelta(minutes=20),
                              reason="forgot the timer", user="avery", now=now)
    with pytest.raises(InvalidDataError, match="overlap"):
        repo.add_interval(visit.id, "97140", "PT", T0 + timedelta(minutes=10),
                          T0 + timedelta(minutes=30), reason="x", user="avery", now=now)
    repo.delete_interval(added.id, reason="entered on the wrong visit", user="avery", now=now)
    assert repo.intervals_for(visit.id) == []
    actions = [e.action for e in repo.audit_entries("interval", added.id)]
    assert actions == ["delete_interval", "add_interval"]
    assert "forgot the timer" in repo.audit_entries("interval", added.id)[1].detail
