"""Payment kinds (patient, insurance, adjustment, write-off) and what payers need (taxonomy,
payer ID and address, a plan's referral and onset), as the store keeps and refuses them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import pytest

from tests.sql_dialect import REFUSED
from therapy_timer.storage.errors import InvalidDataError

from .conftest import T0
from .test_payments import finalized_visit


def test_kinds_are_stored_totalled_and_audited(clinic):
    repo = clinic.repo
    visit = finalized_visit(clinic)  # $90.00
    repo.record_payment(visit.id, 4000, "check", "EOB 7", T0, user="desk", kind="insurance")
    repo.record_payment(visit.id, 1500, "card", "contractual", T0, user="desk",
                        kind="adjustment")
    repo.record_payment(visit.id, 500, "cash", "", T0, user="desk")
    wrong = repo.record_payment(visit.id, 900, "cash", "", T0, user="desk", kind="write-off")
    repo.void_payment(wrong.id, "entered on the wrong visit", user="desk", at=T0)
    kinds = [(p.kind, p.method, p.cents) for p in repo.payments_for(visit.id)]
    # An adjustment moves no money: stored as "other" whatever method was passed.
    assert kinds == [("insurance", "check", 4000), ("adjustment", "other", 1500),
                     ("patient", "cash", 500), ("write-off", "other", 900)]
    credits = repo.payment_totals([visit.id])[visit.id]
    assert (credits.patient, credits.insurance, credits.adjustment, credits.write_off) == (
        500, 4000, 1500, 0)  # the void write-off counts nothing
    assert repo.paid_cents([visit.id]) == {visit.id: 6000}  # everything off the balance
    assert repo.payment_breakdown([visit.id]) == {
        ("insurance", "check"): 4000, ("adjustment", "other"): 1500, ("patient", "cash"): 500}
    entry = next(e for e in repo.audit_entries("visit", visit.id)
                 if e.action == "payment" and json.loads(e.detail)["cents"] == 1500)
    assert json.loads(entry.detail)["kind"] == "adjustment"


def test_an_unknown_kind_is_refused_and_the_database_keeps_kinds_fixed(clinic):
    repo = clinic.repo
    visit = finalized_visit(clinic)
    with pytest.raises(InvalidDataError, match="payment kind 'refund' is not one of patient, "
                                               "insurance, adjustment, write-off"):
        repo.record_payment(visit.id, 100, "cash", kind="refund")
    assert repo.payments_for(visit.id) == []
    paid = repo.record_payment(visit.id, 100, "cash", at=T0)
    with pytest.raises(REFUSED, match="only changes by being voided"):
        repo.conn.execute("UPDATE payments SET kind = 'write-off' WHERE id = ?", (paid.id,))


def test_payment_totals_answer_every_asked_visit(clinic):
    repo = clinic.repo
    first = finalized_visit(clinic)
    second = finalized_visit(clinic, start=T0 + timedelta(hours=2))
    repo.record_payment(first.id, 700, "card", kind="insurance")
    totals = repo.payment_totals([first.id, second.id])
    assert totals[first.id].insurance == 700 and totals[second.id].total == 0
    assert repo.payment_totals([]) == {}


def test_taxonomy_payer_id_and_address_are_stored_and_checked(clinic):
    repo = clinic.repo
    saved = repo.save_provider(replace(clinic.pt, taxonomy=" 225100000x "))
    assert saved.taxonomy == "225100000X"
    with pytest.raises(InvalidDataError, match="must be 10 characters"):
        repo.save_provider(replace(clinic.pt, taxonomy="225100X"))
    payer = repo.save_payer(replace(clinic.medicare, payer_code="04412",
                                    address="PO Box 1\nSpringfield, IL"))
    assert (payer.payer_code, payer.address) == ("04412", "PO Box 1\nSpringfield, IL")
    with pytest.raises(InvalidDataError, match="payer ID"):
        repo.save_payer(replace(clinic.medicare, payer_code="no spaces"))
    assert repo.get_payer(clinic.medicare.id).payer_code == "04412"


def test_a_plan_keeps_its_referral_and_onset(clinic):
    repo = clinic.repo
    plan = repo.save_plan(replace(clinic.plan, referring_name=" Dr. Jordan Ellis (test) ",
                                  referring_npi="1234567893", onset_date=date(2026, 10, 1)))
    again = repo.get_plan(plan.id)
    assert (again.referring_name, again.referring_npi, again.onset_date) == (
        "Dr. Jordan Ellis (test)", "1234567893", date(2026, 10, 1))
    with pytest.raises(InvalidDataError, match="fails its check digit"):
        repo.save_plan(replace(clinic.plan, referring_npi="1234567890"))
    assert repo.get_plan(plan.id).referring_npi == "1234567893"
