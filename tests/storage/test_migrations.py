"""Schema migrations: every earlier version migrates to the latest with no data lost; each step
is atomic; a broken step leaves the file at the version before it. On both databases: a
server database is built at each earlier version by the same migrations in PostgreSQL's words
(storage/pg/schema.py), holds the same rows, and the app's open takes it to the latest with
every guard in place. What only the file has (its backup beside itself before migrating, the
anchor key, PRAGMA application_id) is marked sqlite_only."""

from __future__ import annotations

import sqlite3

import pytest

from tests.sql_dialect import (
    REFUSED,
    application_id,
    guard_problems,
    ordered_columns,
    outside,
)
from therapy_timer.storage import migrations
from therapy_timer.storage.audit import GENESIS, entry_hash
from therapy_timer.storage.db import APPLICATION_ID, connect
from therapy_timer.storage.dialect import is_pg, is_server, table_columns
from therapy_timer.storage.migrations import LATEST_VERSION, MIGRATIONS, migrate
from therapy_timer.storage.pg import schema as pg_schema
from therapy_timer.storage.repository import open_repository

from .conftest import T0

SQLITE_ONLY = pytest.mark.sqlite_only

_V1_FINALIZE = '{"lines":[["97110",["GP"],2,9000]]}'
# Rows valid in schema version 1 (every later version must keep them).
V1_ROWS = {
    "practice": [(1, "Old Clinic (synthetic)", "1 Road", "555", "", "", "", "")],
    "providers": [(1, "Pat Old", "PT", "PT", "PT", "", "", None, None, 1)],
    "patients": [(1, "Ann", "Oldrow", "1950-01-01", "F", "", "", "C-1")],
    "payers": [(1, "Medicare", "cms", 1, 1, 1, 1, 0, "XU")],
    "payer_allowed": [(1, "97110", 3000)],
    "policies": [(1, 1, 1, "M1", "", "", "self", 1)],
    "fees": [(1, "97110", 4500, "2026-01-01", None)],
    "plans": [(1, 1, "PT", 1, "2026-11-01", None, 12)],
    "prior_kx": [(1, 2026, "PT+SLP", 1000, "")],
    "visits": [(1, 1, 1, 1, "2026-11-20", "PT", "11", "finalized", "R26.89",
                "2026-11-20T15:00:00.000000+00:00", "2026-11-20T15:30:00.000000+00:00", 30, 30,
                "", "2026-11-20T15:00:00.000000+00:00", "2026-11-20T15:31:00.000000+00:00",
                "pat", "{}", None),
               (2, 1, 1, 1, "2026-11-20", "PT", "11", "open", "", None, None, None, None, "",
                "2026-11-20T17:00:00.000000+00:00", None, "", None, None)],
    "intervals": [(1, 1, "97110", "2026-11-20T15:00:00.000000+00:00",
                   "2026-11-20T15:30:00.000000+00:00", "PT", 1, None, None,
                   "2026-11-20T15:30:00.000000+00:00"),
                  (2, 2, "97140", "2026-11-20T17:00:00.000000+00:00", None, "PT", 1, "STM",
                   "neck", "2026-11-20T17:05:00.000000+00:00")],
    "charge_lines": [(1, 1, 1, "97110", "Therapeutic exercise", "GP", 2, 30, 4500, 9000, 3000,
                      "A")],
    # The finalize entry visit 1's lines were frozen with (verify compares them).
    "audit_log": [(1, "2026-11-20T15:31:00.000000+00:00", "pat", "finalize", "visit", 1,
                   _V1_FINALIZE, GENESIS,
                   entry_hash(GENESIS, 1, "2026-11-20T15:31:00.000000+00:00", "pat", "finalize",
                              "visit", 1, _V1_FINALIZE))],
}


