"""Superbills and day sheets assembled from a real repository, then rendered and read back."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.pdf.clinic import DAY, DIAGNOSES
from tests.pdf.conftest import pages_text
from therapy_timer.core.model import BillingError, Rule
from therapy_timer.core.superbill_build import (
    NotBillableError,
    billable_visit_ids,
    days,
    daysheet_for_range,
    split_address,
    superbill_for_visit,
)
from therapy_timer.pdf import render_daysheet, render_superbill


def describe(code: str) -> str:
    return {"M54.50": "Low back pain, unspecified"}.get(code, "")


def test_superbill_from_a_finalized_medicare_visit(demo, render):
    data = superbill_for_visit(demo.repo, demo.main_visit, describe)
    assert data.practice.name == "Smith & Jones PT"
    assert data.practice.address == ("100 Main St, Suite 2", "Springfield, IL 62701")
    assert data.provider.display_name == "Zoë Núñez, PT, DPT"
    assert data.patient.name == "李, 小龙" and data.patient.chart_number == "C-000123"
    assert data.insurance.payer == "Medicare Part B"
    assert data.insurance.member_id == "1EG4TE5MK73"
    assert [d.code for d in data.diagnoses] == list(DIAGNOSES)
    assert data.diagnoses[0].description == "Low back pain, unspecified"
    stored = demo.repo.charge_lines(demo.main_visit)
    assert [(x.code, x.modifiers, x.units, x.total_cents) for x in data.lines] == [
        (c.code, c.modifiers, c.units, c.charge_cents) for c in stored]
    assert {"CQ", "KX", "XU"} <= {m for line in data.lines for m in line.modifiers}
    assert data.charges_cents == sum(c.charge_cents for c in stored)
    doc = data.documentation
    assert doc.rule is Rule.CMS
    assert (doc.total_timed_minutes, doc.total_treatment_minutes) == (53, 53)
    assert doc.session_start.strftime("%H:%M %Z") == "09:00 CST"
    assert doc.session_end.strftime("%H:%M") == "09:55"
    assert {(c.code, c.minutes, c.units) for c in doc.code_minutes} == {
        ("97140", 15, 1), ("97530", 15, 1), ("97110", 23, 2)}
    [xu] = doc.distinct
    assert (xu.code, xu.modifier, xu.other_code) == ("97530", "XU", "97140")
    assert [(s.start.strftime("%H:%M"), s.end.strftime("%H:%M")) for s in xu.spans] == [
        ("09:16", "09:31")]
    assert [(s.start.strftime("%H:%M"), s.end.strftime("%H:%M")) for s in xu.other_spans] == [
        ("09:00", "09:15")]
    assert [(r.code, r.modifier, r.units) for r in doc.assistant] == [("97110", "CQ", 1)]
    assert {r.modifier for r in doc.other_reasons} == {"KX"}
    assert data.signature.signed_on == DAY

    text = " ".join(pages_text(render(render_superbill, data)))
    for item in [
        "李, 小龙", "Zoë Núñez, PT, DPT", "Smith & Jones PT", "Date of service 11/20/2026",
        "A M54.50 Low back pain, unspecified", "B R26.89", "C M62.81",
        "11/20/2026 97530 Therapeutic activities XU GP KX A,B,C 1 $52.00 $52.00",
        "11/20/2026 97110 Therapeutic exercise GP CQ KX A,B,C 1 $45.00 $45.00",
        "11/20/2026 97110 Therapeutic exercise GP KX A,B,C 1 $45.00 $45.00",
        "Total charges $192.00", "Balance due $192.00",
        "Session 9:00–9:55 AM CST", "Total timed code minutes 53 min",
        "97530 XU: distinct from 97140. 97530: 9:16–9:31 AM (PT); 97140: 9:00–9:15 AM (PT).",
        "97110 CQ, 1 unit(s)", "97110 KX (2 units)", "97530 KX (1 unit)",
    ]:
        assert item in text, item


def test_open_and_unknown_visits_have_no_superbill(demo):
    with pytest.raises(NotBillableError, match="still open"):
        superbill_for_visit(demo.repo, demo.open_visit)
    from therapy_timer.storage.repository import NotFoundError

    with pytest.raises(NotFoundError):
        superbill_for_visit(demo.repo, 999)


def test_amended_visit_points_at_its_replacement(demo):
    demo.repo.amend_visit(demo.self_pay_visit, "wrong code", "Casey Moor",
                          datetime.fromisoformat("2026-11-20T20:00:00+00:00"))
    with pytest.raises(NotBillableError, match="amended"):
        superbill_for_visit(demo.repo, demo.self_pay_visit)


def test_self_pay_visit_has_no_insurance(demo):
    data = superbill_for_visit(demo.repo, demo.self_pay_visit)
    assert data.insurance is None
    assert data.discipline == "OT"
    assert all("GO" in line.modifiers for line in data.lines)


def test_day_sheet_from_the_store(demo, render):
    sheet = daysheet_for_range(demo.repo, DAY, DAY, now=datetime.fromisoformat(
        "2026-11-20T23:00:00+00:00"))
    assert [p.provider.name for p in sheet.providers] == ["Casey Moor", "Zoë Núñez"]
    ot, pt = sheet.providers
    assert [v.is_open for v in ot.visits] == [False, True]
    assert pt.visits[0].payer == "Medicare Part B" and ot.visits[0].payer == "Self-pay"
    stored = sum(c.charge_cents for v in (demo.main_visit, demo.self_pay_visit)
                 for c in demo.repo.charge_lines(v))
    assert sheet.charges_cents == stored
    assert sheet.open_visits == 1 and sheet.billable_visits == 2
    text = " ".join(pages_text(render(render_daysheet, sheet)))
    assert "OPEN: not billable yet" in text
    assert "O'Hara & Co, Ann" in text
    cents = sheet.charges_cents
    assert f"Total charges ${cents // 100:,}.{cents % 100:02d}" in text


def test_billable_visits_and_ranges(demo):
    assert billable_visit_ids(demo.repo, DAY, DAY) == [demo.main_visit, demo.self_pay_visit]
    assert billable_visit_ids(demo.repo, date(2026, 11, 21), date(2026, 11, 22)) == []
    assert len(days(date(2026, 1, 1), date(2026, 12, 31))) == 365
    with pytest.raises(BillingError, match="before it starts"):
        days(date(2026, 1, 2), date(2026, 1, 1))
    with pytest.raises(BillingError, match="at most 366"):
        days(date(2026, 1, 1), date(2062, 1, 1))


def test_split_address():
    assert split_address("1 Main St\n\n  Town, ST 00000 ") == ("1 Main St", "Town, ST 00000")
    assert split_address("") == ()


def test_second_visit_of_a_pooled_day_says_so(demo, render):
    from tests.pdf.clinic import t

    repo = demo.repo
    first = repo.get_visit(demo.main_visit)
    again = repo.start_visit(first.patient_id, first.provider_id, first.plan_id, t(300))
    repo.add_interval(again.id, "97110", "PT", t(300), t(310), reason="test", user="test",
                      now=t(320))
    repo.set_diagnoses(again.id, ("M54.50",), validate=False)
    repo.finalize_visit(again.id, None, "Zoë Núñez", t(330))
    data = superbill_for_visit(repo, again.id)
    doc = data.documentation
    assert doc.total_timed_minutes == 10
    assert [c.code for c in doc.code_minutes] == ["97110"]
    assert any(f"Billed together with visit(s) {demo.main_visit}" in n for n in doc.notes)
    text = " ".join(pages_text(render(render_superbill, data)))
    assert f"Billed together with visit(s) {demo.main_visit} the same day" in text
