"""Payments against finalized visits: recorded, listed, totalled, voided (kept), audited, and
refused for open visits, bad amounts and methods; the database itself refuses deletes and edits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from tests.sql_dialect import CHECK_FAILED, REFUSED
from therapy_timer.storage.errors import FrozenVisitError, InvalidDataError, NotFoundError
from therapy_timer.storage.repository import open_repository

from .conftest import T0, build_clinic


def finalized_visit(clinic, start=T0, code="97110", minutes=30):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, start)
    repo.start_interval(visit.id, code, "PT", start)
    repo.pause_visit(visit.id, start + timedelta(minutes=minutes))
    repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
    repo.finalize_visit(visit.id, None, "avery", start + timedelta(minutes=minutes + 1))
    return repo.get_visit(visit.id)


def test_a_payment_is_recorded_listed_totalled_and_audited(clinic):
    repo = clinic.repo
    visit = finalized_visit(clinic)  # 2 units of 97110 at $45.00 = $90.00
    paid = repo.record_payment(visit.id, 2500, "Card", " slip 0042 ", T0 + timedelta(hours=1),
                               user="desk")
    assert (paid.visit_id, paid.cents, paid.method, paid.reference, paid.user) == (
        visit.id, 2500, "card", "slip 0042", "desk")
    assert paid.received_at == T0 + timedelta(hours=1) and not paid.is_void
    repo.record_payment(visit.id, 1000, "cash", "", T0 + timedelta(hours=2), user="desk")
    assert [p.cents for p in repo.payments_for(visit.id)] == [2500, 1000]
    assert repo.paid_cents([visit.id]) == {visit.id: 3500}
    entry = repo.audit_entries("visit", visit.id)[0]
    assert entry.action == "payment" and entry.user == "desk"
    assert json.loads(entry.detail) == {"payment": paid.id + 1, "cents": 1000, "method": "cash",
                                        "reference": "", "kind": "patient"}
    assert repo.audit_verify() is None


def test_paid_cents_answers_every_asked_visit_and_only_those(clinic):
    repo = clinic.repo
    first = finalized_visit(clinic)
    second = finalized_visit(clinic, T0 + timedelta(hours=2))
    repo.record_payment(first.id, 700, "check", "#1001", T0 + timedelta(hours=3))
    assert repo.paid_cents([first.id, second.id, first.id]) == {first.id: 700, second.id: 0}
    assert repo.paid_cents([second.id]) == {second.id: 0}
    assert repo.paid_cents([]) == {}


def test_overpayment_is_allowed_and_the_balance_goes_negative(clinic):
    repo = clinic.repo
    visit = finalized_visit(clinic)
    repo.record_payment(visit.id, 12000, "cash", "", T0 + timedelta(hours=1))
    assert [line.charge_cents for line in repo.charge_lines(visit.id)] == [9000]
    assert repo.paid_cents([visit.id]) == {visit.id: 12000}  # $90.00 billed, $30.00 over


@pytest.mark.parametrize(("cents", "method", "reference", "message"), [
    (0, "cash", "", "more than \\$0.00"),
    (-500, "cash", "", "more than \\$0.00"),
    (12.5, "cash", "", "whole cents"),
    ("100", "cash", "", "whole cents"),
    (True, "cash", "", "whole cents"),
    (100, "bitcoin", "", "'bitcoin' is not one of cash, check, card, other"),
    (100, "", "", "is not one of"),
    (100, "check", "x" * 201, "at most 200"),
])
def test_bad_payments_are_refused_and_nothing_is_saved(clinic, cents, method, reference,
                                                       message):
    repo = clinic.repo
    visit = finalized_visit(clinic)
    before = len(repo.audit_entries())
    with pytest.raises(InvalidDataError, match=message):
        repo.record_payment(visit.id, cents, method, reference, T0 + timedelta(hours=1))
    assert repo.payments_for(visit.id) == []
    assert len(repo.audit_entries()) == before


def test_a_naive_time_is_refused(clinic):
    visit = finalized_visit(clinic)
    with pytest.raises(InvalidDataError, match="no time zone"):
        clinic.repo.record_payment(visit.id, 100, "cash", "", datetime(2026, 11, 20, 12))


def test_payments_only_for_finalized_visits(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    with pytest.raises(FrozenVisitError, match=f"visit {visit.id} is open"):
        repo.record_payment(visit.id, 100, "cash", "", T0)
    with pytest.raises(NotFoundError, match="visit 999 not found"):
        repo.record_payment(999, 100, "cash", "", T0)
    done = finalized_visit(clinic, T0 + timedelta(hours=2))
    repo.void_visit(done.id, "entered twice", "avery", T0 + timedelta(hours=3))
    with pytest.raises(FrozenVisitError, match="is void"):
        repo.record_payment(done.id, 100, "cash", "", T0 + timedelta(hours=3))
    assert repo.conn.execute("SELECT count(*) FROM payments").fetchone()[0] == 0


def test_a_voided_payment_is_kept_audited_and_left_out_of_totals(clinic):
    repo = clinic.repo
    visit = finalized_visit(clinic)
    wrong = repo.record_payment(visit.id, 9000, "card", "", T0 + timedelta(hours=1), "desk")
    right = repo.record_payment(visit.id, 900, "card", "", T0 + timedelta(hours=1, minutes=1))
    with pytest.raises(InvalidDataError, match="reason"):
        repo.void_payment(wrong.id, "  ", user="desk")
    voided = repo.void_payment(wrong.id, "keyed $90 for $9", user="lead",
                               at=T0 + timedelta(hours=2))
    assert voided.is_void and voided.voided_by == "lead"
    assert voided.void_reason == "keyed $90 for $9"
    assert voided.voided_at == T0 + timedelta(hours=2)
    assert repo.paid_cents([visit.id]) == {visit.id: 900}
    assert [p.id for p in repo.payments_for(visit.id)] == [wrong.id, right.id]
    assert [p.id for p in repo.payments_for(visit.id, include_void=False)] == [right.id]
    entry = repo.audit_entries("visit", visit.id)[0]
    assert entry.action == "payment voided" and entry.user == "lead"
    assert json.loads(entry.detail)["reason"] == "keyed $90 for $9"
    with pytest.raises(InvalidDataError, match="already void"):
        repo.void_payment(wrong.id, "again", user="lead")
    with pytest.raises(NotFoundError, match="payment 999"):
        repo.void_payment(999, "nope")
    assert repo.audit_verify() is None


def test_the_database_refuses_deleting_or_editing_a_payment(clinic):
    repo = clinic.repo
    visit = finalized_visit(clinic)
    payment = repo.record_payment(visit.id, 500, "cash", "", T0 + timedelta(hours=1))
    with pytest.raises(REFUSED, match="void one instead"):
        repo.conn.execute("DELETE FROM payments")
    with pytest.raises(REFUSED, match="only changes by being voided"):
        repo.conn.execute("UPDATE payments SET cents = 50")
    with pytest.raises(REFUSED, match=CHECK_FAILED):
        repo.conn.execute("INSERT INTO payments (visit_id, cents, method, received_at, user)"
                          " VALUES (?, 0, 'cash', 'x', 'y')", (visit.id,))
    repo.void_payment(payment.id, "mistake")
    with pytest.raises(REFUSED, match="only changes by being voided"):
        repo.conn.execute("UPDATE payments SET void_reason = 'other'")
    assert repo.get_payment(payment.id).void_reason == "mistake"


def test_an_amendment_carries_the_payments_of_the_visit_it_replaces(clinic):
    repo = clinic.repo
    visit = finalized_visit(clinic)
    repo.record_payment(visit.id, 2000, "check", "#77", T0 + timedelta(hours=1))
    amended = repo.amend_visit(visit.id, "wrong minutes", "avery", T0 + timedelta(hours=2))
    repo.finalize_visit(amended.id, None, "avery", T0 + timedelta(hours=2, minutes=1))
    repo.record_payment(amended.id, 500, "cash", "", T0 + timedelta(hours=3))
    assert repo.paid_cents([amended.id, visit.id]) == {amended.id: 2500, visit.id: 2000}
    assert [p.cents for p in repo.payments_for(amended.id)] == [2000, 500]


def test_payments_survive_reopening_the_file(store_target):
    path = store_target
    repo = open_repository(path)
    clinic = build_clinic(repo)
    visit = finalized_visit(clinic)
    repo.record_payment(visit.id, 4321, "other", "HSA card", T0 + timedelta(hours=1), "desk")
    repo.close()
    repo = open_repository(path)
    (payment,) = repo.payments_for(visit.id)
    assert (payment.cents, payment.method, payment.reference, payment.user) == (
        4321, "other", "HSA card", "desk")
    assert repo.paid_cents([visit.id]) == {visit.id: 4321}
    repo.close()
