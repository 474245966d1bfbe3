"""What payers need, printed (issue 16, item 14): read back from the PDF with pdftotext.

Referring provider and NPI, plan certification and onset dates, the provider's and the
practice's taxonomy, the payer's ID and claims address, a secondary insurance, 97140's
technique and region, and the balance split between insurance and the patient. Each only when
the clinic has it: a superbill without them prints none of their labels."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from datetime import date

from tests.pdf.samples import DAY, INSURANCE, PRACTICE, PROVIDER, at, documentation, superbill
from therapy_timer.core.superbill import (
    Insurance,
    PaymentLine,
    PlanDates,
    ServiceLine,
    TechniqueNote,
)
from therapy_timer.pdf import render_daysheet, render_superbill


def pdftotext(pdf: bytes, tmp_path, layout: bool = True) -> str:
    """The PDF's text as poppler lays it out (`make test` installs poppler-utils; without it
    this fails, naming what is missing, rather than skip)."""
    assert shutil.which("pdftotext"), "pdftotext is missing: make test installs poppler-utils"
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return " ".join(out.split())


def _full():
    lines = (
        ServiceLine(DAY, "97140", "Manual therapy", ("GP",), ("A",), 1, 5000, 15, 2800),
        ServiceLine(DAY, "97110", "Therapeutic exercise", ("GP",), ("A",), 2, 4500, 30, 3000),
    )
    doc = replace(documentation(), techniques=(
        TechniqueNote("97140", "Soft tissue mobilization", "Lumbar spine", at(9, 23),
                      at(9, 38)),))
    return replace(
        superbill(), lines=lines, documentation=doc,
        practice=replace(PRACTICE, taxonomy="225100000X"),
        provider=replace(PROVIDER, taxonomy="2251X0800X"),
        insurance=replace(INSURANCE, payer_code="04412",
                          payer_address=("Part B Claims", "PO Box 1, Springfield, IL 62700")),
        secondary=Insurance("Blue Test Secondary", member_id="SEC-9", payer_code="BTS01"),
        plan=PlanDates(date(2026, 1, 5), date(2026, 4, 4), date(2025, 12, 15)),
        paid_cents=6500, insurance_paid_cents=4000, adjusted_cents=500)


def test_every_payer_item_is_printed(tmp_path):
    data = _full()
    # Charges 50 + 90 = 140; paid 65 (40 insurance), 5 adjusted: balance 70. Insurance has
    # paid: nothing more is expected from it. Allowed 28 + 60 = 88; 140 - 88 - 5 = 47 above the
    # allowed amounts (not the patient's when the clinic accepts them); the patient owes 23.
    assert (data.charges_cents, data.balance_cents) == (14000, 7000)
    assert (data.expected_insurance_cents, data.above_allowed_cents,
            data.patient_owes_cents) == (0, 4700, 2300)
    text = pdftotext(_render(data), tmp_path)
    for item in (
        "Taxonomy 225100000X",                       # the practice (billing provider)
        "Certified 01/05/2026 – 04/04/2026", "Onset 12/15/2025",
        "Payer ID 04412", "Claims to Part B Claims", "PO Box 1, Springfield, IL 62700",
        "Referring Dr. Ada O'Brien (NPI 1234567893)",
        "Secondary Blue Test Secondary", "Member ID SEC-9", "Payer ID BTS01",
        "Taxonomy 2251X0800X",                       # the rendering provider
        "Technique and body region",
        "97140 9:23–9:38 AM: Soft tissue mobilization, Lumbar spine",
        "Paid by insurance $40.00", "Paid by patient $25.00", "Amount paid $65.00",
        "Adjustments, write-offs -$5.00", "Balance due $70.00",
        "Above the allowed amounts $47.00", "Patient owes (estimate) $23.00",
    ):
        assert item in text, item
    assert "Rendering provider signature" in text
    assert "Page 1 of 1" in text  # all of it, with the busiest documentation, on one page


def _render(data) -> bytes:
    import io

    stream = io.BytesIO()
    render_superbill(data, stream)
    return stream.getvalue()


def test_nothing_the_clinic_lacks_is_printed(tmp_path):
    data = replace(superbill(), insurance=replace(INSURANCE, referring_provider="",
                                                  referring_npi=""))
    text = pdftotext(_render(data), tmp_path)
    for label in ("Taxonomy", "Payer ID", "Claims to", "Secondary", "Referring", "Certified",
                  "Onset", "Technique and body region", "Paid by insurance",
                  "Adjustments", "Insurance expected"):
        assert label not in text, label
    # Insured, but the payer has no allowed amounts: say so instead of guessing a split.
    assert "No allowed amounts for this payer" in text
    assert "Settings > Payers" in text


def test_self_pay_has_no_insurance_split(tmp_path):
    text = pdftotext(_render(replace(superbill(), insurance=None)), tmp_path)
    assert "Self-pay" in text
    assert "Insurance expected" not in text and "No allowed amounts" not in text


def test_the_day_sheet_totals_payments_by_kind_and_method(tmp_path):
    import io

    from tests.pdf.samples import daysheet

    sheet = replace(daysheet(), payments=(
        PaymentLine("patient", "card", 2500), PaymentLine("patient", "cash", 1000),
        PaymentLine("insurance", "check", 6000), PaymentLine("write-off", "other", 300)))
    stream = io.BytesIO()
    render_daysheet(sheet, stream)
    text = pdftotext(stream.getvalue(), tmp_path)
    for item in ("Patient payment $35.00", "Insurance payment $60.00", "Write-off $3.00",
                 "Card $25.00", "Cash $10.00", "Check $60.00",
                 "Adjustments and write-offs $3.00", "03/02/2026 to 03/03/2026"):
        assert item in text, item
    assert "Other $3.00" not in text  # a write-off moves no money: no method


def test_before_insurance_pays_it_is_expected_to_pay_its_allowed_amounts(tmp_path):
    data = replace(_full(), paid_cents=0, insurance_paid_cents=0, adjusted_cents=0)
    text = pdftotext(_render(data), tmp_path)
    for item in ("Insurance expected to pay $88.00", "Above the allowed amounts $52.00",
                 "Patient owes (estimate) $0.00", "Balance due $140.00"):
        assert item in text, item
    assert "Paid by insurance" not in text
