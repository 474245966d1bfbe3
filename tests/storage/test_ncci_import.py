"""The clinic's NCCI data in its database (issue 12, items 2, 3 and 5): an import replaces the
pairs or MUEs in use in one transaction; a refused, failed or killed import changes nothing;
the imported pairs drive the 59/XU suggestions and the MUEs the review's warnings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.ncci_samples import mue_row, ptp_row, write_mue, write_ptp
from therapy_timer.core.ncci_files import RuleFileError
from therapy_timer.storage.repository import open_repository

from .conftest import T0

V1 = "ccipra-v321r0-f1.TXT"
V2 = "ccipra-v322r0-f1.TXT"
MUE = "MCR_MUE_PractitionerServices_Eff_01-01-2026.csv"


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def release(tmp_path: Path, name: str, rows: list[str]) -> Path:
    folder = tmp_path / name.split(".")[0]
    folder.mkdir(exist_ok=True)
    return write_ptp(folder / name, rows)


def two_codes_visit(clinic, first: str, second: str):
    """97xxx then 97yyy in distinct time by the PT: the evidence 59/XU needs."""
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, first, "PT", T0)
    repo.start_interval(visit.id, second, "PT", T0 + minutes(15))
    repo.pause_visit(visit.id, T0 + minutes(30))
    return visit


def xu(billing) -> set[str]:
    return {s.code for s in billing.suggestions if s.modifier == "XU"}


def test_without_an_import_the_shipped_seed_drives_the_suggestions(clinic):
    repo = clinic.repo
    assert repo.rule_release("ncci") is None and repo.ncci_pairs() is None
    visit = two_codes_visit(clinic, "97140", "97530")
    assert xu(repo.bill_visit(visit.id, T0 + minutes(31))) == {"97530"}  # a seed pair


def test_imported_pairs_replace_the_seed_an_added_pair_suggests_xu_a_deleted_one_not(clinic,
                                                                                     tmp_path):
    repo = clinic.repo
    summary = repo.import_ncci([release(tmp_path, V1, [
        # Only in the imported file (not in resources/ncci_pairs.csv).
        ptp_row("97110", "97112", "20200101", "*", "1"),
        # In the seed, but deleted in this release before the visit's date.
        ptp_row("97140", "97530", "20200101", "20260101", "1"),
        ptp_row("99213", "36415"),
    ])], user="Avery Stone", now=T0)
    assert (summary.rows_read, summary.rows_kept, summary.rows_skipped) == (3, 2, 1)
    in_use = repo.rule_release("ncci")
    assert (in_use.version, in_use.effective, in_use.rows_read, in_use.rows_kept,
            in_use.imported_by, in_use.files) == ("v321r0", date(2020, 1, 1), 3, 2,
                                                  "Avery Stone", (V1,))
    added = two_codes_visit(clinic, "97110", "97112")
    billing = repo.bill_visit(added.id, T0 + minutes(31))
    assert xu(billing) == {"97112"}
    [reason] = [s.reason for s in billing.suggestions if s.modifier == "XU"]
    assert reason.startswith("NCCI pair 97110/97112: the timers show")
    assert "secondary sources" not in reason  # CMS's own file
    deleted = two_codes_visit(clinic, "97140", "97530")
    assert xu(repo.bill_visit(deleted.id, T0 + minutes(31))) == set()
    entry = repo.audit_entries("rule_release")[-1]
    detail = json.loads(entry.detail) if isinstance(entry.detail, str) else entry.detail
    assert (entry.action, entry.user, detail["version"], detail["rows_kept"]) == (
        "import ncci", "Avery Stone", "v321r0", 2)


def test_a_new_release_replaces_the_previous_one_whole(clinic, tmp_path):
    repo = clinic.repo
    repo.import_ncci([release(tmp_path, V1, [ptp_row("97110", "97112")])], now=T0)
    repo.import_ncci([release(tmp_path, V2, [ptp_row("97140", "97530")])], now=T0)
    assert [(p.column1, p.column2) for p in repo.ncci_pairs()] == [("97140", "97530")]
    assert repo.rule_release("ncci").version == "v322r0"


@pytest.mark.parametrize("rows", [
    [ptp_row("97140", "97530"), ptp_row("97110", "97112", "20261301")],
    [ptp_row("97140", "97530"), ptp_row("97110", "97112"), ptp_row("97140", "97530")],
    [ptp_row("97140", "97530"), ptp_row("97-10", "97112")],
])
def test_a_refused_import_leaves_the_previous_pairs_whole(clinic, tmp_path, rows):
    repo = clinic.repo
    repo.import_ncci([release(tmp_path, V1, [ptp_row("97110", "97112")])], now=T0)
    before = repo.ncci_pairs()
    with pytest.raises(RuleFileError, match=f"{V2}, line"):
        repo.import_ncci([release(tmp_path, V2, rows)], now=T0)
    assert repo.ncci_pairs() == before and repo.rule_release("ncci").version == "v321r0"


def test_an_import_killed_mid_transaction_leaves_the_previous_pairs_in_use(store_target,
                                                                           tmp_path):
    """SIGKILL while the new pairs are written (old ones deleted, not committed): the file's
    journal, or the server dropping the dead station's transaction, keeps the old ones."""
    db = store_target
    with open_repository(db) as repo:
        repo.import_ncci([release(tmp_path, V1, [ptp_row("97110", "97112")])], now=T0)
    big = release(tmp_path, V2, [ptp_row("97140", "97530"), ptp_row("97530", "97164")]
                  + [ptp_row(f"{n:05d}", "97110") for n in range(20000)])
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("ncci_import_child.py")), str(db),
         str(big)], stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).parents[2], env={**os.environ, "PYTHONPATH": str(
            Path(__file__).parents[2])})
    try:
        assert child.stdout.readline().strip() == "writing"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    with open_repository(db) as repo:
        assert [(p.column1, p.column2) for p in repo.ncci_pairs()] == [("97110", "97112")]
        assert repo.rule_release("ncci").version == "v321r0"
        assert repo.integrity_check() == "ok"


def test_mue_import_warns_on_the_review_when_a_code_exceeds_it(clinic, tmp_path):
    repo = clinic.repo
    summary = repo.import_mue([write_mue(tmp_path / MUE, [
        mue_row("97110", 2), mue_row("97140", 4), mue_row("99213", 1, "1 Line Edit")])],
        user="Avery Stone", now=T0)
    assert (summary.rows_read, summary.rows_kept) == (3, 2)
    assert repo.rule_release("mue").describe() == ("CMS practitioner MUE table, effective "
                                                   "2026-01-01")
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", "PT", T0)
    repo.pause_visit(visit.id, T0 + minutes(53))  # 53 min: 4 units of 97110
    billing = repo.bill_visit(visit.id, T0 + minutes(54))
    assert billing.lines[0].units == 4
    assert [w for w in billing.warnings if "Medically Unlikely" in w] == [
        "97110: 4 units billed, more than CMS's Medically Unlikely Edit of 2 per day (MAI 3, "
        "date of service edit: clinical; CMS practitioner MUE table, effective 2026-01-01): "
        "the units above 2 are likely denied; check the minutes and the documentation"]


def test_units_at_the_mue_are_not_warned(clinic, tmp_path):
    repo = clinic.repo
    repo.import_mue([write_mue(tmp_path / MUE, [mue_row("97110", 4)])], now=T0)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", "PT", T0)
    repo.pause_visit(visit.id, T0 + minutes(53))
    billing = repo.bill_visit(visit.id, T0 + minutes(54))
    assert billing.lines[0].units == 4
    assert not [w for w in billing.warnings if "Medically Unlikely" in w]
