"""Issue 13, least privilege and moving a clinic: ``server init``, ``server repair`` and
``server migrate`` on a real PostgreSQL server.

The module runs its own throwaway server whose ``pg_hba.conf`` asks every role but the
administrator for its password (SCRAM), and logs every statement: so the tests see that a
station logs in with the password init wrote to its password file, and that the password
never reaches the server's log, the app's tables or the command's output. (The session's
shared server trusts every login, which would prove neither.)
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import errors as pg_errors

from tests.pdf.clinic import build, t
from therapy_timer.cli import main
from therapy_timer.core.model import Performer
from therapy_timer.storage.errors import StorageError
from therapy_timer.storage.migrations import LATEST_VERSION
from therapy_timer.storage.repository import open_repository

PASSWORD = "station-pw-Quartz-7391-unique"
_names = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.pg_server import Server

    server = Server().init()
    (server.data / "pg_hba.conf").write_text(
        "local all all trust\n"
        "host all postgres 127.0.0.1/32 trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
        "host all all ::1/128 scram-sha-256\n")
    ca = make_certificates(server.data)
    with (server.data / "postgresql.conf").open("a") as conf:
        conf.write("log_statement = 'all'\nlogging_collector = off\nssl = on\n"
                   "listen_addresses = '127.0.0.1, ::1'\n")
    server.start()
    server.ca = ca
    yield server
    server.destroy()


def make_certificates(data: Path) -> Path:
    """A clinic CA and the server's certificate for ``localhost`` signed by it, made with
    openssl (installed with PostgreSQL) as README's Several computers says; returns the CA."""
    import shutil
    import subprocess

    def run(*args):
        subprocess.run(["openssl", *args], cwd=data, check=True, capture_output=True,
                       timeout=60)

    run("req", "-new", "-x509", "-days", "30", "-nodes", "-subj", "/CN=Test clinic CA",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-new", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key",
        "-out", "server.csr")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "30", "-out", "server.crt")
    (data / "server.key").chmod(0o600)
    if os.geteuid() == 0:
        for name in ("server.key", "server.crt"):
            shutil.chown(data / name, "postgres", "postgres")
    ca = data.parent / "clinic-ca.pem"
    shutil.copy(data / "ca.pem", ca)
    return ca


def pgpass_file() -> Path:
    """libpq's password file of the test's user (HOME is a temporary folder per test)."""
    return Path(os.environ["HOME"]) / ".pgpass"


def server_log(server) -> str:
    return (server.folder / "log").read_text(errors="replace")


def new_name() -> str:
    return f"clinic_{os.getpid()}_{next(_names)}"


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "station-password.txt"
    path.write_text(PASSWORD + "\n")
    return path


def init(server, name, *extra, capsys=None) -> tuple[int, str, str]:
    code = main(["server", "init", "--admin", server.admin_uri, "--database", name, *extra])
    if capsys is None:
        return code, "", ""
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def clinic(server, password_file, capsys):
    """A clinic database made by ``server init`` with a known station password (in the test
    user's ~/.pgpass): (name, station URI)."""
    name = new_name()
    code, out, _err = init(server, name, "--station-password-file", str(password_file),
                           capsys=capsys)
    assert code == 0
    return name, out.strip().splitlines()[-1]


def station_raw(server, name) -> psycopg.Connection:
    """A plain connection as the station role, the password found in ~/.pgpass."""
    return psycopg.connect(server.uri(name, f"{name}_station"), autocommit=True)


# --- init ---

def test_init_creates_the_database_and_roles_and_prints_the_station_uri_last(
        server, password_file, capsys):
    name = new_name()
    code, out, err = init(server, name, "--station-password-file", str(password_file),
                          capsys=capsys)
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == (
        f"postgresql://{name}_station@127.0.0.1:{server.port}/{name}")
    found = server.sql(f"SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole"
                       f" FROM pg_roles WHERE rolname LIKE '{name}%' ORDER BY rolname")
    assert found == [(f"{name}_owner", False, False, False, False),
                     (f"{name}_station", True, False, False, False)]
    encoding, collate, owner = server.sql(
        f"SELECT pg_encoding_to_char(encoding), datcollate, pg_get_userbyid(datdba) FROM"
        f" pg_database WHERE datname = '{name}'")[0]
    assert (encoding, collate, owner) == ("UTF8", "C", f"{name}_owner")
    # Every table, function and trigger of the schema belongs to the owner role.
    owners = server.sql("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname ="
                        " 'public'", name)
    assert owners == [(f"{name}_owner",)]
    functions = server.sql("SELECT DISTINCT pg_get_userbyid(proowner) FROM pg_proc WHERE"
                           " pronamespace = 'public'::regnamespace", name)
    assert functions == [(f"{name}_owner",)]
    # the latest schema (every migration ran: 13 with issue 14's stations, and any later one)
    assert server.sql("SELECT schema_version FROM therapy_timer_meta", name) == [
        (LATEST_VERSION,)]


