"""Tamper evidence (issue 11, items 7 and 8): each attack is made with raw SQL on the file, as
someone holding only the database would (dropping whatever trigger is in the way); then
``verify`` (the store's report and the real command line) must say what it found. The chain
attacks (cut off, emptied, an entry appended, an entry rewritten and the rest re-hashed) are
caught with the anchor key at hand; without it, verify says what it could not check.

On both databases where the evidence exists on both: the data the log recorded, the guards,
a forged entry's claims. The anchor key, its checkpoints, companion files and backups are the
file's (the server's log carries no keyed hashes: its station role cannot write it but by
appending), so those tests are marked sqlite_only with why."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
from dataclasses import dataclass
from datetime import timedelta

import pytest

from tests.sql_dialect import drop_trigger, outside
from therapy_timer.cli import main
from therapy_timer.core.model import Performer
from therapy_timer.storage import anchor as anchors
from therapy_timer.storage.audit import entry_hash
from therapy_timer.storage.dialect import is_pg, is_server
from therapy_timer.storage.repository import open_repository

from .conftest import T0, build_clinic

SQLITE_ONLY = pytest.mark.sqlite_only


@dataclass
class Scene:
    path: object
    ids: dict


def _visit(repo, clinic, code, start, minutes):
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, start)
    repo.start_interval(visit.id, code, Performer.PT, start)
    repo.pause_visit(visit.id, start + timedelta(minutes=minutes))
    repo.set_diagnoses(visit.id, ["M54.50"])
    return visit


def _build_scene(path) -> Scene:
    repo = open_repository(path)
    clinic = build_clinic(repo)
    billed = _visit(repo, clinic, "97110", T0, 38)
    repo.finalize_visit(billed.id, None, "pat", T0 + timedelta(minutes=40))
    paid = repo.record_payment(billed.id, 2000, "card", "slip 4", T0 + timedelta(hours=1),
                               user="desk")
    mistake = repo.record_payment(billed.id, 500, "cash", "", T0 + timedelta(hours=1),
                                  user="desk")
    repo.void_payment(mistake.id, "typed twice", user="desk", at=T0 + timedelta(hours=1))
    voided = _visit(repo, clinic, "97140", T0 + timedelta(hours=2), 20)
    repo.finalize_visit(voided.id, None, "pat", T0 + timedelta(hours=2, minutes=21))
    repo.void_visit(voided.id, "wrong patient", "pat", T0 + timedelta(hours=2, minutes=30))
    amended = _visit(repo, clinic, "97530", T0 + timedelta(hours=3), 25)
    repo.finalize_visit(amended.id, None, "pat", T0 + timedelta(hours=3, minutes=26))
    correction = repo.amend_visit(amended.id, "wrong code", "pat", T0 + timedelta(hours=4))
    repo.finalize_visit(correction.id, None, "pat", T0 + timedelta(hours=4, minutes=1))
    still_open = _visit(repo, clinic, "97112", T0 + timedelta(hours=5), 30)
    for minutes in (1, 2, 3):
        repo.mark_printed([billed.id], T0 + timedelta(hours=6, minutes=minutes), user="desk")
    repo.close()
    return Scene(path, {"billed": billed.id, "paid": paid.id, "mistake": mistake.id,
                        "voided": voided.id, "amended": amended.id,
                        "correction": correction.id, "open": still_open.id})


@pytest.fixture(scope="module")
def server_scene(pg_server, pg_template) -> Scene:
    """The scene on the server, built once: each test gets a copy (CREATE DATABASE from it)."""
    scene = _build_scene(pg_server.new_database(template=pg_template))
    yield Scene(scene.path.rsplit("/", 1)[1], scene.ids)
    pg_server.drop_database(scene.path)


@pytest.fixture(params=["sqlite", "postgresql"])
def scene(request, tmp_path) -> Scene:
    """A clinic: a finalized visit with a payment, a voided payment, a voided visit, an
    amended visit and its finalized correction, an open visit; then three printed marks (the
    newest entries, which nothing else records). In a file (its anchor key in this test's
    config folder), or a fresh copy of the server's."""
    if request.param == "sqlite":
        yield _build_scene(tmp_path / "clinic.db")
        return
    built = request.getfixturevalue("server_scene")
    server = request.getfixturevalue("pg_server")
    copy = Scene(server.new_database(template=built.path), dict(built.ids))
    yield copy
    server.drop_database(copy.path)


