"""Setting up a clinic server: ``server init`` and ``server repair``.

``init_server`` connects once with the administrator's address and creates, in this order,
the owner role (NOLOGIN), the station role (LOGIN, with a password the server receives only
as a SCRAM verifier, so not even a statement log on the server sees it), the database (UTF8,
C collation, from template0, owned by the owner role), the Therapy Timer schema (created by
the store itself, acting as the owner role, so the owner owns every table, function and
trigger), and the station's privileges (``roles.py``). A step that fails takes back the ones
before it: a second try starts clean. The station's password goes to libpq's password file
on this computer, owner-only, never to the screen, a log or the database.

``repair_server`` is the administrator's answer when a station says the schema is older than
the app (a new release) or a guard trigger is missing: it migrates, puts the guards back and
grants the station role again, as the owner role.
"""

from __future__ import annotations

import logging
import re
import secrets
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from therapy_timer.storage.errors import (
    ConnectionLostError,
    ForeignDatabaseError,
    InvalidDataError,
)
from therapy_timer.storage.pg import roles
from therapy_timer.storage.pg.pgpass import write_pgpass
from therapy_timer.storage.pg.store import describe

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "therapy_timer"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
CONNECT_TIMEOUT_S = 5


@dataclass
class InitResult:
    """What ``init_server`` made."""

    database: str
    owner: str
    station: str
    #: The address every station uses, without its password.
    station_uri: str
    #: The password file the station's password was written to (None: not written).
    pgpass: Path | None
    #: What the administrator should know (TLS switched off on the server, ...).
    notes: list[str] = field(default_factory=list)


@dataclass
class RepairResult:
    database: str
    schema_before: int
    schema_after: int
    repaired_triggers: list[str]
    station: str


def check_database_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise InvalidDataError(
            f"--database {name!r}: a clinic database's name is lower-case letters, digits and "
            "_ (at most 48, not starting with a digit), e.g. therapy_timer")
    return name


def parse_admin(conninfo: str, option: str = "--admin",
                example: str = "postgresql://postgres@localhost:5432/postgres") -> dict[str, str]:
    """The administrator's address as libpq keywords; one that cannot be read is refused
    without echoing it (it may hold a password). ``option`` and ``example`` are what the
    messages name: the command's own option (``server migrate`` takes it as ``--to``)."""
    text = str(conninfo or "").strip()
    if not text:
        raise InvalidDataError(f"{option} is empty: give the administrator's address, e.g. "
                               f"{example}")
    try:
        parts = conninfo_to_dict(text)
    except psycopg.Error:
        raise InvalidDataError(
            f"the administrator's address ({option}) is not a PostgreSQL URI or connection "
            f"string: write it like {example}") from None
    return {key: str(value) for key, value in parts.items()}


def conninfo_for(admin: dict[str, str], database: str | None = None,
                 role: str | None = None) -> str:
    """The administrator's address for ``database``, acting as ``role`` (``SET ROLE`` at
    connection, so what it creates is that role's). Starts with ``dbname=``: the store reads
    it as a server address."""
    parts = dict(admin)
    if database is not None:
        parts["dbname"] = database
    if role is not None:
        parts["options"] = (parts.get("options", "") + f" -c role={role}").strip()
    ordered = {"dbname": parts.pop("dbname", "postgres"), **parts}
    return make_conninfo("", **ordered)


def admin_connect(admin: dict[str, str], database: str | None = None,
                  role: str | None = None, option: str = "--admin") -> psycopg.Connection:
    """A connection as the administrator (autocommit), or one line saying why not (naming
    ``option``, the command's option that gave the address).

    Raises:
        InvalidDataError: the server refused the login (user, password, pg_hba.conf) or
            has no such database: what the administrator gave is wrong.
        ConnectionLostError: the server cannot be reached.
    """
    conninfo = conninfo_for(admin, database, role)
    where = describe(conninfo)
    try:
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                               application_name="therapy-timer server")
    except psycopg.Error as exc:
        text = " ".join(str(exc).split())
        reason = text.split("FATAL:")[-1].strip() if "FATAL:" in text else text
        lowered = reason.lower()
        if any(words in lowered for words in (
                "password authentication failed", "no password supplied", "does not exist",
                "pg_hba.conf", "authentication failed", "permission denied")):
            raise InvalidDataError(
                f"{where} refused the administrator ({reason}); check the user, the password "
                f"(or .pgpass) and the database in {option}. Nothing was changed.") from None
        raise ConnectionLostError(
            f"cannot reach {where} ({reason}); nothing was changed. Check that PostgreSQL "
            "is running there and that this computer may connect to it.") from None


def _one(conn: psycopg.Connection, sql: str, params=()):
    row = conn.execute(sql, params).fetchone()
    return row[0] if row else None


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def is_local(host: str | None) -> bool:
    """A host the stations reach without the network: no TLS needed."""
    return not host or host in LOCAL_HOSTS or host.startswith("/")