def test_the_station_password_goes_to_an_owner_only_pgpass_and_nowhere_else(
        server, password_file, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    name = new_name()
    code, out, err = init(server, name, "--station-password-file", str(password_file),
                          capsys=capsys)
    assert code == 0
    pgpass = pgpass_file()
    assert stat.S_IMODE(os.stat(pgpass).st_mode) == 0o600
    assert Path(pgpass).read_text().splitlines() == [
        f"127.0.0.1:{server.port}:{name}:{name}_station:{PASSWORD}"]
    # Not on the screen, not in the app's log, not in the server's statement log.
    assert PASSWORD not in out + err
    assert PASSWORD not in caplog.text
    assert f"CREATE ROLE \"{name}_station\"" in server_log(server)
    assert PASSWORD not in server_log(server)
    # Not in the app's tables: the server keeps a SCRAM verifier, never the password.
    tables = [r[0] for r in server.sql("SELECT tablename FROM pg_tables WHERE schemaname ="
                                       " 'public'", name)]
    for table in tables:
        rows = server.sql(f'SELECT t::text FROM "{table}" t', name)
        assert not any(PASSWORD in row[0] for row in rows), table
    verifier = server.sql(f"SELECT rolpassword FROM pg_authid WHERE rolname ="
                          f" '{name}_station'")[0][0]
    assert verifier.startswith("SCRAM-SHA-256$") and PASSWORD not in verifier


def test_a_generated_password_lets_the_station_log_in_from_pgpass(server, capsys):
    name = new_name()
    code, out, _err = init(server, name, capsys=capsys)
    assert code == 0
    line = Path(pgpass_file()).read_text().strip()
    secret = line.rsplit(":", 1)[1]
    assert len(secret) >= 24 and secret not in out
    repo = open_repository(out.strip().splitlines()[-1])  # no password in the address
    try:
        assert repo.conn.execute("SELECT current_user").fetchone()[0] == f"{name}_station"
    finally:
        repo.close()
    os.remove(pgpass_file())
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(server.uri(name, f"{name}_station"))


def test_init_twice_is_refused_and_changes_nothing(server, clinic, capsys):
    name, _uri = clinic
    pgpass = pgpass_file()
    before = (Path(pgpass).read_text(), server.sql("SELECT rolname, rolpassword FROM pg_authid"
                                              " ORDER BY 1"),
              server.sql("SELECT datname FROM pg_database ORDER BY 1"))
    code, out, err = init(server, name, capsys=capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert f"already has the Therapy Timer database {name}; nothing was changed" in err
    after = (Path(pgpass).read_text(), server.sql("SELECT rolname, rolpassword FROM pg_authid"
                                             " ORDER BY 1"),
             server.sql("SELECT datname FROM pg_database ORDER BY 1"))
    assert after == before


def test_init_over_another_programs_database_is_refused(server, capsys):
    name = new_name()
    server.sql(f"CREATE DATABASE {name}")
    code, _out, err = init(server, name, capsys=capsys)
    assert code == 2
    assert f"already has a database {name} that is not a Therapy Timer clinic" in err
    assert server.sql(f"SELECT count(*) FROM pg_roles WHERE rolname LIKE '{name}%'") == [(0,)]


@pytest.mark.parametrize(("admin", "code", "words"), [
    ("postgresql://nobody:wrong-password@127.0.0.1:{port}/postgres", 2,
     'password authentication failed for user "nobody"'),
    ("postgresql://{station}:wrong-password@127.0.0.1:{port}/postgres", 2,
     "password authentication failed"),
    ("postgresql://postgres@127.0.0.1:{port}/no_such_db", 2,
     'database "no_such_db" does not exist'),
    ("postgresql://postgres@127.0.0.1:{closed}/postgres", 1, "cannot reach"),
    ("host=127.0.0.1 port= = =", 2, "is not a PostgreSQL URI or connection string"),
    ("", 2, "--admin is empty"),
])
def test_a_bad_admin_address_is_one_line_and_no_traceback(server, clinic, capsys, admin,
                                                            code, words):
    from tests.pg_server import free_port

    name, _uri = clinic
    admin = admin.format(port=server.port, closed=free_port(), station=f"{name}_station")
    done = main(["server", "init", "--admin", admin, "--database", new_name()])
    out, err = capsys.readouterr()
    assert done == code
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert words in err
    assert "wrong-password" not in err


def test_a_station_role_as_admin_is_refused(server, clinic, capsys, password_file):
    name, _uri = clinic
    admin = f"postgresql://{name}_station:{PASSWORD}@127.0.0.1:{server.port}/postgres"
    done = main(["server", "init", "--admin", admin, "--database", new_name()])
    _out, err = capsys.readouterr()
    assert done == 2
    assert PASSWORD not in err
    assert f"the user '{name}_station' may not create databases and roles" in err


def test_a_bad_database_name_is_refused(server, capsys):
    assert main(["server", "init", "--admin", server.admin_uri, "--database",
                 "Clinic; DROP"]) == 2
    assert "--database 'Clinic; DROP': a clinic database's name is lower-case" in (
        capsys.readouterr().err)


def test_a_remote_host_gets_tls_required(server, capsys):
    name = new_name()
    code, out, _err = init(server, name, "--host", "clinic-server.example", capsys=capsys)
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[-1] == (f"postgresql://{name}_station@clinic-server.example:{server.port}/"
                         f"{name}?sslmode=require")
    assert not any(line.startswith("warning:") for line in lines)  # the server has TLS on
    entries = [line.rsplit(":", 1)[0] for line in
               Path(pgpass_file()).read_text().splitlines()]
    assert entries == [f"clinic-server.example:{server.port}:{name}:{name}_station",
                       f"127.0.0.1:{server.port}:{name}:{name}_station"]


def test_init_warns_when_the_server_has_tls_off(server, capsys):
    server.sql("ALTER SYSTEM SET ssl = off")
    server.sql("SELECT pg_reload_conf()")
    try:
        code, out, _err = init(server, new_name(), "--host", "clinic-server.example",
                               capsys=capsys)
    finally:
        server.sql("ALTER SYSTEM RESET ssl")
        server.sql("SELECT pg_reload_conf()")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[-2].startswith("warning: the clinic server 127.0.0.1:")
    assert "has ssl = off: stations on other computers connect with sslmode=require" in (
        lines[-2])
    assert lines[-1].endswith("?sslmode=require")


def test_the_station_uris_connect_over_tls(server, capsys):
    """The printed address, as libpq reads it: sslmode=require encrypts; verify-full with the
    clinic's CA also checks the server's certificate (its name is localhost here)."""
    import time

    name = new_name()
    code, out, _err = init(server, name, "--host", "localhost", "--ca", str(server.ca),
                           capsys=capsys)
    assert code == 0
    uri = out.strip().splitlines()[-1]
    assert uri.endswith(f"?sslmode=verify-full&sslrootcert={server.ca}")
    repo = open_repository(uri)
    try:
        assert repo.conn.raw.pgconn.ssl_in_use
    finally:
        repo.close()
    required = uri.split("?")[0].replace("localhost", "127.0.0.1") + "?sslmode=require"
    repo = open_repository(required)
    try:
        assert repo.conn.raw.pgconn.ssl_in_use
        assert repo.conn.execute("SELECT current_user").fetchone()[0] == f"{name}_station"
    finally:
        repo.close()
    wrong = uri.replace("localhost", "127.0.0.1")  # a name the certificate does not carry
    started = time.monotonic()
    with pytest.raises(StorageError, match="does not match|certificate"):
        open_repository(wrong)
    assert time.monotonic() - started < 10


def test_a_clinic_ca_gets_verify_full(server, capsys, tmp_path):
    ca = tmp_path / "clinic ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    name = new_name()
    code, out, _err = init(server, name, "--host", "10.0.0.5", "--ca", str(ca),
                           capsys=capsys)
    assert code == 0
    uri = out.strip().splitlines()[-1]
    assert uri == (
        f"postgresql://{name}_station@10.0.0.5:{server.port}/{name}?sslmode=verify-full"
        f"&sslrootcert={str(ca).replace(' ', '%20')}")
    assert psycopg.conninfo.conninfo_to_dict(uri)["sslrootcert"] == str(ca)


@pytest.mark.parametrize(("host", "port", "ca", "uri"), [
    ("localhost", 5432, None, "postgresql://s@localhost:5432/db"),
    ("127.0.0.1", None, None, "postgresql://s@127.0.0.1/db"),
    ("::1", 5433, None, "postgresql://s@[::1]:5433/db"),
    ("/var/run/postgresql", 5432, None, "postgresql://s@/db?host=/var/run/postgresql"),
    ("192.168.1.20", 5432, None, "postgresql://s@192.168.1.20:5432/db?sslmode=require"),
    ("fe80::2", None, None, "postgresql://s@[fe80::2]/db?sslmode=require"),
    ("server.lan", 5432, "/etc/ca.pem",
     "postgresql://s@server.lan:5432/db?sslmode=verify-full&sslrootcert=/etc/ca.pem"),
])
def test_station_uri(host, port, ca, uri):
    from therapy_timer.storage.pg.setup import station_uri

    assert station_uri(host, port, "db", "s", ca) == uri


def test_pgpass_keeps_other_lines_and_escapes(tmp_path):
    from therapy_timer.storage.pg.pgpass import write_pgpass

    path = tmp_path / "pgpass"
    path.write_text("other:5432:*:me:keep\nh:5432:db:s:old\n")
    path.chmod(0o644)
    write_pgpass([("h", "5432", "db", "s")], r"new:pass\word", path)
    assert path.read_text() == "other:5432:*:me:keep\nh:5432:db:s:new\\:pass\\\\word\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- what the station role may do ---

def _whole_clinic_day(repo) -> int:
    """Everything a clinic does in a day, through the store: returns a finalized visit."""
    clinic = build(repo)  # practice, people, payers, fees, plans, visits finalized
    visit = repo.start_visit(clinic.repo.get_visit(clinic.open_visit).patient_id,
                             clinic.ot.id, None, t(300))
    running = repo.start_interval(visit.id, "97110", Performer.OT, t(300))
    repo.heartbeat(t(305))
    repo.pause_visit(visit.id, t(310))
    repo.resume_visit(visit.id, Performer.OT, t(312))
    for interval in repo.intervals_for(visit.id):
        if interval.end is None:
            repo.stop_interval(interval.id, t(330))
    repo.add_interval(visit.id, "97140", "OT", t(331), t(340), reason="late entry",
                      user="casey", now=t(341))
    repo.set_diagnoses(visit.id, ("R26.89",), validate=False)
    assert running.id < repo.intervals_for(visit.id)[-1].id
    repo.finalize_visit(visit.id, None, "Casey Moor", t(345))
    payment = repo.record_payment(visit.id, 2500, "card", "slip 9", t(350), user="desk")
    wrong = repo.record_payment(visit.id, 100, "cash", "", t(351), user="desk")
    repo.void_payment(wrong.id, "typo", user="desk", at=t(352))
    repo.mark_printed([visit.id], t(353), user="desk")
    repo.mark_printed([visit.id], t(354), user="desk")
    repo.set_favourite_codes(clinic.pt.id, ["97110", "97140"])
    repo.set_favourite_codes(clinic.pt.id, ["97530"])
    repo.set_admin_pin("4321")
    repo.set_admin_pin("8765", current="4321")
    repo.save_fee("97110", 4600, date(2026, 12, 1))
    repo.set_kx_threshold(2026, 241000, 300000, "V", "CMS", user="admin")
    amended = repo.amend_visit(clinic.main_visit, "wrong code", "Zoë Núñez", t(400))
    repo.void_visit(clinic.self_pay_visit, "entered twice", "desk", t(401))
    assert payment.id and amended.id
    return visit.id


def test_the_station_role_does_a_whole_clinic_day(server, clinic):
    name, uri = clinic
    repo = open_repository(uri)
    try:
        assert repo.conn.execute("SELECT current_user").fetchone()[0] == f"{name}_station"
        visit_id = _whole_clinic_day(repo)
        assert repo.get_visit(visit_id).status.value == "finalized"
        assert [p.cents for p in repo.payments_for(visit_id) if p.voided_at is None] == [2500]
        report = repo.verify_report()
        assert report.ok, report.problems
        assert any("keyed hashes are not used on a clinic server" in line
                   for line in report.cannot)
    finally:
        repo.close()
    # The repository reopened by a station: no DDL tried (it may not), nothing repaired.
    again = open_repository(uri)
    assert again.repaired_triggers == ()
    again.close()


@pytest.fixture
def finalized(clinic):
    """A station's clinic with finalized visits: (name, a finalized visit id)."""
    name, uri = clinic
    repo = open_repository(uri)
    try:
        visit = build(repo).main_visit
    finally:
        repo.close()
    return name, visit


@pytest.mark.parametrize(("statement", "refusal"), [
    ("UPDATE audit_log SET detail = '{}' WHERE seq = 1", "permission denied for table audit_log"),
    ("DELETE FROM audit_log WHERE seq = 1", "permission denied for table audit_log"),
    ("TRUNCATE audit_log", "permission denied for table audit_log"),
    ("DROP TRIGGER audit_no_update ON audit_log", "must be owner of relation audit_log"),
    ("ALTER TABLE visits DISABLE TRIGGER visits_frozen", "must be owner of table visits"),
    ("ALTER TABLE audit_log ADD COLUMN note TEXT", "must be owner of table audit_log"),
    ("CREATE TABLE shadow (seq BIGINT)", "permission denied for schema public"),
    ("CREATE OR REPLACE FUNCTION tt_audit_no_update() RETURNS trigger LANGUAGE plpgsql AS"
     " 'BEGIN RETURN NEW; END'", "permission denied for schema public"),
    ("CREATE TEMP TABLE scratch (a int)", "permission denied to create temporary tables"),
    ("SET session_replication_role = replica",
     'permission denied to set parameter "session_replication_role"'),
    ("UPDATE charge_lines SET units = 9", "permission denied for table charge_lines"),
    ("DELETE FROM visits WHERE id = {visit}", "permission denied for table visits"),
    ("UPDATE audit_anchor SET key_id = 'x'", "permission denied for table audit_anchor"),
    ("UPDATE therapy_timer_meta SET schema_version = 99",
     "permission denied for table therapy_timer_meta"),
])
def test_the_station_role_is_refused(server, finalized, statement, refusal):
    name, visit = finalized
    with station_raw(server, name) as conn:
        with pytest.raises(pg_errors.InsufficientPrivilege) as exc:
            conn.execute(statement.replace("{visit}", str(visit)))
        assert refusal in str(exc.value)
        assert conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname ="
                            " 'audit_no_update'").fetchone()[0] == 1


def test_the_station_role_cannot_change_a_finalized_visit(server, finalized):
    name, visit = finalized
    with station_raw(server, name) as conn:
        before = conn.execute("SELECT notes, status FROM visits WHERE id = %s",
                              (visit,)).fetchone()
        with pytest.raises(pg_errors.RaiseException, match="the visit is finalized"):
            conn.execute("UPDATE visits SET notes = 'rewritten' WHERE id = %s", (visit,))
        with pytest.raises(pg_errors.RaiseException, match="finalized"):
            conn.execute('UPDATE intervals SET "end" = start WHERE visit_id = %s', (visit,))
        assert conn.execute("SELECT notes, status FROM visits WHERE id = %s",
                            (visit,)).fetchone() == before


def test_the_privileges_follow_the_stores_statements():
    """Each table's privileges are exactly what the store's SQL asks for (read from its
    source): a new UPDATE or DELETE in the store needs its grant, and nothing is granted
    that no statement uses."""
    import re

    from therapy_timer.storage.migrations import guard_triggers
    from therapy_timer.storage.pg.roles import STATION_PRIVILEGES

    folder = Path(__file__).resolve().parents[2] / "therapy_timer" / "storage"
    # SQLite-only: backup builds SQLite files (INSERT INTO main.x); the migrations are the
    # owner's; tamper's INSERT INTO audit_anchor anchors an SQLite file (a server's chain is
    # not keyed: repository._open_server never anchors). journal.py is the station's own
    # offline journal, an SQLite file on the station (its tables are never the server's).
    skip = {"backup.py", "migrations.py", "journal.py"}
    sqlite_only = ["INSERT INTO audit_anchor"]
    needed: dict[str, set[str]] = {table: {"SELECT"} for table in STATION_PRIVILEGES}
    dynamic = {  # statements with the table's name in a variable, and their tables
        r"put_row\(conn, \"(\w+)\"": ("INSERT", "UPDATE"),
        r"put_dated\(conn, \"(\w+)\"": ("INSERT", "UPDATE"),
        r"end_dated\(conn, \"(\w+)\"": ("DELETE", "UPDATE"),
    }
    for path in sorted(folder.glob("*.py")):
        if path.name in skip:
            continue
        text = path.read_text()
        for statement in sqlite_only:
            text = text.replace(statement, "")
        for table in re.findall(r"INSERT INTO (\w+)", text):
            needed[table].add("INSERT")
        for table in re.findall(r"\bUPDATE (\w+) SET", text):
            needed[table].add("UPDATE")
        for table in re.findall(r"DELETE FROM (\w+)", text):
            needed[table].add("DELETE")
        for table in re.findall(r"INSERT INTO (\w+)[^;]*?DO UPDATE", text, re.S):
            needed[table].add("UPDATE")
        for pattern, privileges in dynamic.items():
            for table in re.findall(pattern, text):
                needed[table].update(privileges)
    # put_dated(conn, table, ...) from rates.py's fee files: the fees and payer_allowed.
    needed["fees"].update({"INSERT", "UPDATE"})
    needed["payer_allowed"].update({"INSERT", "UPDATE"})
    # ncci.py: DELETE FROM {table}, the pairs or the limits being replaced.
    needed["ncci_pairs"].add("DELETE")
    needed["mue_limits"].add("DELETE")
    assert {t: set(p) for t, p in STATION_PRIVILEGES.items()} == needed
    assert set(guard_triggers())  # the guards still refuse what the grants allow


def test_the_privileges_cover_every_table_of_the_schema(server, clinic):
    from therapy_timer.storage.pg.roles import STATION_PRIVILEGES

    name, _uri = clinic
    tables = {r[0] for r in server.sql("SELECT tablename FROM pg_tables WHERE schemaname ="
                                       " 'public'", name)}
    assert tables == set(STATION_PRIVILEGES)
    granted = {}
    for table, privilege in server.sql(
            f"SELECT table_name, privilege_type FROM information_schema.role_table_grants"
            f" WHERE grantee = '{name}_station'", name):
        granted.setdefault(table, set()).add(privilege)
    assert granted == {table: set(p) for table, p in STATION_PRIVILEGES.items()}
    assert server.sql("SELECT count(*) FROM information_schema.role_table_grants WHERE"
                      " grantee = 'PUBLIC' AND table_schema = 'public'", name) == [(0,)]


# --- a station meets a server that needs its administrator ---

def test_a_station_finding_a_guard_missing_says_to_ask_for_server_repair(server, clinic,
                                                                          capsys):
    name, uri = clinic
    server.sql("DROP TRIGGER visits_frozen ON visits", name)
    with pytest.raises(StorageError) as exc:
        open_repository(uri)
    message = str(exc.value)
    assert "visits_frozen missing or altered" in message
    assert (f"ask the clinic's administrator to run `therapy-timer server repair --admin "
            f"ADMIN_URI --database {name}`") in message
    assert server.sql("SELECT count(*) FROM pg_trigger WHERE tgname = 'visits_frozen'",
                      name) == [(0,)]
    assert main(["server", "repair", "--admin", server.admin_uri, "--database", name]) == 0
    out = capsys.readouterr().out
    assert "guard triggers put back: visits_frozen" in out
    owner = server.sql("SELECT pg_get_userbyid(c.relowner), pg_get_userbyid(p.proowner) FROM"
                       " pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON"
                       " p.oid = t.tgfoid WHERE t.tgname = 'visits_frozen'", name)
    assert owner == [(f"{name}_owner", f"{name}_owner")]
    repo = open_repository(uri)
    assert repo.repaired_triggers == ()
    repo.close()


def test_a_station_on_an_older_schema_says_to_ask_for_server_repair(server, clinic):
    name, uri = clinic
    server.sql("UPDATE therapy_timer_meta SET schema_version = 11", name)
    try:
        with pytest.raises(StorageError, match=r"schema 11; this Therapy Timer needs schema "
                                               rf"{LATEST_VERSION} .*server repair --admin "
                                               "ADMIN_URI"):
            open_repository(uri)
    finally:
        server.sql(f"UPDATE therapy_timer_meta SET schema_version = {LATEST_VERSION}", name)


def test_repair_of_a_database_init_did_not_make_is_refused(server, capsys):
    name = new_name()
    server.sql(f"CREATE DATABASE {name}")
    assert main(["server", "repair", "--admin", server.admin_uri, "--database", name]) == 2
    assert "was not set up by `therapy-timer server init`" in capsys.readouterr().err


# --- migrate ---

END = date(2026, 11, 20)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    from therapy_timer.demo import build_demo_file

    path = tmp_path_factory.mktemp("demo") / "clinic.db"
    build_demo_file(path, seed=1, end_date=END)
    return path


def sqlite_counts(path) -> dict[str, int]:
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
                for table in tables}
    finally:
        conn.close()


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def admin_of(server, name) -> str:
    return server.uri(name, "postgres")


