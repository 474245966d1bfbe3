"""The commands on a clinic server (issue 13): ``--db`` / ``THERAPY_TIMER_DB`` naming a server,
``verify`` there (on both databases where it means the same), ``backup --db URI --out FILE.db``
(an ordinary clinic file that opens and verifies on any computer), ``restore`` refused into a
server, and every way a server can fail to answer: one line on stderr, the usual exit code, no
traceback, never the password."""

from __future__ import annotations

import sqlite3
import stat
from datetime import date
from pathlib import Path

import pytest

from tests.cli.conftest import DEMO_END, PASSWORD, no_password, with_password
from tests.pdf.clinic import build
from tests.sql_dialect import drop_trigger
from therapy_timer.cli import main
from therapy_timer.core.records import Patient
from therapy_timer.paths import db_path, shown
from therapy_timer.storage.db import APPLICATION_ID
from therapy_timer.storage.migrations import LATEST_VERSION, guard_triggers
from therapy_timer.storage.repository import open_repository

#: The schema's guard triggers: 40 through schema 12, 41 with 13 (a visit closes only with
#: its timers stopped, issue 14); later migrations may add more.
GUARDS = len(guard_triggers())
assert GUARDS >= 41


@pytest.fixture(autouse=True)
def _no_icd_package(monkeypatch):
    import therapy_timer.commands.documents as documents

    monkeypatch.setattr(documents, "icd_describer", lambda: {}.get)


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        code = int(exc.code)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    no_password(out, err)
    return code, out, err


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("therapy-timer: "), err
    return err


@pytest.fixture
def clinic(cli_target):
    """The small clinic on either database."""
    repo = open_repository(cli_target)
    made = build(repo)
    repo.close()
    return cli_target, made


@pytest.fixture
def server_clinic(pg_database):
    """The small clinic on the server, its address with a password."""
    uri = with_password(pg_database)
    repo = open_repository(uri)
    made = build(repo)
    repo.close()
    return uri, made


@pytest.fixture
def server_demo(pg_demo):
    """The demo clinic on the server (tests/cli/conftest.py), read only."""
    return pg_demo


# --- which database --db names ---------------------------------------------------------


@pytest.mark.parametrize("value", [
    "postgresql://tt@clinic-server/clinic", "postgres://tt:pw@10.0.0.5:5433/clinic",
    "  postgresql://tt@clinic-server/clinic", "service=clinic", "host=server dbname=clinic"])
def test_a_server_address_stays_the_text_it_is(value):
    assert db_path(value) == value.strip()
    assert db_path(None, environ={"THERAPY_TIMER_DB": value}) == value.strip()


@pytest.mark.parametrize("value", ["clinic.db", "~/clinic.db", "postgresql.db",
                                   "./service=x.db"])
def test_a_file_stays_a_path(value):
    assert db_path(value) == Path(value).expanduser()
    assert isinstance(db_path(value), Path)


def test_a_server_is_shown_without_its_password():
    assert shown("postgresql://tt:hunter2@clinic-server:5433/clinic") == \
        "the clinic server clinic-server:5433/clinic"
    assert shown("service=clinic") == "the clinic server (service clinic)"
    assert shown(Path("/data/clinic.db")) == "/data/clinic.db"


def test_the_environment_names_the_server(server_clinic, tmp_path, monkeypatch, capsys):
    uri, _ = server_clinic
    monkeypatch.setenv("THERAPY_TIMER_DB", uri)
    out = tmp_path / "sheet.pdf"
    code, stdout, err = run(capsys, "daysheet", "--date", "2026-11-20", "--out", out)
    assert (code, stdout.strip(), err) == (0, str(out), "")
    assert out.read_bytes().startswith(b"%PDF")


# --- verify ------------------------------------------------------------------------------


