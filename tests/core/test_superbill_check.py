"""The one check behind every "this superbill is not usable" warning (issue 16, item 15), and
the balance split and payment kinds the superbill prints (item 14). Pure: no database."""

from __future__ import annotations

from datetime import date

import pytest

from therapy_timer.core.model import BillingError, Discipline, Performer
from therapy_timer.core.records import InsurancePolicy, Payer, Practice, Provider
from therapy_timer.core.superbill import Credits, DaySheetData, PaymentLine
from therapy_timer.core.superbill import Practice as PrintedPractice
from therapy_timer.core.superbill_check import Gap, describe_gaps, superbill_gaps

READY = Practice("Harbor Test Therapy", "1 Main St", npi="1234567893", tax_id="12-3456789")
PT = Provider("Dana Test", Discipline.PT, Performer.PT, npi="1558598797")
MEDICARE = Payer("Medicare (test)", medicare=True, id=1)
POLICY = InsurancePolicy(1, 1, member_id="1EG4TE5MK72")


def test_a_new_clinic_is_told_everything_and_where_to_set_it():
    gaps = superbill_gaps(Practice("New Clinic"), Provider("Dana Test", Discipline.PT,
                                                           Performer.PT),
                          [("97110", 0), ("97140", 0), ("97110", 0)], MEDICARE, POLICY)
    assert [str(g) for g in gaps] == [
        "No group NPI for the practice: set it in Settings > Practice",
        "No Tax ID (EIN) for the practice: set it in Settings > Practice",
        "No NPI for Dana Test, the rendering provider: set it in Settings > Providers",
        "No fee for 97110: set it in Settings > Fee schedule",
        "No fee for 97140: set it in Settings > Fee schedule",
    ]
    assert describe_gaps(gaps[3:4]) == "No fee for 97110: set it in Settings > Fee schedule"


def test_no_practice_at_all():
    gaps = superbill_gaps(None, PT, [("97110", 4500)])
    assert gaps[0] == Gap("The practice's name and address are not set up",
                          "Settings > Practice")
    assert len(gaps) == 3


def test_a_ready_clinic_has_no_gaps():
    assert superbill_gaps(READY, PT, [("97110", 4500), ("97140", 4600)], MEDICARE,
                          POLICY) == ()


def test_medicare_bundled_hot_pack_at_zero_is_on_purpose():
    # 97010 is bundled by Medicare: listed at $0 deliberately, not a missing fee...
    assert superbill_gaps(READY, PT, [("97010", 0)], MEDICARE, POLICY) == ()
    # ...but another payer pays it: a $0 fee there is a missing fee.
    other = Payer("Acme (test)", id=2)
    gaps = superbill_gaps(READY, PT, [("97010", 0)], other,
                          InsurancePolicy(1, 2, member_id="A1"))
    assert [g.what for g in gaps] == ["No fee for 97010"]


def test_member_id_is_checked_for_insured_patients_only():
    gaps = superbill_gaps(READY, PT, [("97110", 4500)], MEDICARE,
                          InsurancePolicy(1, 1, member_id=" "))
    assert [str(g) for g in gaps] == [
        "No member ID for Medicare (test): set it in the patient's Insurance tab"]
    assert superbill_gaps(READY, PT, [("97110", 4500)], Payer("Self-pay", self_pay=True),
                          None) == ()


def test_credits_by_kind():
    credits = Credits.of({"patient": 500, "insurance": 4000, "adjustment": 1500,
                          "write-off": 100})
    assert (credits.received, credits.adjusted, credits.total) == (4500, 1600, 6100)
    with pytest.raises(BillingError, match="unknown payment kind"):
        Credits.of({"barter": 1})


def _superbill(**changes):
    from dataclasses import replace

    from tests.pdf.samples import superbill

    return replace(superbill(), **changes)


def test_balance_split_rests_on_allowed_amounts():
    from tests.pdf.samples import DAY
    from therapy_timer.core.superbill import ServiceLine

    lines = (ServiceLine(DAY, "97110", "Therapeutic exercise", ("GP",), ("A",), 2, 4500, 30,
                         3000),  # allowed $30.00 a unit
             ServiceLine(DAY, "97140", "Manual therapy", ("GP",), ("A",), 1, 2000, 15, 2500))
    data = _superbill(lines=lines, paid_cents=0)
    # Allowed never exceeds the charge: 2 x 30 + min(25, 20) = 80.
    assert (data.charges_cents, data.allowed_cents) == (11000, 8000)
    # Insurance is expected to pay its allowed amounts; the $30 above them is shown apart
    # (not the patient's when the clinic accepts the payer's allowed amounts).
    assert (data.expected_insurance_cents, data.above_allowed_cents,
            data.patient_owes_cents) == (8000, 3000, 0)
    # Insurance paid $60 of its $80 (the EOB leaves $20 coinsurance); the desk has not yet
    # adjusted off the $30 above the allowed amounts: the patient owes the $20.
    paid = _superbill(lines=lines, paid_cents=6000, insurance_paid_cents=6000)
    assert paid.balance_cents == 5000
    assert (paid.expected_insurance_cents, paid.above_allowed_cents,
            paid.patient_owes_cents) == (0, 3000, 2000)
    # Once the $30 is recorded as an adjustment, the balance is the patient's $20.
    adjusted = _superbill(lines=lines, paid_cents=6000, insurance_paid_cents=6000,
                          adjusted_cents=3000)
    assert (adjusted.balance_cents, adjusted.above_allowed_cents,
            adjusted.patient_owes_cents) == (2000, 0, 2000)
    # The patient paid $5 before insurance did: still expected from insurance, less nothing.
    early = _superbill(lines=lines, paid_cents=500)
    assert (early.expected_insurance_cents, early.above_allowed_cents,
            early.patient_owes_cents) == (8000, 2500, 0)
    settled = _superbill(lines=lines, paid_cents=11000, insurance_paid_cents=0)
    assert (settled.expected_insurance_cents, settled.patient_owes_cents) == (0, 0)
    credit = _superbill(lines=lines, paid_cents=12000, insurance_paid_cents=8000)
    assert credit.patient_owes_cents == -1000  # an overpayment: a credit
    # No allowed amounts known, or self-pay: no estimate, the patient line is the balance.
    unknown = _superbill(paid_cents=0)
    assert not unknown.insurance_estimated and unknown.expected_insurance_cents == 0
    assert unknown.patient_owes_cents == unknown.balance_cents
    assert _superbill(lines=lines, insurance=None, paid_cents=0).patient_owes_cents == 11000
    with pytest.raises(BillingError, match="insurance paid is part of the amount paid"):
        _superbill(paid_cents=100, insurance_paid_cents=200)


def test_day_sheet_payments_by_kind_and_method():
    day = date(2026, 3, 2)
    sheet = DaySheetData(PrintedPractice("Harbor Test Therapy"), day, day, (), payments=(
        PaymentLine("patient", "card", 2500), PaymentLine("insurance", "card", 1000),
        PaymentLine("insurance", "check", 6000), PaymentLine("adjustment", "other", 700),
        PaymentLine("write-off", "other", 300)))
    assert sheet.by_kind == (("Patient payment", 2500), ("Insurance payment", 7000),
                             ("Adjustment", 700), ("Write-off", 300))
    assert sheet.by_method == (("Check", 6000), ("Card", 3500))
    assert sheet.adjusted_cents == 1000
    assert sheet.period == "03/02/2026"
