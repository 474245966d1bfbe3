"""Issue 11, item 10: hostile input to the document, units and demo commands. Each one exits
2 with one line on stderr (no traceback), writes nothing, and leaves the clinic as it was."""

from __future__ import annotations

import os

import pytest

from tests.pdf.clinic import build
from tests.pdf.conftest import pages_text
from therapy_timer.cli import main
from therapy_timer.storage.repository import open_repository

LONG_NAME = "Q" + "uintessential-" * 107  # 1,499 characters, no spaces to break at
BINARY = bytes(range(256)) * 8 + b"\x00\xff\xfe%PDF-1.4\x89PNG"


@pytest.fixture(scope="module")
def clinic_db(module_target):
    """On both databases (a file, a clinic server: tests/cli/conftest.py)."""
    path = module_target
    repo = open_repository(path)
    clinic = build(repo)
    repo.close()
    return path, clinic


def run(*argv) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:  # argparse errors
        return int(exc.code)


def refused(capsys, *argv) -> str:
    """Runs the command; asserts exit 2 and exactly one line on stderr; returns that line."""
    assert run(*argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.err
    assert captured.err.startswith("therapy-timer: ")
    return captured.err.strip()


def test_a_visit_number_past_any_integer_sqlite_stores(clinic_db, tmp_path, capsys):
    db, _ = clinic_db
    line = refused(capsys, "superbill", "--db", db, "--visit", "99999999999999999999",
                   "--out", tmp_path / "x.pdf")
    assert "bad visit number 99999999999999999999: no visit has a number that large" in line
    line = refused(capsys, "superbill", "--db", db, "--visit", "9" * 5000, "--out",
                   tmp_path / "x.pdf")
    assert "no visit has a number that large" in line and len(line) < 200
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [
    ["superbill", "--visit", "MAIN"],
    ["daysheet", "--date", "2026-11-20"],
    ["export", "--date", "2026-11-20"],
])
def test_a_300_character_out_name(clinic_db, tmp_path, capsys, command):
    db, clinic = clinic_db
    argv = [str(clinic.main_visit) if a == "MAIN" else a for a in command]
    name = tmp_path / ("n" * 296 + ".pdf")
    line = refused(capsys, argv[0], "--db", db, *argv[1:], "--out", name)
    assert "the file name is 300 characters long; at most 240 fit" in line
    assert "…" in line and len(line) < 250  # the name is shown cut, not 300 characters
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [
    ["superbill", "--visit", "MAIN", "--out", ""],
    ["superbill", "--date", "2026-11-20", "--split", ""],
    ["daysheet", "--date", "2026-11-20", "--out", ""],
    ["export", "--date", "2026-11-20", "--out", ""],
])
def test_an_empty_out(clinic_db, tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    db, clinic = clinic_db
    argv = [str(clinic.main_visit) if a == "MAIN" else a for a in command]
    line = refused(capsys, argv[0], "--db", db, *argv[1:])
    assert line in ("therapy-timer: no output file given", "therapy-timer: --split needs a folder")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("end, message", [
    ("0001-01-01", "cannot build the demo ending 0001-01-01: its 91 days would start before "
                   "the year 1"),
    ("9999-12-31", "cannot build the demo ending 9999-12-31: its plans of care would run past "
                   "the year 9999"),
])
def test_demo_refuses_an_end_date_it_cannot_use_and_creates_no_file(tmp_path, capsys, end,
                                                                     message):
    db = tmp_path / "demo.db"
    assert message in refused(capsys, "demo", "--db", db, "--end-date", end)
    assert list(tmp_path.iterdir()) == []


def test_demo_exits_2_on_a_file_that_already_holds_a_clinic(clinic_db, capsys):
    db, _ = clinic_db
    assert "already holds a clinic" in refused(capsys, "demo", "--db", db,
                                               "--end-date", "2026-11-20")


@pytest.mark.parametrize("command", [
    ["superbill", "--visit", "1", "--out", "{tmp}/x.pdf"],
    ["daysheet", "--date", "2026-11-20", "--out", "{tmp}/x.pdf"],
    ["export", "--date", "2026-11-20", "--out", "{tmp}/x.csv"],
    ["demo", "--end-date", "2026-11-20"],
])
def test_a_binary_file_as_the_database(tmp_path, capsys, command):
    db = tmp_path / "photo.db"
    db.write_bytes(BINARY)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in command]
    line = refused(capsys, argv[0], "--db", db, *argv[1:])
    assert "is not a Therapy Timer database (it is not an SQLite file at all)" in line
    assert db.read_bytes() == BINARY and sorted(p.name for p in tmp_path.iterdir()) == [
        "photo.db"]