def on_server(scene) -> bool:
    return is_server(str(scene.path))


def attack(path, *statements, drop=(), args=None):
    """Plain SQL on the database, its guards in the way dropped first; a statement may be a
    dict of one text per database (``"sqlite"``, ``"postgresql"``)."""
    conn = outside(path)
    try:
        if not is_pg(conn):
            conn.execute("PRAGMA foreign_keys = OFF")
        for name in drop:
            drop_trigger(conn, name)
        for sql in statements:
            if isinstance(sql, dict):
                sql = sql["postgresql" if is_pg(conn) else "sqlite"]
            for name, value in sorted((args or {}).items(), key=lambda kv: -len(kv[0])):
                sql = sql.replace(f":{name}", str(int(value)))
            conn.execute(sql)
    finally:
        conn.close()


def findings(path, **kwargs) -> list[str]:
    repo = open_repository(path, migrate_schema=False)
    try:
        report = repo.verify_report(**kwargs)
        first = repo.audit_verify() if not kwargs else None
    finally:
        repo.close()
    problems = [str(p) for p in report.problems]
    if not kwargs:
        assert (str(first) if first else None) == (problems[0] if problems else None)
    return problems


def verify_cli(path, *extra, capsys) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(["verify", "--db", str(path), *extra])
    return code, capsys.readouterr().out.splitlines()


def test_an_untouched_clinic_verifies_and_says_what_it_checked(scene, capsys):
    assert findings(scene.path) == []
    code, out = verify_cli(scene.path, capsys=capsys)
    assert code == 0 and out[0] == "ok"
    assert "checked: finalized visits: 4 of 5 visits, their 4 charge lines as their finalize" \
           " entries recorded" in out
    assert "checked: amendments: 1, voids: 1, each as its entry recorded" in out
    assert "checked: payments: 2 (1 voided), each as its entry recorded" in out
    if on_server(scene):
        return  # no keyed hashes nor checkpoints on the server: the CLI tests say what it says
    assert any(line.startswith("checked: keyed hashes: ") for line in out), out
    assert any(line.startswith("checked: checkpoints kept outside the file: ") for line in out)
    assert not [line for line in out if line.startswith(("broken", "could not"))], out
    assert any(line.startswith("cannot detect: someone who holds the anchor key") for line in out)


