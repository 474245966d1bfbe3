"""Medicare's bundled hot pack on paper: the superbill documents 97010's minutes and says it is
not billed; with the clinic's setting it is listed at $0.00. Frozen at finalize either way."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from tests.pdf.conftest import pages_text
from tests.storage.conftest import T0, build_clinic
from therapy_timer.core.superbill_build import superbill_for_visit
from therapy_timer.pdf import render_superbill
from therapy_timer.storage.repository import open_repository


@pytest.fixture
def clinic():
    repo = open_repository(":memory:")
    yield build_clinic(repo)
    repo.close()


def finalize_hot_pack_visit(clinic) -> int:
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)  # Medicare
    hot = repo.start_interval(visit.id, "97010", "PT", T0)
    ex = repo.start_interval(visit.id, "97110", "PT", T0)
    repo.stop_interval(hot.id, T0 + timedelta(minutes=15))
    repo.stop_interval(ex.id, T0 + timedelta(minutes=23))
    repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
    repo.finalize_visit(visit.id, None, "avery", T0 + timedelta(minutes=30))
    return visit.id


def test_superbill_documents_97010_but_charges_nothing_for_medicare(clinic, render):
    visit_id = finalize_hot_pack_visit(clinic)
    lines = clinic.repo.charge_lines(visit_id)
    assert [(c.code, c.units, c.charge_cents) for c in lines] == [("97110", 2, 9000)]
    assert clinic.repo.billing_record(visit_id)["bundled"] == ["97010"]
    data = superbill_for_visit(clinic.repo, visit_id)
    assert [line.code for line in data.lines] == ["97110"] and data.charges_cents == 9000
    assert {(c.code, c.minutes, c.units) for c in data.documentation.code_minutes} == {
        ("97010", 15, 0), ("97110", 23, 2)}
    assert any("97010" in n and "documented, not billed (Medicare bundles 97010)" in n
               for n in data.documentation.notes)
    text = " ".join(pages_text(render(render_superbill, data)))
    assert "documented, not billed (Medicare bundles 97010)" in text


def test_clinic_setting_lists_97010_at_zero(clinic, render):
    repo = clinic.repo
    repo.save_practice(dataclasses.replace(repo.get_practice(), list_bundled=True))
    assert repo.get_practice().list_bundled
    visit_id = finalize_hot_pack_visit(clinic)
    lines = {c.code: c for c in repo.charge_lines(visit_id)}
    assert (lines["97010"].units, lines["97010"].charge_cents) == (1, 0)
    assert lines["97010"].modifiers == ("GP",)
    assert lines["97110"].charge_cents == 9000
    data = superbill_for_visit(repo, visit_id)
    assert data.charges_cents == 9000
    assert any("listed at $0.00" in n for n in data.documentation.notes)
    text = " ".join(pages_text(render(render_superbill, data)))
    assert "97010" in text and "$0.00" in text


def test_commercial_payer_still_charges_97010(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.other.id, clinic.pt.id, clinic.other_plan.id, T0)
    hot = repo.start_interval(visit.id, "97010", "PT", T0)
    repo.stop_interval(hot.id, T0 + timedelta(minutes=15))
    repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
    repo.finalize_visit(visit.id, None, "avery", T0 + timedelta(minutes=30))
    assert [(c.code, c.units, c.charge_cents) for c in repo.charge_lines(visit.id)] == [
        ("97010", 1, 1500)]
    assert repo.billing_record(visit.id)["bundled"] is None