def schema_at(path, version: int):
    """A new database (an SQLite file, or an empty server database) at schema ``version``,
    by the app's own migrations up to it: its connection."""
    if is_server(str(path)):
        conn = outside(path)
        pg_schema.migrate(conn, "the test's server database", MIGRATIONS, target=version)
        assert pg_schema.schema_version(conn) == version
        return conn
    conn = connect(path)
    migrate(conn, target=version)
    assert migrations.schema_version(conn) == version
    return conn


def build_at(path, version: int) -> None:
    conn = schema_at(path, version)
    conn.execute("BEGIN")
    status = V1_ROWS["visits"][0].index("finalized")
    for table, rows in V1_ROWS.items():
        marks = ",".join("?" * len(rows[0]))
        # Later versions add columns at the end: name the version-1 columns.
        names = ordered_columns(conn, table)[:len(rows[0])]
        columns = ", ".join(f'"{name}"' for name in names)
        if table == "visits":
            # From version 3 a finalized visit's intervals are frozen, and from version 8 a
            # visit is born open: insert the visits open (not yet finalized at, no billing
            # record) and finalize them once their intervals are in, as the app does.
            done = [names.index("finalized_at"), names.index("billing_json")]
            rows = [tuple("open" if n == status else None if n in done else value
                          for n, value in enumerate(row)) for row in rows]
        conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
    conn.executemany("UPDATE visits SET status = ?, finalized_at = ?, billing_json = ?"
                     " WHERE id = ?", [(row[status], row[15], row[17], row[0])
                                       for row in V1_ROWS["visits"]])
    if is_pg(conn):  # rows written with their ids: the identities go on after them
        for table in V1_ROWS:
            if "id" in ordered_columns(conn, table):
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                             f" (SELECT max(id) FROM {table}))")
    conn.execute("COMMIT")
    conn.close()


def table_rows(path) -> dict[str, list[tuple]]:
    conn = outside(path)
    try:
        out = {}
        for table, rows in V1_ROWS.items():
            width = len(rows[0])
            columns = ordered_columns(conn, table)[:width]
            names = ", ".join(f'"{c}"' for c in columns)
            out[table] = conn.execute(f"SELECT {names} FROM {table} ORDER BY 1").fetchall()
        return out
    finally:
        conn.close()


#: Every version a file can be at before the latest.
EARLIER = [number for number, _, _ in MIGRATIONS[:-1]]


@pytest.fixture(params=["sqlite", "postgresql"])
def new_db(request, tmp_path):
    """Makes new, empty databases on one database: ``new_db("v3")`` is a file of that name,
    or a new server database (empty: not the template's latest schema)."""
    if request.param == "sqlite":
        yield lambda name: tmp_path / f"{name}.db"
        return
    server = request.getfixturevalue("pg_server")
    made: list[str] = []
    yield lambda _name: made.append(server.new_database()) or made[-1]
    for uri in made:
        server.drop_database(uri)


def test_versions_are_numbered_in_order():
    assert [number for number, _, _ in MIGRATIONS] == list(range(1, LATEST_VERSION + 1))


@pytest.mark.parametrize("number", [number for number, _, _ in MIGRATIONS],
                         ids=[f"v{number}" for number, _, _ in MIGRATIONS])
def test_every_migration_statement_has_its_postgresql_words(number):
    """Appending a migration appends it for both databases: each statement translates (a
    guard trigger the translation cannot take fails here, naming it); the builds at every
    version below run them all on the server."""
    [statements] = [statements for n, _, statements in MIGRATIONS if n == number]
    assert statements
    for statement in statements:
        translated = pg_schema.pg_statements(statement)
        assert translated and all(s.strip() for s in translated), statement
        if statement.lstrip().upper().startswith("CREATE TRIGGER"):
            assert len(translated) == 2 and "RAISE EXCEPTION" in translated[0], translated


