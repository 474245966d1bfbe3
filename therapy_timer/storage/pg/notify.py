"""Live updates on a clinic server: the database says what changed, in the change's own commit.

Every table a station's screens show (Today, the front desk, the visit screen, the review)
carries one row trigger, ``tt_live_<table>``, AFTER INSERT, UPDATE or DELETE, calling
``tt_notify_change()``. That function sends ``pg_notify('therapy_timer', payload)`` with a
compact JSON payload naming the row::

    {"table": "intervals", "op": "U", "id": 41, "visit_id": 7, "patient_id": null}

PostgreSQL delivers a notification only when its transaction commits (and never for one rolled
back), so a station never hears of a change it then cannot read, and identical payloads within
one transaction arrive once: a charge line names no id of its own (finalizing writes a visit's
lines in one transaction, the stations hear one "charge_lines of visit 7"). A payload stays
far below the server's 8000-byte limit: five short fields.

An interval's heartbeat (written every few seconds while a timer runs, to survive a crash) is
not news to anyone: an update changing only ``heartbeat`` sends nothing, or every station
would reload every five seconds.

These are PostgreSQL's own objects, not migrations (SQLite has no server to push from; its
stations notice another connection's commits themselves: ``storage/changes.py``). They are
created with the schema by whoever may change it (the store's open as owner, ``server
repair``), checked at a station's open like the guard triggers (a station cannot create them:
it asks for ``server repair``), and the station role gets EXECUTE on the function with the
others (``roles.grant_statements``).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

#: The channel every station LISTENs on.
CHANNEL = "therapy_timer"
FUNCTION = "tt_notify_change"

#: table -> (the column naming the visit, the column naming the patient, the row's own id),
#: each None when the table has none (or, for charge lines, when the row's id is no news).
TABLES: dict[str, tuple[str | None, str | None, str | None]] = {
    "visits": ("id", "patient_id", "id"),
    "intervals": ("visit_id", None, "id"),
    "charge_lines": ("visit_id", None, None),
    "amendments": ("original_visit_id", None, "new_visit_id"),
    "payments": ("visit_id", None, "id"),
    "printed_visits": ("visit_id", None, None),
    "patients": (None, "id", "id"),
    "policies": (None, "patient_id", "id"),
    "plans": (None, "patient_id", "id"),
    "providers": (None, None, "id"),
}

#: Columns whose change alone is no news: the running timer's heartbeat, and the station a
#: visit's timers are held by (it changes with the interval rows, which say so themselves).
QUIET_COLUMNS = {"intervals": ("heartbeat",), "visits": ("station", "station_at")}


def trigger_name(table: str) -> str:
    return f"tt_live_{table}"


def _field(row: str, column: str | None) -> str:
    return "NULL" if column is None else f"({row} ->> '{column}')::bigint"


def function_statement() -> str:
    """The one notify function; each table's columns are picked by ``TG_TABLE_NAME``."""
    cases = []
    for table, (visit, patient, row_id) in TABLES.items():
        quiet = "".join(f" - '{c}'" for c in QUIET_COLUMNS.get(table, ()))
        skip = (f" IF TG_OP = 'UPDATE' AND (to_jsonb(OLD){quiet}) = (to_jsonb(NEW){quiet})"
                " THEN RETURN NULL; END IF;") if quiet else ""
        cases.append(
            f"WHEN '{table}' THEN{skip} visit := {_field('r', visit)};"
            f" patient := {_field('r', patient)}; row_id := {_field('r', row_id)};")
    body = (
        "DECLARE r jsonb; visit bigint; patient bigint; row_id bigint; "
        "BEGIN "
        "IF TG_OP = 'DELETE' THEN r := to_jsonb(OLD); ELSE r := to_jsonb(NEW); END IF; "
        f"CASE TG_TABLE_NAME {' '.join(cases)} ELSE NULL; END CASE; "
        f"PERFORM pg_notify('{CHANNEL}', json_build_object('table', TG_TABLE_NAME, "
        "'op', left(TG_OP, 1), 'id', row_id, 'visit_id', visit, 'patient_id', patient)::text); "
        "RETURN NULL; END")
    return (f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$live$ {body} $live$")


def expected_body() -> str:
    return " ".join(function_statement().split("$live$")[1].split())


def trigger_statements(table: str) -> list[str]:
    name = trigger_name(table)
    return [f"DROP TRIGGER IF EXISTS {name} ON {table}",
            f"CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"]


def problems(conn) -> list[str]:
    """What is missing or altered of the live-update objects (names), empty when all hold."""
    rows = conn.execute(
        "SELECT p.prosrc FROM pg_proc p WHERE p.proname = ? AND p.pronamespace ="
        " current_schema()::regnamespace", (FUNCTION,)).fetchall()
    wrong: list[str] = []
    if not rows or " ".join(rows[0][0].split()) != expected_body():
        wrong.append(f"{FUNCTION}()")
    present = {name for (name,) in conn.execute(
        "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p"
        " ON p.oid = t.tgfoid WHERE NOT t.tgisinternal AND p.proname = ? AND"
        " c.relnamespace = current_schema()::regnamespace AND t.tgenabled <> 'D'", (FUNCTION,))}
    wrong += [trigger_name(t) for t in TABLES if trigger_name(t) not in present]
    return wrong


def install(conn, where: str) -> list[str]:
    """Creates (or puts back) the notify function and every table's trigger, in one
    transaction, when any is missing or altered. Returns what it had to make (empty when
    everything was in place). Needs the owner's rights (the migrations' connection)."""
    wrong = problems(conn)
    if not wrong:
        return []
    conn.execute("BEGIN")
    try:
        conn.execute(function_statement())
        for table in TABLES:
            for statement in trigger_statements(table):
                conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        conn.rollback()
        raise
    log.info("%s: live-update notifications set up (%s)", where, ", ".join(wrong))
    return wrong


def names() -> set[str]:
    """The trigger names this module owns (verify does not count them as foreign)."""
    return {trigger_name(t) for t in TABLES}