def test_migrate_copies_every_record_and_the_audit_chain(server, clinic, demo_file, capsys):
    from therapy_timer.core.superbill_build import superbill_for_visit
    from therapy_timer.storage.checks import open_existing

    name, uri = clinic
    digest = sha256(demo_file)
    counts = sqlite_counts(demo_file)
    assert counts["patients"] == 40 and counts["audit_log"] > 1000
    assert main(["server", "migrate", "--from", str(demo_file), "--to",
                 admin_of(server, name)]) == 0
    out = capsys.readouterr().out
    for table, count in counts.items():
        assert f"  {table} " in out and any(
            line.split() == [table, str(count)] for line in out.splitlines()), table
    assert f"verify {demo_file}: ok" in out
    assert f"verify the clinic server 127.0.0.1:{server.port}/{name}: ok" in out
    assert sha256(demo_file) == digest  # the source only read
    there = {table: server.sql(f'SELECT count(*) FROM "{table}"', name)[0][0]
             for table in counts}
    assert there == counts
    # The chain byte for byte: every entry's fields, hashes and keyed hashes.
    import sqlite3

    src = sqlite3.connect(f"file:{demo_file}?mode=ro", uri=True)
    columns = 'seq, at, "user", action, entity, entity_id, detail, prev_hash, hash, mac'
    chain = src.execute(f"SELECT {columns} FROM audit_log ORDER BY seq").fetchall()
    src.close()
    assert server.sql(f"SELECT {columns} FROM audit_log ORDER BY seq", name) == chain
    assert any(row[-1] is not None for row in chain)  # the demo file's keyed hashes kept
    # One finalized visit's superbill data, from both stores, the same.
    source = open_existing(demo_file)
    station = open_repository(uri)
    try:
        visit = source.conn.execute("SELECT min(id) FROM visits WHERE status = 'finalized'"
                                    ).fetchone()[0]
        describe = {}.get
        assert superbill_for_visit(station, visit, describe) == superbill_for_visit(
            source, visit, describe)
        assert station.verify_report().ok
        # Work goes on at a station: new ids come after the copied ones, the chain grows.
        top = source.conn.execute("SELECT max(id) FROM visits").fetchone()[0]
        patient = source.conn.execute("SELECT min(id) FROM patients").fetchone()[0]
        provider = source.conn.execute("SELECT min(id) FROM providers").fetchone()[0]
        at = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
        new = station.start_visit(patient, provider, None, at)
        assert new.id == top + 1
        station.start_interval(new.id, "97110", Performer.PT, at + timedelta(minutes=1))
        report = station.verify_report()
        assert report.ok, report.problems
        assert f"audit chain: {len(chain) + 2} entries linked" in " ".join(report.checked)
    finally:
        source.close()
        station.close()
    assert main(["verify", "--db", str(demo_file)]) == 0
    assert sha256(demo_file) == digest