@pytest.mark.parametrize("version", EARLIER)
def test_every_earlier_version_migrates_without_losing_data(new_db, version):
    path = new_db(f"v{version}")
    build_at(path, version)
    assert table_rows(path) == V1_ROWS
    repo = open_repository(path)
    assert repo.schema_version == LATEST_VERSION
    assert application_id(repo.conn) == APPLICATION_ID
    assert guard_problems(repo.conn) == ([], [])
    repo.close()
    assert table_rows(path) == V1_ROWS
    repo = open_repository(path)
    # The migrated data works through the repository.
    assert repo.get_patient(1).last_name == "Oldrow"
    assert [c.units for c in repo.charge_lines(1)] == [2]
    assert [i.interval.code for i in repo.intervals_for(2)] == ["97140"]
    assert repo.crashed_intervals()[0].last_alive.isoformat() == "2026-11-20T17:05:00+00:00"
    assert repo.kx_year_to_date(1, 2026, "PT+SLP") == 1000 + 2 * 3000
    # Version 6: nothing is paused or flagged after the upgrade; a jump flags the running one.
    assert repo.get_visit(2).paused_codes == () and repo.get_interval(2).clock_flag is None
    [flagged] = repo.flag_clock_jump(T0.replace(hour=17, minute=10),
                                     T0.replace(hour=19, minute=10), 7200, 0)
    assert flagged.id == 2 and flagged.clock_flag.trusted_until == T0.replace(hour=17, minute=10)
    stopped = repo.stop_interval(2, T0.replace(hour=17, minute=20))
    # measured, not the wall's 17:20: 17:10 (last good) + 0 s real + (17:20 - 19:10) of wall
    # time is before the start, so it ends at its start (storage/clock_flags.py)
    assert stopped.end == T0.replace(hour=17) == stopped.start
    # Version 4's tables start empty and work on the migrated rows.
    assert repo.favourite_codes(1) == []
    assert repo.printed_at(1) is None
    repo.set_favourite_codes(1, ["97140", "97110"], user="pat")
    repo.mark_printed([1], T0.replace(hour=18), user="desk")
    # Version 5's payments start empty and work on the migrated finalized visit.
    assert repo.paid_cents([1, 2]) == {1: 0, 2: 0}
    repo.record_payment(1, 2500, "check", "#101", T0.replace(hour=18), user="desk")
    assert repo.integrity_check() == "ok"
    repo.close()
    assert table_rows(path)["visits"][0] == V1_ROWS["visits"][0]
    repo = open_repository(path)
    assert repo.favourite_codes(1) == ["97140", "97110"]
    assert repo.printed_at(1) == T0.replace(hour=18)
    assert repo.get_visit(1).status.value == "finalized"
    assert [(p.cents, p.reference) for p in repo.payments_for(1)] == [(2500, "#101")]
    # Stopping a flagged interval keeps its question, with the wall clock's reading at the stop
    # (issue 11: its stored end is the measured one).
    kept = repo.get_interval(2).clock_flag
    assert kept.wall_end == T0.replace(hour=17, minute=20)
    assert (kept.last_good, kept.now, kept.wall_seconds, kept.real_seconds) == (
        flagged.clock_flag.last_good, flagged.clock_flag.now, 7200.0, 0.0)
    assert repo.audit_verify() is None
    repo.close()


def test_version_5_gains_pause_and_clock_flag_columns_empty(new_db):
    path = new_db("v5")
    build_at(path, 5)
    repo = open_repository(path)
    try:
        assert repo.schema_version == LATEST_VERSION
        visits = table_columns(repo.conn, "visits")
        intervals = table_columns(repo.conn, "intervals")
        assert "paused_codes" in visits and "clock_flag" in intervals
        assert repo.conn.execute("SELECT count(*) FROM visits WHERE paused_codes IS NOT NULL"
                                 ).fetchone()[0] == 0
        assert repo.conn.execute("SELECT count(*) FROM intervals WHERE clock_flag IS NOT NULL"
                                 ).fetchone()[0] == 0
        # The migrated open visit pauses and resumes through the new column.
        [paused] = repo.pause_visit(2, T0.replace(hour=17, minute=30))
        assert repo.get_visit(2).paused_codes == ("97140",)
        [resumed] = repo.resume_visit(2, "PT", T0.replace(hour=17, minute=35))
        assert (paused.code, resumed.code, resumed.running) == ("97140", "97140", True)
        # The finalized visit of version 5 stays finalized and unpaused.
        assert repo.get_visit(1).paused_codes == ()
    finally:
        repo.close()
    assert table_rows(path)["visits"][0] == V1_ROWS["visits"][0]