DATA_ATTACKS = [
    # (what, triggers dropped, SQL, what verify must say)
    ("a charge line's units", ["charge_lines_no_update"],
     "UPDATE charge_lines SET units = 9, charge_cents = 40500 WHERE visit_id = :billed",
     "visit {billed}'s charge lines differ from what its finalize entry recorded"),
    ("a charge line added", ["charge_lines_frozen_insert"],
     "INSERT INTO charge_lines (visit_id, line_no, code, units, minutes, fee_cents,"
     " charge_cents) VALUES (:billed, 9, '97140', 2, 30, 5000, 10000)",
     "visit {billed}'s charge lines differ from what its finalize entry recorded"),
    ("a charge line deleted", ["charge_lines_no_delete"],
     "DELETE FROM charge_lines WHERE visit_id = :billed",
     "recorded (stored no lines, recorded 97110-GP x3 135.00)"),
    ("voided without its entry", ["visits_void_needs_reason"],
     "UPDATE visits SET status = 'void' WHERE id = :billed",
     "visit {billed} is void but no audit entry records its void and reason"),
    ("amended without an amendment", ["visits_amend_needs_amendment"],
     "UPDATE visits SET status = 'amended' WHERE id = :billed",
     "visit {billed} is amended but has no amendment"),
    ("reopened", ["visits_frozen"], "UPDATE visits SET status = 'open' WHERE id = :billed",
     "finalized visit {billed}, but the visit is open (reopened)"),
    ("finalized without the app", ["visits_finalize_needs_entry"],
     "UPDATE visits SET status = 'finalized' WHERE id = :open",
     "visit {open} is finalized but no audit entry records its finalize"),
    ("the visit deleted", ["visits_no_delete", "intervals_frozen_delete",
                           "charge_lines_no_delete"],
     ("DELETE FROM intervals WHERE visit_id = :voided",
      "DELETE FROM charge_lines WHERE visit_id = :voided",
      "DELETE FROM visits WHERE id = :voided"), "finalized visit {voided}, which is gone"),
    ("a payment's amount", ["payments_only_void"],
     "UPDATE payments SET cents = 20 WHERE id = :paid",
     "payment {paid}'s amount differ from what its entry recorded"),
    ("a payment deleted", ["payments_no_delete"], "DELETE FROM payments WHERE id = :paid",
     "recorded payment {paid} (visit {billed}), which is gone"),
    ("a payment added", [], "INSERT INTO payments (visit_id, cents, method, received_at, user)"
     " VALUES (:billed, 9900, 'cash', '2026-11-20T20:00:00.000000+00:00', 'desk')",
     "(visit {billed}) has no audit entry"),
    ("a payment voided", [], "UPDATE payments SET voided_at = 'x', voided_by = 'y',"
     " void_reason = 'z' WHERE id = :paid",
     "payment {paid} is void but no audit entry records that void and its reason"),
    ("a voided payment brought back", ["payments_only_void"],
     "UPDATE payments SET voided_at = NULL, voided_by = NULL, void_reason = NULL"
     " WHERE id = :mistake", "voided payment {mistake}, but the payment is not void"),
    ("an amendment's reason", ["amendments_no_update"], "UPDATE amendments SET reason = 'x'",
     "visit {amended}'s amendment (correction visit {correction}) is not the one its audit"
     " entry records"),
    ("a guard trigger dropped", ["charge_lines_frozen_insert"], "SELECT 1",
     "guard trigger charge_lines_frozen_insert is missing"),
    ("a trigger added", [], ({
        "sqlite": "CREATE TRIGGER triple AFTER INSERT ON charge_lines BEGIN"
                  " UPDATE charge_lines SET units = units * 3 WHERE id = NEW.id; END",
        "postgresql": "CREATE FUNCTION triple() RETURNS trigger LANGUAGE plpgsql AS $x$ BEGIN"
                      " UPDATE charge_lines SET units = units * 3 WHERE id = NEW.id;"
                      " RETURN NULL; END $x$"}, {
        "sqlite": "SELECT 1",
        "postgresql": "CREATE TRIGGER triple AFTER INSERT ON charge_lines FOR EACH ROW"
                      " EXECUTE FUNCTION triple()"}),
     "trigger triple is not one of the app's"),
]


@pytest.mark.parametrize(("what", "drop", "sql", "words"), DATA_ATTACKS,
                         ids=[a[0] for a in DATA_ATTACKS])
def test_verify_finds_each_change_to_the_data_the_log_recorded(scene, capsys, what, drop, sql,
                                                               words):
    attack(scene.path, *(sql if isinstance(sql, tuple) else (sql,)), drop=drop, args=scene.ids)
    expected = words.format(**scene.ids)
    assert any(expected in p for p in findings(scene.path)), findings(scene.path)
    code, out = verify_cli(scene.path, capsys=capsys)
    assert code == 1
    assert any(line.startswith("broken: ") and expected in line for line in out), out


def _newest(path) -> int:
    conn = outside(path)
    try:
        return conn.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    finally:
        conn.close()


def _rehash_from(conn, seq: int, **changes) -> None:
    """Rewrites entry ``seq`` (``changes``) and re-hashes it and every entry after it, as an
    attacker with the file (but not the key) can."""
    rows = conn.execute("SELECT seq, at, user, action, entity, entity_id, detail, prev_hash"
                        " FROM audit_log WHERE seq >= ? ORDER BY seq", (seq,)).fetchall()
    prev = rows[0][7]
    for row_seq, at, user, action, entity, entity_id, detail, _ in rows:
        if row_seq == seq:
            user = changes.get("user", user)
            detail = changes.get("detail", detail)
        digest = entry_hash(prev, row_seq, at, user, action, entity, entity_id, detail)
        conn.execute("UPDATE audit_log SET user = ?, detail = ?, prev_hash = ?, hash = ?"
                     " WHERE seq = ?", (user, detail, prev, digest, row_seq))
        prev = digest


def _append_forged(conn, mac=None) -> int:
    seq, prev = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
                             ).fetchone()
    at, detail = "2026-11-20T23:00:00.000000+00:00", '{"reason":"test"}'
    digest = entry_hash(prev, seq + 1, at, "mallory", "void", "visit", 1, detail)
    conn.execute("INSERT INTO audit_log (seq, at, user, action, entity, entity_id, detail,"
                 " prev_hash, hash, mac) VALUES (?, ?, 'mallory', 'void', 'visit', 1, ?, ?, ?,"
                 " ?)", (seq + 1, at, detail, prev, digest, mac))
    return seq + 1


