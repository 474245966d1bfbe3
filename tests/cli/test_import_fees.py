"""``therapy-timer import fees`` (issue 12): the preview it prints, what it stores from the
date given, and bad files refused with the file, line and problem (exit 2, nothing changed);
``units --db`` prices with that database's fees, allowed amounts and codes."""

from __future__ import annotations

import json
from datetime import date

import pytest

from therapy_timer.cli import main
from therapy_timer.core.model import Rule
from therapy_timer.core.records import Payer, Practice
from therapy_timer.storage.repository import open_repository


@pytest.fixture
def db(cli_target):
    """On both databases (a file, a clinic server: tests/cli/conftest.py)."""
    path = cli_target
    repo = open_repository(path)
    repo.save_practice(Practice("Fee Test Clinic (synthetic)", timezone="America/Chicago"))
    repo.save_payer(Payer("Medicare Part B", Rule.CMS, medicare=True, kx_applies=True,
                          allowed_cents={"97110": 3000}))
    repo.save_fee("97110", 4500, date(2026, 1, 1))
    repo.save_fee("97140", 5000, date(2026, 1, 1))
    repo.close()
    return path


def stored(path):
    repo = open_repository(path)
    try:
        payer = repo.list_payers()[0]
        return (repo.fee_schedule(date(2026, 12, 31)), repo.fee_schedule(date(2027, 1, 1)),
                repo.allowed_on(payer.id, date(2026, 12, 31)),
                repo.allowed_on(payer.id, date(2027, 1, 1)))
    finally:
        repo.close()


