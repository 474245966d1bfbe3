"""Every trigger that guards a finalized visit, attacked with raw SQL one at a time (issue 17):
the store's methods refuse first, so only a direct write reaches these, and each must hold on
its own. Also two finalizes of one visit racing from two connections. On both databases: the
server's guards are the same triggers in PL/pgSQL (storage/pg/schema.py), attacked by the
database's owner."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from tests.sql_dialect import REFUSED, drop_trigger, named, neuter_trigger, outside
from therapy_timer.core.model import Performer
from therapy_timer.storage import audit
from therapy_timer.storage.repository import open_repository

from .conftest import T0, build_clinic


def _ready_97110(repo, clinic, minutes: int):
    """An open visit with ``minutes`` of 97110 and a diagnosis: ready to finalize."""
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", Performer.PT, T0)
    repo.pause_visit(visit.id, T0 + timedelta(minutes=minutes))
    repo.set_diagnoses(visit.id, ["M54.50"])
    return visit


def _finalized_scene(path):
    """A store with one finalized visit (97110, 30 min) and a payment against it."""
    repo = open_repository(path)
    clinic = build_clinic(repo)
    visit = _ready_97110(repo, clinic, 30)
    repo.finalize_visit(visit.id, None, "pat", T0 + timedelta(minutes=31))
    repo.record_payment(visit.id, 1000, "cash", "", T0 + timedelta(hours=1), user="desk")
    # A second visit, amended (its correction left open): the amendment rows are attacked too.
    other = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id,
                             T0 + timedelta(hours=2))
    repo.start_interval(other.id, "97140", Performer.PT, T0 + timedelta(hours=2))
    repo.pause_visit(other.id, T0 + timedelta(hours=2, minutes=20))
    repo.set_diagnoses(other.id, ["M54.50"])
    repo.finalize_visit(other.id, None, "pat", T0 + timedelta(hours=2, minutes=21))
    repo.amend_visit(other.id, "wrong code", "pat", T0 + timedelta(hours=3))
    repo.close()
    return visit.id, other.id


@pytest.fixture
def finalized(store_target):
    """The scene, for a test that changes it."""
    visit_id, other_id = _finalized_scene(store_target)
    conn = outside(store_target)
    yield conn, visit_id, other_id, store_target
    conn.close()


@pytest.fixture(scope="module")
def attacked(module_target):
    """The scene built once for the attacks: each is refused and changes nothing (which
    each test checks), so the next attack finds the scene as it was."""
    visit_id, other_id = _finalized_scene(module_target)
    conn = outside(module_target)
    yield conn, visit_id, other_id, module_target
    conn.close()


ATTACKS = [
    # (what is attacked, SQL, the trigger's words)
    ("an interval's minutes", "UPDATE intervals SET \"end\" = start WHERE visit_id = :v",
     "intervals are frozen"),
    ("an interval moved to another visit", "UPDATE intervals SET visit_id = 999 WHERE"
     " visit_id = :v", "intervals are frozen"),
    ("an interval deleted", "DELETE FROM intervals WHERE visit_id = :v", "intervals are frozen"),
    ("an interval added", "INSERT INTO intervals (visit_id, code, start, \"end\", performer)"
     " VALUES (:v, '97140', '2026-11-20T16:00:00', '2026-11-20T16:20:00', 'PT')",
     "intervals are frozen"),
    ("an interval marked deleted", "UPDATE intervals SET deleted_at = 'x', delete_reason = 'y'"
     " WHERE visit_id = :v", "intervals are frozen"),
    ("the diagnoses", "UPDATE visits SET diagnoses = 'R26.89' WHERE id = :v",
     "cannot change in place"),
    ("the day of service", "UPDATE visits SET day = '2026-11-19' WHERE id = :v",
     "cannot change in place"),
    ("reopened", "UPDATE visits SET status = 'open' WHERE id = :v", "cannot change in place"),
    ("the billing record", "UPDATE visits SET billing_json = '{}' WHERE id = :v",
     "cannot change in place"),
    ("the stored choices", "UPDATE visits SET choices = '{}' WHERE id = :v",
     "cannot change in place"),
    # Two guards refuse this one; either may speak first.
    ("voided with other changes", "UPDATE visits SET status = 'void', notes = 'x'"
     " WHERE id = :v", "cannot change in place|voided only with its reason"),
    ("the visit deleted", "DELETE FROM visits WHERE id = :v", "cannot be deleted"),
    ("a charge line's units", "UPDATE charge_lines SET units = 9 WHERE visit_id = :v",
     "frozen at finalize"),
    ("a charge line deleted", "DELETE FROM charge_lines WHERE visit_id = :v",
     "frozen at finalize"),
    ("a payment deleted", "DELETE FROM payments WHERE visit_id = :v", "void one instead"),
    ("a payment's amount", "UPDATE payments SET cents = 1 WHERE visit_id = :v",
     "changes by being voided"),
    ("a payment voided without a reason", "UPDATE payments SET voided_at = 'x', voided_by = 'd'"
     " WHERE visit_id = :v", "changes by being voided"),
    ("the audit log rewritten", "UPDATE audit_log SET detail = '{}'", "append-only"),
    ("the audit log deleted", "DELETE FROM audit_log", "append-only"),
    # Issue 11, item 6: inserts and status changes, and the other rows a finalized visit has.
    ("a charge line added", "INSERT INTO charge_lines (visit_id, line_no, code, units, minutes,"
     " fee_cents, charge_cents) VALUES (:v, 9, '97140', 2, 30, 4500, 9000)",
     "frozen at finalize"),
    ("a charge line added to an amended visit", "INSERT INTO charge_lines (visit_id, line_no,"
     " code, units, minutes, fee_cents, charge_cents) VALUES (:a, 9, '97140', 2, 30, 4500,"
     " 9000)", "frozen at finalize"),
    ("voided without its reason in the log", "UPDATE visits SET status = 'void' WHERE id = :v",
     "voided only with its reason"),
    ("amended without an amendment", "UPDATE visits SET status = 'amended' WHERE id = :v",
     "amended only with its amendment"),
    ("an amended visit voided", "UPDATE visits SET status = 'void' WHERE id = :a",
     "cannot change in place|voided only with its reason"),
    ("a visit inserted finalized", "INSERT INTO visits (patient_id, provider_id, day,"
     " discipline, status, created_at, finalized_at) SELECT patient_id, provider_id, day,"
     " discipline, 'finalized', created_at, finalized_at FROM visits WHERE id = :v",
     "starts open"),
    ("the visit's created time", "UPDATE visits SET created_at = '2026-01-01' WHERE id = :v",
     "cannot change in place"),
    ("the visit's id", "UPDATE visits SET id = 999 WHERE id = :v", "cannot change in place"),
    ("an amendment's reason", "UPDATE amendments SET reason = 'x'", "kept as it was recorded"),
    ("an amendment deleted", "DELETE FROM amendments",
     "kept as it was recorded|an amendment is never erased"),
    ("an amendment forged", "INSERT INTO amendments (original_visit_id, new_visit_id, reason,"
     " user, at) VALUES (:v, :v, 'x', 'y', 'z')", "names a finalized visit and its correction"),
    ("a payment added to an amended visit", "INSERT INTO payments (visit_id, cents, method,"
     " received_at, user) VALUES (:a, 100, 'cash', 'x', 'y')", "only against a finalized"),
    ("a payment added already voided", "INSERT INTO payments (visit_id, cents, method,"
     " received_at, user, voided_at, voided_by, void_reason) VALUES (:v, 100, 'cash', 'x',"
     " 'y', 'x', 'y', 'z')", "not already voided"),
    ("the anchor record rewritten", "UPDATE audit_anchor SET key_id = 'mine'", "written once"),
    ("the anchor record deleted", "DELETE FROM audit_anchor", "written once"),
]


@pytest.mark.parametrize(("what", "sql", "words"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_each_guard_holds_against_raw_sql(attacked, what, sql, words):
    conn, visit_id, amended_id, _ = attacked
    if conn.execute("SELECT count(*) FROM audit_anchor").fetchone() == (0,):
        # The server keeps no anchor (its log is guarded by roles, not a key): the guard of
        # one written once is attacked all the same.
        conn.execute("INSERT INTO audit_anchor VALUES (1, 'k1', 1, '2026-11-20T15:00:00')")
    audit_size = "SELECT count(*), coalesce(sum(length(detail)), 0) FROM audit_log"
    before = conn.execute(audit_size).fetchone()
    rows = {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
            for t in ("visits", "intervals", "charge_lines", "payments", "amendments",
                      "audit_anchor")}
    with pytest.raises(REFUSED, match=words):
        conn.execute(named(sql, {"v": visit_id, "a": amended_id}))
    for table, kept in rows.items():
        assert conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall() == kept, table
    assert conn.execute(audit_size).fetchone() == before


def test_voiding_is_allowed_together_with_its_reason_in_the_log(finalized):
    """Issue 11, item 6: the void's audit entry (with its reason) comes first, in the same
    transaction, as ``void_visit`` writes it; then the status may change."""
    conn, visit_id, _, _ = finalized
    conn.execute("BEGIN IMMEDIATE")
    audit.append(conn, T0 + timedelta(hours=5), "desk", "void", "visit", visit_id,
                 {"reason": "entered twice"})
    conn.execute("UPDATE visits SET status = 'void' WHERE id = ?", (visit_id,))
    conn.execute("COMMIT")
    assert conn.execute("SELECT status FROM visits WHERE id = ?", (visit_id,)).fetchone() == (
        "void",)


@pytest.mark.parametrize(("what", "detail", "target"), [
    ("an empty reason", {"reason": "  "}, "own"),
    ("no reason", {}, "own"),
    ("another visit's void", {"reason": "entered twice"}, "other"),
])
def test_a_void_entry_that_gives_this_visit_no_reason_does_not_void_it(finalized, what,
                                                                        detail, target):
    conn, visit_id, amended_id, _ = finalized
    conn.execute("BEGIN IMMEDIATE")
    audit.append(conn, T0 + timedelta(hours=5), "desk", "void", "visit",
                 visit_id if target == "own" else amended_id, detail)
    with pytest.raises(REFUSED, match="voided only with its reason"):
        conn.execute("UPDATE visits SET status = 'void' WHERE id = ?", (visit_id,))
        conn.execute("COMMIT")  # the refusal may come with the commit (a queued write)
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT status FROM visits WHERE id = ?", (visit_id,)).fetchone() == (
        "finalized",)


def test_the_store_still_voids_and_amends_finalized_visits(finalized):
    conn, visit_id, amended_id, path = finalized
    repo = open_repository(path)
    try:
        assert repo.void_visit(visit_id, "billed the wrong patient", "desk",
                               T0 + timedelta(hours=6)).status.value == "void"
        [amendment] = repo.amendments_for(amended_id)
        correction = repo.get_visit(amendment.new_visit_id)
        repo.finalize_visit(correction.id, None, "pat", T0 + timedelta(hours=6))
        again = repo.amend_visit(correction.id, "second look", "pat", T0 + timedelta(hours=7))
        assert repo.get_visit(correction.id).status.value == "amended"
        assert again.amends_id == correction.id
        assert repo.audit_verify() is None
    finally:
        repo.close()


def test_missing_and_altered_triggers_come_back_when_the_app_opens_the_file(store_target,
                                                                             caplog):
    """Issue 11, item 6: dropped or altered guards are re-created at open, and it says so
    (on the server: a trigger dropped, or its function replaced by one that guards nothing)."""
    path = store_target
    repo = open_repository(path)
    build_clinic(repo)  # audit entries to delete
    repo.close()
    conn = outside(path)
    drop_trigger(conn, "charge_lines_frozen_insert")
    drop_trigger(conn, "audit_no_delete")
    neuter_trigger(conn, "visits_frozen")  # altered: same name, guards nothing
    conn.close()
    with caplog.at_level("WARNING"):
        repo = open_repository(path)
    try:
        assert sorted(repo.repaired_triggers) == ["audit_no_delete",
                                                  "charge_lines_frozen_insert", "visits_frozen"]
        assert "charge_lines_frozen_insert" in caplog.text and "re-created" in caplog.text
        with pytest.raises(REFUSED, match="append-only"):
            repo.conn.execute("DELETE FROM audit_log")
    finally:
        repo.close()
    again = open_repository(path)
    assert again.repaired_triggers == ()
    again.close()


def test_two_finalizes_racing_from_two_connections_bill_once(store_target):
    path = store_target
    repo = open_repository(path)
    visit = _ready_97110(repo, build_clinic(repo), 38)
    repo.close()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def finalize(user):
        station = open_repository(path)  # each station its own connection
        try:
            barrier.wait(timeout=10)
            station.finalize_visit(visit.id, None, user, T0 + timedelta(minutes=40))
            outcomes.append("finalized")
        except Exception as exc:  # the loser must get a named refusal, checked below
            outcomes.append(f"{type(exc).__name__}: {exc}")
        finally:
            station.close()

    threads = [threading.Thread(target=finalize, args=(u,)) for u in ("room 1", "room 2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(outcomes) == 2, outcomes
    assert sorted(outcomes)[-1] == "finalized" and outcomes.count("finalized") == 1, outcomes
    [loser] = [o for o in outcomes if o != "finalized"]
    assert loser.startswith("FrozenVisitError") and "finalized" in loser, loser
    conn = outside(path)
    lines = conn.execute("SELECT code, units FROM charge_lines WHERE visit_id = ?",
                         (visit.id,)).fetchall()
    assert lines == [("97110", 3)]
    finals = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'finalize'").fetchone()
    assert finals == (1,)
    conn.close()


def test_kx_year_to_date_counts_a_same_day_visit_of_the_other_discipline_in_the_bucket(repo):
    """PT and SLP share one KX bucket: a speech visit finalized earlier the same day counts
    toward the PT visit's year-to-date (only same-discipline visits of the day are pooled and
    billed together instead)."""
    from dataclasses import replace

    from therapy_timer.core.model import Discipline
    from therapy_timer.core.records import PlanOfCare, Provider

    clinic = build_clinic(repo)
    repo.save_payer(replace(clinic.medicare,
                            allowed_cents={**clinic.medicare.allowed_cents, "92507": 9100}))
    slp = repo.save_provider(Provider("Emery Lake", Discipline.SLP, Performer.SLP, "CCC-SLP"))
    slp_plan = repo.save_plan(PlanOfCare(clinic.patient.id, Discipline.SLP, slp.id,
                                         T0.date().replace(day=1)))
    speech = repo.start_visit(clinic.patient.id, slp.id, slp_plan.id, T0)
    repo.start_interval(speech.id, "92507", Performer.SLP, T0)
    repo.pause_visit(speech.id, T0 + timedelta(minutes=30))
    repo.set_diagnoses(speech.id, ["R47.01"], validate=False)
    repo.finalize_visit(speech.id, None, "emery", T0 + timedelta(minutes=31))
    later = T0 + timedelta(hours=2)
    pt = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, later)
    assert repo.kx_year_to_date(clinic.patient.id, 2026, "PT+SLP", exclude={pt.id},
                                through=T0.date()) == 9100
    assert repo.billing_context(repo.get_visit(pt.id), [pt.id]).prior_kx_cents == 9100
    # The OT bucket does not see it.
    assert repo.kx_year_to_date(clinic.patient.id, 2026, "OT", through=T0.date()) == 0


def test_an_open_visit_is_finalized_only_with_its_finalize_entry(store_target):
    """Raw SQL cannot finalize a visit unrecorded; the app's finalize (its entry first, in the
    same transaction) still can."""
    path = store_target
    repo = open_repository(path)
    visit = _ready_97110(repo, build_clinic(repo), 30)
    repo.close()
    conn = outside(path)
    try:
        with pytest.raises(REFUSED, match="only with its finalize entry"):
            conn.execute("UPDATE visits SET status = 'finalized' WHERE id = ?", (visit.id,))
        assert conn.execute("SELECT status FROM visits WHERE id = ?", (visit.id,)
                            ).fetchone() == ("open",)
    finally:
        conn.close()
    repo = open_repository(path)
    try:
        [line] = repo.finalize_visit(visit.id, None, "pat", T0 + timedelta(minutes=31))
        assert (line.code, line.units) == ("97110", 2)
        assert repo.verify_report().problems == []
    finally:
        repo.close()
