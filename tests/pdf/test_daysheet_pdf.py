"""The day sheet PDF read back: per-provider rows, open visits flagged, subtotals and totals."""

from __future__ import annotations

import dataclasses
from datetime import date

from tests.pdf.conftest import fonts_used, pages_text
from tests.pdf.samples import PRACTICE, PROVIDER, daysheet
from therapy_timer.core.superbill import DaySheetData, DaySheetLine, DaySheetVisit, ProviderDay
from therapy_timer.pdf import render_daysheet


def test_day_sheet_fields_subtotals_and_totals(render):
    data = daysheet()
    pdf = render(render_daysheet, data)
    pages = pages_text(pdf)
    assert len(pages) == 1
    text = pages[0]
    expected = [
        "Smith & Jones PT", "DAY SHEET", "03/02/2026 to 03/03/2026", "3 visit(s) billed, 1 open",
        "Zoë Núñez, PT, DPT NPI 1558598797",
        "Date Visit Patient Chart Payer Code Modifiers Units Charge",
        "03/02/2026 4711 李小龙 C-000123 Medicare Part B 97110 GP CQ KX 1 $42.00",
        "97110 GP KX 1 $42.00 97140 GP 1 $39.00 97530 XU GP 1 $45.00",
        "03/02/2026 4712 Zoë Núñez C-000124 Blue Cross & Blue Shield 97161 GP 1 $110.00",
        "97110 GP 2 $84.00",
        "03/03/2026 4713 Ann <Lee> C-000125 Aetna OPEN: not billable yet —",
        "Subtotal: 2 visit(s) billed, 1 open (not billable yet) 7 $362.00",
        "Sam O'Neil, OT NPI 1234567893",
        "03/02/2026 4720 Jane Roe C-000200 Self-pay 97165 GO 1 $120.00 97535 GO CO 2 $80.00",
        "Subtotal: 1 visit(s) billed 3 $200.00",
        "Visits billed 3", "Visits open (not billable yet) 1", "Units 10",
        "Payments received $25.00", "Total charges $562.00",
        "Page 1 of 1",
    ]
    missing = [item for item in expected if item not in text]
    assert not missing, f"missing: {missing}\n\n{text}"
    assert data.charges_cents == 56200 and data.units == 10
    assert "DroidSansFallback" in fonts_used(pdf)


def test_open_visit_counts_toward_nothing():
    data = daysheet()
    open_visit = data.providers[0].visits[2]
    assert open_visit.is_open and open_visit.lines
    assert open_visit.units == 0 and open_visit.charges_cents == 0
    assert data.providers[0].open_visits == 1


def test_long_day_sheet_paginates_with_headers(render):
    visits = tuple(
        DaySheetVisit(n, date(2026, 3, 2), f"Patient {n:03d}", f"C-{n:03d}", "Aetna",
                      (DaySheetLine("97110", ("GP",), 2, 8400),
                       DaySheetLine("97140", ("GP",), 1, 3900)))
        for n in range(1, 41)
    )
    data = DaySheetData(PRACTICE, date(2026, 3, 2), date(2026, 3, 2),
                        (ProviderDay(PROVIDER, visits),))
    pages = pages_text(render(render_daysheet, data))
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert ("Continued: Smith & Jones PT · Day sheet 03/02/2026" in page) == (number > 1)
        if "Patient 0" in page:
            assert "Date Visit Patient Chart Payer Code Modifiers Units Charge" in page
    whole = " ".join(pages)
    assert all(whole.count(f"Patient {n:03d}") == 1 for n in range(1, 41))
    assert "Subtotal: 40 visit(s) billed 120 $4,920.00" in whole
    assert "Total charges $4,920.00" in whole


def test_empty_period(render):
    data = dataclasses.replace(daysheet(), providers=())
    text = pages_text(render(render_daysheet, data))[0]
    assert "No visits in this period." in text
    assert "Total charges $0.00" in text


def test_the_day_sheet_prints_the_audit_checkpoint(render):
    """Issue 11, item 8: the paper keeps the chain's head, for ``verify --checkpoint``."""
    data = dataclasses.replace(daysheet(), checkpoint=(12345, "3f2a9c1b0d4e7788" + "0" * 48))
    text = " ".join(pages_text(render(render_daysheet, data)))
    assert ("Audit log checkpoint: entry 12,345, 3f2a 9c1b 0d4e 7788. Keep this sheet:"
            " therapy-timer verify --checkpoint 12345:3f2a9c1b0d4e7788 shows the log still"
            " holds this entry unchanged.") in text
    assert "Audit log checkpoint" not in " ".join(pages_text(render(render_daysheet,
                                                                   daysheet())))