def test_migrate_refuses_a_target_that_is_not_empty(server, clinic, demo_file, capsys):
    name, uri = clinic
    repo = open_repository(uri)
    repo.save_patient(__import__("therapy_timer.core.records", fromlist=["Patient"]).Patient(
        "Ann", "Example", date(1950, 1, 1)))
    repo.close()
    digest = sha256(demo_file)
    code = main(["server", "migrate", "--from", str(demo_file), "--to", admin_of(server, name)])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "already holds clinic records (audit_log 1, patients 1)" in err
    assert server.sql("SELECT count(*) FROM patients", name) == [(1,)]
    assert sha256(demo_file) == digest


def test_migrate_into_a_clinic_already_migrated_is_refused(server, clinic, demo_file, capsys):
    name, _uri = clinic
    target = admin_of(server, name)
    assert main(["server", "migrate", "--from", str(demo_file), "--to", target]) == 0
    capsys.readouterr()
    assert main(["server", "migrate", "--from", str(demo_file), "--to", target]) == 2
    assert "migrate copies only into an empty clinic database" in capsys.readouterr().err


def test_a_failure_during_the_copy_leaves_the_target_empty(server, clinic, demo_file,
                                                           monkeypatch, capsys):
    from therapy_timer.storage.pg import transfer

    name, _uri = clinic
    seeded = server.sql("SELECT count(*) FROM kx_thresholds", name)

    def fail(_src, _pg):
        raise StorageError("the disk of the clinic server is full; nothing was saved")

    monkeypatch.setattr(transfer, "_advance_identities", fail)
    code = main(["server", "migrate", "--from", str(demo_file), "--to", admin_of(server, name)])
    assert code == 1
    assert "the disk of the clinic server is full" in capsys.readouterr().err
    for table in ("patients", "visits", "intervals", "audit_log", "payments"):
        assert server.sql(f"SELECT count(*) FROM {table}", name) == [(0,)], table
    assert server.sql("SELECT count(*) FROM kx_thresholds", name) == seeded
    assert server.sql("SELECT count(*) FROM pg_trigger WHERE tgname = 'visits_born_open'",
                      name) == [(1,)]