@SQLITE_ONLY("a copy of the file beside it: the server migrates in one transaction instead "
             "(test_a_migration_failing_halfway_leaves_the_server_at_the_old_version)")
def test_opening_an_older_database_backs_it_up_beside_itself_first(tmp_path):
    path = tmp_path / "clinic.db"
    build_at(path, 1)
    before = table_rows(path)
    open_repository(path).close()
    (saved,) = tmp_path.glob("clinic.db.schema1-*.bak")
    conn = sqlite3.connect(saved)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1  # the old schema, untouched
    conn.close()
    assert table_rows(saved) == before
    assert oct(saved.stat().st_mode & 0o777) == "0o600"
    # opening the now-current database again makes no further copy
    open_repository(path).close()
    assert len(list(tmp_path.glob("*.bak"))) == 1


@SQLITE_ONLY("the file's migrate(); the server's is "
             "test_a_migration_failing_halfway_leaves_the_server_at_the_old_version")
def test_a_failing_migration_leaves_the_previous_version(tmp_path, monkeypatch):
    path = tmp_path / "broken.db"
    build_at(path, 1)
    broken = [*MIGRATIONS[:1], (2, "broken", ["CREATE INDEX ok_index ON visits(day)",
                                              "CREATE INDEX bad ON no_such_table(x)"])]
    monkeypatch.setattr(migrations, "MIGRATIONS", broken)
    conn = connect(path)
    with pytest.raises(Exception, match="no_such_table"):
        migrate(conn, target=2)
    assert migrations.schema_version(conn) == 1
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'ok_index'"
                        ).fetchone()[0] == 0
    conn.close()
    assert table_rows(path) == V1_ROWS


@pytest.mark.parametrize("version", [1, LATEST_VERSION - 1])
def test_a_migration_failing_halfway_leaves_the_server_at_the_old_version(pg_server, version,
                                                                          monkeypatch):
    """PostgreSQL's DDL is transactional: the next migration's first statements (a table, an
    index, a guard trigger) and its version bump go with the statement that failed; the app's
    open then says what failed, and the database is as it was, rows and all. (Server only: the
    file's twin is test_a_failing_migration_leaves_the_previous_version.)"""
    path = pg_server.new_database()
    build_at(path, version)
    before = table_rows(path)
    number, description, statements = MIGRATIONS[version]
    broken = [*MIGRATIONS[:version], (number, description, [
        "CREATE TABLE half_done (id INTEGER PRIMARY KEY, note TEXT)",
        "CREATE INDEX half_done_note ON half_done(note)",
        "CREATE TRIGGER half_done_guard BEFORE DELETE ON half_done"
        " BEGIN SELECT RAISE(ABORT, 'kept'); END",
        *statements[:1], "CREATE INDEX bad ON no_such_table(x)", *statements[1:]])]
    monkeypatch.setattr(migrations, "MIGRATIONS", broken)
    monkeypatch.setattr(migrations, "LATEST_VERSION", number)
    with pytest.raises(Exception, match="no_such_table"):
        open_repository(path)
    conn = outside(path)
    try:
        assert pg_schema.schema_version(conn) == version
        assert conn.execute("SELECT to_regclass('half_done'), to_regclass('half_done_note'),"
                            " to_regprocedure('tt_half_done_guard()')").fetchone() == (
            None, None, None)
    finally:
        conn.close()
    assert table_rows(path) == before == V1_ROWS
    monkeypatch.undo()
    repo = open_repository(path)  # the real migrations then go through
    try:
        assert repo.schema_version == LATEST_VERSION
        assert guard_problems(repo.conn) == ([], [])
    finally:
        repo.close()


