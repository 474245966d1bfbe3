"""The few questions about a database whose answer is worded differently per database.

The store's queries are one text for both; what the schema looks like (is there a table, which
columns has it, which version is it) is asked here, of either connection.
"""

from __future__ import annotations

import re

#: What ``--db``, ``THERAPY_TIMER_DB`` or Settings > This computer names for a clinic server.
_SERVER = re.compile(r"^(postgres(ql)?://|service=|host=|dbname=)", re.I)


def is_server(target: object) -> bool:
    """True when ``target`` names a PostgreSQL server (a URI, ``service=NAME`` or a libpq
    keyword string), False for a file path."""
    return isinstance(target, str) and bool(_SERVER.match(target.strip()))


def is_pg(conn) -> bool:
    return getattr(conn, "dialect", "sqlite") == "postgresql"


def has_table(conn, name: str) -> bool:
    if is_pg(conn):
        return bool(conn.execute("SELECT to_regclass(?) IS NOT NULL", (name,)).fetchone()[0])
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (name,)).fetchone() is not None


def table_columns(conn, table: str) -> set[str]:
    if is_pg(conn):
        return {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema ="
            " current_schema() AND table_name = ?", (table,))}
    return {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}


def schema_version(conn) -> int:
    if is_pg(conn):
        from therapy_timer.storage.pg import schema

        return schema.schema_version(conn)
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def server_epoch(conn) -> float | None:
    """The server's real time now (``clock_timestamp()``, not the transaction's start) in
    seconds since the epoch; None on SQLite, whose clock is the computer's own."""
    if not is_pg(conn):
        return None
    return float(conn.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()[0])
