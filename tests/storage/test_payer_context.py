"""Which payer a visit bills under (issue 10, items 5 and 9), against a real SQLite file.

- A Medicare payer with the per-code rule is refused by the store, naming why.
- A patient with no insurance bills under the clinic's self-pay payer and its switches; with
  none set up, under an explicit self-pay context: no GP/GO/GN, CQ/CO, KX or NCCI (59/XU).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from therapy_timer.core.model import Rule
from therapy_timer.core.records import Patient, Payer, PlanOfCare
from therapy_timer.storage.errors import InvalidDataError

from .conftest import T0, build_clinic


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


@pytest.fixture
def clinic(repo):
    return build_clinic(repo)


def test_store_refuses_a_medicare_payer_with_the_per_code_rule(clinic):
    repo = clinic.repo
    with pytest.raises(InvalidDataError) as refused:
        repo.save_payer(Payer("Medicare Railroad (test)", Rule.PER_CODE, medicare=True))
    assert str(refused.value) == (
        "Medicare Railroad (test): Medicare must use the CMS total-time rule (the 8-minute rule "
        "of Pub 100-04 ch. 5 s. 20.2), not the per-code rule")
    assert "Medicare Railroad (test)" not in [p.name for p in repo.list_payers()]
    # Changing an existing Medicare payer to per-code is refused the same way.
    from dataclasses import replace

    with pytest.raises(InvalidDataError, match="CMS total-time rule"):
        repo.save_payer(replace(clinic.medicare, rule=Rule.PER_CODE))
    assert repo.get_payer(clinic.medicare.id).rule is Rule.CMS


def _uninsured_visit(clinic):
    """A PT and a PTA share 97110; 97140 then 97530 in distinct time (an NCCI pair)."""
    repo = clinic.repo
    patient = repo.save_patient(Patient("Testc", "Patientc", date(1970, 1, 2), "F",
                                        chart_number="S-0003"))
    plan = repo.save_plan(PlanOfCare(patient.id, clinic.plan.discipline, clinic.pt.id,
                                     date(2026, 11, 1)))
    visit = repo.start_visit(patient.id, clinic.pt.id, plan.id, T0)
    repo.start_interval(visit.id, "97110", "PTA", T0)
    repo.start_interval(visit.id, "97140", "PT", T0 + minutes(15))
    repo.start_interval(visit.id, "97530", "PT", T0 + minutes(30))
    repo.pause_visit(visit.id, T0 + minutes(45))
    return visit


def test_uninsured_patient_without_a_self_pay_payer_gets_no_insurer_modifiers(clinic):
    visit = _uninsured_visit(clinic)
    billing = clinic.repo.bill_visit(visit.id, T0 + minutes(46))
    assert [(c.code, c.modifiers, c.units) for c in billing.claim_lines()] == [
        ("97110", (), 1), ("97140", (), 1), ("97530", (), 1)]
    assert billing.suggestions == ()
    assert not [w for w in billing.warnings if "NCCI" in w]
    assert not [w for w in billing.warnings if "85%" in w]
    # Before: the built-in insurer defaults gave GP, CQ ("Medicare pays ... at 85%") and XU.
    assert billing.context.therapy_modifiers is False
    assert billing.context.assistant_modifiers is False
    assert billing.context.ncci_edits is False


def test_uninsured_patient_bills_under_the_clinics_self_pay_payer(clinic):
    repo = clinic.repo
    repo.save_payer(Payer("Self-pay (test)", Rule.PER_CODE, therapy_modifiers=True,
                          self_pay=True, allowed_cents={"97110": 2000}))
    visit = _uninsured_visit(clinic)
    billing = repo.bill_visit(visit.id, T0 + minutes(46))
    assert billing.context.rule is Rule.PER_CODE  # the clinic's self-pay rule, not CMS
    assert [(c.code, c.modifiers, c.units) for c in billing.claim_lines()] == [
        ("97110", ("GP",), 1), ("97140", ("GP",), 1), ("97530", ("GP",), 1)]
    assert billing.suggestions == ()  # assistant modifiers off; no NCCI for self-pay
    assert not [w for w in billing.warnings if "NCCI" in w]
    assert billing.context.allowed_cents == {"97110": 2000}


def test_insured_patient_keeps_the_payers_switches(clinic):
    repo = clinic.repo
    repo.save_payer(Payer("Self-pay (test)", Rule.PER_CODE, self_pay=True))
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97140", "PT", T0)
    repo.start_interval(visit.id, "97530", "PTA", T0 + minutes(15))
    repo.pause_visit(visit.id, T0 + minutes(30))
    billing = repo.bill_visit(visit.id, T0 + minutes(31))
    assert billing.context.medicare and billing.context.rule is Rule.CMS
    assert {(s.code, s.modifier) for s in billing.suggestions} == {("97530", "XU"),
                                                                   ("97530", "CQ")}


def test_a_medicare_per_code_payer_stored_by_an_older_version_is_refused_not_billed(clinic):
    from tests.sql_dialect import outside
    from therapy_timer.core.model import BillingError

    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", "PT", T0)
    repo.pause_visit(visit.id, T0 + minutes(20))
    conn = outside(repo.path)  # as an older version could have saved it
    conn.execute("UPDATE payers SET rule = 'per-code' WHERE id = ?", (clinic.medicare.id,))
    conn.commit()
    conn.close()
    with pytest.raises(BillingError, match="Medicare must use the CMS total-time rule"):
        repo.bill_visit(visit.id, T0 + minutes(21))
    # The day's list still opens; the visit shows no units rather than per-code ones.
    assert [s.units for s in repo.visits_on(visit.day, T0 + minutes(21))] == [0]