def station_uri(host: str | None, port: str | int | None, database: str, role: str,
                ca: Path | str | None = None) -> str:
    """The address a station uses: ``postgresql://ROLE@HOST:PORT/DB``, with
    ``sslmode=require`` for a host reached over the network, or ``sslmode=verify-full``
    with the clinic's CA certificate when one is given. No password: libpq finds it in
    ``.pgpass`` (or the service file, or asks)."""
    query: dict[str, str] = {}
    if ca is not None:
        query["sslmode"] = "verify-full"
        query["sslrootcert"] = str(Path(ca).absolute())
    elif not is_local(host):
        query["sslmode"] = "require"
    if host and host.startswith("/"):  # a Unix socket's folder
        query = {"host": host, **query}
        netloc = ""
    elif host and ":" in host:
        netloc = f"[{host}]"
    else:
        netloc = host or ""
    if port and netloc:
        netloc += f":{port}"
    tail = ("?" + urllib.parse.urlencode(query, safe="/", quote_via=urllib.parse.quote)
            if query else "")
    return f"postgresql://{urllib.parse.quote(role)}@{netloc}/{database}{tail}"


# --- init ---

def _is_ours(admin: dict[str, str], database: str) -> bool:
    """True when ``database`` holds a Therapy Timer clinic (its meta table says so)."""
    from therapy_timer.storage.db import APPLICATION_ID

    with admin_connect(admin, database) as conn:
        if not _one(conn, "SELECT to_regclass('public.therapy_timer_meta') IS NOT NULL"):
            return False
        return _one(conn, "SELECT application_id FROM public.therapy_timer_meta WHERE id = 1"
                    ) == APPLICATION_ID