@pytest.mark.parametrize("content, message", [
    (BINARY, "is not UTF-8 text (byte 0x80 at offset 128): save it as UTF-8"),
    ('{"rule": "cms", "note": "café"}'.encode("latin-1"),
     "is not UTF-8 text (byte 0xe9 at offset 28)"),
    (b"[" * 100_000, "the JSON is nested too deeply to be a visit"),
    (b'{"services": ' + b"9" * 5000 + b"}", "Exceeds the limit (4300 digits)"),
])
def test_units_reads_a_hostile_file_without_a_traceback(tmp_path, capsys, content, message):
    path = tmp_path / "visit.json"
    path.write_bytes(content)
    assert message in refused(capsys, "units", path)


def test_units_reads_binary_standard_input(tmp_path, capsys, monkeypatch):
    import io
    import sys

    class Stdin:
        buffer = io.BytesIO(BINARY)

    monkeypatch.setattr(sys, "stdin", Stdin)
    assert "stdin is not UTF-8 text (byte 0x80 at offset 128)" in refused(capsys, "units")


@pytest.fixture(scope="module")
def long_name_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "clinic.db"
    repo = open_repository(path)
    clinic = build(repo)
    patient = repo.get_patient(repo.get_visit(clinic.main_visit).patient_id)
    from dataclasses import replace

    repo.save_patient(replace(patient, last_name=LONG_NAME, first_name="Ann"))
    repo.close()
    return path, clinic


def test_a_1500_character_patient_name_prints_cut_with_an_ellipsis(long_name_db, tmp_path):
    db, clinic = long_name_db
    assert len(LONG_NAME) + len(", Ann") == 1504
    superbill, sheet = tmp_path / "superbill.pdf", tmp_path / "daysheet.pdf"
    assert run("superbill", "--db", db, "--visit", clinic.main_visit, "--out", superbill) == 0
    assert run("daysheet", "--db", db, "--date", "2026-11-20", "--out", sheet) == 0
    for pdf in (superbill, sheet):
        pages = pages_text(pdf.read_bytes())
        assert len(pages) == 1, pdf.name  # one page, as with a short name
        text = "".join(pages[0].split())  # the name wraps across lines in its box
        assert "Quintessential-uintessential-uintessential-" in text and "…" in text
        assert LONG_NAME.replace(" ", "") not in text  # never the whole paragraph
    assert "Page 1 of 1" in pages_text(superbill.read_bytes())[0]


def test_printed_names_are_cut_at_80_characters():
    from therapy_timer.core.superbill_build import printed_name

    assert printed_name("Lee,   Ann\n") == "Lee, Ann"
    assert printed_name("x" * 80) == "x" * 80
    assert printed_name("x" * 81) == "x" * 79 + "…"
    assert printed_name("word " * 40) == ("word " * 16).rstrip()[:79].rstrip() + "…"


def test_out_files_stay_owner_only_under_a_permissive_umask(clinic_db, tmp_path):
    import stat

    db, clinic = clinic_db
    outputs = {
        "superbill": ["superbill", "--visit", clinic.main_visit, "--out",
                      tmp_path / "superbill.pdf"],
        "split": ["superbill", "--date", "2026-11-20", "--split", tmp_path],
        "daysheet": ["daysheet", "--date", "2026-11-20", "--out", tmp_path / "day.pdf"],
        "export": ["export", "--date", "2026-11-20", "--out", tmp_path / "charges.csv"],
    }
    (tmp_path / "charges.csv").write_text("old")
    os.chmod(tmp_path / "charges.csv", 0o644)  # replacing a readable file tightens it too
    old = os.umask(0o022)
    try:
        for argv in outputs.values():
            assert run(argv[0], "--db", db, *argv[1:]) == 0
    finally:
        os.umask(old)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert len(written) == 5, written
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


@pytest.mark.parametrize("command", [
    ["superbill", "--visit", "1", "--out", "{tmp}/x.pdf"],
    ["superbill", "--date", "2026-11-20", "--out", "{tmp}/x.pdf"],
    ["daysheet", "--date", "2026-11-20", "--out", "{tmp}/x.pdf"],
    ["export", "--date", "2026-11-20", "--out", "{tmp}/x.csv"],
])
def test_a_database_with_our_id_but_no_tables(tmp_path, capsys, command):
    import sqlite3

    from therapy_timer.storage.db import APPLICATION_ID
    from therapy_timer.storage.migrations import LATEST_VERSION

    db = tmp_path / "hollow.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION}")
    conn.execute("CREATE TABLE practice (id INTEGER)")
    conn.commit()
    conn.close()
    argv = [a.replace("{tmp}", str(tmp_path)) for a in command]
    assert "is not a complete Therapy Timer database" in refused(capsys, argv[0], "--db", db,
                                                                 *argv[1:])
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path / "x.csv").exists()
