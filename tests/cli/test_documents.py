"""``therapy-timer superbill / daysheet / export`` against a small synthetic clinic database."""

from __future__ import annotations

import csv
import io

import pytest

from tests.cli.conftest import no_password
from tests.pdf.clinic import build
from tests.pdf.conftest import pages_text
from therapy_timer.cli import main
from therapy_timer.storage.repository import open_repository


@pytest.fixture(scope="module")
def clinic_db(module_target):
    """The small clinic, in a file or on the clinic server (every test using it runs on
    both: tests/cli/conftest.py)."""
    repo = open_repository(module_target)
    clinic = build(repo)
    repo.close()
    return module_target, clinic


@pytest.fixture(autouse=True)
def _never_the_password(capsys):
    """Whatever a test printed on either database, the server's password was not in it."""
    yield
    out, err = capsys.readouterr()
    no_password(out, err)


@pytest.fixture(autouse=True)
def _no_icd_package(monkeypatch):
    """Descriptions from a stand-in (importing the ICD-10-CM package takes ~2 s)."""
    import therapy_timer.commands.documents as documents

    monkeypatch.setattr(documents, "icd_describer",
                        lambda: {"M54.50": "Low back pain, unspecified"}.get)


def run(*argv) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:  # argparse errors
        return int(exc.code)


def test_superbill_for_one_visit(clinic_db, tmp_path, capsys):
    db, clinic = clinic_db
    out = tmp_path / "one.pdf"
    assert run("superbill", "--db", db, "--visit", clinic.main_visit, "--out", out) == 0
    assert capsys.readouterr().out.strip() == str(out)
    text = " ".join(pages_text(out.read_bytes()))
    for item in ("Smith & Jones PT", "李, 小龙", "Zoë Núñez, PT, DPT",
                 "A M54.50 Low back pain, unspecified", "XU GP KX", "GP CQ KX",
                 "Total timed code minutes 53 min", "Page 1 of 1"):
        assert item in text
    assert [p.name for p in tmp_path.iterdir()] == ["one.pdf"]


def test_db_option_before_the_command(clinic_db, tmp_path):
    db, clinic = clinic_db
    out = tmp_path / "x.pdf"
    assert run("--db", db, "superbill", "--visit", clinic.main_visit, "--out", out) == 0
    assert out.read_bytes().startswith(b"%PDF")


def test_superbill_for_a_day_leaves_out_open_visits(clinic_db, tmp_path, capsys):
    db, clinic = clinic_db
    out = tmp_path / "day.pdf"
    assert run("superbill", "--db", db, "--date", "2026-11-20", "--to", "2026-11-21",
               "--out", out) == 0
    err = capsys.readouterr().err
    assert f"left out 1 open visit(s) (not billable yet): {clinic.open_visit}" in err
    pages = pages_text(out.read_bytes())
    assert len(pages) == 2
    assert f"Visit {clinic.main_visit} Page 1 of 1" in pages[0]
    assert f"Visit {clinic.self_pay_visit} Page 1 of 1" in pages[1]
    assert "INSURANCE Self-pay" in pages[1]


def test_superbill_split_writes_one_file_per_visit(clinic_db, tmp_path, capsys):
    db, clinic = clinic_db
    assert run("superbill", "--db", db, "--date", "2026-11-20", "--split", tmp_path) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"superbill-2026-11-20-visit-{clinic.main_visit}.pdf",
                     f"superbill-2026-11-20-visit-{clinic.self_pay_visit}.pdf"]
    assert capsys.readouterr().out.split() == [str(tmp_path / n) for n in names]


