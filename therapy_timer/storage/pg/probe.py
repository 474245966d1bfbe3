"""Settings > This computer's "Test connection", and the status bar's "still connected?".

``probe(conninfo)`` connects once, reads, and changes nothing (it never migrates and never
puts a guard back, whoever it connects as): it says in one ``Probe`` whether this station
could open the clinic on that server, and if not, exactly why, in words a front desk can act
on. ``ping(repo)`` is the cheap check the app's heartbeat makes of the store it has open.

Kinds (``Probe.kind``): ``connected``; ``unreachable`` (no server answers at that address),
``password`` (refused or missing), ``no_tls`` (TLS required, the server speaks none),
``tls`` (the certificate does not check out against the CA), ``refused`` (the server turns
this computer or role away: pg_hba.conf, an unknown role), ``no_database``, ``foreign``
(another program's tables), ``empty`` (no clinic yet), ``too_new`` (a newer Therapy Timer
wrote it), ``too_old`` and ``guards`` (the administrator runs ``server repair``), ``error``.
"""

from __future__ import annotations

from dataclasses import dataclass

from therapy_timer.storage.errors import ConnectionLostError, StorageError

#: How long Test connection waits for a server that does not answer.
PROBE_TIMEOUT_S = 5


@dataclass(frozen=True)
class Probe:
    """What Test connection found: ``ok`` and ``message`` for the screen, the rest for tests
    and the log."""

    kind: str
    message: str
    clinic: str = ""
    patients: int = 0
    schema: int = 0

    @property
    def ok(self) -> bool:
        return self.kind == "connected"


def _connect_failure(exc: Exception, where: str) -> Probe:
    """A failed connection attempt as the one cause a user can fix."""
    text = (getattr(getattr(exc, "diag", None), "message_primary", None) or str(exc)).strip()
    low = str(exc).lower()
    state = getattr(exc, "sqlstate", None) or ""
    if "does not support ssl" in low or "ssl was required" in low:
        return Probe("no_tls", f"No TLS: {where} does not offer encrypted connections, and "
                     "this computer requires them (TLS mode). Ask the administrator to turn "
                     "on ssl on the server; patient data must not cross the network in "
                     "clear.")
    if "certificate" in low or "sslrootcert" in low or "root cert" in low:
        return Probe("tls", f"TLS check failed: {where}'s certificate is not the one the CA "
                     f"file vouches for, or the CA file cannot be read ({text}).")
    if state == "28P01" or "password authentication failed" in low:
        return Probe("password", f"Wrong password: {where} refused the password for this "
                     "user.")
    if "no password supplied" in low or "password is required" in low \
            or "fe_sendauth" in low:
        return Probe("password", f"No password: {where} asks for one, and none was typed "
                     "here or found in this computer's password file (.pgpass) or service "
                     "file.")
    if state == "3D000" or ("database" in low and "does not exist" in low):
        return Probe("no_database", f"No such database on {where}: {text}. Check the "
                     "database name (the administrator's `therapy-timer server init` "
                     "printed it).")
    if "pg_hba.conf" in low or state == "28000" or "role" in low and "does not exist" in low:
        return Probe("refused", f"{where} turned this computer away: {text}.")
    if any(words in low for words in (
            "connection refused", "could not translate host name", "timeout expired",
            "no route to host", "network is unreachable", "name or service not known",
            "could not connect", "connection timed out", "server closed the connection")):
        return Probe("unreachable", f"Host unreachable: nothing answers at {where} ({text}). "
                     "Check the host name and port, that the server is running, and that "
                     "this computer is on the clinic network.")
    return Probe("error", f"Not connected to {where}: {text}.")


def probe(conninfo: str) -> Probe:
    """Connects to ``conninfo`` (the password, when typed, in it), checks what a station
    checks when it opens the clinic, and disconnects. Changes nothing on the server."""
    import psycopg

    from therapy_timer.storage.errors import ForeignDatabaseError, SchemaTooNewError
    from therapy_timer.storage.migrations import LATEST_VERSION
    from therapy_timer.storage.pg import schema
    from therapy_timer.storage.pg.connection import PgConnection
    from therapy_timer.storage.pg.store import describe, trigger_problems

    where = describe(conninfo)
    try:
        raw = psycopg.connect(conninfo, autocommit=True, connect_timeout=PROBE_TIMEOUT_S,
                              application_name="therapy-timer test")
    except psycopg.Error as exc:
        return _connect_failure(exc, where)
    conn = PgConnection(raw, where)
    try:
        conn.execute("SET default_transaction_read_only = on")
        try:
            known = schema.check_identity(conn, where)
            version = schema.check_version(conn, where, LATEST_VERSION)
        except ForeignDatabaseError:
            return Probe("foreign", f"Not a Therapy Timer database: {where} holds another "
                         "program's tables. Check the database name.")
        except SchemaTooNewError:
            newer = schema.schema_version(conn)
            return Probe("too_new", f"Schema too new: {where} was written by a newer Therapy "
                         f"Timer (schema {newer}; this app knows up to {LATEST_VERSION}). "
                         "Update Therapy Timer on this computer.", schema=newer)
        if not known:
            return Probe("empty", f"No clinic yet: {where} is an empty database. The "
                         "administrator creates the clinic with `therapy-timer server init`.")
        may_change = schema.may_change_schema(conn)
        repair = (f"ask the clinic's administrator to run `therapy-timer server repair "
                  f"--database {raw.info.dbname}` on the server")
        if version < LATEST_VERSION and not may_change:
            return Probe("too_old", f"Schema too old: {where} holds schema {version}; this "
                         f"Therapy Timer needs {LATEST_VERSION}: {repair}.", schema=version)
        missing, changed = trigger_problems(conn)
        if (missing or changed) and not may_change and version == LATEST_VERSION:
            return Probe("guards", f"Guards missing: {where} lacks the triggers that keep "
                         "finalized visits and the audit log unchangeable "
                         f"({', '.join([*missing, *changed])}): {repair}.", schema=version)
        row = conn.execute("SELECT name FROM practice WHERE id = 1").fetchone()
        clinic = row[0] if row else "(no practice name yet)"
        patients = int(conn.execute("SELECT count(*) FROM patients").fetchone()[0])
    except StorageError as exc:
        return Probe("error", f"Connected to {where}, but: {exc}")
    finally:
        conn.close()
    note = ""
    if version < LATEST_VERSION:
        note = f" (this user owns the clinic: the app updates it to schema {LATEST_VERSION})"
    return Probe("connected", f"Connected: clinic {clinic}, {patients} patient"
                 f"{'' if patients == 1 else 's'}, schema {version}{note}.",
                 clinic=clinic, patients=patients, schema=version)


def ping(repo) -> None:
    """A round trip to the store ``repo`` has open (nothing on an SQLite file: it is always
    there). The heartbeat calls it for the status bar.

    Raises:
        ConnectionLostError: the server does not answer.
    """
    if not repo.on_server:
        return
    import psycopg

    from therapy_timer.storage.pg.connection import translate

    conn = repo.conn  # a connection that reconnects does so here, on its next call
    try:
        conn.execute("SELECT 1").fetchone()
    except psycopg.Error as exc:  # met before the store's own translation
        error = translate(exc, conn.where)
        if isinstance(error, ConnectionLostError):
            raise error from exc
    except ConnectionLostError:
        raise
    except StorageError:  # a busy server still answered
        return