def test_verify_passes_on_both_and_a_server_says_why_it_has_no_keyed_hashes(clinic, capsys):
    target, _ = clinic
    code, out, err = run(capsys, "verify", "--db", target)
    lines = out.splitlines()
    assert (code, lines[0], err) == (0, "ok", "")
    assert f"checked: guard triggers: {GUARDS} of {GUARDS} in place" in lines
    keyed = [line for line in lines if line.startswith("could not check: the keyed hashes")]
    if isinstance(target, str):
        assert keyed == [
            "could not check: the keyed hashes: keyed hashes are not used on a clinic server: "
            "its stations cannot rewrite the audit log (the station role may only INSERT and "
            "SELECT it, never UPDATE or DELETE, and the guard triggers refuse changes), so "
            "there is no anchor key to hold"]
        assert ("cannot detect: the server's owner or a superuser can rewrite the log and "
                "recompute its chain: only a checkpoint kept apart (a day sheet's, verify "
                "--checkpoint) shows that") in lines
    else:
        assert "server" not in out


def test_verify_names_a_tampered_entry_and_the_removed_trigger_on_both(clinic, capsys):
    """An attacker holding the database (its file, or the server's owner role) drops the
    append-only trigger and rewrites entry 3: verify exits 1 and names both."""
    target, _ = clinic
    if isinstance(target, str):
        repo = open_repository(target)
        conn = repo.conn
    else:
        repo, conn = None, sqlite3.connect(target)
    try:
        drop_trigger(conn, "audit_no_update")
        conn.execute("UPDATE audit_log SET detail = '{}' WHERE seq = 3")
        if repo is None:
            conn.commit()
    finally:
        (repo or conn).close()
    code, out, err = run(capsys, "verify", "--db", target)
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[0] == ("broken: audit entry 3: its content does not match its hash (changed "
                        "after writing)")
    # On a server a station cannot put the trigger back: the message names who can.
    mends = ("`therapy-timer server repair` puts it back; a station cannot"
             if isinstance(target, str) else "the app re-creates it when it opens the database")
    assert f"broken: guard trigger audit_no_update is missing (removed; {mends})" in lines
    assert f"checked: guard triggers: {GUARDS - 1} of {GUARDS} in place" in lines


def test_verify_holds_a_server_to_a_checkpoint_given(server_clinic, tmp_path, capsys):
    uri, _ = server_clinic
    code, out, _ = run(capsys, "anchor", "--db", uri)
    assert code == 0
    assert out.startswith("the clinic server 127.0.0.1:")
    assert "has no audit anchor key: keyed hashes are not used on a clinic server" in out
    token = out.split("(verify --checkpoint ")[1].split(")")[0]
    code, out, _ = run(capsys, "verify", "--db", uri, "--checkpoint", token)
    assert code == 0 and "checked: checkpoints kept outside the file: 1" in out
    seq = token.split(":")[0]
    code, out, _ = run(capsys, "verify", "--db", uri, "--checkpoint", f"{seq}:{'0' * 16}")
    assert code == 1
    assert f"broken: audit entry {seq}: differs from the checkpoint kept in the checkpoint " \
           "given" in out
    code, _, err = run(capsys, "anchor", "--db", uri, "--out", tmp_path / "key.anchor")
    assert code == 2 and "has no audit anchor key to copy" in one_line(err)
    assert list(tmp_path.iterdir()) == []


# --- backup from a server ------------------------------------------------------------------


def rows(conn, table: str, columns) -> list[tuple]:
    names = ", ".join(f'"{c}"' for c in columns)
    return sorted((tuple(r) for r in conn.execute(f'SELECT {names} FROM "{table}"')),
                  key=repr)