def test_version_6_gains_clinic_day_columns_guarded_like_the_rest(new_db):
    path = new_db("v6")
    build_at(path, 6)
    repo = open_repository(path)
    try:
        assert repo.schema_version == LATEST_VERSION
        conn = repo.conn

        def refused(sql: str, args=()) -> str:
            with pytest.raises(REFUSED) as caught:
                conn.execute(sql, args)
            return str(caught.value)

        # A finalized visit's new columns are frozen with it; an open visit's change freely.
        assert "cannot change in place" in refused("UPDATE visits SET choices = '{}' WHERE id = 1")
        assert "cannot change in place" in refused(
            "UPDATE visits SET paused_codes = '[]' WHERE id = 1")
        conn.execute("UPDATE visits SET choices = '{\"tie\": {}}' WHERE id = 2")
        assert "frozen" in refused("UPDATE intervals SET deleted_at = 'x', delete_reason = 'r'"
                                   " WHERE id = 1")
        # An interval is deleted once, with a reason, and stays deleted.
        assert "with a reason" in refused("UPDATE intervals SET deleted_at = 'x' WHERE id = 2")
        conn.execute("UPDATE intervals SET deleted_at = 'x', deleted_by = 'pat',"
                     " delete_reason = 'tapped by mistake' WHERE id = 2")
        assert "stays deleted" in refused("UPDATE intervals SET deleted_at = NULL WHERE id = 2")
        # Old payments are the patient's; a payment's kind never changes.
        repo.record_payment(1, 2500, "check", "#101", T0.replace(hour=18), user="desk")
        assert conn.execute("SELECT kind FROM payments").fetchone()[0] == "patient"
        assert "voided" in refused("UPDATE payments SET kind = 'insurance'")
        assert "CHECK" in refused(
            "INSERT INTO payments (visit_id, cents, method, received_at, user, kind)"
            " VALUES (1, 1, 'cash', 'x', 'desk', 'gift')").upper()
        plans = table_columns(conn, "plans")
        assert {"diagnoses", "onset_date", "referring_name", "referring_npi"} <= plans
        assert repo.integrity_check() == "ok"
    finally:
        repo.close()


@SQLITE_ONLY("the audit anchor and its key: the server's log carries no keyed hashes (its "
             "guards: test_every_earlier_version_migrates_without_losing_data)")
def test_version_7_gains_the_anchor_and_the_new_guards(tmp_path, _isolated_user_dirs):
    """Version 8 (issue 11): the entries written before stay as they were (unsigned, covered by
    the chain), the anchor starts at the next entry, and every later entry is signed."""
    path = tmp_path / "v7.db"
    build_at(path, 7)
    repo = open_repository(path)
    try:
        assert repo.schema_version == LATEST_VERSION
        assert migrations.trigger_problems(repo.conn) == ([], [])
        key_id, first = repo.conn.execute("SELECT key_id, first_seq FROM audit_anchor"
                                          ).fetchone()
        assert first == 2  # the version-7 file held one entry
        key = (_isolated_user_dirs / "xdg_config_home" / "therapy-timer" / "audit-anchors"
               / f"{key_id}.key")
        assert key.stat().st_mode & 0o777 == 0o600
        repo.record_payment(1, 2500, "check", "#101", T0.replace(hour=18), user="desk")
        assert repo.conn.execute("SELECT seq, mac IS NULL FROM audit_log ORDER BY seq"
                                 ).fetchall() == [(1, 1), (2, 0)]
        report = repo.verify_report()
        assert report.problems == []
        assert "keyed hashes: 1 entries from entry 2 signed with anchor key " \
               f"{key_id}" in report.checked
        # A finalized visit takes no new charge line, even on a migrated file.
        with pytest.raises(REFUSED, match="frozen at finalize"):
            repo.conn.execute("INSERT INTO charge_lines (visit_id, line_no, code, units,"
                              " minutes, fee_cents, charge_cents) VALUES (1, 2, '97140', 1,"
                              " 10, 5000, 5000)")
    finally:
        repo.close()


