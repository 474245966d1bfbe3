"""The hash-chained audit log: append-only in the database, and tampering around the triggers
is found at the first broken link."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.sql_dialect import REFUSED, drop_trigger

from .conftest import T0


@pytest.fixture
def logged(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", "PT", T0)
    repo.pause_visit(visit.id, T0 + timedelta(minutes=20))
    assert repo.audit_verify() is None
    count = repo.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    return repo, count


def test_triggers_refuse_update_and_delete(logged):
    repo, _ = logged
    with pytest.raises(REFUSED, match="append-only"):
        repo.conn.execute("UPDATE audit_log SET user = 'mallory'")
    with pytest.raises(REFUSED, match="append-only"):
        repo.conn.execute("DELETE FROM audit_log")


def test_changed_entry_is_found(logged):
    repo, count = logged
    drop_trigger(repo.conn, "audit_no_update")
    repo.conn.execute("UPDATE audit_log SET user = 'mallory' WHERE seq = 5")
    broken = repo.audit_verify()
    assert broken.seq == 5 and "does not match its hash" in broken.reason
    assert str(broken).startswith("audit entry 5:")


def test_rehashed_entry_breaks_the_next_link(logged):
    from therapy_timer.storage.audit import entry_hash

    repo, count = logged
    drop_trigger(repo.conn, "audit_no_update")
    seq, at, user, action, entity, entity_id, detail, prev = repo.conn.execute(
        "SELECT seq, at, user, action, entity, entity_id, detail, prev_hash FROM audit_log"
        " WHERE seq = 3").fetchone()
    forged = entry_hash(prev, seq, at, "mallory", action, entity, entity_id, detail)
    repo.conn.execute("UPDATE audit_log SET user = 'mallory', hash = ? WHERE seq = 3",
                      (forged,))
    broken = repo.audit_verify()
    assert broken.seq == 4 and "previous entry" in broken.reason


def test_removed_entry_is_found(logged):
    repo, count = logged
    drop_trigger(repo.conn, "audit_no_delete")
    repo.conn.execute("DELETE FROM audit_log WHERE seq = ?", (count - 1,))
    broken = repo.audit_verify()
    assert broken.seq == count - 1 and "missing" in broken.reason


def test_entries_never_name_patients(logged, clinic):
    repo, _ = logged
    text = " ".join(e.detail for e in repo.audit_entries(limit=10_000))
    assert clinic.patient.last_name not in text and clinic.patient.first_name not in text