def test_backup_from_a_server_is_an_ordinary_clinic_file(server_demo, tmp_path, capsys):
    """Every row of every table, the audit chain as it is, the app's own schema and guard
    triggers, Therapy Timer's mark and version, owner-only; it opens with --db FILE on any
    computer, verifies, and the clinic goes on working in it."""
    from therapy_timer.storage.checks import reference_schema

    out = tmp_path / "clinic-backup.db"
    code, stdout, err = run(capsys, "backup", "--db", server_demo, "--out", out)
    assert (code, err) == (0, "")
    server = open_repository(server_demo, migrate_schema=False)
    try:
        visits = server.conn.execute("SELECT count(*) FROM visits").fetchone()[0]
        entries = server.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        head = server.conn.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
        assert visits > 800 and entries > 6000
        assert stdout.startswith("backed up the clinic server 127.0.0.1:")
        assert f" to {out} (" in stdout and f"{visits} visits, {entries} audit entries)" in stdout
        assert f"it opens on any computer with --db {out}" in stdout
        assert sorted(p.name for p in tmp_path.iterdir()) == ["clinic-backup.db"]
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        file = sqlite3.connect(out)
        try:
            assert file.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
            assert file.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
            assert file.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
            ours = reference_schema(LATEST_VERSION)
            tables = [o for o in ours.values() if o.kind == "table"]
            assert len(tables) == 24
            for table in tables:
                assert rows(file, table.name, table.columns) == \
                    rows(server.conn, table.name, table.columns), table.name
            chain = "SELECT seq, prev_hash, hash, mac FROM audit_log ORDER BY seq"
            assert [tuple(r) for r in file.execute(chain)] == \
                [tuple(r) for r in server.conn.execute(chain)]
            triggers = {n for (n,) in file.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")}
            assert triggers == set(guard_triggers()) and len(triggers) == GUARDS
            schema = {n: " ".join(s.split()) for n, s in file.execute(
                "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")}
            assert schema == {n: " ".join(o.sql.split()) for n, o in ours.items() if o.sql}
        finally:
            file.close()
    finally:
        server.close()
    code, stdout, _ = run(capsys, "verify", "--db", out)
    assert code == 0 and stdout.startswith("ok\n")
    assert f"checked: audit chain: {entries} entries linked" in stdout
    # The clinic goes on in the file: a new patient is recorded and chained after the copy.
    repo = open_repository(out)
    try:
        repo.save_patient(Patient("Ann", "Backup-Test"), user="desk")
        assert repo.conn.execute("SELECT max(seq) FROM audit_log").fetchone()[0] == head + 1
    finally:
        repo.close()
    code, stdout, _ = run(capsys, "verify", "--db", out)
    assert code == 0 and f"checked: audit chain: {entries + 1} entries linked" in stdout
    sheet = tmp_path / "sheet.pdf"
    assert run(capsys, "daysheet", "--db", out, "--date", DEMO_END, "--out", sheet)[0] == 0


def test_a_backup_leaves_the_server_as_it_was(server_clinic, tmp_path, capsys):
    uri, _ = server_clinic
    repo = open_repository(uri)
    try:
        before = [tuple(r) for r in repo.conn.execute(
            "SELECT seq, hash FROM audit_log ORDER BY seq")]
    finally:
        repo.close()
    assert run(capsys, "backup", "--db", uri, "--out", tmp_path / "b.db")[0] == 0
    repo = open_repository(uri)
    try:
        assert [tuple(r) for r in repo.conn.execute(
            "SELECT seq, hash FROM audit_log ORDER BY seq")] == before
    finally:
        repo.close()


@pytest.mark.parametrize("out, message", [
    ("{tmp}", "is a folder: give the backup a file name, for example {tmp}/clinic-backup.db"),
    ("{tmp}/missing/b.db", "the folder {tmp}/missing does not exist; nothing was written"),
    ("", "no backup file given"),
])
def test_backup_from_a_server_refuses_where_it_may_not_write(server_clinic, tmp_path, capsys,
                                                            out, message):
    uri, _ = server_clinic
    out = out.replace("{tmp}", str(tmp_path))
    code, stdout, err = run(capsys, "backup", "--db", uri, "--out", out)
    assert (code, stdout) == (2, "")
    assert message.replace("{tmp}", str(tmp_path)) in one_line(err)
    assert list(tmp_path.iterdir()) == []


def test_backup_of_a_server_database_without_a_clinic_writes_nothing(pg_server, tmp_path,
                                                                     capsys):
    empty = with_password(pg_server.new_database())
    code, stdout, err = run(capsys, "backup", "--db", empty, "--out", tmp_path / "b.db")
    assert (code, stdout) == (2, "")
    assert "holds no Therapy Timer clinic yet" in one_line(err)
    assert list(tmp_path.iterdir()) == []


def test_a_backup_over_a_live_database_file_is_refused(server_clinic, tmp_path, capsys):
    uri, _ = server_clinic
    live = tmp_path / "clinic.db"
    open_repository(live).close()
    Path(f"{live}-wal").write_bytes(b"")
    code, _, err = run(capsys, "backup", "--db", uri, "--out", f"{live}-wal")
    assert code == 2 and "is the write-ahead log of the database" in one_line(err)


# --- restore into a server ----------------------------------------------------------------


def server_counts(uri) -> tuple[int, int]:
    repo = open_repository(uri, migrate_schema=False)
    try:
        return tuple(repo.conn.execute("SELECT (SELECT count(*) FROM visits), (SELECT count(*)"
                                       " FROM audit_log)").fetchone())
    finally:
        repo.close()


def test_restore_never_replaces_a_servers_clinic(server_clinic, tmp_path, capsys):
    uri, _ = server_clinic
    backup = tmp_path / "b.db"
    assert run(capsys, "backup", "--db", uri, "--out", backup)[0] == 0
    repo = open_repository(uri)
    repo.save_patient(Patient("Written", "After-Backup"), user="desk")
    repo.close()
    before = server_counts(uri)
    code, stdout, err = run(capsys, "restore", "--db", uri, "--from", backup)
    assert (code, stdout) == (2, "")
    one_line(err)
    assert (f"already holds a clinic ({before[0]} visits, {before[1]} audit entries) that every "
            "station works on: restore never replaces a server's data") in err
    assert f"Open the backup as it is with --db {backup}" in err
    assert f"'therapy-timer server migrate --from {backup} --to URI'" in err
    assert err.rstrip().endswith("Nothing was changed")
    assert server_counts(uri) == before


def test_restore_into_a_clinic_database_nobody_worked_on_points_at_migrate_into_it(
        pg_database, tmp_path, capsys):
    """A database `server init` made, still without a visit or an audit entry: restore
    refuses, and says to migrate into this very database (it said it 'already holds a
    clinic (0 visits, 0 audit entries)' and to make another one)."""
    target = tmp_path / "backup.db"
    repo = open_repository(target)
    build(repo)
    repo.close()
    code, stdout, err = run(capsys, "restore", "--db", pg_database, "--from", target)
    assert (code, stdout) == (2, "")
    line = one_line(err)
    assert "already holds a clinic" not in line
    assert ("holds no visits and no audit entries yet, so copy the backup into it with "
            f"'therapy-timer server migrate --from {target} --to URI' (URI: this database as "
            "the administrator), then point the stations at it. Nothing was changed") in line
    assert server_counts(pg_database) == (0, 0)


def test_restore_into_an_empty_server_database_points_at_server_migrate(
        pg_server, tmp_path, capsys):
    target = tmp_path / "backup.db"
    repo = open_repository(target)
    build(repo)
    repo.close()
    empty = pg_server.new_database()
    code, stdout, err = run(capsys, "restore", "--db", with_password(empty), "--from", target)
    assert (code, stdout) == (2, "")
    assert "restore writes a backup over a database file, not into a server" in one_line(err)
    assert f"server migrate --from {target} --to URI" in err
    assert pg_server.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
                         empty.rsplit("/", 1)[1]) == [(0,)]


