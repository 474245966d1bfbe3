"""What tests say to either database directly (the attacks, the query plans), per database.

The store speaks to both through one interface; a test that goes around it (plain SQL, as an
attacker holding the database would) says it here once for each.
"""

from __future__ import annotations

import re
import sqlite3

from therapy_timer.storage.dialect import is_pg
from therapy_timer.storage.errors import StorageError

#: What plain SQL refused by a guard trigger or constraint raises: sqlite3's error on the
#: file, the store's StorageError (translated by the connection) on the server.
REFUSED = (sqlite3.DatabaseError, StorageError)
#: A CHECK constraint's refusal, in either database's words.
CHECK_FAILED = r"(?i)check constraint"


def drop_trigger(conn, name: str) -> None:
    """Removes one guard trigger, as someone holding the database (its owner) could."""
    if is_pg(conn):
        table = conn.execute("SELECT c.relname FROM pg_trigger t JOIN pg_class c ON"
                             " c.oid = t.tgrelid WHERE t.tgname = ?", (name,)).fetchone()[0]
        conn.execute(f"DROP TRIGGER {name} ON {table}")
    else:
        conn.execute(f"DROP TRIGGER {name}")


def query_plan(conn, sql: str) -> str:
    """The plan the database would use for ``sql``, as text naming the indexes it uses. On
    PostgreSQL sequential scans are ruled out for the question: a test's tables are so small
    that the planner would rightly read them whole."""
    if is_pg(conn):
        conn.execute("SET enable_seqscan = off")
        try:
            return " ".join(str(row[0]) for row in conn.execute(f"EXPLAIN {sql}"))
        finally:
            conn.execute("SET enable_seqscan = on")
    return " ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))


def outside(target, **options):
    """A connection to the clinic's database beside the store's, as an attacker holding it
    (or an older version of the app) would open it: ``sqlite3`` on the file (autocommit, as
    the store's), the store's PostgreSQL connection (autocommit too, ``?`` placeholders) on a
    server. Both take ``execute``/``commit``/``close``."""
    from therapy_timer.storage.dialect import is_server

    if is_server(str(target)):
        from therapy_timer.storage.pg.connection import connect

        return connect(str(target), "the test's own connection")
    return sqlite3.connect(target, isolation_level=options.get("isolation_level"))


def named(sql: str, params: dict[str, int]) -> str:
    """``sql`` with its ``:name`` integer parameters written in (SQLite's named style, which
    the server connection does not take)."""
    for name, value in sorted(params.items(), key=lambda item: -len(item[0])):
        sql = sql.replace(f":{name}", str(int(value)))
    return sql


def neuter_trigger(conn, name: str) -> None:
    """Keeps the guard trigger's name but makes it guard nothing (an altered guard)."""
    if is_pg(conn):
        conn.execute(f"CREATE OR REPLACE FUNCTION tt_{name}() RETURNS trigger LANGUAGE plpgsql"
                     " AS $x$ BEGIN IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW;"
                     " END $x$")
        return
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                       (name,)).fetchone()[0]
    when, event, table = re.match(r"\s*CREATE\s+TRIGGER\s+\w+\s+(BEFORE|AFTER)\s+(.+?)\s+ON\s+"
                                  r"(\w+)", sql, re.S | re.I).groups()
    conn.execute(f"DROP TRIGGER {name}")
    conn.execute(f"CREATE TRIGGER {name} {when} {' '.join(event.split())} ON {table} WHEN 0"
                 " BEGIN SELECT 1; END")


def trigger_names(conn) -> set[str]:
    """The triggers the database holds (on the server: the user-defined ones)."""
    if is_pg(conn):
        return {r[0] for r in conn.execute(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace")}
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}


def set_schema_version(conn, version: int) -> None:
    """Writes the schema version as a newer (or older) app would have left it."""
    if is_pg(conn):
        conn.execute("UPDATE therapy_timer_meta SET schema_version = ? WHERE id = 1", (version,))
    else:
        conn.execute(f"PRAGMA user_version = {int(version)}")


def fingerprint(target):
    """What a refused open must leave exactly as it was: the file's bytes; on a server, every
    table of the database with its rows (and no schema of ours added)."""
    from therapy_timer.storage.dialect import is_server

    if not is_server(str(target)):
        import hashlib
        from pathlib import Path

        return hashlib.sha256(Path(target).read_bytes()).hexdigest()
    conn = outside(target)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " ORDER BY tablename")]
        return {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}
    finally:
        conn.close()


def make_read_only(conn) -> None:
    """The store's own session can no longer write: SQLite's ``query_only`` (what a
    read-only file looks like to it), a read-only session on the server (a standby)."""
    if is_pg(conn):
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    else:
        conn.execute("PRAGMA query_only = ON")


def guard_problems(conn) -> tuple[list[str], list[str]]:
    """The guard triggers missing and those altered, on either database (both empty on a
    database the app opened at the latest version)."""
    if is_pg(conn):
        from therapy_timer.storage.pg.store import trigger_problems

        return trigger_problems(conn)
    from therapy_timer.storage.migrations import trigger_problems

    return trigger_problems(conn)


def ordered_columns(conn, table: str) -> list[str]:
    """A table's columns in their order (later versions add theirs at the end)."""
    if is_pg(conn):
        return [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema ="
            " current_schema() AND table_name = ? ORDER BY ordinal_position", (table,))]
    return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]


def application_id(conn) -> int:
    if is_pg(conn):
        return int(conn.execute("SELECT application_id FROM therapy_timer_meta").fetchone()[0])
    return int(conn.execute("PRAGMA application_id").fetchone()[0])