def init_server(admin_conninfo: str, database: str = DEFAULT_DATABASE, *,
                station_host: str | None = None, ca: Path | str | None = None,
                password: str | None = None, pgpass: Path | None = None,
                write_password: bool = True) -> InitResult:
    """Creates the clinic's database, its owner and station roles, the schema and the
    station's privileges (see the module's docstring).

    Args:
        station_host: the server's name as the stations reach it (default: the host the
            administrator connected to).
        ca: the clinic's CA certificate: stations verify the server's certificate with it.
        password: the station's password (default: a new random one).
        pgpass: the password file to write (default: libpq's, ``pgpass_path()``).
        write_password: False writes no password file (the administrator keeps it).

    Raises:
        InvalidDataError: bad input, a refused login, an administrator who may not create
            databases and roles, a database or role that exists already (nothing changed).
        ForeignDatabaseError: a database of that name holds something else.
        ConnectionLostError: the server cannot be reached.
    """
    database = check_database_name(database)
    if ca is not None and not Path(ca).is_file():
        raise InvalidDataError(f"--ca {ca}: there is no such file (the clinic's CA "
                               "certificate, in PEM form)")
    admin = parse_admin(admin_conninfo)
    owner, station = roles.role_names(database)
    conn = admin_connect(admin)
    where = describe(conninfo_for(admin))
    try:
        superuser, createdb, createrole = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname ="
            " current_user").fetchone()
        if not (superuser or (createdb and createrole)):
            raise InvalidDataError(
                f"{where}: the user {conn.info.user!r} may not create databases and roles; "
                "give --admin as a superuser (e.g. postgres). Nothing was changed.")
        if _one(conn, "SELECT 1 FROM pg_database WHERE datname = %s", (database,)):
            if _is_ours(admin, database):
                raise InvalidDataError(
                    f"{where} already has the Therapy Timer database {database}; nothing was "
                    "changed (server repair puts back its guards and grants; give another "
                    "--database for a second clinic)")
            raise ForeignDatabaseError(
                f"{where} already has a database {database} that is not a Therapy Timer "
                "clinic; nothing was changed (give another --database)")
        taken = [name for name in (owner, station)
                 if _one(conn, "SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))]
        if taken:
            raise InvalidDataError(
                f"{where} already has the role {', '.join(taken)} (from an earlier clinic "
                f"database {database}?); nothing was changed")
        admin_host = conn.info.host
        host = station_host or admin_host
        port = str(conn.info.port) if conn.info.port else admin.get("port")
        notes = []
        if not is_local(host) and _one(conn, "SHOW ssl") != "on":
            notes.append(f"{where} has ssl = off: stations on other computers connect with "
                         "sslmode=require and are refused until TLS is switched on there "
                         "(README, Several computers)")
        secret = password if password is not None else secrets.token_urlsafe(24)
        verifier = conn.pgconn.encrypt_password(secret.encode(), station.encode(), None)
        _create(conn, admin, database, owner, station, verifier.decode("ascii"), superuser)
    finally:
        conn.close()
    uri = station_uri(host, port, database, station, ca)
    written = None
    if write_password:
        hosts = [host or "localhost"]
        if admin_host and admin_host not in hosts:
            hosts.append(admin_host)
        if any(h.startswith("/") for h in hosts):  # libpq names the default socket so
            hosts.append("localhost")
        entries = [(h, port or "*", database, station) for h in dict.fromkeys(hosts)]
        written = write_pgpass(entries, secret, pgpass)
    log.info("clinic database %s created on %s (roles %s, %s)", database, where, owner,
             station)
    return InitResult(database, owner, station, uri, written, notes)


def _create(conn: psycopg.Connection, admin: dict[str, str], database: str, owner: str,
            station: str, verifier: str, superuser: bool) -> None:
    """The roles, the database, the schema and the grants; a failure takes them back."""
    with conn.transaction():
        conn.execute(f"CREATE ROLE {_ident(owner)} NOLOGIN")
        conn.execute(f"CREATE ROLE {_ident(station)} LOGIN PASSWORD {_literal(verifier)}")
        if not superuser:  # act as the owner (SET ROLE) to create what it owns
            conn.execute(f"GRANT {_ident(owner)} TO CURRENT_USER")
    try:
        conn.execute(f"CREATE DATABASE {_ident(database)} OWNER {_ident(owner)} TEMPLATE"
                     " template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'")
        try:
            conn.execute(f"REVOKE ALL ON DATABASE {_ident(database)} FROM PUBLIC")
            with admin_connect(admin, database) as new:
                new.execute(f"ALTER SCHEMA public OWNER TO {_ident(owner)}")
                new.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
            _create_schema(admin, database, owner)
            grant_station(admin, database)
        except BaseException:
            _undo(conn, f"DROP DATABASE IF EXISTS {_ident(database)} WITH (FORCE)")
            raise
    except BaseException:
        _undo(conn, f"DROP ROLE IF EXISTS {_ident(station)}")
        _undo(conn, f"DROP ROLE IF EXISTS {_ident(owner)}")
        raise


def _undo(conn: psycopg.Connection, statement: str) -> None:
    """Takes back one step of a failed init; the failure itself is what gets reported."""
    try:
        conn.execute(statement)
    except psycopg.Error as exc:
        log.warning("server init could not take back a step (%s): %s", statement, exc)


def _create_schema(admin: dict[str, str], database: str, owner: str) -> None:
    """The store creates its own schema (the migrations), acting as the owner role."""
    from therapy_timer.storage.repository import open_repository

    open_repository(conninfo_for(admin, database, owner)).close()


def grant_station(admin: dict[str, str], database: str) -> None:
    """Gives the station role exactly its privileges (``roles.grant_statements``), as the
    owner role, in one transaction."""
    owner, station = roles.role_names(database)
    with admin_connect(admin, database, owner) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        identities = {table: sequence for table, sequence in conn.execute(
            "SELECT table_name, pg_get_serial_sequence(quote_ident(table_name), column_name)"
            " FROM information_schema.columns WHERE table_schema = 'public' AND"
            " is_identity = 'YES'")}
        unknown = sorted(set(tables) - set(roles.STATION_PRIVILEGES))
        if unknown:
            log.warning("tables without station privileges (SELECT only): %s",
                        ", ".join(unknown))
        with conn.transaction():
            for statement in roles.grant_statements(database, tables, identities, station):
                conn.execute(statement)


# --- repair ---

def repair_server(admin_conninfo: str, database: str = DEFAULT_DATABASE) -> RepairResult:
    """Brings a clinic database to this app's schema, puts back missing or altered guard
    triggers and grants the station role its privileges again, acting as the owner role.

    Raises:
        InvalidDataError, ConnectionLostError: as ``init_server``.
        ForeignDatabaseError: the database is not a Therapy Timer clinic made by init.
    """
    from therapy_timer.storage.pg import schema
    from therapy_timer.storage.pg.store import open_connection

    database = check_database_name(database)
    admin = parse_admin(admin_conninfo)
    owner, station = roles.role_names(database)
    with admin_connect(admin) as conn:
        where = describe(conninfo_for(admin, database))
        missing = [name for name in (owner, station)
                   if not _one(conn, "SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))]
        if not _one(conn, "SELECT 1 FROM pg_database WHERE datname = %s", (database,)):
            raise InvalidDataError(f"{where} has no database {database}; nothing was changed "
                                   "(server init creates it)")
    if missing:
        raise ForeignDatabaseError(
            f"{where} has no role {', '.join(missing)}: this database was not set up by "
            "`therapy-timer server init`; nothing was changed")
    if not _is_ours(admin, database):
        raise ForeignDatabaseError(f"{where} is not a Therapy Timer database; nothing was "
                                   "changed")
    conninfo = conninfo_for(admin, database, owner)
    with admin_connect(admin, database) as probe:
        before = int(_one(probe, "SELECT schema_version FROM public.therapy_timer_meta"
                                 " WHERE id = 1") or 0)
    # The store's own open, as the owner: migrations up to this app's, guards put back.
    pg, _where, repaired = open_connection(conninfo)
    try:
        after = schema.schema_version(pg)
    finally:
        pg.close()
    grant_station(admin, database)
    return RepairResult(database, before, after, list(repaired), station)
