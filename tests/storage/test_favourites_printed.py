"""Favourite tile codes per provider and the front desk's printed marks: stored in the database,
validated, audited, and kept across reopening the file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from therapy_timer.storage.errors import InvalidDataError, NotFoundError
from therapy_timer.storage.repository import open_repository

from .conftest import T0, build_clinic


def test_a_provider_without_favourites_gets_an_empty_list(clinic):
    assert clinic.repo.favourite_codes(clinic.pt.id) == []


def test_favourites_keep_their_order_per_provider(clinic):
    repo = clinic.repo
    saved = repo.set_favourite_codes(clinic.pt.id, ["97530", "97110", "97140"], user="avery")
    assert saved == ["97530", "97110", "97140"]
    repo.set_favourite_codes(clinic.ot.id, ["97535"], user="casey")
    assert repo.favourite_codes(clinic.pt.id) == ["97530", "97110", "97140"]
    assert repo.favourite_codes(clinic.ot.id) == ["97535"]
    assert repo.favourite_codes(clinic.pta.id) == []
    # replacing reorders and drops; an empty list means "the discipline's defaults" again
    repo.set_favourite_codes(clinic.pt.id, ["97140", "97530"])
    assert repo.favourite_codes(clinic.pt.id) == ["97140", "97530"]
    repo.set_favourite_codes(clinic.pt.id, [])
    assert repo.favourite_codes(clinic.pt.id) == []
    assert repo.favourite_codes(clinic.ot.id) == ["97535"]


def test_favourite_codes_are_normalised_by_the_catalog(clinic):
    assert clinic.repo.set_favourite_codes(clinic.pt.id, [" 97110 ", "g0283"]) == [
        "97110", "G0283"]


@pytest.mark.parametrize(("codes", "message"), [
    (["97110", "99999"], "99999"),
    (["97110", "banana"], "banana"),
    (["98975"], "98975.*per month or episode"),
    (["97110", "97140", "97110"], "97110 is listed twice"),
    ("97110", "list of codes"),
])
def test_bad_favourites_are_refused_and_nothing_changes(clinic, codes, message):
    repo = clinic.repo
    repo.set_favourite_codes(clinic.pt.id, ["97530"])
    audit_before = len(repo.audit_entries())
    with pytest.raises(InvalidDataError, match=message):
        repo.set_favourite_codes(clinic.pt.id, codes)
    assert repo.favourite_codes(clinic.pt.id) == ["97530"]
    assert len(repo.audit_entries()) == audit_before


def test_favourites_for_an_unknown_provider_are_refused(clinic):
    with pytest.raises(NotFoundError, match="provider 999"):
        clinic.repo.set_favourite_codes(999, ["97110"])


def test_favourite_edits_are_audited_with_user_and_codes(clinic):
    repo = clinic.repo
    repo.set_favourite_codes(clinic.pt.id, ["97110", "97140"], user="avery")
    entry = repo.audit_entries("provider", clinic.pt.id)[0]  # newest first
    assert (entry.action, entry.user, entry.entity_id) == ("favourites", "avery", clinic.pt.id)
    assert json.loads(entry.detail) == {"codes": ["97110", "97140"]}
    assert repo.audit_verify() is None


def _two_visits(clinic):
    repo = clinic.repo
    a = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    b = repo.start_visit(clinic.other.id, clinic.pta.id, clinic.other_plan.id, T0)
    return a, b


def test_printed_marks_record_time_and_user(clinic):
    repo = clinic.repo
    a, b = _two_visits(clinic)
    assert repo.printed_at(a.id) is None
    assert repo.printed_marks([a.id, b.id]) == {}
    at = T0 + timedelta(hours=2)
    repo.mark_printed([a.id], at, user="frontdesk")
    assert repo.printed_at(a.id) == at
    assert repo.printed_at(a.id).tzinfo is not None
    assert repo.printed_at(b.id) is None
    assert repo.printed_marks([a.id, b.id, 12345]) == {a.id: at}
    entry = repo.audit_entries("visit", a.id)[0]  # newest first
    assert (entry.action, entry.user) == ("printed", "frontdesk")
    assert repo.audit_verify() is None


def test_a_reprint_moves_the_mark_and_times_are_stored_as_utc(clinic):
    repo = clinic.repo
    a, b = _two_visits(clinic)
    repo.mark_printed([a.id, b.id], T0, user="frontdesk")
    chicago_later = (T0 + timedelta(hours=3)).astimezone(timezone(timedelta(hours=-6)))
    repo.mark_printed([a.id], chicago_later, user="frontdesk")
    assert repo.printed_at(a.id) == T0 + timedelta(hours=3)
    assert repo.printed_at(a.id).utcoffset() == timedelta(0)
    assert repo.printed_marks([a.id, b.id]) == {a.id: T0 + timedelta(hours=3), b.id: T0}


def test_marking_an_unknown_visit_marks_nothing(clinic):
    repo = clinic.repo
    a, _ = _two_visits(clinic)
    with pytest.raises(NotFoundError, match="visit 999"):
        repo.mark_printed([a.id, 999], T0)
    assert repo.printed_at(a.id) is None


def test_a_naive_print_time_is_refused(clinic):
    a, _ = _two_visits(clinic)
    with pytest.raises(InvalidDataError, match="no time zone"):
        clinic.repo.mark_printed([a.id], datetime(2026, 11, 20, 9, 0))
    assert clinic.repo.printed_at(a.id) is None


def test_bulk_marks_cover_more_visits_than_one_query_takes(clinic):
    repo = clinic.repo
    a, b = _two_visits(clinic)
    repo.mark_printed([a.id, b.id], T0)
    marks = repo.printed_marks([*range(10_000, 11_200), a.id, b.id])
    assert marks == {a.id: T0, b.id: T0}


def test_favourites_and_printed_marks_survive_reopening_the_file(store_target):
    path = store_target
    repo = open_repository(path)
    clinic = build_clinic(repo)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.set_favourite_codes(clinic.pt.id, ["97112", "97110"], user="avery")
    at = datetime(2026, 11, 20, 18, 30, tzinfo=UTC)
    repo.mark_printed([visit.id], at, user="frontdesk")
    repo.close()
    reopened = open_repository(path)
    try:
        assert reopened.favourite_codes(clinic.pt.id) == ["97112", "97110"]
        assert reopened.printed_at(visit.id) == at
        assert reopened.integrity_check() == "ok"
    finally:
        reopened.close()


def test_prior_kx_spend_reads_back_per_year_and_bucket(repo, clinic):
    patient = clinic.patient
    assert repo.prior_kx(patient.id, 2026) == {}
    repo.set_prior_kx(patient.id, 2026, "PT+SLP", 12000, user="Front Desk")
    repo.set_prior_kx(patient.id, 2026, "OT", 500, user="Front Desk")
    repo.set_prior_kx(patient.id, 2026, "PT+SLP", 15000, user="Front Desk")  # corrected
    repo.set_prior_kx(patient.id, 2025, "OT", 9900, user="Front Desk")
    assert repo.prior_kx(patient.id, 2026) == {"PT+SLP": 15000, "OT": 500}
    assert repo.prior_kx(patient.id, 2025) == {"OT": 9900}
