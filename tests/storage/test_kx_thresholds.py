"""KX thresholds in the clinic's database (issue 12, item 1), against a real SQLite file.

Seeded from the shipped file on first use; a newer shipped value updates a shipped year but is
only offered beside a year the clinic entered; the clinic's entries are audited with who
entered them; a Medicare visit in a year with none on file finalizes with the latest year's.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from therapy_timer.core.rules_data import KxYear
from therapy_timer.storage.errors import InvalidDataError
from therapy_timer.storage.repository import open_repository

from .conftest import T0, build_clinic

JAN_5 = T0.replace(year=2027, month=1, day=5)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def test_first_use_seeds_every_shipped_year(repo):
    entries = repo.kx_entries()
    assert [(e.kx.year, e.kx.threshold_cents, e.origin) for e in entries] == [
        (2022, 215000, "shipped"), (2023, 223000, "shipped"), (2024, 233000, "shipped"),
        (2025, 241000, "shipped"), (2026, 248000, "shipped")]
    assert entries[-1].entered_by == "Therapy Timer (resources/kx_thresholds.toml)"
    assert entries[-1].entered_at.isoformat() == "2026-12-01T00:00:00+00:00"  # the file's as_of
    # Opening again writes nothing.
    path = repo.path
    repo.close()
    again = open_repository(path)
    try:
        assert again.seed_kx_thresholds() == []
        assert again.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0
    finally:
        again.close()


def test_the_clinic_enters_a_year_audited_with_who(repo):
    entry = repo.set_kx_threshold(2027, 255000, 300000, "v", "  CY2027 PFS  final rule ",
                                       "Avery Stone", now=T0)
    assert (entry.kx, entry.origin, entry.entered_by, entry.entered_at) == (
        KxYear(2027, 255000, 300000, "V", "CY2027 PFS final rule"), "clinic", "Avery Stone", T0)
    assert repo.kx_thresholds()[2027].threshold_cents == 255000
    [audit] = repo.audit_entries("kx_threshold", 2027)
    assert (audit.user, audit.action) == ("Avery Stone", "set")
    assert json.loads(audit.detail) == {"old": None, "new": {
        "threshold_cents": 255000, "review_cents": 300000, "confidence": "V",
        "source": "CY2027 PFS final rule"}}
    # A correction of a shipped year records what it replaced.
    repo.set_kx_threshold(2026, 248000, 300000, "V", "CMS MLN", "Blake Reed", now=T0)
    [audit] = repo.audit_entries("kx_threshold", 2026)
    assert json.loads(audit.detail)["old"] == {"threshold_cents": 248000,
                                               "review_cents": 300000, "confidence": "S",
                                               "source": "proactivechart.com, postacutetools"
                                               ".com, alsintegratedsvc.com; no CMS CR text "
                                               "found", "origin": "shipped"}
    assert repo.audit_verify() is None


@pytest.mark.parametrize(("args", "message"), [
    ((2027, 255000, 300000, "V", "CMS", ""), "needs the name of the user"),
    ((2027, 255000, 250000, "V", "CMS", "pat"), "must be above the KX threshold"),
    ((2200, 255000, 300000, "V", "CMS", "pat"), "year 2200 is outside 1999-2100"),
    ((2027, 255000, 300000, "V", "", "pat"), "say where the amount comes from"),
])
def test_bad_entries_are_refused_and_nothing_changes(repo, args, message):
    with pytest.raises(InvalidDataError, match=message):
        repo.set_kx_threshold(*args, now=T0)
    assert sorted(repo.kx_thresholds()) == [2022, 2023, 2024, 2025, 2026]
    assert repo.audit_entries("kx_threshold") == []


def test_a_newer_release_updates_shipped_years_and_only_offers_beside_the_clinics(repo):
    repo.set_kx_threshold(2027, 255000, 300000, "S", "a newsletter", "pat", now=T0)
    newer = {2026: KxYear(2026, 248000, 300000, "V", "CMS CR 14000"),
             2027: KxYear(2027, 256000, 300000, "V", "CY2027 PFS final rule")}
    assert repo.seed_kx_thresholds(newer, now=T0 + minutes(1)) == [
        "2026: the shipped value changed, updated",
        "2027: a newer shipped value is offered beside the clinic's"]
    table = repo.kx_thresholds()
    assert table[2026] == newer[2026]
    assert table[2027].threshold_cents == 255000  # the clinic's, untouched
    [update] = repo.audit_entries("kx_threshold", 2026)
    assert (update.user, update.action) == ("system", "update_shipped")
    # Declined: not offered again for that value; a different later value is.
    repo.decline_kx_offer(2027, "pat", now=T0 + minutes(2))
    assert repo.seed_kx_thresholds(newer, now=T0 + minutes(3)) == []
    assert [e.offer for e in repo.kx_entries() if e.kx.year == 2027] == [None]
    later = {2027: KxYear(2027, 257000, 300000, "V", "CMS correction")}
    assert repo.seed_kx_thresholds(later, now=T0 + minutes(4)) == [
        "2027: a newer shipped value is offered beside the clinic's"]
    entry = repo.accept_kx_offer(2027, "Avery Stone", now=T0 + minutes(5))
    assert (entry.kx, entry.origin, entry.entered_by, entry.offer) == (
        later[2027], "shipped", "Avery Stone", None)
    assert [a.action for a in repo.audit_entries("kx_threshold", 2027)] == [
        "accept_shipped", "decline_shipped", "set"]
    with pytest.raises(InvalidDataError, match="no newer shipped KX threshold is offered"):
        repo.accept_kx_offer(2027, "pat")


def test_a_read_only_older_file_bills_with_the_shipped_seed(store_target):
    repo = open_repository(store_target)
    repo.conn.execute("DROP TABLE kx_thresholds")  # as a database read without migrating it
    assert repo.kx_thresholds()[2026].threshold_cents == 248000
    repo.close()


def _medicare_visit(clinic, start):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, start)
    repo.set_diagnoses(visit.id, ["M54.50"], user="pat", validate=False)
    interval = repo.start_interval(visit.id, "97110", "PT", start)
    repo.stop_interval(interval.id, start + minutes(30))
    return visit


def test_a_2027_medicare_visit_finalizes_with_2026s_threshold_then_2027s(repo):
    clinic = build_clinic(repo)
    repo = clinic.repo
    repo.set_prior_kx(clinic.patient.id, 2027, "PT+SLP", 247000, user="desk")
    first = _medicare_visit(clinic, JAN_5)
    billing = repo.bill_visit(first.id, now=JAN_5 + minutes(31))
    assert billing.warnings[0].startswith("2026's threshold used: enter 2027's in Settings")
    lines = repo.finalize_visit(first.id, None, "Avery Stone", JAN_5 + minutes(31))
    assert [(ln.code, ln.modifiers, ln.units) for ln in lines] == [("97110", ("GP", "KX"), 2)]
    record = repo.billing_record(first.id)
    assert record["kx_threshold"] == {"year": 2026, "for_year": 2027,
                                      "threshold_cents": 248000, "fallback": True}
    assert any(w.startswith("2026's threshold used") for w in record["warnings"])
    from therapy_timer.core.superbill_build import superbill_for_visit

    notes = superbill_for_visit(repo, first.id).documentation.notes
    assert ("2026's threshold used: enter 2027's in Settings (Rule data). No KX threshold is on "
            "file for 2027, so the KX and targeted-review checks of this visit use 2026's "
            "amounts ($2,480.00).") in notes
    # With 2027's entered, the next visit bills against it, with no notice.
    repo.set_kx_threshold(2027, 265000, 300000, "V", "CY2027 PFS final rule", "Avery Stone",
                          now=JAN_5 + minutes(40))
    second = _medicare_visit(clinic, JAN_5 + timedelta(days=2))
    billing = repo.bill_visit(second.id, now=JAN_5 + timedelta(days=2, minutes=31))
    assert not any("threshold used" in w for w in billing.warnings)
    assert billing.kx.kx.threshold_cents == 265000 and not billing.kx.fallback
    assert [s.modifier for s in billing.suggestions] == []  # $2,590 + $60 is not past $2,650
    # The first visit's superbill now says what it was checked against, without the prompt.
    notes = superbill_for_visit(repo, first.id).documentation.notes
    assert not any("threshold used" in n for n in notes)
    assert ("KX was checked against 2026's threshold ($2,480.00): 2027's was not on file when "
            "this visit was finalized.") in notes
