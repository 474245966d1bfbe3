"""Fees and allowed amounts by date of service (issue 12, item 4) and the clinic's own codes
(item 6), against a real SQLite file and a clinic server."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from therapy_timer.core.codes import CodeKind
from therapy_timer.core.fee_import import parse_fee_file
from therapy_timer.storage.errors import InvalidDataError
from therapy_timer.storage.repository import open_repository

from .conftest import build_clinic


def at(day: date, hour: int = 15) -> datetime:  # 15:00 UTC: 09:00 in Chicago, same day
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def clinic(store_target):
    # 2027's KX threshold is not shipped: 2026's stands in for it (the fallback, with its
    # notice), so these tests are about the fees alone.
    repo = open_repository(store_target)
    repo.clock = lambda: at(date(2027, 1, 2), 23)
    yield build_clinic(repo)
    repo.close()


def visit_with_97110(clinic, day: date, minutes: int = 30):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, at(day))
    repo.start_interval(visit.id, "97110", "PT", at(day))
    repo.stop_interval(repo.intervals_for(visit.id)[0].id, at(day) + timedelta(minutes=minutes))
    repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
    return visit


def test_a_change_on_1_january_leaves_31_december_at_the_old_amounts(clinic):
    """A 12/31 visit finalized after the 1/1 change keeps 2026's fee and allowed amount;
    one of 1/1 gets 2027's; the KX year-to-date of each year adds up its own year's."""
    repo = clinic.repo
    dec30, dec31 = visit_with_97110(clinic, date(2026, 12, 30)), \
        visit_with_97110(clinic, date(2026, 12, 31))
    repo.finalize_visit(dec30.id, None, "avery", at(date(2026, 12, 30), 16))
    # The new year's schedules arrive (fees and Medicare's allowed amounts from 1/1) ...
    fees = parse_fee_file("code,amount\n97110,48.00\n", "fees-2027.csv")
    allowed = parse_fee_file("97110,31.00\n", "medicare-2027.csv")
    repo.import_fees(fees, date(2027, 1, 1), source="fees-2027.csv", user="desk")
    repo.import_fees(allowed, date(2027, 1, 1), payer_id=clinic.medicare.id,
                     source="medicare-2027.csv", user="desk")
    # ... and the 12/31 visit is finalized on 1/2, after them.
    jan1, jan2 = visit_with_97110(clinic, date(2027, 1, 1)), \
        visit_with_97110(clinic, date(2027, 1, 2))
    repo.finalize_visit(dec31.id, None, "avery", at(date(2027, 1, 2), 17))
    repo.finalize_visit(jan1.id, None, "avery", at(date(2027, 1, 2), 18))

    def line(visit):
        [only] = repo.charge_lines(visit.id)
        return only.units, only.fee_cents, only.charge_cents, only.allowed_cents

    assert line(dec30) == (2, 4500, 9000, 3000)
    assert line(dec31) == (2, 4500, 9000, 3000)
    assert line(jan1) == (2, 4800, 9600, 3100)
    assert repo.kx_year_to_date(clinic.patient.id, 2026, "PT+SLP") == 12000
    assert repo.kx_year_to_date(clinic.patient.id, 2027, "PT+SLP") == 6200
    # The open 1/2 visit is priced and accrues at 2027's amounts, with 1/1 before it.
    context = repo.billing_context(repo.get_visit(jan2.id))
    assert context.fees_cents["97110"] == 4800
    assert context.allowed_cents["97110"] == 3100
    assert context.prior_kx_cents == 6200
    assert repo.fee_schedule(date(2026, 12, 31))["97110"] == 4500
    assert repo.allowed_on(clinic.medicare.id, date(2026, 12, 31)) == {
        "97110": 3000, "97112": 3200, "97140": 2800, "97530": 3300}
    assert repo.allowed_on(clinic.medicare.id, date(2027, 1, 1))["97110"] == 3100
    # The import is in the audit log with its file, date and what changed.
    [entry] = [e for e in repo.audit_entries("payer", clinic.medicare.id)
               if e.action == "import_fees"]
    assert (entry.user, json.loads(entry.detail)) == ("desk", {
        "from": "2027-01-01", "file": "medicare-2027.csv", "changed": 1, "new": 0,
        "unchanged": 0, "amounts": {"97110": 3100}})


def test_preview_says_what_changes_and_import_keeps_codes_left_out(clinic):
    repo = clinic.repo
    rows = parse_fee_file("97110,45.00\n97140,52.50\n97161,120.00\n", "f.csv")
    changes = repo.preview_fees(rows, date(2027, 1, 1))
    assert [(c.code, c.old_cents, c.new_cents, c.kind) for c in changes] == [
        ("97110", 4500, 4500, "unchanged"), ("97140", 5000, 5250, "changed"),
        ("97161", None, 12000, "new")]
    assert repo.fee_schedule(date(2027, 1, 1))["97140"] == 5000  # a preview writes nothing
    repo.import_fees(rows, date(2027, 1, 1))
    after = repo.fee_schedule(date(2027, 1, 1))
    assert (after["97140"], after["97161"], after["97530"]) == (5250, 12000, 5200)
    assert repo.fee_schedule(date(2026, 12, 31)).get("97161") is None


def test_an_amount_set_between_two_dated_entries_ends_before_the_later_one(clinic):
    repo = clinic.repo
    repo.save_fee("97110", 5000, date(2027, 7, 1))
    repo.save_fee("97110", 4700, date(2027, 1, 1))  # entered later, dated earlier
    assert [(e.cents, e.effective_from, e.effective_to) for e in repo.fee_entries()
            if e.code == "97110"] == [
        (4500, date(2026, 1, 1), date(2026, 12, 31)),
        (4700, date(2027, 1, 1), date(2027, 6, 30)),
        (5000, date(2027, 7, 1), None)]
    repo.save_fee("97110", 4750, date(2027, 1, 1))  # the same start replaces the amount
    assert repo.fee_schedule(date(2027, 3, 1))["97110"] == 4750
    assert repo.fee_schedule(date(2027, 8, 1))["97110"] == 5000


def test_payer_page_saves_amounts_from_a_date_and_keeps_the_earlier_ones(clinic):
    repo = clinic.repo
    payer = repo.get_payer(clinic.medicare.id)
    changed = {**payer.allowed_cents, "97110": 3150}
    del changed["97112"]
    from dataclasses import replace

    repo.save_payer(replace(payer, allowed_cents=changed), allowed_from=date(2027, 1, 1))
    assert repo.allowed_on(payer.id, date(2026, 12, 31))["97110"] == 3000
    assert "97112" in repo.allowed_on(payer.id, date(2026, 12, 31))
    assert repo.allowed_on(payer.id, date(2027, 1, 1)) == {
        "97110": 3150, "97140": 2800, "97530": 3300}
    # Saving again with nothing changed writes no entry.
    before = repo.allowed_entries(payer.id)
    repo.save_payer(repo.get_payer(payer.id), allowed_from=date(2027, 1, 1))
    assert repo.allowed_entries(payer.id) == before


def test_a_clinic_timed_code_bills_by_the_8_minute_rule(clinic):
    repo = clinic.repo
    info = repo.save_clinic_code("97799", "Unlisted rehab service (ours)", "timed", ["PT"],
                                 user="desk")
    assert (info.kind, info.clinic) == (CodeKind.TIMED, True)
    assert repo.code_catalog().get("97799").label == "Unlisted rehab service (ours)"
    repo.save_fee("97799", 4000, date(2026, 1, 1))
    day = date(2026, 12, 1)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, at(day))
    repo.start_interval(visit.id, "97799", "PT", at(day))
    repo.stop_interval(repo.intervals_for(visit.id)[0].id, at(day) + timedelta(minutes=22))
    assert repo.bill_visit(visit.id).total_units == 1  # 22 minutes: 1 unit
    repo.start_interval(visit.id, "97799", "PT", at(day) + timedelta(minutes=30))
    repo.stop_interval(repo.intervals_for(visit.id)[1].id, at(day) + timedelta(minutes=31))
    billing = repo.bill_visit(visit.id)  # 23 minutes: 2 units
    assert [(ln.code, ln.units, ln.charge_cents, ln.label) for ln in billing.lines] == [
        ("97799", 2, 8000, "Unlisted rehab service (ours)")]
    repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
    [line] = repo.finalize_visit(visit.id, None, "avery", at(day, 17))
    assert (line.code, line.units, line.modifiers) == ("97799", 2, ("GP",))


def test_clinic_code_checks(clinic):
    repo = clinic.repo
    with pytest.raises(InvalidDataError, match="may not reuse a shipped code's number"):
        repo.save_clinic_code("97110", "Mine", "timed", ["PT"])
    with pytest.raises(InvalidDataError, match="not a CPT/HCPCS code"):
        repo.save_clinic_code("9779", "Mine", "timed", ["PT"])
    with pytest.raises(InvalidDataError, match="needs a label"):
        repo.save_clinic_code("97799", "  ", "timed", ["PT"])
    with pytest.raises(InvalidDataError, match="at least one discipline"):
        repo.save_clinic_code("97799", "Mine", "timed", [])
    with pytest.raises(InvalidDataError, match="needs its primary code"):
        repo.save_clinic_code("97799", "Mine", "add-on", ["PT"])
    with pytest.raises(InvalidDataError, match="kind 'monthly'"):
        repo.save_clinic_code("97799", "Mine", "monthly", ["PT"])
    assert repo.clinic_codes() == []
    # An add-on bills with a warning when its primary is not billed that day.
    repo.save_clinic_code("0791T", "Extra gait minutes (ours)", "add-on", ["PT"],
                          addon_of="97116")
    day = date(2026, 12, 1)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, at(day))
    repo.start_interval(visit.id, "0791T", "PT", at(day))
    repo.stop_interval(repo.intervals_for(visit.id)[0].id, at(day) + timedelta(minutes=15))
    assert "0791T is an add-on of 97116: bill it only on a day 97116 is billed too (no " \
           "97116 unit today)" in repo.bill_visit(visit.id).warnings


def test_a_release_that_ships_a_clinic_code_keeps_the_clinic_row(clinic, monkeypatch):
    """A newer catalog shipping the clinic's number: the shipped row is used, the clinic's
    stored row stays (Settings lists it as shadowed)."""
    repo = clinic.repo
    repo.save_clinic_code("97799", "Ours", "untimed", ["PT"])
    from therapy_timer.core import codes

    shipped = codes.default_catalog()
    newer = codes.Catalog([*shipped.all(), codes.CodeInfo(
        "97799", "Shipped now", CodeKind.TIMED, (codes.Discipline.PT,), date(2014, 1, 1))])
    monkeypatch.setattr("therapy_timer.storage.rates.default_catalog", lambda: newer)
    assert repo.code_catalog().get("97799").label == "Shipped now"
    assert repo.shadowed_clinic_codes() == ["97799"]
    assert repo.conn.execute("SELECT label FROM clinic_codes").fetchone()[0] == "Ours"


def test_a_clinic_code_prints_on_the_superbill_with_its_label(clinic):
    from therapy_timer.core.superbill_build import superbill_for_visit

    repo = clinic.repo
    repo.save_clinic_code("97799", "Unlisted rehab service (ours)", "timed", ["PT"])
    repo.save_fee("97799", 4000, date(2026, 1, 1))
    day = date(2026, 12, 1)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, at(day))
    repo.start_interval(visit.id, "97799", "PT", at(day))
    repo.stop_interval(repo.intervals_for(visit.id)[0].id, at(day) + timedelta(minutes=38))
    repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
    repo.finalize_visit(visit.id, None, "avery", at(day, 17))
    data = superbill_for_visit(repo, visit.id)
    assert [(ln.code, ln.label, ln.units, ln.unit_cents) for ln in data.lines] == [
        ("97799", "Unlisted rehab service (ours)", 3, 4000)]
    assert [(c.code, c.label, c.minutes, c.units, c.timed)
            for c in data.documentation.code_minutes] == [
        ("97799", "Unlisted rehab service (ours)", 38, 3, True)]


_DAYS = [date(2026, 1, 1) + timedelta(days=n) for n in range(0, 800, 37)]


def test_any_order_of_dated_amounts_leaves_one_amount_a_day(store_maker):
    """Whatever order amounts are entered in, the amount in force on a day is the one with
    the latest start on or before it (the same start: the last one entered), and no two
    entries of a code overlap."""
    @store_maker.settings(40)
    @given(st.lists(st.tuples(st.sampled_from(_DAYS), st.integers(0, 99_999)), min_size=1,
                    max_size=8))
    def prop(entries):
        one_amount_a_day(store_maker(), entries)

    prop()


def one_amount_a_day(target, entries):
    repo = open_repository(target)
    try:
        for start, cents in entries:
            repo.save_fee("97110", cents, start)
        expected: dict[date, int] = {}
        for start, cents in entries:
            expected[start] = cents
        for day in [date(2025, 12, 31), *_DAYS, *(d + timedelta(days=1) for d in _DAYS)]:
            starts = [s for s in expected if s <= day]
            want = {"97110": expected[max(starts)]} if starts else {}
            assert repo.fee_schedule(day) == want, day
        stored = repo.fee_entries()
        for earlier, later in zip(stored, stored[1:], strict=False):
            assert earlier.effective_to == later.effective_from - timedelta(days=1)
        assert stored[-1].effective_to is None
    finally:
        repo.close()


def test_a_codes_first_allowed_amount_counts_from_the_start(clinic):
    """Saved on the payer page as of a date, a code the payer never had an amount for is in
    force for earlier dates too (nothing earlier to keep; KX would count $0.00 otherwise)."""
    from dataclasses import replace

    repo = clinic.repo
    payer = repo.get_payer(clinic.commercial.id)
    assert payer.allowed_cents == {}
    repo.save_payer(replace(payer, allowed_cents={"97110": 2500}),
                    allowed_from=date(2027, 1, 1))
    assert repo.allowed_on(payer.id, date(2026, 6, 1)) == {"97110": 2500}
    repo.save_payer(replace(payer, allowed_cents={"97110": 2600}),
                    allowed_from=date(2027, 1, 1))
    assert repo.allowed_on(payer.id, date(2026, 6, 1)) == {"97110": 2500}
    assert repo.allowed_on(payer.id, date(2027, 1, 1)) == {"97110": 2600}