# --- a server that does not answer as a clinic ----------------------------------------------

COMMANDS = {
    "verify": [],
    "anchor": [],
    "backup": ["--out", "{tmp}/b.db"],
    "restore": ["--from", "{tmp}/b.db"],
    "superbill": ["--visit", "1", "--out", "{tmp}/s.pdf"],
    "daysheet": ["--date", "2026-11-20", "--out", "{tmp}/d.pdf"],
    "export": ["--date", "2026-11-20", "--out", "{tmp}/c.csv"],
    "import fees": ["{tmp}/fees.csv", "--from", "2027-01-01"],
    "import ncci": ["{tmp}/fees.csv"],
}


def run_command(capsys, tmp_path, command: str, uri: str) -> tuple[int, str, str]:
    (tmp_path / "fees.csv").write_text("code,amount\n97110,48.00\n")
    extra = [a.replace("{tmp}", str(tmp_path)) for a in COMMANDS[command]]
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run(capsys, *command.split(), "--db", uri, *extra)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    assert result[1] == ""
    one_line(result[2])
    return result


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_server_nobody_answers_at_exits_1_in_one_line(tmp_path, capsys, command):
    from tests.pg_server import free_port

    port = free_port()
    uri = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/clinic"
    code, _, err = run_command(capsys, tmp_path, command, uri)
    assert code == 1
    assert f"cannot reach the clinic server 127.0.0.1:{port}/clinic (" in err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_database_that_does_not_exist_exits_2_in_one_line(pg_server, tmp_path, capsys,
                                                            command):
    uri = with_password(pg_server.uri("no_such_clinic"))
    code, _, err = run_command(capsys, tmp_path, command, uri)
    assert code == 2
    assert f"the clinic server 127.0.0.1:{pg_server.port}/no_such_clinic" in err
    assert 'database "no_such_clinic" does not exist' in err


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - {"restore"}))
def test_an_empty_database_is_not_made_a_clinic_by_a_command(pg_server, tmp_path, capsys,
                                                            command):
    """A read (or a backup, an import) of a database without a clinic exits 2 and creates no
    table there: only the app's first start (or server init) makes a clinic."""
    empty = pg_server.new_database()
    code, _, err = run_command(capsys, tmp_path, command, with_password(empty))
    assert code == 2
    assert "holds no Therapy Timer clinic yet; nothing was changed" in err
    assert pg_server.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
                         empty.rsplit("/", 1)[1]) == [(0,)]