def write(tmp_path, text: str, name: str = "fees.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_prints_the_preview_and_stores_from_the_date(db, tmp_path, capsys):
    csv = write(tmp_path, "code,amount\n97110,48.00\n97140,50\n97161,\"1,120.50\"\n")
    assert main(["import", "fees", "--db", str(db), csv, "--from", "2027-01-01"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{csv}: 3 row(s) for the clinic's fee schedule from 2027-01-01",
        "  97110  $45.00 -> $48.00       changed",
        "  97140  $50.00                 unchanged",
        "  97161  (none) -> $1,120.50    new",
        "imported: 1 changed, 1 new, 1 unchanged; visits before 2027-01-01 keep their amounts",
    ]
    dec31, jan1, _, _ = stored(db)
    assert dec31 == {"97110": 4500, "97140": 5000}
    assert jan1 == {"97110": 4800, "97140": 5000, "97161": 112050}


def test_import_for_a_payer_and_a_dry_run(db, tmp_path, capsys):
    csv = write(tmp_path, "97110,31.00\n")
    assert main(["import", "fees", "--db", str(db), csv, "--payer", "medicare part b",
                 "--from", "2027-01-01", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == \
        "dry run: nothing stored (1 changed, 0 new, 0 unchanged)"
    assert stored(db)[3] == {"97110": 3000}
    assert main(["import", "fees", "--db", str(db), csv, "--payer", "Medicare Part B",
                 "--from", "2027-01-01"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == \
        f"{csv}: 1 row(s) for Medicare Part B's allowed amounts from 2027-01-01"
    _, _, dec31, jan1 = stored(db)
    assert (dec31, jan1) == ({"97110": 3000}, {"97110": 3100})


@pytest.mark.parametrize(("text", "message"), [
    ("", "{f}: no fee rows (expected lines of code,amount such as 97110,45.00)"),
    ("code,amount\n\n", "{f}: no fee rows (expected lines of code,amount such as 97110,45.00)"),
    ("97110;45.00\n", "{f}, line 1: expected 2 columns (code,amount), found 1: "
                      "'97110;45.00'"),
    ("97110,45.00,GP\n", "{f}, line 1: expected 2 columns (code,amount), found 3: "
                         "'97110,45.00,GP'"),
    ("97110,45.00\n97140,forty\n", "{f}, line 2: amount for 97140: 'forty' is not an amount "
                                   "in dollars (for example 45.00)"),
    ("97110,-45.00\n", "{f}, line 1: amount for 97110: '-45.00' is not an amount in dollars "
                       "(for example 45.00)"),
    ("97110,45.001\n", "{f}, line 1: amount for 97110: '45.001' is not an amount in dollars "
                       "(for example 45.00)"),
    ("9711,45.00\n", "{f}, line 1: '9711' is not a CPT/HCPCS code: expected 5 characters "
                     "such as 97110 or G0283"),
    ("97799,45.00\n", "{f}, line 1: 97799 is not in the code catalog (a code the clinic needs "
                      "can be added in Settings > Codes first)"),
    ("97110,45.00\n97140,50\n97110,46\n", "{f}, line 3: 97110 is listed twice (first on line "
                                          "1); keep one row per code"),
])
def test_bad_files_exit_2_naming_file_line_and_problem(db, tmp_path, capsys, text, message):
    csv = write(tmp_path, text)
    before = stored(db)
    assert main(["import", "fees", "--db", str(db), csv, "--from", "2027-01-01"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"therapy-timer: {message.format(f=csv)}\n"
    assert captured.out == ""
    assert stored(db) == before


def test_bad_arguments_exit_2(db, tmp_path, capsys):
    csv = write(tmp_path, "97110,48\n")
    assert main(["import", "fees", "--db", str(db), csv, "--from", "2027-13-01"]) == 2
    assert capsys.readouterr().err == \
        "therapy-timer: --from '2027-13-01' is not a date: use YYYY-MM-DD\n"
    assert main(["import", "fees", "--db", str(db), csv, "--payer", "Acme",
                 "--from", "2027-01-01"]) == 2
    assert capsys.readouterr().err == \
        "therapy-timer: no payer named 'Acme' (payers: Medicare Part B)\n"
    latin = tmp_path / "latin.csv"
    latin.write_bytes("97110,45.00 \xe9\n".encode("latin-1"))
    assert main(["import", "fees", "--db", str(db), str(latin), "--from", "2027-01-01"]) == 2
    assert capsys.readouterr().err == (f"therapy-timer: {latin} is not UTF-8 text (byte 0xe9 "
                                       "at offset 12): save it as UTF-8 CSV\n")
    missing = tmp_path / "nope.csv"
    assert main(["import", "fees", "--db", str(db), str(missing), "--from", "2027-01-01"]) == 2
    assert capsys.readouterr().err == \
        f"therapy-timer: cannot read {missing}: No such file or directory\n"
    with pytest.raises(SystemExit) as exc:
        main(["import", "fees", "--db", str(db), csv])
    assert exc.value.code == 2
    assert "--from" in capsys.readouterr().err


def test_units_with_db_prices_by_the_date_of_service(db, tmp_path, capsys):
    repo = open_repository(db)
    repo.save_fee("97110", 4800, date(2027, 1, 1))
    repo.save_clinic_code("97799", "Unlisted rehab service (ours)", "timed", ["PT"])
    repo.save_fee("97799", 4000, date(2026, 1, 1))
    repo.close()
    visits = [{"date": "2026-12-31", "services": [{"code": "97110", "minutes": 30}]},
              {"date": "2027-01-01", "services": [{"code": "97110", "minutes": 30}]},
              {"date": "2026-12-31", "services": [{"code": "97799", "minutes": 23}],
               "fees_cents": {"97799": 4100}}]
    file = write(tmp_path, json.dumps(visits), "visits.json")
    assert main(["units", "--db", str(db), file]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [[(ln["code"], ln["units"], ln["charge_cents"]) for ln in v["lines"]]
            for v in result] == [[("97110", 2, 9000)], [("97110", 2, 9600)],
                                 [("97799", 2, 8200)]]
    # Without --db: the shipped catalog and no fees, as before.
    assert main(["units", file]) == 2
    assert "97799" in capsys.readouterr().err