@SQLITE_ONLY("the cut is seen by a checkpoint kept beside the anchor key, which only the file has;"
             " on the server the station role cannot delete entries")
def test_cutting_off_the_newest_entries_is_found_by_the_checkpoint(scene, capsys):
    newest = _newest(scene.path)
    attack(scene.path, f"DELETE FROM audit_log WHERE seq > {newest - 3}",
           drop=["audit_no_delete"])
    # The printed marks cut off are recorded nowhere else: only the checkpoint sees them.
    problem, trigger = findings(scene.path)
    assert problem.startswith(f"audit entry {newest}: is gone: a checkpoint of this file kept"
                              " in ")
    assert problem.endswith(f" recorded it, and the chain ends at entry {newest - 3} (its"
                            " newest entries were removed)")
    assert trigger.startswith("guard trigger audit_no_delete is missing")
    code, out = verify_cli(scene.path, capsys=capsys)
    assert code == 1 and out[0].startswith(f"broken: audit entry {newest}: is gone")


def test_deleting_every_entry_is_found(scene, capsys):
    newest = _newest(scene.path)
    attack(scene.path, "DELETE FROM audit_log", drop=["audit_no_delete"])
    problems = findings(scene.path)
    if not on_server(scene):  # the file's checkpoint saw the entries; the server keeps none
        assert any(p.startswith(f"audit entry {newest}: is gone") and "the chain is empty" in
                   p for p in problems), problems
    assert any(f"visit {scene.ids['billed']} is finalized but no audit entry records its"
               " finalize" in p for p in problems), problems
    assert any(p.startswith("guard trigger audit_no_delete is missing") for p in problems)
    code, out = verify_cli(scene.path, capsys=capsys)
    assert code == 1 and "checked: audit chain: 0 entries linked" in out


@pytest.mark.parametrize(("mac", "words"), [
    (None, "carries no keyed hash: written without the anchor key, or forged"),
    ("0" * 64, "its keyed hash does not match: forged, or rewritten and re-hashed without"
               " the key"),
])
@SQLITE_ONLY("a forged entry's keyed hash: only the file's log is keyed; the server's counterpart "
             "is test_a_forged_void_entry_is_found_by_the_data_it_claims")
def test_an_appended_forged_entry_is_found(scene, capsys, mac, words):
    conn = sqlite3.connect(scene.path, isolation_level=None)
    seq = _append_forged(conn, mac)
    conn.close()
    assert f"audit entry {seq}: {words}" in findings(scene.path)
    code, out = verify_cli(scene.path, capsys=capsys)
    assert code == 1 and f"broken: audit entry {seq}: {words}" in out


@SQLITE_ONLY("a re-hashed chain is seen by the keyed hashes and checkpoints, which only the file "
             "has; the server's station role cannot UPDATE the log")
