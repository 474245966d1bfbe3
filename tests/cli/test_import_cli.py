"""``therapy-timer import ncci|mue --db PATH FILE...`` and ``units --db PATH`` (issue 12, item 5):
the clinic's imported pairs and MUEs bill the visit; without --db the shipped seed."""

from __future__ import annotations

import io
import json

import pytest

from tests.ncci_samples import mue_row, ptp_row, write_mue, write_ptp, zipped
from therapy_timer.cli import main
from therapy_timer.storage.repository import open_repository

ZIP = "medicare-ncci-2026q2-practitioner-ptp-edits-ccipra-v321r0-f1.zip"
TXT = "ccipra-v321r0-f1.TXT"
MUE = "MCR_MUE_PractitionerServices_Eff_01-01-2026.csv"
#: 97110 then 97112 in distinct time: 59/XU if the two codes are an indicator-1 pair.
VISIT = {"date": "2026-11-20", "intervals": [
    {"code": "97110", "start": "2026-11-20T09:00:00-05:00", "end": "2026-11-20T09:40:00-05:00"},
    {"code": "97112", "start": "2026-11-20T09:40:00-05:00", "end": "2026-11-20T09:55:00-05:00"},
]}


@pytest.fixture
def db(cli_target):
    """On both databases (a file, a clinic server: tests/cli/conftest.py)."""
    path = cli_target
    open_repository(path).close()
    return path


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def units(monkeypatch, capsys, *args):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(VISIT)))
    code, out, err = run(capsys, "units", *args)
    assert code == 0, err
    return json.loads(out)


def ptp_zip(tmp_path, rows):
    return zipped(tmp_path / ZIP, write_ptp(tmp_path / TXT, rows))


def test_import_ncci_reports_rows_and_units_db_bills_with_the_imported_pairs(
        tmp_path, db, monkeypatch, capsys):
    before = units(monkeypatch, capsys)
    assert "rule_data" not in before
    assert not [s for line in before["lines"] for s in line["suggested_modifiers"]
                if s["modifier"] == "XU"]  # 97110/97112 is no seed pair
    code, out, err = run(capsys, "import", "ncci", "--db", str(db), "--user", "desk",
                         str(ptp_zip(tmp_path, [ptp_row("97110", "97112"),
                                                ptp_row("99213", "36415")])))
    assert (code, err) == (0, "")
    assert out == ("imported the NCCI PTP release v321r0, effective 2026-04-01: 2 rows read, 1 "
                   "kept, 1 skipped (a code not in the catalog)\n")
    after = units(monkeypatch, capsys, "--db", str(db))
    [xu] = [s for line in after["lines"] for s in line["suggested_modifiers"]
            if s["modifier"] == "XU"]
    assert (xu["code"], xu["units"]) == ("97112", 1)
    assert after["rule_data"]["ncci"] == "CMS NCCI PTP release v321r0, effective 2026-04-01"
    # Without --db: the shipped seed, as before.
    assert units(monkeypatch, capsys) == before


def test_import_mue_and_units_db_warns_above_it(tmp_path, db, monkeypatch, capsys):
    code, out, _ = run(capsys, "import", "mue", "--db", str(db),
                       str(write_mue(tmp_path / MUE, [mue_row("97110", 2)])))
    assert code == 0 and "practitioner MUE table, effective 2026-01-01: 1 rows read" in out
    result = units(monkeypatch, capsys, "--db", str(db))
    assert [w for w in result["warnings"] if "Medically Unlikely" in w] == [
        "97110: 3 units billed, more than CMS's Medically Unlikely Edit of 2 per day (MAI 3, "
        "date of service edit: clinical; CMS practitioner MUE table, effective 2026-01-01): "
        "the units above 2 are likely denied; check the minutes and the documentation"]
    assert result["rule_data"]["mue"] == "CMS practitioner MUE table, effective 2026-01-01"
    assert not [w for w in units(monkeypatch, capsys)["warnings"] if "Unlikely" in w]


def _bad(tmp_path, name):
    ok = ptp_row("97110", "97112")
    if name == "wrong format":
        (tmp_path / TXT).write_text("just some notes\n")
        return ["ncci", tmp_path / TXT], "is not a CMS PTP file"
    if name == "truncated zip":
        path = ptp_zip(tmp_path, [ok] * 40)
        path.write_bytes(path.read_bytes()[:200])
        return ["ncci", path], "is not a complete zip archive"
    if name == "empty file":
        (tmp_path / TXT).write_bytes(b"")
        return ["ncci", tmp_path / TXT], "the file is empty"
    if name == "duplicate rows":
        return ["ncci", write_ptp(tmp_path / TXT, [ok, ok])], "line 8: duplicate row"
    if name == "bad date":
        return ["ncci", write_ptp(tmp_path / TXT, [ptp_row("97110", "97112", "20260230")])], (
            "line 7: a date does not parse")
    if name == "bad code":
        return ["ncci", write_ptp(tmp_path / TXT, [ptp_row("97110", "971-2")])], (
            "line 7: column 2 '971-2' is not a CPT/HCPCS code")
    if name == "mue duplicate":
        return ["mue", write_mue(tmp_path / MUE, [mue_row("97110", 2), mue_row("97110", 3)])], (
            "duplicate row: 97110")
    if name == "mue bad code":
        return ["mue", write_mue(tmp_path / MUE, [mue_row("97 10", 2)])], (
            "'97 10' is not a CPT/HCPCS code")
    if name == "mue empty":
        (tmp_path / MUE).write_bytes(b"")
        return ["mue", tmp_path / MUE], "the file is empty"
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["wrong format", "truncated zip", "empty file",
                                  "duplicate rows", "bad date", "bad code", "mue duplicate",
                                  "mue bad code", "mue empty"])
def test_bad_input_exits_2_with_one_line_and_changes_nothing(tmp_path, db, capsys, name):
    assert run(capsys, "import", "ncci", "--db", str(db), str(
        write_ptp(tmp_path / "ccipra-v320r0-f1.TXT", [ptp_row("97140", "97530")])))[0] == 0
    assert run(capsys, "import", "mue", "--db", str(db), str(
        write_mue(tmp_path / "MCR_MUE_PractitionerServices_Eff_10-01-2025.csv",
                  [mue_row("97140", 4)])))[0] == 0
    (kind, path), message = _bad(tmp_path, name)
    code, out, err = run(capsys, "import", kind, "--db", str(db), str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"therapy-timer: nothing imported: {path}") and message in err
    assert err.count("\n") == 1
    with open_repository(db) as repo:
        assert [(p.column1, p.column2) for p in repo.ncci_pairs()] == [("97140", "97530")]
        assert list(repo.mue_limits()) == ["97140"]
        assert repo.rule_release("ncci").version == "v320r0"


def test_import_into_a_missing_database_and_units_with_one_are_refused(tmp_path, capsys,
                                                                        monkeypatch):
    missing = tmp_path / "nowhere.db"
    code, _, err = run(capsys, "import", "ncci", "--db", str(missing),
                       str(write_ptp(tmp_path / TXT, [ptp_row("97110", "97112")])))
    assert code == 2 and f"no database at {missing}" in err and not missing.exists()
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(VISIT)))
    code, out, err = run(capsys, "units", "--db", str(missing))
    assert (code, out) == (2, "") and f"no database at {missing}" in err