def test_migrate_with_the_station_address_is_refused(server, clinic, demo_file, capsys):
    name, uri = clinic
    assert main(["server", "migrate", "--from", str(demo_file), "--to", uri]) == 2
    err = capsys.readouterr().err
    assert "only a superuser may do" in err and err.count("\n") == 1
    assert server.sql("SELECT count(*) FROM visits", name) == [(0,)]


@pytest.mark.parametrize(("to", "words"), [
    ("", "therapy-timer: --to is empty: give the administrator's address, e.g. "
         "postgresql://postgres@localhost:5432/therapy_timer\n"),
    ("nonsense", "therapy-timer: the administrator's address (--to) is not a PostgreSQL URI or "
                 "connection string: write it like "
                 "postgresql://postgres@localhost:5432/therapy_timer\n"),
    (None, "; check the user, the password (or .pgpass) and the database in --to. Nothing "
           "was changed.\n"),
])
def test_migrate_names_its_own_option_when_the_address_is_wrong(server, clinic, demo_file,
                                                                 capsys, to, words):
    """migrate takes the administrator's address as --to: its refusals say --to, not
    init's --admin (an administrator following them would look for an option not there)."""
    name, _uri = clinic
    to = server.uri(name, "nobody_here") if to is None else to
    assert main(["server", "migrate", "--from", str(demo_file), "--to", to]) == 2
    err = capsys.readouterr().err
    assert err.endswith(words) and err.count("\n") == 1
    assert "--admin" not in err
    assert server.sql("SELECT count(*) FROM visits", name) == [(0,)]


