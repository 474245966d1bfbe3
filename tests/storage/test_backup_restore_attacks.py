"""Backup, restore and verify under attack (issue 11, items 1-3 and their part of item 10).

Each test performs the attack itself through the real command line (``main([...])``, or a
child process where the attack is a hang or a kill) and checks what the clinic sees: exit 2
with one line naming the problem, and the clinic database byte for byte as it was (hashed)
wherever nothing may change.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest

from therapy_timer.cli import main
from therapy_timer.storage.db import APPLICATION_ID
from therapy_timer.storage.repository import open_repository

from .conftest import T0, build_clinic

ROOT = Path(__file__).resolve().parents[2]

#: Every test here attacks the clinic file's backup and restore (its -wal and -shm, links, pipes,
#: SQLite headers, the file's bytes): the server's backup is ``backup --db URI`` (tests/cli).
pytestmark = pytest.mark.sqlite_only(
    "backup and restore of the clinic file: its journal files, links, pipes and headers")


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


@pytest.fixture(scope="module")
def clinic_file(tmp_path_factory):
    """A small clinic with one finalized visit (97110 for 25 minutes: 2 units at $45)."""
    path = tmp_path_factory.mktemp("clinic") / "source.db"
    repo = open_repository(path)
    clinic = build_clinic(repo)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", "PT", T0)
    repo.pause_visit(visit.id, T0 + minutes(25))
    repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
    repo.finalize_visit(visit.id, None, "avery", T0 + minutes(26))
    repo.close()
    return path


@pytest.fixture
def db(clinic_file, tmp_path):
    """The clinic database of one test (a copy of the module's clinic)."""
    folder = tmp_path / "clinic"
    folder.mkdir()
    path = folder / "clinic.db"
    shutil.copy(clinic_file, path)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(args, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def hidden_parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part")
                  or ".part-" in p.name)


def backup_copy(db: Path, tmp_path: Path, name: str = "backup.db") -> Path:
    out = tmp_path / name
    assert main(["backup", "--db", str(db), "--out", str(out)]) == 0
    return out


def sql(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


# -- item 1: a backup never goes over the live database or its files -------------------------


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm", "-journal"])
def test_backup_over_the_database_or_its_journal_files_is_refused(db, capsys, suffix):
    repo = open_repository(db)  # the app is running: recent commits sit in the -wal
    try:
        repo.save_fee("97530", 6100, T0.date())
        wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
        assert wal.stat().st_size > 0
        before = {p: digest(p) for p in (db, wal, shm)}
        code, _, err = run(["backup", "--db", db, "--out", f"{db}{suffix}"], capsys)
        assert code == 2
        line = one_line(err)
        assert "another file than the database" in line
        assert {p: digest(p) for p in (db, wal, shm)} == before
        if suffix == "-journal":
            assert not Path(f"{db}-journal").exists()
    finally:
        repo.close()
    code, out, _ = run(["verify", "--db", db], capsys)
    assert (code, out.splitlines()[0]) == (0, "ok")  # then what it checked
    with open_repository(db) as again:  # the commit that sat in the -wal survived
        assert again.conn.execute("SELECT cents FROM fees WHERE code = '97530' ORDER BY id "
                                  "DESC LIMIT 1").fetchone()[0] == 6100


def test_backup_through_a_link_to_the_wal_is_refused(db, tmp_path, capsys):
    repo = open_repository(db)
    try:
        repo.save_fee("97530", 6100, T0.date())
        wal = Path(f"{db}-wal")
        before = digest(wal)
        link = tmp_path / "innocent.db"
        link.symlink_to(wal)
        hard = tmp_path / "also-innocent.db"
        os.link(wal, hard)
        for out in (link, hard):
            code, _, err = run(["backup", "--db", db, "--out", out], capsys)
            assert code == 2 and "write-ahead log" in one_line(err)
        assert digest(wal) == before
    finally:
        repo.close()


def test_backup_over_another_live_databases_files_is_refused(db, tmp_path, capsys):
    other = tmp_path / "other" / "second-clinic.db"
    other.parent.mkdir()
    shutil.copy(db, other)
    repo = open_repository(other)  # another clinic, open in a window
    try:
        repo.save_fee("97530", 6100, T0.date())
        files = [other, Path(f"{other}-wal"), Path(f"{other}-shm")]
        before = [digest(p) for p in files]
        for out, words in ((f"{other}-wal", "write-ahead log of the database"),
                           (f"{other}-shm", "shared-memory index of the database"),
                           (f"{other}-journal", "rollback journal of the database"),
                           (other, "is a database in use")):
            code, _, err = run(["backup", "--db", db, "--out", out], capsys)
            assert code == 2, out
            assert words in one_line(err) and str(other) in err
        assert [digest(p) for p in files] == before
        assert not Path(f"{other}-journal").exists()
    finally:
        repo.close()


def test_backup_to_a_folder_says_so(db, tmp_path, capsys):
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = run(["backup", "--db", db, "--out", tmp_path], capsys)
    assert code == 2
    assert one_line(err) == (f"therapy-timer: {tmp_path} is a folder: give the backup a file "
                             f"name, for example {tmp_path / 'clinic-backup.db'}; nothing was "
                             "written")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_backup_into_a_missing_folder_says_so(db, tmp_path, capsys):
    out = tmp_path / "gone" / "copy.db"
    code, _, err = run(["backup", "--db", db, "--out", out], capsys)
    assert code == 2 and f"the folder {out.parent} does not exist" in one_line(err)
    assert not out.parent.exists()


# -- item 2: a restore checks the whole backup first; a refused one changes nothing ----------


def shell_with_our_mark(path: Path) -> Path:
    """Schema 0, no tables, but the Therapy Timer application id."""
    sql(path, f"PRAGMA application_id = {APPLICATION_ID}")
    assert path.stat().st_size > 0
    return path


def assert_refused_unchanged(db: Path, source: Path, capsys, *words: str) -> str:
    folder = db.parent
    before = digest(db)
    names = sorted(p.name for p in folder.iterdir())
    code, out, err = run(["restore", "--db", db, "--from", source], capsys)
    assert code == 2, out
    line = one_line(err)
    for word in words:
        assert word in line, line
    assert f"Nothing was restored: the database {db} is unchanged" in line
    assert digest(db) == before
    assert sorted(p.name for p in folder.iterdir()) == names  # no copy, no .part left
    with open_repository(db) as repo:  # the app still opens it, with its visit
        assert repo.conn.execute("SELECT count(*) FROM charge_lines").fetchone()[0] == 1
    return line


def test_restore_of_an_empty_shell_with_our_mark_changes_nothing(db, tmp_path, capsys):
    shell = shell_with_our_mark(tmp_path / "shell.db")
    line = assert_refused_unchanged(db, shell, capsys, "holds no clinic", "schema 0")
    assert "copy of the backup made for checking was deleted" in line


def test_restore_of_a_backup_missing_a_table_changes_nothing(db, tmp_path, capsys):
    broken = backup_copy(db, tmp_path)
    sql(broken, "DROP TABLE payments")
    assert_refused_unchanged(db, broken, capsys, "lacks the app's tables payments")


def test_restore_of_a_backup_missing_a_column_changes_nothing(db, tmp_path, capsys):
    broken = backup_copy(db, tmp_path)
    sql(broken, "DROP TRIGGER visits_frozen_v7", "ALTER TABLE visits DROP COLUMN choices")
    assert_refused_unchanged(db, broken, capsys, "lack the app's columns visits.choices")


def test_restore_of_a_damaged_backup_changes_nothing(db, tmp_path, capsys):
    damaged = backup_copy(db, tmp_path)
    data = bytearray(damaged.read_bytes())
    page = 4096
    for offset in range(2 * page, len(data) - page, page):  # every page but the first
        data[offset + 8:offset + 64] = b"\xff" * 56
    damaged.write_bytes(bytes(data))
    assert_refused_unchanged(db, damaged, capsys, "damaged")


def test_restore_of_a_backup_with_a_broken_audit_chain_changes_nothing(db, tmp_path, capsys):
    tampered = backup_copy(db, tmp_path)
    sql(tampered, "DROP TRIGGER audit_no_update",
        "UPDATE audit_log SET detail = '{}' WHERE seq = 3")
    assert_refused_unchanged(db, tampered, capsys, "fails verification: audit entry 3")


def test_restore_of_a_newer_or_foreign_file_changes_nothing(db, tmp_path, capsys):
    newer = backup_copy(db, tmp_path, "newer.db")
    sql(newer, "PRAGMA user_version = 999")
    assert_refused_unchanged(db, newer, capsys, "newer Therapy Timer")
    foreign = tmp_path / "recipes.db"
    sql(foreign, "CREATE TABLE recipes (name TEXT)")
    assert_refused_unchanged(db, foreign, capsys, "not a Therapy Timer database")


def test_restore_while_a_window_has_the_database_open_waits_5_seconds(db, tmp_path, capsys):
    good = backup_copy(db, tmp_path)
    window = open_repository(db)  # the app, idle, holding the file
    try:
        window.conn.execute("SELECT count(*) FROM visits").fetchone()
        before = digest(db)
        started = time.monotonic()
        code, _, err = run(["restore", "--db", db, "--from", good], capsys)
        waited = time.monotonic() - started
        assert code == 2
        line = one_line(err)
        assert "in use by another program or Therapy Timer window" in line
        assert "restore waited 5 seconds" in line and "is unchanged" in line
        assert 4.5 < waited < 20
        assert digest(db) == before
        assert not [p for p in db.parent.iterdir() if ".before-restore-" in p.name]
    finally:
        window.close()


def test_restore_swaps_in_one_rename_and_keeps_the_previous(db, tmp_path, capsys):
    good = backup_copy(db, tmp_path)
    sql(db, "DROP TRIGGER payments_no_delete")  # something that must go away with the swap
    old_inode = db.stat().st_ino
    code, out, _ = run(["restore", "--db", db, "--from", good], capsys)
    assert code == 0
    assert db.stat().st_ino != old_inode  # a new file took the name: no page-by-page overwrite
    [previous] = [p for p in db.parent.iterdir() if ".before-restore-" in p.name]
    assert f"the previous database was saved as {previous}" in out
    assert stat.S_IMODE(previous.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert hidden_parts(db.parent) == []
    code, out, _ = run(["verify", "--db", db], capsys)
    assert (code, out.splitlines()[0]) == (0, "ok")  # then what it checked
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = "
                            "'payments_no_delete'").fetchone()[0] == 1
    finally:
        conn.close()


# -- item 3: a restored file brings its data, never its own triggers, views or tables --------


def test_restored_added_trigger_cannot_triple_the_charge(db, tmp_path, capsys):
    rigged = backup_copy(db, tmp_path)
    sql(rigged,
        "DROP TRIGGER charge_lines_no_update",
        """CREATE TRIGGER triple_charge AFTER INSERT ON charge_lines BEGIN
               UPDATE charge_lines SET units = NEW.units * 3,
                      charge_cents = NEW.charge_cents * 3 WHERE id = NEW.id; END""",
        "CREATE VIEW patient_export AS SELECT * FROM patients",
        "CREATE TABLE stash (what TEXT)", "INSERT INTO stash VALUES ('x')",
        "ALTER TABLE patients ADD COLUMN ssn TEXT")
    code, out, _ = run(["restore", "--db", db, "--from", rigged], capsys)
    assert code == 0
    assert ("left out what the backup carried that the app does not create (never copied): "
            "column patients.ssn, trigger triple_charge, view patient_export, table stash"
            ) in out
    assert ("the backup lacked or had changed the app's own trigger charge_lines_no_update: "
            "restored with the app's own") in out
    with open_repository(db) as repo:
        [(kind_count,)] = repo.conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('triple_charge', "
            "'patient_export', 'stash')").fetchall()
        assert kind_count == 0
        patient = repo.conn.execute("SELECT id FROM patients ORDER BY id LIMIT 1").fetchone()[0]
        provider = repo.conn.execute("SELECT id FROM providers WHERE role = 'PT' ORDER BY id "
                                     "LIMIT 1").fetchone()[0]
        plan = repo.conn.execute("SELECT id FROM plans ORDER BY id LIMIT 1").fetchone()[0]
        start = T0 + timedelta(days=1)
        visit = repo.start_visit(patient, provider, plan, start)
        repo.start_interval(visit.id, "97110", "PT", start)
        repo.pause_visit(visit.id, start + minutes(20))
        repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
        lines = repo.finalize_visit(visit.id, None, "avery", start + minutes(21))
        assert [(ln.code, ln.units, ln.charge_cents) for ln in lines] == [("97110", 1, 4500)]
        stored = repo.conn.execute("SELECT units, charge_cents FROM charge_lines WHERE "
                                   "visit_id = ?", (visit.id,)).fetchall()
        assert stored == [(1, 4500)]
        with pytest.raises(sqlite3.IntegrityError, match="frozen"):
            repo.conn.execute("UPDATE charge_lines SET units = 9")


def test_restore_refuses_a_view_in_place_of_a_table(db, tmp_path, capsys):
    rigged = backup_copy(db, tmp_path)
    sql(rigged, "DROP TABLE charge_lines",
        "CREATE VIEW charge_lines AS SELECT 1 AS id, 1 AS visit_id, 1 AS line_no, '97110' AS "
        "code, '' AS label, '' AS modifiers, 6 AS units, 20 AS minutes, 4500 AS fee_cents, "
        "27000 AS charge_cents, 0 AS allowed_cents, '' AS diagnosis_pointers")
    assert_refused_unchanged(db, rigged, capsys, "charge_lines is not the app's table")


def test_restore_refuses_data_that_breaks_the_apps_rules(db, tmp_path, capsys):
    rigged = backup_copy(db, tmp_path)
    # The backup's own table without the CHECK: a negative charge slipped in.
    sql(rigged, "PRAGMA writable_schema = ON",
        "UPDATE sqlite_master SET sql = replace(sql, 'CHECK (charge_cents >= 0)', '') "
        "WHERE name = 'charge_lines'")
    sql(rigged, "DROP TRIGGER charge_lines_no_update",
        "UPDATE charge_lines SET charge_cents = -500")
    assert_refused_unchanged(db, rigged, capsys, "holds data the app's rules refuse",
                             "CHECK constraint failed")


# -- item 10: hostile paths and files for verify, backup and restore -------------------------


def test_verify_never_changes_the_file_it_checks(db, tmp_path, capsys):
    copy = backup_copy(db, tmp_path)
    os.chmod(copy, 0o644)
    before = digest(copy)
    assert copy.read_bytes()[18:20] == b"\x01\x01"  # a backup is in rollback-journal mode
    code, out, _ = run(["verify", "--db", copy], capsys)
    assert (code, out.splitlines()[0]) == (0, "ok")  # then what it checked
    assert digest(copy) == before  # not switched to WAL
    assert stat.S_IMODE(copy.stat().st_mode) == 0o644  # its mode left as the owner set it
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("backup")) == [
        "backup.db"]


def test_a_named_pipe_is_refused_at_once(db, tmp_path):
    pipe = tmp_path / "pipe.db"
    os.mkfifo(pipe)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    for args in (["verify", "--db", pipe], ["backup", "--db", pipe, "--out", tmp_path / "b.db"],
                 ["restore", "--db", pipe, "--from", backup_copy(db, tmp_path)],
                 ["restore", "--db", db, "--from", pipe],
                 ["superbill", "--db", pipe, "--visit", "1", "--out", tmp_path / "s.pdf"]):
        before = digest(db)
        done = subprocess.run([sys.executable, "-m", "therapy_timer", *map(str, args)],
                              capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
        assert done.returncode == 2, (args, done.stderr)
        assert "is a named pipe, not a database file" in one_line(done.stderr), args
        assert digest(db) == before


def test_a_symlink_loop_as_the_database_is_refused(db, tmp_path, capsys):
    loop = tmp_path / "loop.db"
    loop.symlink_to(tmp_path / "loop2.db")
    (tmp_path / "loop2.db").symlink_to(loop)
    for args in (["verify", "--db", loop], ["backup", "--db", loop, "--out", tmp_path / "b.db"],
                 ["restore", "--db", loop, "--from", backup_copy(db, tmp_path)],
                 ["restore", "--db", db, "--from", loop],
                 ["superbill", "--db", loop, "--visit", "1", "--out", tmp_path / "s.pdf"],
                 ["daysheet", "--db", loop, "--date", "2026-11-20", "--out", tmp_path / "d.pdf"]):
        code, _, err = run(args, capsys)
        assert code == 2, args
        assert "is a symbolic link that loops" in one_line(err), args


def test_an_empty_file_is_refused_by_read_commands(tmp_path, capsys):
    empty = tmp_path / "empty.db"
    empty.touch()
    for args in (["verify", "--db", empty], ["backup", "--db", empty, "--out", tmp_path / "b.db"],
                 ["superbill", "--db", empty, "--visit", "1", "--out", tmp_path / "s.pdf"],
                 ["daysheet", "--db", empty, "--date", "2026-11-20", "--out", tmp_path / "d.pdf"],
                 ["export", "--db", empty, "--date", "2026-11-20", "--out", tmp_path / "e.csv"]):
        code, _, err = run(args, capsys)
        assert code == 2, args
        assert "is empty (0 bytes): it holds no clinic" in one_line(err), args
        assert empty.stat().st_size == 0  # not turned into an empty clinic
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


@pytest.mark.parametrize("damage", ["schema 0", "no visits table"])
def test_our_mark_without_the_tables_is_refused(db, tmp_path, capsys, damage):
    if damage == "schema 0":
        target = shell_with_our_mark(tmp_path / "shell.db")
        words = "holds no clinic (schema 0"
    else:
        target = backup_copy(db, tmp_path, "hollow.db")
        sql(target, "PRAGMA foreign_keys = OFF", "DROP TABLE intervals", "DROP TABLE visits")
        words = "lacks the app's tables visits, intervals"
    before = digest(target)
    for args in (["verify", "--db", target],
                 ["backup", "--db", target, "--out", tmp_path / "b.db"],
                 ["superbill", "--db", target, "--visit", "1", "--out", tmp_path / "s.pdf"]):
        code, _, err = run(args, capsys)
        assert code == 2, args
        assert words in one_line(err), args
        assert digest(target) == before
    assert not (tmp_path / "b.db").exists() and not (tmp_path / "s.pdf").exists()


def test_restore_from_a_path_with_hash_question_mark_and_percent(db, tmp_path, capsys):
    named = tmp_path / "week#1?final%20.db"
    backup_copy(db, tmp_path, named.name)
    # Decoys: what a URI would open if the name were not escaped.
    decoy_clinic = tmp_path / "week"
    shell_with_our_mark(decoy_clinic)
    sql(db, "DROP TRIGGER visits_no_delete")  # the database differs from the backup
    code, out, err = run(["restore", "--db", db, "--from", named], capsys)
    assert code == 0, err
    assert f"restored {named} into {db}" in out
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT count(*) FROM charge_lines").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = "
                            "'visits_no_delete'").fetchone()[0] == 1
    finally:
        conn.close()


# -- killed commands leave no hidden .part file at the next run ------------------------------


KILLER = textwrap.dedent("""
    import os, signal, sys
    from therapy_timer.cli import main

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    where, name = sys.argv[1].rsplit(":", 1)
    module = __import__(where, fromlist=[name])
    setattr(module, name, die)
    main(sys.argv[2:])
""")


def killed(patch: str, *args) -> None:
    """Runs a command in a child that SIGKILLs itself at ``patch`` (module:function)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", KILLER, patch, *map(str, args)],
                          capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert done.returncode == -9, done.stderr


def test_a_killed_backup_leaves_no_part_file_at_the_next_run(db, tmp_path, capsys):
    out = tmp_path / "nightly.db"
    killed("therapy_timer.storage.backup:_copy_pages", "backup", "--db", db, "--out", out)
    assert hidden_parts(tmp_path) != []  # what the kill left
    assert not out.exists()
    code, _, _ = run(["backup", "--db", db, "--out", out], capsys)
    assert code == 0
    assert hidden_parts(tmp_path) == []


def test_a_killed_restore_leaves_no_part_file_at_the_next_run(db, tmp_path, capsys):
    good = backup_copy(db, tmp_path)
    before = digest(db)
    killed("therapy_timer.storage.backup:check_candidate", "restore", "--db", db, "--from",
           good)
    assert hidden_parts(db.parent) != []
    assert digest(db) == before
    code, _, err = run(["restore", "--db", db, "--from", good], capsys)
    assert code == 0, err
    assert hidden_parts(db.parent) == []


def test_a_killed_pdf_leaves_no_part_file_at_the_next_run(db, tmp_path, capsys):
    out = tmp_path / "bill.pdf"
    killed("therapy_timer.pdf:render_superbills", "superbill", "--db", db, "--visit", "1",
           "--out", out)
    assert hidden_parts(tmp_path) != []
    code, _, err = run(["superbill", "--db", db, "--visit", "1", "--out", out], capsys)
    assert code == 0, err
    assert hidden_parts(tmp_path) == []
    assert out.read_bytes().startswith(b"%PDF")


def test_an_older_backup_is_rebuilt_at_its_version_then_migrated(db, tmp_path, capsys):
    from therapy_timer.storage.migrations import LATEST_VERSION, migrate

    old = tmp_path / "schema5.db"
    conn = sqlite3.connect(old, isolation_level=None)
    migrate(conn, "an old clinic", 5)
    conn.execute("INSERT INTO practice (id, name) VALUES (1, 'Old Riverside (synthetic)')")
    conn.execute("INSERT INTO payers (name, rule) VALUES ('Acme Health', 'per-code')")
    conn.close()
    code, out, err = run(["restore", "--db", db, "--from", old], capsys)
    assert code == 0, err
    assert "left out" not in out and "lacked" not in out
    with open_repository(db) as repo:
        assert repo.schema_version == LATEST_VERSION
        assert repo.conn.execute("SELECT name FROM practice").fetchone()[0] == (
            "Old Riverside (synthetic)")
        assert repo.conn.execute("SELECT kind FROM payments").fetchall() == []
        assert repo.conn.execute("SELECT address FROM payers").fetchone()[0] == ""


def test_restore_over_another_programs_database_changes_nothing(db, tmp_path, capsys):
    foreign = tmp_path / "recipes.db"
    sql(foreign, "CREATE TABLE recipes (name TEXT)", "INSERT INTO recipes VALUES ('soup')")
    before = digest(foreign)
    code, _, err = run(["restore", "--db", foreign, "--from", db], capsys)
    assert code == 2
    line = one_line(err)
    assert "another program" in line and f"the database {foreign} is unchanged" in line
    assert digest(foreign) == before
    assert hidden_parts(tmp_path) == []
