"""Least privilege on a clinic server: what the station role may do, table by table.

``server init`` (``storage/pg/setup.py``) creates two roles per clinic database: an owner
(``NAME_owner``, NOLOGIN: it owns every table, function and trigger; the administrator acts
as it through ``SET ROLE``) and a station (``NAME_station``, LOGIN: what every workstation
connects as). ``STATION_PRIVILEGES`` is everything the station role may do, written out per
table from the statements the store issues (tests/storage/test_server_roles.py reads the
store's SQL and checks the two agree, both ways). Never TRUNCATE, never any DDL (no CREATE on
the schema, it owns nothing, so it cannot drop or alter a table, an index or a trigger), and
on the audit log only INSERT and SELECT: a station cannot rewrite history even by hand.
The guard triggers keep what privileges cannot say (a finalized visit's rows may be read and
its status changed only by amendment).
"""

from __future__ import annotations

#: table -> the privileges the station role gets on it (every table also gets SELECT).
STATION_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "therapy_timer_meta": ("SELECT",),
    "practice": ("SELECT", "INSERT", "UPDATE"),
    "providers": ("SELECT", "INSERT", "UPDATE"),
    "patients": ("SELECT", "INSERT", "UPDATE"),
    "payers": ("SELECT", "INSERT", "UPDATE"),
    "payer_allowed": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    "policies": ("SELECT", "INSERT", "UPDATE"),
    "fees": ("SELECT", "INSERT", "UPDATE"),
    "plans": ("SELECT", "INSERT", "UPDATE"),
    "prior_kx": ("SELECT", "INSERT", "UPDATE"),
    "visits": ("SELECT", "INSERT", "UPDATE"),
    "intervals": ("SELECT", "INSERT", "UPDATE"),
    "charge_lines": ("SELECT", "INSERT"),
    "amendments": ("SELECT", "INSERT"),
    "audit_log": ("SELECT", "INSERT"),
    "favourite_codes": ("SELECT", "INSERT", "DELETE"),
    "printed_visits": ("SELECT", "INSERT", "UPDATE"),
    "payments": ("SELECT", "INSERT", "UPDATE"),
    # The server's chain is not keyed (stations cannot rewrite it); a record copied from an
    # SQLite clinic by ``server migrate`` is kept as it was, never written by a station.
    "audit_anchor": ("SELECT",),
    "admin_pin": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    "kx_thresholds": ("SELECT", "INSERT", "UPDATE"),
    "rule_releases": ("SELECT", "INSERT"),
    "ncci_pairs": ("SELECT", "INSERT", "DELETE"),
    "mue_limits": ("SELECT", "INSERT", "DELETE"),
    "clinic_codes": ("SELECT", "INSERT", "UPDATE"),
}


def role_names(database: str) -> tuple[str, str]:
    """The owner and station roles of the clinic database ``database``."""
    return f"{database}_owner", f"{database}_station"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def grant_statements(database: str, tables: list[str], identities: dict[str, str],
                     station: str) -> list[str]:
    """What gives the station role exactly its privileges, from nothing: everything taken
    back from it and from PUBLIC first (on the database, the schema and every table,
    sequence and function), then CONNECT on the database, USAGE on the schema,
    ``STATION_PRIVILEGES`` (a table missing there, one a newer migration added before this
    list learnt it, gets SELECT only), USAGE on the identity sequences of the tables it
    inserts into, EXECUTE on the guard functions and the live-update one
    (``pg/notify.py``: every change a station commits tells the others).

    Args:
        tables: the schema's tables.
        identities: table -> the sequence behind its identity column.
    """
    who = _ident(station)
    statements = [
        f"REVOKE ALL ON DATABASE {_ident(database)} FROM PUBLIC, {who}",
        f"GRANT CONNECT ON DATABASE {_ident(database)} TO {who}",
        f"REVOKE ALL ON SCHEMA public FROM PUBLIC, {who}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, {who}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, {who}",
        f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC, {who}",
        f"GRANT USAGE ON SCHEMA public TO {who}",
    ]
    for table in sorted(tables):
        privileges = STATION_PRIVILEGES.get(table, ("SELECT",))
        statements.append(f"GRANT {', '.join(privileges)} ON {_ident(table)} TO {who}")
        if "INSERT" in privileges and table in identities:
            statements.append(f"GRANT USAGE ON SEQUENCE {identities[table]} TO {who}")
    statements.append(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {who}")
    return statements