def test_migrate_into_a_database_without_the_schema_is_refused(server, demo_file, capsys):
    name = new_name()
    server.sql(f"CREATE DATABASE {name}")
    assert main(["server", "migrate", "--from", str(demo_file), "--to",
                 admin_of(server, name)]) == 2
    assert "create the clinic's database with `therapy-timer server init` first" in (
        capsys.readouterr().err)


@pytest.mark.parametrize(("make", "words"), [
    (lambda p: None, "there is no database at"),
    (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    (lambda p: p.write_text("not a database"), "not"),
])
def test_migrate_refuses_a_source_that_is_not_a_clinic(server, clinic, tmp_path, capsys,
                                                       make, words):
    name, _uri = clinic
    source = tmp_path / "clinic.db"
    make(source)
    assert main(["server", "migrate", "--from", str(source), "--to",
                 admin_of(server, name)]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_an_administrator_who_is_not_a_superuser_may_init(server, capsys):
    """A managed server's administrator has CREATEDB and CREATEROLE but is no superuser: it
    acts as the owner role it creates (it is made a member of it)."""
    admin_name = f"admin_{os.getpid()}_{next(_names)}"
    server.sql(f"CREATE ROLE {admin_name} LOGIN CREATEDB CREATEROLE PASSWORD '{PASSWORD}'")
    name = new_name()
    admin = f"postgresql://{admin_name}:{PASSWORD}@127.0.0.1:{server.port}/postgres"
    assert main(["server", "init", "--admin", admin, "--database", name]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert PASSWORD not in out
    owners = server.sql("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname ="
                        " 'public'", name)
    assert owners == [(f"{name}_owner",)]
    repo = open_repository(out.strip().splitlines()[-1])
    try:
        assert repo.conn.execute("SELECT current_user").fetchone()[0] == f"{name}_station"
        assert build(repo).main_visit
    finally:
        repo.close()


def test_migrate_brings_an_older_file_up_to_date_in_a_copy(server, clinic, tmp_path, capsys):
    from tests.storage.test_migrations import build_at

    name, uri = clinic
    old = tmp_path / "v7.db"
    build_at(old, 7)
    digest = sha256(old)
    assert main(["server", "migrate", "--from", str(old), "--to", admin_of(server, name)]) == 0
    out = capsys.readouterr().out
    assert any(line.split() == ["visits", "2"] for line in out.splitlines())
    assert sha256(old) == digest
    import sqlite3

    conn = sqlite3.connect(f"file:{old}?mode=ro", uri=True)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
    conn.close()
    assert server.sql("SELECT id, status FROM visits ORDER BY id", name) == [
        (1, "finalized"), (2, "open")]
    repo = open_repository(uri)
    try:
        assert repo.verify_report().ok
    finally:
        repo.close()


def test_migrate_leaves_out_what_the_app_never_creates(server, clinic, tmp_path, capsys):
    import sqlite3

    from therapy_timer.demo import build_demo_file

    name, _uri = clinic
    source = tmp_path / "clinic.db"
    build_demo_file(source, seed=2, end_date=END)
    conn = sqlite3.connect(source)
    conn.execute("CREATE TABLE notes_of_mine (a TEXT)")
    conn.execute("ALTER TABLE patients ADD COLUMN nickname TEXT")
    conn.close()
    assert main(["server", "migrate", "--from", str(source), "--to",
                 admin_of(server, name)]) == 0
    out = capsys.readouterr().out
    assert ("left out what the file carried that the app does not create (never copied): "
            "table notes_of_mine, column patients.nickname") in out
    assert server.sql("SELECT count(*) FROM patients", name) == [(40,)]


def test_a_failed_init_takes_everything_back_and_can_be_run_again(server, capsys,
                                                                  monkeypatch):
    from therapy_timer.storage.pg import setup

    name = new_name()
    real = setup.grant_station

    def fail(_admin, _database):
        raise StorageError("the disk of the clinic server is full; nothing was saved")

    monkeypatch.setattr(setup, "grant_station", fail)
    code, out, err = init(server, name, capsys=capsys)
    assert (code, out) == (1, "")
    assert "the disk of the clinic server is full" in err
    assert server.sql(f"SELECT count(*) FROM pg_roles WHERE rolname LIKE '{name}%'") == [(0,)]
    assert server.sql(f"SELECT count(*) FROM pg_database WHERE datname = '{name}'") == [(0,)]
    assert not pgpass_file().exists()
    monkeypatch.setattr(setup, "grant_station", real)
    code, out, _err = init(server, name, capsys=capsys)
    assert code == 0 and out.strip().splitlines()[-1].endswith(f"/{name}")


def test_the_station_password_may_be_typed(server, capsys, monkeypatch):
    import getpass

    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    name = new_name()
    code, out, _err = init(server, name, "--ask-password", capsys=capsys)
    assert code == 0 and PASSWORD not in out
    assert pgpass_file().read_text().strip().endswith(f":{name}_station:{PASSWORD}")
    with station_raw(server, name) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == f"{name}_station"


@pytest.mark.parametrize(("answers", "words"), [
    ([PASSWORD, PASSWORD + "x"], "the two passwords differ; nothing was changed"),
    (["short", "short"], "must be at least 12 characters; nothing was changed"),
])
def test_a_typed_password_is_refused(server, capsys, monkeypatch, answers, words):
    import getpass

    typed = iter(answers)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(typed))
    name = new_name()
    code, out, err = init(server, name, "--ask-password", capsys=capsys)
    assert (code, out) == (2, "") and words in err
    assert server.sql(f"SELECT count(*) FROM pg_roles WHERE rolname LIKE '{name}%'") == [(0,)]
    assert not pgpass_file().exists()


def test_repair_takes_back_privileges_granted_by_hand(server, finalized, capsys):
    name, _visit = finalized
    server.sql(f"GRANT UPDATE, DELETE, TRUNCATE ON audit_log TO {name}_station", name)
    server.sql(f"GRANT CREATE ON SCHEMA public TO {name}_station", name)
    assert main(["server", "repair", "--admin", server.admin_uri, "--database", name]) == 0
    assert f"station role {name}_station: privileges granted again" in capsys.readouterr().out
    with station_raw(server, name) as conn:
        with pytest.raises(pg_errors.InsufficientPrivilege):
            conn.execute("UPDATE audit_log SET detail = '{}' WHERE seq = 1")
        with pytest.raises(pg_errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE shadow (a int)")


def test_a_moved_clinics_server_backup_verifies_where_the_files_key_is(server, clinic, tmp_path,
                                                                         capsys, password_file):
    """A clinic moved from a file keeps the file's anchor and keyed hashes on the server; what
    the server writes after carries none. Its backup leaves the file's keyed hashes out, so on
    the computer holding the file's key it verifies (it read as forged from the first server
    entry on) and moves to a server again."""
    from therapy_timer.demo import build_demo_file

    name, uri = clinic
    source = tmp_path / "clinic.db"
    build_demo_file(source, seed=2, end_date=END)  # its key in this test's config folder
    assert main(["server", "migrate", "--from", str(source), "--to",
                 admin_of(server, name)]) == 0
    station = open_repository(uri)
    try:
        station.save_fee("97110", 5100, date(2027, 1, 1))  # written on the server: no keyed hash
    finally:
        station.close()
    capsys.readouterr()
    backup = tmp_path / "server-backup.db"
    assert main(["backup", "--db", uri, "--out", str(backup)]) == 0
    out = capsys.readouterr().out
    assert "the keyed hashes of the entries written before the clinic moved" in out
    assert main(["verify", "--db", str(backup)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok\n") and "broken" not in out
    again = new_name()
    assert init(server, again, "--station-password-file", str(password_file),
                capsys=capsys)[0] == 0
    assert main(["server", "migrate", "--from", str(backup), "--to",
                 admin_of(server, again)]) == 0
    assert main(["verify", "--db", str(source)]) == 0  # the original keeps its keyed hashes


def test_an_unmoved_servers_backup_keeps_nothing_out(server, clinic, tmp_path, capsys):
    name, uri = clinic
    station = open_repository(uri)
    try:
        station.save_fee("97110", 5100, date(2027, 1, 1))
    finally:
        station.close()
    backup = tmp_path / "server-backup.db"
    assert main(["backup", "--db", uri, "--out", str(backup)]) == 0
    assert "left out" not in capsys.readouterr().out
    assert main(["verify", "--db", str(backup)]) == 0
