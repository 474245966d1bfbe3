"""``therapy-timer superbill`` on a new clinic that has not filled in Settings (issue 16, item
15): the PDF is still written and the exit code stays 0, and stderr says what a payer would
reject it for and where to set each thing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from therapy_timer.cli import main
from therapy_timer.core.model import Discipline, Performer
from therapy_timer.core.records import InsurancePolicy, Patient, Payer, PlanOfCare, Practice
from therapy_timer.core.records import Provider as ProviderRecord
from therapy_timer.storage.repository import open_repository

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_icd_package(monkeypatch):
    import therapy_timer.commands.documents as documents

    monkeypatch.setattr(documents, "icd_describer", lambda: {}.get)


def _new_clinic(path, *, ready: bool = False):
    repo = open_repository(path)
    try:
        if ready:
            repo.save_practice(Practice("Ready Clinic (test)", "1 Main St", npi="1234567893",
                                        tax_id="12-3456789"))
        else:
            repo.save_practice(Practice("New Clinic (test)"))
        pt = repo.save_provider(ProviderRecord("Dana Test", Discipline.PT, Performer.PT,
                                               npi="1558598797" if ready else ""))
        payer = repo.save_payer(Payer("Acme (test)"))
        patient = repo.save_patient(Patient("Ada", "Sample", date(1950, 5, 1)))
        repo.save_policy(InsurancePolicy(patient.id, payer.id, member_id="A-1"))
        plan = repo.save_plan(PlanOfCare(patient.id, Discipline.PT, pt.id, date(2026, 1, 5)))
        if ready:
            repo.save_fee("97110", 4500, date(2026, 1, 1))
        ids = []
        for n in range(2):
            start = T0 + timedelta(hours=n)
            visit = repo.start_visit(patient.id, pt.id, plan.id, start)
            repo.start_interval(visit.id, "97110", Performer.PT, start)
            repo.pause_visit(visit.id, start + timedelta(minutes=30))
            repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
            repo.finalize_visit(visit.id, None, "Dana", start + timedelta(minutes=31))
            ids.append(visit.id)
        return ids
    finally:
        repo.close()


def test_new_clinic_superbill_warns_on_stderr_and_exits_0(cli_target, tmp_path, capsys):
    db = cli_target
    first, second = _new_clinic(db)
    out = tmp_path / "bill.pdf"
    assert main(["superbill", "--db", str(db), "--visit", str(first), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out)
    assert out.read_bytes().startswith(b"%PDF")
    lines = captured.err.strip().splitlines()
    assert lines == [
        f"therapy-timer: warning: {what} (superbill of visit {first} is not usable by a payer "
        "as it is)" for what in (
            "No group NPI for the practice: set it in Settings > Practice",
            "No Tax ID (EIN) for the practice: set it in Settings > Practice",
            "No NPI for Dana Test, the rendering provider: set it in Settings > Providers",
            "No fee for 97110: set it in Settings > Fee schedule",
        )]


def test_a_range_names_each_gap_once_with_its_visits(cli_target, tmp_path, capsys):
    db = cli_target
    first, second = _new_clinic(db)
    out = tmp_path / "day.pdf"
    assert main(["superbill", "--db", str(db), "--date", "2026-03-02", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("No fee for 97110") == 1
    assert f"superbill of 2 visits ({first}, {second})" in err


def test_a_ready_clinic_prints_without_a_word(cli_target, tmp_path, capsys):
    db = cli_target
    first, _ = _new_clinic(db, ready=True)
    out = tmp_path / "bill.pdf"
    assert main(["superbill", "--db", str(db), "--visit", str(first), "--out", str(out)]) == 0
    assert capsys.readouterr().err == ""


def test_the_export_carries_what_payers_need(cli_target, tmp_path, capsys):
    """The CSV a billing service imports gets the payer ID, the provider's taxonomy, the
    referral and onset, and the allowed amount per unit, in columns after the old ones."""
    import csv
    from dataclasses import replace

    from therapy_timer.commands.export_csv import COLUMNS

    db = cli_target
    _new_clinic(db, ready=True)
    repo = open_repository(db)
    try:
        payer = repo.list_payers()[0]
        repo.save_payer(replace(payer, payer_code="ACM01", allowed_cents={"97110": 3000}))
        (provider,) = repo.list_providers()
        repo.save_provider(replace(provider, taxonomy="225100000X"))
        (patient,) = repo.search_patients("Sample")
        (plan,) = repo.plans_for(patient.id)
        repo.save_plan(replace(plan, referring_name="Dr. Jordan Ellis (test)",
                               referring_npi="1234567893", onset_date=date(2025, 12, 15)))
    finally:
        repo.close()
    out = tmp_path / "charges.csv"
    assert main(["export", "--db", str(db), "--date", "2026-03-02", "--out", str(out)]) == 0
    assert COLUMNS[-6:] == ("payer_id", "provider_taxonomy", "referring_provider",
                            "referring_npi", "onset_date", "allowed_per_unit")
    with out.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["payer_id"], r["provider_taxonomy"], r["referring_provider"],
             r["referring_npi"], r["onset_date"]) for r in rows] == [
        ("ACM01", "225100000X", "Dr. Jordan Ellis (test)", "1234567893", "2025-12-15")] * 2
    # The allowed amount is frozen with the visit when it is finalized (before the payer had
    # one here): none known for these lines.
    assert {r["allowed_per_unit"] for r in rows} == {""}
