"""Recorded payments reach the superbill (amount paid, balance due) and the day sheet (payments
recorded); voided payments do not."""

from __future__ import annotations

from datetime import datetime

from tests.pdf.clinic import DAY, t
from tests.pdf.conftest import pages_text
from therapy_timer.core.superbill import DaySheetData
from therapy_timer.core.superbill_build import (
    daysheet_for_range,
    paid_by_visit,
    superbill_for_visit,
)
from therapy_timer.pdf import render_daysheet, render_superbill

EVENING = datetime.fromisoformat("2026-11-20T23:00:00+00:00")


def test_the_superbill_shows_what_was_paid_and_the_balance(demo, render):
    repo = demo.repo
    before = superbill_for_visit(repo, demo.main_visit)
    assert before.paid_cents == 0 and before.balance_cents == before.charges_cents
    repo.record_payment(demo.main_visit, 2000, "card", "slip 9", t(120), user="desk")
    wrong = repo.record_payment(demo.main_visit, 50000, "cash", "", t(121), user="desk")
    repo.void_payment(wrong.id, "typed an extra zero", user="desk", at=t(122))
    data = superbill_for_visit(repo, demo.main_visit)
    assert data.paid_cents == 2000
    # 97140 $50 + 97530 $52 + 97110 $45 x2 = $192.00, less the $20 card payment
    assert (data.charges_cents, data.balance_cents) == (19200, 17200)
    text = " ".join(pages_text(render(render_superbill, data)))
    assert "Amount paid $20.00" in text
    assert "Balance due $172.00" in text


def test_the_day_sheet_totals_payments_of_billable_visits(demo, render):
    repo = demo.repo
    repo.record_payment(demo.main_visit, 1500, "check", "#1001", t(120))
    repo.record_payment(demo.self_pay_visit, 2500, "cash", "", t(121))
    sheet: DaySheetData = daysheet_for_range(repo, DAY, DAY, now=EVENING)
    by_id = {v.visit_id: v for p in sheet.providers for v in p.visits}
    assert by_id[demo.main_visit].paid_cents == 1500
    assert by_id[demo.self_pay_visit].paid_cents == 2500
    assert by_id[demo.open_visit].paid_cents == 0
    assert sheet.paid_cents == 4000
    text = " ".join(pages_text(render(render_daysheet, sheet)))
    assert "Payments received $40.00" in text


def test_every_visit_asked_for_gets_an_amount_and_unpaid_ones_zero(demo):
    repo = demo.repo
    repo.record_payment(demo.main_visit, 1500, "check", "#1001", t(120))
    paid = paid_by_visit(repo, [demo.main_visit, demo.self_pay_visit])
    assert paid == {demo.main_visit: 1500, demo.self_pay_visit: 0}
    assert paid_by_visit(repo, []) == {}
