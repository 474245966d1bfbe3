"""Opening the visit store on a clinic server: identity, version, migrations, guards."""

from __future__ import annotations

import logging

from therapy_timer.storage.errors import StorageError
from therapy_timer.storage.pg import schema
from therapy_timer.storage.pg.connection import LOCK_TIMEOUT_MS, PgConnection, connect

log = logging.getLogger(__name__)


def describe(conninfo: str) -> str:
    """How messages name a server: ``the clinic server HOST:PORT/DB`` (never a password)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(conninfo)
    except Exception:  # noqa: BLE001 - psycopg raises ProgrammingError; any bad text is the same
        return "the clinic server (an unreadable address)"
    if "service" in parts and "host" not in parts:
        return f"the clinic server (service {parts['service']})"
    host = parts.get("host") or "localhost"
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"the clinic server {host}{port}/{parts.get('dbname') or parts.get('user') or ''}"


def safe_conninfo(conninfo: str) -> str:
    """The address without its password, as logs, settings and the screen may show it."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        parts = conninfo_to_dict(conninfo)
    except Exception:  # noqa: BLE001
        return "(an unreadable address)"
    parts.pop("password", None)
    if conninfo.strip().lower().startswith(("postgres://", "postgresql://")):
        user = f"{parts.pop('user')}@" if parts.get("user") else ""
        host = parts.pop("host", "") or ""
        port = f":{parts.pop('port')}" if parts.get("port") else ""
        db = parts.pop("dbname", "") or ""
        query = "&".join(f"{k}={v}" for k, v in sorted(parts.items()))
        return f"postgresql://{user}{host}{port}/{db}" + (f"?{query}" if query else "")
    return make_conninfo(**parts)


def open_connection(conninfo: str, *, migrate_schema: bool = True,
                    busy_timeout_ms: int = LOCK_TIMEOUT_MS) -> tuple[PgConnection, str, list]:
    """Connects, checks the database is ours and not newer, migrates it and puts back any
    guard trigger found missing or altered. Returns (connection, where, repaired names)."""
    from therapy_timer.storage.migrations import LATEST_VERSION, MIGRATIONS

    where = describe(conninfo)
    conn = connect(conninfo, where, lock_timeout_ms=busy_timeout_ms)
    try:
        known = schema.check_identity(conn, where)
        schema.check_version(conn, where, LATEST_VERSION)
        repaired: list[str] = []
        if migrate_schema:
            if not known:
                log.info("%s is empty: creating the Therapy Timer schema", where)
            schema.migrate(conn, where, MIGRATIONS, LATEST_VERSION)
            repaired = restore_guard_triggers(conn, where)
        elif not known:
            raise StorageError(f"{where} holds no Therapy Timer clinic yet; nothing was "
                               "changed")
    except BaseException:
        conn.close()
        raise
    return conn, where, repaired


def trigger_problems(conn) -> tuple[list[str], list[str]]:
    from therapy_timer.storage.migrations import guard_triggers

    present = schema.present_triggers(conn)
    missing, changed = [], []
    for name, statement in guard_triggers().items():
        if name not in present:
            missing.append(name)
        elif present[name] != schema.expected_body(statement):
            changed.append(name)
    return missing, changed


def restore_guard_triggers(conn, where: str) -> list[str]:
    """As SQLite's: every guard trigger missing or altered comes back, in one transaction.
    The station role cannot drop them (it owns nothing); an owner or superuser could."""
    from therapy_timer.storage.migrations import guard_triggers

    missing, changed = trigger_problems(conn)
    if not missing and not changed:
        return []
    statements = guard_triggers()
    conn.execute("BEGIN")
    try:
        for name in [*missing, *changed]:
            table = schema.trigger_statements(statements[name])[1].split(" ON ")[1].split()[0]
            conn.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            for statement in schema.trigger_statements(statements[name]):
                conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        conn.rollback()
        raise
    names = [*missing, *changed]
    log.warning("%s: guard triggers found missing (%s) or altered (%s) were re-created",
                where, ", ".join(missing) or "none", ", ".join(changed) or "none")
    return names