@pytest.mark.parametrize("version", EARLIER)
def test_verify_reads_every_earlier_version_as_it_is(new_db, version, capsys):
    """verify opens an older database without migrating it: it checks what that version has
    and says what it could not check (the command's words: on the file; the command on a
    server is the CLI's, tests/cli)."""
    from therapy_timer.cli import main

    path = new_db(f"v{version}")
    build_at(path, version)
    repo = open_repository(path, migrate_schema=False)
    try:
        report = repo.verify_report()
        assert report.problems == []
        assert "finalized visits: 1 of 2 visits, their 1 charge lines as their finalize" \
               " entries recorded" in report.checked
    finally:
        repo.close()
    conn = outside(path)
    try:
        assert (pg_schema.schema_version(conn) if is_pg(conn)
                else migrations.schema_version(conn)) == version
    finally:
        conn.close()
    if is_server(str(path)):
        return
    capsys.readouterr()
    assert main(["verify", "--db", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ok"
    assert "checked: finalized visits: 1 of 2 visits, their 1 charge lines as their finalize" \
           " entries recorded" in out
    if version < 8:
        assert f"could not check: the keyed hashes: this database predates the anchor (schema" \
               f" {version}); it gets one when the app next opens it" in out
    else:  # the anchor's table is there, its record not yet (built here without the app)
        assert "could not check: the keyed hashes: this database has no anchor yet (the app" \
               " creates it when it opens the file with its config folder writable)" in out
    assert migrations.schema_version(connect(path)) == version


def test_version_7_gains_documented_descriptions_and_ids_are_never_erased(new_db):
    path = new_db("v7")
    build_at(path, 7)
    repo = open_repository(path)
    try:
        assert repo.schema_version == LATEST_VERSION
        conn = repo.conn

        def refused(sql: str, args=()) -> str:
            with pytest.raises(REFUSED) as caught:
                conn.execute(sql, args)
            return str(caught.value)

        # Visits recorded before keep no description: their codes still read back.
        assert repo.get_visit(1).diagnoses == ("R26.89",)
        assert repo.get_visit(1).diagnosis_descriptions == ("",)
        # The finalized visit's descriptions are frozen with it; the open one's are set with
        # its diagnoses, as documented.
        assert "cannot change in place" in refused(
            "UPDATE visits SET diagnosis_descriptions = '{}' WHERE id = 1")
        repo.set_diagnoses(2, ["M54.50"], user="pat", validate=False,
                           descriptions={"M54.50": "Low back pain, unspecified"})
        assert repo.get_visit(2).diagnosis_descriptions == ("Low back pain, unspecified",)
        # No row whose id the audit log names can be erased (the id would be handed out again).
        assert "never erased" in refused("DELETE FROM intervals WHERE id = 2")
        assert "never erased" in refused("DELETE FROM visits WHERE id = 2")
        for table in ("patients", "providers", "payers", "plans", "policies", "fees"):
            assert "never erased" in refused(f"DELETE FROM {table}")
        # The finalized visit's own guards still answer with their messages.
        assert "intervals are frozen" in refused("DELETE FROM intervals WHERE id = 1")
        assert "cannot be deleted" in refused("DELETE FROM visits WHERE id = 1")
        assert repo.integrity_check() == "ok"
    finally:
        repo.close()


def test_version_8_gains_kx_thresholds_seeded_from_the_shipped_file(new_db):
    """Version 10 (issue 12): the upgrade seeds every shipped year as "shipped"; the clinic's
    own entry is audited, never deleted, and a newer shipped value is only offered beside it.
    (Built at 8, the last version before 10 on every branch: 9's contents do not matter.)"""
    from therapy_timer.core.rules_data import KxYear

    path = new_db("v8")
    build_at(path, 8)
    repo = open_repository(path)
    try:
        assert repo.schema_version == LATEST_VERSION
        rows = repo.conn.execute("SELECT year, threshold_cents, review_cents, confidence,"
                                 " origin FROM kx_thresholds ORDER BY year").fetchall()
        assert rows == [(2022, 215000, 300000, "V", "shipped"),
                        (2023, 223000, 300000, "V", "shipped"),
                        (2024, 233000, 300000, "V", "shipped"),
                        (2025, 241000, 300000, "S", "shipped"),
                        (2026, 248000, 300000, "S", "shipped")]
        # Seeding is not a clinic change: the migrated log keeps its one entry.
        assert repo.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 1
        repo.set_kx_threshold(2027, 255000, 300000, "V", "CY2027 PFS final rule", "pat",
                              now=T0.replace(hour=18))
        with pytest.raises(REFUSED, match="is kept"):
            repo.conn.execute("DELETE FROM kx_thresholds WHERE year = 2027")
        with pytest.raises(REFUSED):
            repo.conn.execute("UPDATE kx_thresholds SET review_cents = 1000 WHERE year = 2027")
        # A newer release ships another 2027: offered, the clinic's amount stays.
        newer = {2027: KxYear(2027, 256000, 300000, "V", "CMS MLN page")}
        assert repo.seed_kx_thresholds(newer, now=T0.replace(hour=19)) == [
            "2027: a newer shipped value is offered beside the clinic's"]
        [entry] = [e for e in repo.kx_entries() if e.kx.year == 2027]
        assert (entry.kx.threshold_cents, entry.origin, entry.entered_by) == (255000, "clinic",
                                                                               "pat")
        assert entry.offer == newer[2027]
        assert repo.audit_verify() is None
    finally:
        repo.close()


def test_version_8_gains_empty_ncci_releases_and_keeps_billing_on_the_seed(new_db):
    """Version 11 (issue 12): CMS's NCCI PTP pairs and MUEs the clinic imports, with their
    release. An upgraded file has none: billing keeps the shipped seed until an import."""
    path = new_db("v8")
    build_at(path, 8)
    repo = open_repository(path)
    try:
        assert repo.schema_version == LATEST_VERSION
        for table in ("rule_releases", "ncci_pairs", "mue_limits"):
            assert repo.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0
        assert repo.rule_release("ncci") is None and repo.ncci_pairs() is None
        assert repo.mue_limits() == {}
        with pytest.raises(REFUSED):
            repo.conn.execute("INSERT INTO rule_releases (kind, version, files, rows_read,"
                              " rows_kept, imported_at, imported_by) VALUES ('fees', 'x', '[]',"
                              " 0, 0, '2026-11-20', 'pat')")
    finally:
        repo.close()
    assert table_rows(path) == V1_ROWS


def test_version_12_dates_allowed_amounts_from_the_start_and_adds_clinic_codes(new_db):
    """Issue 12: the undated allowed amounts of earlier versions stay in force on every date
    of service; new amounts from 1 January leave earlier dates alone; clinic codes start
    empty. (Built at the version just before 12, whatever the other migrations are.)"""
    from datetime import date

    before = max(number for number, _, _ in MIGRATIONS if number < 12)
    path = new_db(f"v{before}")
    build_at(path, before)
    repo = open_repository(path)
    try:
        assert repo.schema_version == LATEST_VERSION
        assert [(e.code, e.cents, e.effective_from, e.effective_to)
                for e in repo.allowed_entries(1)] == [("97110", 3000, date(1, 1, 1), None)]
        assert repo.allowed_on(1, date(2020, 5, 1)) == {"97110": 3000}
        from therapy_timer.core.fee_import import FeeRow

        [change] = repo.import_fees([FeeRow("97110", 3100, 1)], date(2027, 1, 1), payer_id=1)
        assert (change.old_cents, change.new_cents, change.kind) == (3000, 3100, "changed")
        assert repo.allowed_on(1, date(2026, 12, 31)) == {"97110": 3000}
        assert repo.allowed_on(1, date(2027, 1, 1)) == {"97110": 3100}
        # The frozen line of the migrated visit keeps its amount toward KX.
        assert repo.kx_year_to_date(1, 2026, "PT+SLP") == 1000 + 2 * 3000
        assert repo.clinic_codes() == []
        repo.save_clinic_code("97799", "Unlisted rehab service (ours)", "timed", ["PT"])
        assert repo.code_catalog().get("97799").clinic
        with pytest.raises(REFUSED):
            repo.conn.execute("INSERT INTO payer_allowed (payer_id, code, cents) VALUES"
                              " (1, '97110', 1)")  # one amount per code and start date
        assert repo.integrity_check() == "ok"
    finally:
        repo.close()
    assert table_rows(path)["payer_allowed"] == [(1, "97110", 3000), (1, "97110", 3100)]


def test_version_13_adds_stations_and_ends_a_damaged_files_second_running_timer(tmp_path):
    """Issue 14: intervals and visits gain their station (empty on the old rows: no station's,
    so any station may go on with them); a file that somehow holds two running intervals of
    one code on one visit has the earlier ended where the later starts (what a restart
    does), so the database can keep one running interval per visit and code from then on."""
    before = max(number for number, _, _ in MIGRATIONS if number < 13)
    path = tmp_path / f"v{before}.db"
    build_at(path, before)
    conn = sqlite3.connect(path)
    conn.execute('INSERT INTO intervals (id, visit_id, code, start, "end", performer)'
                 " VALUES (3, 2, '97140', '2026-11-20T17:03:00.000000+00:00', NULL, 'PT')")
    conn.commit()
    conn.close()
    repo = open_repository(path)
    try:
        assert repo.schema_version == LATEST_VERSION
        first, second = repo.get_interval(2), repo.get_interval(3)
        assert first.end == second.start == T0.replace(hour=17, minute=3)
        assert (second.end, first.station, second.station) == (None, None, None)
        assert repo.visit_station(2) == (None, None)
        assert repo.get_interval(1).end == T0.replace(minute=30)  # a stopped one untouched
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            repo.conn.execute('INSERT INTO intervals (visit_id, code, start, "end", performer)'
                              " VALUES (2, '97140', '2026-11-20T17:04:00+00:00', NULL, 'PT')")
        assert repo.integrity_check() == "ok"
    finally:
        repo.close()
    assert table_rows(path)["intervals"][0] == V1_ROWS["intervals"][0]


def test_version_13_on_a_clinic_server_ends_the_second_running_timer_too(pg_server):
    """The same migration, translated for PostgreSQL (storage/pg/schema.py), on a server
    database left at the version before it."""
    from therapy_timer.storage.pg import schema
    from therapy_timer.storage.pg.connection import connect as pg_connect

    before = max(number for number, _, _ in MIGRATIONS if number < 13)
    conn = pg_connect(pg_server.new_database(), "the test server")
    try:
        schema.migrate(conn, "the test server", MIGRATIONS, before)
        for sql in (
                "INSERT INTO patients (id, first_name, last_name) VALUES (1, 'A', 'Oldrow')",
                "INSERT INTO providers (id, name, discipline, role) VALUES (1, 'P', 'PT', 'PT')",
                "INSERT INTO visits (id, patient_id, provider_id, day, discipline, created_at)"
                " VALUES (1, 1, 1, '2026-11-20', 'PT', '2026-11-20T15:00:00+00:00')",
                'INSERT INTO intervals (id, visit_id, code, start, "end", performer) VALUES'
                " (1, 1, '97110', '2026-11-20T15:00:00+00:00', NULL, 'PT'),"
                " (2, 1, '97110', '2026-11-20T15:05:00+00:00', NULL, 'PT')"):
            conn.execute(sql)
        schema.migrate(conn, "the test server", MIGRATIONS, LATEST_VERSION)
        assert conn.execute('SELECT id, "end", station FROM intervals ORDER BY id').fetchall() \
            == [(1, "2026-11-20T15:05:00+00:00", None), (2, None, None)]
    finally:
        conn.close()
