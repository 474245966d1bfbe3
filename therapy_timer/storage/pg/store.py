"""Opening the visit store on a clinic server: identity, version, migrations, guards."""

from __future__ import annotations

import logging

from therapy_timer.storage.errors import StorageError
from therapy_timer.storage.pg import notify, schema
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
        if migrate_schema and not schema.may_change_schema(conn):
            station_checks(conn, where, known, LATEST_VERSION)
        elif migrate_schema:
            if not known:
                log.info("%s is empty: creating the Therapy Timer schema", where)
            schema.migrate(conn, where, MIGRATIONS, LATEST_VERSION)
            repaired = restore_guard_triggers(conn, where)
            notify.install(conn, where)  # live updates between stations (pg/notify.py)
        elif not known:
            raise StorageError(f"{where} holds no Therapy Timer clinic yet; nothing was "
                               "changed")
    except BaseException:
        conn.close()
        raise
    return conn, where, repaired


def _ask_administrator(conn, what: str) -> str:
    database = conn.raw.info.dbname
    return (f"{what}, and this station's role may not change the schema: ask the clinic's "
            f"administrator to run `therapy-timer server repair --admin ADMIN_URI --database "
            f"{database}` on the server. Nothing was changed.")


def station_checks(conn, where: str, known: bool, latest: int) -> None:
    """A station role opens a clinic only as the administrator left it: at this app's schema
    with every guard trigger in place. It may not migrate or put back a guard (it owns
    nothing), and does not work on without one: a missing guard means someone holding the
    owner's or a superuser's rights removed it.

    Raises:
        StorageError: naming what is wrong and the administrator's command that repairs it.
    """
    if not known:
        raise StorageError(f"{where} holds no Therapy Timer clinic yet, and this station's "
                           "role may not create one: the administrator creates it with "
                           "`therapy-timer server init`. Nothing was changed.")
    version = schema.schema_version(conn)
    if version < latest:
        raise StorageError(_ask_administrator(
            conn, f"{where} holds a clinic at schema {version}; this Therapy Timer needs "
                  f"schema {latest} (a newer release)"))
    missing, changed = trigger_problems(conn)
    if missing or changed:
        log.error("%s: guard triggers missing (%s) or altered (%s); a station cannot put "
                  "them back", where, ", ".join(missing) or "none",
                  ", ".join(changed) or "none")
        raise StorageError(_ask_administrator(
            conn, f"{where} lacks guard triggers that keep finalized visits and the audit log "
                  f"unchangeable ({', '.join([*missing, *changed])} missing or altered)"))
    live = notify.problems(conn)
    if live:
        log.error("%s: live-update objects missing or altered (%s)", where, ", ".join(live))
        raise StorageError(_ask_administrator(
            conn, f"{where} lacks the triggers that tell the other stations of each change "
                  f"({', '.join(live)} missing or altered)"))


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