def test_an_entry_rewritten_and_the_rest_rehashed_is_found(scene, capsys):
    newest = _newest(scene.path)
    conn = sqlite3.connect(scene.path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_no_update")
    _rehash_from(conn, 5, user="mallory")
    conn.close()
    problems = findings(scene.path)
    # The links hold again; the keyed hash and the checkpoint do not.
    assert not any("does not match its hash" in p or "previous entry" in p for p in problems)
    assert "audit entry 5: its keyed hash does not match: forged, or rewritten and re-hashed" \
           " without the key" in problems
    assert any(p.startswith(f"audit entry {newest}: differs from the checkpoint") for p in
               problems), problems
    code, out = verify_cli(scene.path, capsys=capsys)
    assert code == 1


@SQLITE_ONLY("the anchor record: only the file has one")
def test_removing_the_anchor_and_every_keyed_hash_is_found(scene):
    conn = sqlite3.connect(scene.path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_anchor_no_delete")
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DELETE FROM audit_anchor")
    conn.execute("UPDATE audit_log SET mac = NULL")
    _rehash_from(conn, 5, user="mallory")
    conn.close()
    problems = findings(scene.path)
    assert any("but its anchor record is gone (removed)" in p for p in problems), problems
    assert any("differs from the checkpoint" in p for p in problems), problems


@SQLITE_ONLY("the anchor record: only the file has one")
def test_an_anchor_replaced_by_the_attackers_own_key_is_found(scene):
    mine = anchors.new_key()
    conn = sqlite3.connect(scene.path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_anchor_no_update")
    conn.execute("DROP TRIGGER audit_no_update")
    _rehash_from(conn, 5, user="mallory")
    conn.execute("UPDATE audit_anchor SET key_id = ?", (mine.key_id,))
    for seq, digest in conn.execute("SELECT seq, hash FROM audit_log").fetchall():
        conn.execute("UPDATE audit_log SET mac = ? WHERE seq = ?", (mine.mac(digest), seq))
    conn.close()
    problems = findings(scene.path)
    assert any(f"but the file now names key {mine.key_id}: its anchor was replaced" in p
               for p in problems), problems


def test_a_forged_void_entry_is_found_by_the_data_it_claims(scene):
    """Without the key (always, on the server), a well-linked forged entry is still caught
    when what it claims did not happen: it voids visit 1, which is not void."""
    conn = outside(scene.path)
    seq = _append_forged(conn)
    conn.close()
    assert f"audit entry {seq}: voided visit 1, but the visit is not void" in findings(
        scene.path)


def _move_to_another_computer(tmp_path, monkeypatch):
    home = tmp_path / "elsewhere"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("HOME", str(home))
    return home


@SQLITE_ONLY("the anchor key missing on another computer: the server never has one; its forged "
             "entries are found by their data "
             "(test_a_forged_void_entry_is_found_by_the_data_it_claims)")
def test_without_the_key_verify_says_what_it_could_not_check(scene, tmp_path, monkeypatch,
                                                              capsys):
    conn = sqlite3.connect(scene.path, isolation_level=None)
    seq = _append_forged(conn)
    conn.close()
    _move_to_another_computer(tmp_path, monkeypatch)
    code, out = verify_cli(scene.path, capsys=capsys)
    # The forged void names a visit that is not void: the data check still sees that...
    assert code == 1
    assert f"broken: audit entry {seq}: voided visit 1, but the visit is not void" in out
    assert any("could not check: the keyed hashes (forged, rewritten or re-hashed entries):"
               " the anchor key of this database (id " in line and "--key FILE" in line
               for line in out), out
    assert any(line.startswith("could not check: cut-off newest entries: no checkpoint")
               for line in out), out
    # ...but not that the entry itself is forged.
    assert not any(f"audit entry {seq}: carries no keyed hash" in line for line in out)


@SQLITE_ONLY("a backup file and its companion key file")
def test_the_backups_companion_file_carries_the_key_to_another_computer(scene, tmp_path,
                                                                         monkeypatch, capsys):
    backup = tmp_path / "backup.db"
    capsys.readouterr()
    assert main(["backup", "--db", str(scene.path), "--out", str(backup)]) == 0
    companion = tmp_path / "backup.db.anchor"
    assert f"its audit anchor key and checkpoints: {companion}" in capsys.readouterr().out
    assert stat.S_IMODE(companion.stat().st_mode) == 0o600
    _move_to_another_computer(tmp_path, monkeypatch)
    code, out = verify_cli(backup, "--key", str(companion), capsys=capsys)
    assert code == 0 and out[0] == "ok", out
    conn = sqlite3.connect(backup, isolation_level=None)
    conn.execute("DROP TRIGGER audit_no_update")
    _rehash_from(conn, 5, user="mallory")
    conn.close()
    code, out = verify_cli(backup, "--key", str(companion), capsys=capsys)
    assert code == 1
    assert "broken: audit entry 5: its keyed hash does not match: forged, or rewritten and" \
           " re-hashed without the key" in out


@SQLITE_ONLY("a backup file verified against the checkpoints of the file it came from")
def test_an_older_backup_verifies_on_the_computer_whose_database_moved_on(scene, tmp_path,
                                                                           capsys):
    backup = tmp_path / "monday.db"
    assert main(["backup", "--db", str(scene.path), "--out", str(backup)]) == 0
    repo = open_repository(scene.path)
    repo.mark_printed([scene.ids["billed"]], T0 + timedelta(days=1), user="desk")
    repo.close()
    code, out = verify_cli(backup, capsys=capsys)
    assert code == 0, out
    assert any("an older copy (a backup)" in line for line in out), out


def test_a_checkpoint_printed_on_paper_catches_a_cut_elsewhere(scene, tmp_path, monkeypatch,
                                                               capsys):
    repo = open_repository(scene.path)
    point = repo.audit_checkpoint()
    repo.close()
    attack(scene.path, f"DELETE FROM audit_log WHERE seq > {point.seq - 2}",
           drop=["audit_no_delete"])
    _move_to_another_computer(tmp_path, monkeypatch)  # no local checkpoints, no key
    code, out = verify_cli(scene.path, "--checkpoint", point.token, capsys=capsys)
    assert code == 1
    assert out[0] == (f"broken: audit entry {point.seq}: is gone: a checkpoint of this file"
                      f" kept in the checkpoint given recorded it, and the chain ends at entry"
                      f" {point.seq - 2} (its newest entries were removed)")
    # Spaces as printed are fine; a wrong hash is a rewrite.
    code, out = verify_cli(scene.path, "--checkpoint", f"{point.seq - 3}:0000 0000 0000 0000",
                           capsys=capsys)
    assert code == 1 and any(f"audit entry {point.seq - 3}: differs from the checkpoint" in line
                             for line in out)


@pytest.mark.parametrize("token", ["12", "x:abcdefabcdef", "12:abc", "12:zzzzzzzzzzzzzz"])
def test_a_malformed_checkpoint_is_refused_with_one_line(scene, capsys, token):
    with pytest.raises(SystemExit) as exc:
        main(["verify", "--db", str(scene.path), "--checkpoint", token])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "checkpoint" in err and "Traceback" not in err


@SQLITE_ONLY("verify --key: the anchor key is the file's")
def test_a_key_file_that_is_not_one_is_refused(scene, tmp_path, capsys):
    bogus = tmp_path / "bogus.key"
    bogus.write_text("hello\n")
    capsys.readouterr()
    assert main(["verify", "--db", str(scene.path), "--key", str(bogus)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"therapy-timer: {bogus} is not a Therapy Timer anchor key or companion file"]
    other = tmp_path / "other.anchor"
    anchors.write_companion(anchors.new_key(), [], other)
    code, out = verify_cli(scene.path, "--key", str(other), capsys=capsys)
    assert code == 1 and any("is not this database's: the database names key" in line
                             for line in out)


@SQLITE_ONLY("the anchor key's file and its modes: only the file has a key")
def test_the_key_lives_owner_only_in_the_config_folder(scene, _isolated_user_dirs):
    folder = _isolated_user_dirs / "xdg_config_home" / "therapy-timer" / "audit-anchors"
    [key_file] = folder.glob("*.key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    [points] = folder.glob("*.checkpoints")
    assert stat.S_IMODE(points.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in points.read_text().splitlines()]
    assert lines[-1]["seq"] == _newest(scene.path)
    assert lines[-1]["db"] == os.path.abspath(scene.path)
    conn = sqlite3.connect(scene.path)
    key_id, first = conn.execute("SELECT key_id, first_seq FROM audit_anchor").fetchone()
    unsigned = conn.execute("SELECT count(*) FROM audit_log WHERE mac IS NULL").fetchone()[0]
    conn.close()
    assert key_file.name == f"{key_id}.key" and first == 1 and unsigned == 0
    # The key is not in the database file.
    key_hex = key_file.read_text().split()[-1]
    assert key_hex.encode() not in scene.path.read_bytes()


@SQLITE_ONLY("a file deleted and re-created under its name (the checkpoints are kept by the file's"
             " path)")
def test_a_new_database_under_an_old_name_is_not_taken_for_a_replaced_anchor(scene):
    os.remove(scene.path)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(f"{scene.path}{suffix}"):
            os.remove(f"{scene.path}{suffix}")
    repo = open_repository(scene.path)
    build_clinic(repo)
    repo.close()
    assert findings(scene.path) == []


@SQLITE_ONLY("restore of a backup file over the file")
def test_a_restored_backup_is_not_taken_for_a_cut_off_chain(scene, tmp_path, capsys):
    backup = tmp_path / "monday.db"
    assert main(["backup", "--db", str(scene.path), "--out", str(backup)]) == 0
    repo = open_repository(scene.path)
    repo.mark_printed([scene.ids["billed"]], T0 + timedelta(days=1), user="desk")
    repo.close()
    shutil.copy(scene.path, tmp_path / "keep.db")
    assert main(["restore", "--db", str(scene.path), "--from", str(backup)]) == 0
    code, out = verify_cli(scene.path, capsys=capsys)
    assert code == 0, out


def test_the_day_sheet_prints_a_checkpoint_that_catches_a_later_cut(scene, tmp_path,
                                                                     monkeypatch, capsys):
    """The printed checkpoint is kept on this computer too, and proves the log on any."""
    import re

    from tests.pdf.conftest import pages_text

    out = tmp_path / "day.pdf"
    assert main(["daysheet", "--db", str(scene.path), "--date", "2026-11-20",
                 "--out", str(out)]) == 0
    text = " ".join(pages_text(out.read_bytes()))
    newest = _newest(scene.path)
    match = re.search(r"Audit log checkpoint: entry ([\d,]+), ([0-9a-f ]{19})\. Keep this"
                      r" sheet: therapy-timer verify --checkpoint (\d+:[0-9a-f]{16})", text)
    assert match, text
    assert match.group(1).replace(",", "") == str(newest)
    token = match.group(3)
    assert token.startswith(f"{newest}:")
    attack(scene.path, f"DELETE FROM audit_log WHERE seq > {newest - 1}",
           drop=["audit_no_delete"])
    if not on_server(scene):  # the file's checkpoints are kept beside its anchor key
        code, out_lines = verify_cli(scene.path, capsys=capsys)  # this computer kept it too
        assert code == 1 and out_lines[0].startswith(f"broken: audit entry {newest}: is gone")
    _move_to_another_computer(tmp_path, monkeypatch)
    code, out_lines = verify_cli(scene.path, capsys=capsys)
    assert code == 1  # the dropped trigger still shows; the cut itself is not seen here...
    assert not any("is gone" in line for line in out_lines)
    code, out_lines = verify_cli(scene.path, "--checkpoint", token, capsys=capsys)
    assert code == 1 and out_lines[0].startswith(f"broken: audit entry {newest}: is gone")


def test_the_commands_say_when_the_app_re_created_missing_triggers(scene, tmp_path, capsys):
    attack(scene.path, drop=["charge_lines_frozen_insert"])
    capsys.readouterr()
    assert main(["daysheet", "--db", str(scene.path), "--date", "2026-11-20",
                 "--out", str(tmp_path / "d.pdf")]) == 0
    err = capsys.readouterr().err
    assert "had lost guard triggers" in err and "charge_lines_frozen_insert" in err
    assert findings(scene.path) == []  # back in place


@SQLITE_ONLY("the anchor key created with a new file")
def test_the_key_is_created_once_and_checkpoints_are_not_repeated(tmp_path,
                                                                   _isolated_user_dirs):
    from therapy_timer.storage.tamper import anchor_created_note

    path = tmp_path / "new.db"
    repo = open_repository(path)
    assert repo.anchor.created
    folder = _isolated_user_dirs / "xdg_config_home" / "therapy-timer" / "audit-anchors"
    assert anchor_created_note(repo.anchor).startswith(
        f"Therapy Timer created this database's audit anchor key: {folder}/"
        f"{repo.anchor.key_id}.key (owner-only).")
    key = repo.anchor.key
    assert (len(key.key), key.key_id, key.source) == (32, repo.anchor.key_id, "new")
    build_clinic(repo)
    repo.close()
    points = folder / f"{repo.anchor.key_id}.checkpoints"
    lines = points.read_text().splitlines()
    for _ in range(3):  # opened and closed with nothing new: no new checkpoint
        again = open_repository(path)
        assert not again.anchor.created and (again.anchor.key.key, again.anchor.key.key_id) == (
            key.key, key.key_id)
        again.close()
    assert points.read_text().splitlines() == lines


@SQLITE_ONLY("the anchor record: only the file has one")
def test_an_anchor_moved_past_the_chain_to_pass_unsigned_entries_is_found(scene):
    conn = sqlite3.connect(scene.path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_anchor_no_update")
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit_anchor SET first_seq = 9999")
    conn.execute("UPDATE audit_log SET mac = NULL")
    conn.close()
    newest = _newest(scene.path)
    assert (f"audit entry 9999: the anchor says entries are signed from entry 9999 on, but the"
            f" chain ends at entry {newest} (the anchor record was moved, or entries removed)"
            ) in findings(scene.path)