@pytest.mark.parametrize("command", ["verify", "daysheet", "backup", "restore"])
def test_another_programs_database_exits_2_unchanged(pg_server, tmp_path, capsys, command):
    uri = pg_server.new_database()
    name = uri.rsplit("/", 1)[1]
    pg_server.sql("CREATE TABLE recipes (name text)", name)
    code, _, err = run_command(capsys, tmp_path, command, with_password(uri))
    assert code == 2
    assert "holds another program's tables, not a Therapy Timer database" in err
    assert pg_server.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
                         name) == [("recipes",)]


def test_units_db_on_a_server_nobody_answers_at(monkeypatch, capsys):
    import io
    import json

    from tests.pg_server import free_port

    visit = {"date": "2026-11-20", "intervals": [{"code": "97110", "minutes": 38}]}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(visit)))
    port = free_port()
    code, out, err = run(capsys, "units", "--db",
                         f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/clinic")
    assert (code, out) == (1, "")
    assert f"cannot reach the clinic server 127.0.0.1:{port}/clinic" in one_line(err)


# --- a server with passwords, and one that stops ------------------------------------------


@pytest.fixture(scope="module")
def password_server():
    """A server of its own that asks for passwords, for the wrong-password and the
    server-stopped cases (the session's server trusts 127.0.0.1)."""
    from tests.pg_password import password_server

    with password_server() as server:
        yield server


def test_a_wrong_password_and_a_stopped_server(password_server, tmp_path, capsys,
                                               monkeypatch):
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    port = password_server.port
    wrong = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres"
    code, out, err = run(capsys, "verify", "--db", wrong)
    assert (code, out) == (2, "")
    assert one_line(err) == (
        f"therapy-timer: the clinic server 127.0.0.1:{port}/postgres refused the password "
        "(wrong password, or no password found in .pgpass or the service file); nothing was "
        "changed\n")
    right = password_server.uri()
    code, out, err = run(capsys, "verify", "--db", right)
    assert code == 2 and "holds no Therapy Timer clinic yet" in err
    assert "right-password" not in err
    password_server.stop()
    try:
        for command in ("verify", "daysheet", "backup"):
            code, out, err = run_command(capsys, tmp_path, command, right)
            assert code == 1, command
            assert f"cannot reach the clinic server 127.0.0.1:{port}/postgres (" in err
            assert "right-password" not in err
    finally:
        password_server.start()


def test_demo_on_a_server_names_it_without_the_password(server_demo, capsys):
    code, out, err = run(capsys, "demo", "--db", server_demo, "--end-date", DEMO_END)
    assert code == 2 and "already holds a clinic" in one_line(err)


def test_import_into_a_server_is_audited_there(server_clinic, tmp_path, capsys):
    uri, _ = server_clinic
    fees = tmp_path / "fees.csv"
    fees.write_text("code,amount\n97110,48.00\n")
    code, out, err = run(capsys, "import", "fees", "--db", uri, fees, "--from", "2027-01-01")
    assert code == 0, err
    repo = open_repository(uri)
    try:
        assert repo.fee_schedule(date(2027, 1, 1))["97110"] == 4800
    finally:
        repo.close()
