"""What tests say to either database directly (the attacks, the query plans), per database.

The store speaks to both through one interface; a test that goes around it (plain SQL, as an
attacker holding the database would) says it here once for each.
"""

from __future__ import annotations

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