@pytest.mark.parametrize("argv, message", [
    (["--visit", "OPEN", "--out", "{tmp}/x.pdf"], "is still open: finalize it"),
    (["--visit", "999", "--out", "{tmp}/x.pdf"], "999"),
    (["--visit", "MAIN", "--out", "{tmp}/missing/x.pdf"], "does not exist"),
    (["--visit", "MAIN", "--out", "{tmp}"], "is a folder"),
    (["--date", "2026-11-21", "--out", "{tmp}/x.pdf"], "no finalized visits on 2026-11-21"),
    (["--date", "2026-11-21", "--to", "2026-11-20", "--out", "{tmp}/x.pdf"],
     "ends (2026-11-20) before it starts"),
    (["--visit", "MAIN", "--to", "2026-11-21", "--out", "{tmp}/x.pdf"],
     "--to goes with --date"),
    (["--date", "2026-11-20", "--split", "{tmp}/nowhere"], "no such folder"),
])
def test_superbill_refusals_exit_2_and_write_nothing(clinic_db, tmp_path, capsys, argv,
                                                     message):
    db, clinic = clinic_db
    ids = {"OPEN": str(clinic.open_visit), "MAIN": str(clinic.main_visit)}
    argv = [ids.get(a, a.replace("{tmp}", str(tmp_path))) for a in argv]
    assert run("superbill", "--db", db, *argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, message", [
    (["superbill", "--visit", "1"], "one of the arguments --out --split is required"),
    (["superbill", "--visit", "x1", "--out", "a.pdf"], "bad visit number 'x1'"),
    (["daysheet", "--date", "2026-13-01", "--out", "a.pdf"], "bad date '2026-13-01'"),
    (["export", "--date", "2026-11-20", "--format", "xlsx", "--out", "a.csv"],
     "invalid choice: 'xlsx'"),
])
def test_bad_arguments_exit_2(clinic_db, tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    db, _ = clinic_db
    assert run(*argv[:1], "--db", db, *argv[1:]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# File only: a missing file and an output over the database (or its -wal) are file questions;
# a server's missing database and empty one are in test_server_cli.py.
def test_missing_database_is_not_created(tmp_path, capsys):
    missing = tmp_path / "nope.db"
    assert run("daysheet", "--db", missing, "--date", "2026-11-20",
               "--out", tmp_path / "d.pdf") == 2
    assert f"no database at {missing}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["superbill", "daysheet", "export"])
def test_output_never_overwrites_the_database(tmp_path, capsys, command):
    db = tmp_path / "clinic.db"
    repo = open_repository(db)
    build(repo)
    repo.close()
    before = db.read_bytes()
    which = ["--visit", "1"] if command == "superbill" else ["--date", "2026-11-20"]
    assert run(command, "--db", db, *which, "--out", db) == 2
    assert "refusing to write over the database" in capsys.readouterr().err
    assert db.read_bytes() == before


def test_failed_render_leaves_no_file(clinic_db, tmp_path, monkeypatch, capsys):
    import therapy_timer.pdf as pdf

    def broken(items, stream):
        stream.write(b"%PDF-half")
        raise RuntimeError("boom")

    monkeypatch.setattr(pdf, "render_superbills", broken)
    db, clinic = clinic_db
    target = tmp_path / "x.pdf"
    target.write_bytes(b"previous")
    capsys.readouterr()
    # An unexpected error is one line (exit 1), never a traceback; the file is untouched.
    assert run("superbill", "--db", db, "--visit", clinic.main_visit, "--out", target) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unexpected error (RuntimeError: boom)" in err
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["x.pdf"]


def test_daysheet(clinic_db, tmp_path):
    db, clinic = clinic_db
    out = tmp_path / "sheet.pdf"
    assert run("daysheet", "--db", db, "--date", "2026-11-20", "--out", out) == 0
    text = " ".join(pages_text(out.read_bytes()))
    for item in ("DAY SHEET", "11/20/2026", "Casey Moor, OTR/L", "Zoë Núñez, PT, DPT",
                 "OPEN: not billable yet", "Subtotal: 1 visit(s) billed, 1 open",
                 "Visits billed 2", "Visits open (not billable yet) 1", "Page 1 of 1"):
        assert item in text, item


def test_export_csv(clinic_db, tmp_path, capsys):
    db, clinic = clinic_db
    out = tmp_path / "charges.csv"
    assert run("export", "--db", db, "--date", "2026-11-20", "--format", "csv",
               "--out", out) == 0
    assert "charge line(s) exported" in capsys.readouterr().err
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    repo = open_repository(db)
    try:
        stored = [(v, c) for v in (clinic.main_visit, clinic.self_pay_visit)
                  for c in repo.charge_lines(v)]
    finally:
        repo.close()
    assert len(rows) == len(stored)
    for row, (visit_id, line) in zip(rows, stored, strict=True):
        assert row["visit_id"] == str(visit_id)
        assert row["code"] == line.code
        assert [row[f"modifier_{n}"] for n in range(1, 5)] == [*line.modifiers, "", "", "",
                                                               ""][:4]
        assert row["units"] == str(line.units)
        assert row["line_charge"] == f"{line.charge_cents // 100}.{line.charge_cents % 100:02d}"
    first = rows[0]
    assert first["patient"] == "李, 小龙" and first["payer"] == "Medicare Part B"
    assert first["member_id"] == "1EG4TE5MK73" and first["diagnoses"] == "M54.50 R26.89 M62.81"
    assert first["service_date"] == "2026-11-20" and first["provider_npi"] == "1558598797"
    assert rows[-1]["payer"] == "Self-pay"
    assert rows[-1]["patient"] == "O'Hara & Co, Ann"


def test_csv_cells_never_start_a_formula():
    from therapy_timer.commands.export_csv import dollars, safe_text

    assert safe_text("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert safe_text("@x") == "'@x" and safe_text("Ann") == "Ann"
    assert dollars(4500) == "45.00" and dollars(-5) == "-0.05" and dollars(123456) == "1234.56"


@pytest.fixture
def demo_db(demo_target):
    """The demo clinic, on both databases (tests/cli/conftest.py)."""
    return demo_target


def test_demo_days_print_cq_xu_and_kx_lines_exactly_as_stored(demo_db, tmp_path):
    """Every charge line of the demo's last three days comes out on the superbills."""
    out = tmp_path / "last-days.pdf"
    assert run("superbill", "--db", demo_db, "--date", "2026-11-18", "--to", "2026-11-20",
               "--out", out) == 0
    text = " ".join(pages_text(out.read_bytes()))
    repo = open_repository(demo_db)
    try:
        from therapy_timer.core.superbill_build import billable_visit_ids

        ids = billable_visit_ids(repo, *(date_(d) for d in ("2026-11-18", "2026-11-20")))
        lines = [(repo.get_visit(v), c) for v in ids for c in repo.charge_lines(v)]
    finally:
        repo.close()
    modifiers = {m for _, line in lines for m in line.modifiers}
    assert {"CQ", "XU", "KX"} <= modifiers
    for visit, line in lines:
        row = (f"{visit.day:%m/%d/%Y} {line.code} {line.label} {' '.join(line.modifiers)} "
               f"{','.join(line.diagnosis_pointers)} {line.units} "
               f"${line.fee_cents // 100}.{line.fee_cents % 100:02d} "
               f"${line.charge_cents // 100:,}.{line.charge_cents % 100:02d}")
        assert row in text, row
    for visit_id in ids:
        assert f"Visit {visit_id} Page 1 of 1" in text
    assert "Distinct-service modifiers (59/XU): timer intervals" in text
    assert "Assistant modifiers (CQ/CO)" in text
    assert "past the KX threshold" in text


def date_(text: str):
    from datetime import date

    return date.fromisoformat(text)
