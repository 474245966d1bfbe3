"""A PostgreSQL connection that the store uses as it uses an SQLite one.

The repository's queries are written once, in the SQL both databases speak, with ``?``
placeholders; ``PgConnection`` turns them into psycopg's ``%s`` (once per query text),
returns rows that read by position and by column name (like ``sqlite3.Row``, and equal to
tuples), and turns every psycopg error into a ``StorageError`` that names the problem. What
differs per database lives here and in ``pg/schema.py``; the mixins never know which one
they talk to.

Writes are serialized clinic-wide: ``BEGIN`` takes a transaction-scoped advisory lock
(``WRITE_LOCK``), as SQLite's ``BEGIN IMMEDIATE`` does for its file, so every
check-then-write the store makes (one provider's one-on-one timers, the audit chain's head,
a finalize racing an edit) holds across stations exactly as it holds across two windows on
one computer. A clinic's writes are a few per minute per room; the lock costs a round trip.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.adapt import Loader

from therapy_timer.storage.errors import (
    RUNNING_TWICE,
    ConnectionLostError,
    CorruptDatabaseError,
    DatabaseLockedError,
    DiskFullError,
    ForeignDatabaseError,
    FrozenVisitError,
    InvalidDataError,
    ReadOnlyError,
    StorageError,
)

log = logging.getLogger(__name__)

#: The advisory lock every write transaction holds ("TTmr" as a number): one writer at a time.
WRITE_LOCK = 0x54546D72
#: How long one statement may run before the server cancels it (a stuck lock, a runaway
#: query): the store then says so instead of hanging a treatment room.
STATEMENT_TIMEOUT_MS = 15000
#: How long a write waits for another station's transaction (as SQLite's busy timeout).
LOCK_TIMEOUT_MS = 5000
CONNECT_TIMEOUT_S = 5

#: String literals and quoted names (left as written), then what PostgreSQL says otherwise.
_TOKENS = re.compile(
    r"""('(?:[^']|'')*'|"(?:[^"]|"")*")"""
    r"""|(\?)|(%)|(?<![\w"])(user)(?![\w"(])|\b(NOT\s+LIKE|LIKE)\b|\b(group_concat)\s*\("""
    r"""|\bjson_extract\(\s*([\w.]+)\s*,\s*'\$\.(\w+)'\s*\)"""
    r"""|([\w.]+)\s+COLLATE\s+NOCASE\b""", re.I)


class Row(tuple):
    """A result row: ``row[0]`` and ``row["name"]``, like ``sqlite3.Row``; equal to a tuple."""

    __slots__ = ()
    _index: dict[str, int] = {}

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


_row_types: dict[tuple, type] = {}


def _row_factory(cursor):
    result = cursor.pgresult
    if result is None or not result.nfields:
        return tuple
    # Column names straight from the result (``cursor.description`` builds an object per
    # column per query); one row type per set of names.
    names = tuple(result.fname(i) for i in range(result.nfields))
    row_type = _row_types.get(names)
    if row_type is None:
        index = {name.decode(): i for i, name in enumerate(names)}
        row_type = type("Row", (Row,), {"__slots__": (), "_index": index})
        if len(_row_types) < 1024:
            _row_types[names] = row_type
    return lambda values: tuple.__new__(row_type, values)


class _NumericLoader(Loader):
    """``sum()`` of integer columns comes back as ``numeric``: cents stay ``int``."""

    def load(self, data):
        text = bytes(data).decode("ascii")
        if "." in text:
            whole, _, fraction = text.partition(".")
            if fraction.strip("0"):
                return float(text)
            return int(whole)
        return int(text) if text not in ("NaN", "Infinity", "-Infinity") else float(text)


def _bool_as_int(value: bool) -> int:
    return int(value)


_translated: dict[str, str] = {}


def to_pg(sql: str) -> str:
    """The store's SQL (SQLite's words) as PostgreSQL takes it, translated once per text:

    - ``?`` placeholders become ``%s``, and a literal ``%`` becomes ``%%``;
    - the ``user`` column is quoted (a bare ``user`` is PostgreSQL's ``current_user``);
    - ``LIKE`` becomes ``ILIKE`` (SQLite's LIKE ignores case; PostgreSQL's does not);
    - ``group_concat(`` is ``string_agg(``; ``json_extract(x, '$.key')`` is ``x::jsonb ->>``;
      ``x COLLATE NOCASE`` is ``lower(x)``.
    """
    done = _translated.get(sql)
    if done is None:
        def swap(match: re.Match) -> str:
            literal, mark, percent, user, like, concat, json_of, key, nocase = match.groups()
            if literal is not None:
                return literal.replace("%", "%%")
            if mark:
                return "%s"
            if percent:
                return "%%"
            if user:
                return '"user"'
            if like:
                return "NOT ILIKE" if like.upper().startswith("NOT") else "ILIKE"
            if concat:
                return "string_agg("
            if nocase:
                return f"lower({nocase})"
            return f"({json_of}::jsonb ->> '{key}')"
        done = _TOKENS.sub(swap, sql)
        if len(_translated) < 4096:
            _translated[sql] = done
    return done


class PgCursor:
    """What ``conn.execute`` returns: iterate it, ``fetchone``, ``fetchall``, ``rowcount``,
    ``lastrowid`` (the id the last INSERT drew from its table's identity)."""

    def __init__(self, conn: PgConnection, cursor: psycopg.Cursor) -> None:
        self._conn = conn
        self._cursor = cursor

    def _has_rows(self) -> bool:
        result = self._cursor.pgresult
        return result is not None and result.nfields > 0

    def fetchone(self):
        return self._conn._call(self._cursor.fetchone) if self._has_rows() else None

    def fetchall(self) -> list:
        return self._conn._call(self._cursor.fetchall) if self._has_rows() else []

    def __iter__(self):
        return iter(self.fetchall())

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def description(self):
        return self._cursor.description

    @property
    def lastrowid(self) -> int | None:
        row = self._conn.execute("SELECT lastval()").fetchone()
        return int(row[0]) if row else None


class PgConnection:
    """A psycopg connection in autocommit mode, with explicit ``BEGIN``/``COMMIT`` as the
    store issues them (like ``sqlite3.connect(isolation_level=None)``)."""

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection, where: str) -> None:
        self.raw = raw
        self.where = where
        self.total_changes = 0
        self.row_factory = None  # accepted and ignored: rows always read by name too
        self._trace = None

    # --- statements ---

    def execute(self, sql: str, params: Any = ()) -> PgCursor:
        head = sql.lstrip()[:16].upper()
        if head.startswith("BEGIN"):
            return self._begin()
        if head.startswith("ROLLBACK"):
            self.rollback()
            return PgCursor(self, self.raw.cursor())
        cursor = self.raw.cursor(row_factory=_row_factory)
        if self._trace is not None:
            self._trace(sql)
        self._call(cursor.execute, to_pg(sql), tuple(params))
        if not head.startswith(("SELECT", "WITH")):
            self.total_changes += max(cursor.rowcount, 0)
        return PgCursor(self, cursor)

    def set_trace_callback(self, callback) -> None:
        """Like sqlite3's: ``callback(sql)`` for each statement sent (tests count queries)."""
        self._trace = callback

    def executemany(self, sql: str, rows) -> PgCursor:
        cursor = self.raw.cursor(row_factory=_row_factory)
        rows = [tuple(r) for r in rows]
        if rows:
            self._call(cursor.executemany, to_pg(sql), rows)
            self.total_changes += len(rows)
        return PgCursor(self, cursor)

    def cursor(self) -> PgConnection:
        return self

    def _begin(self) -> PgCursor:
        cursor = self.raw.cursor()
        self._call(cursor.execute, "BEGIN")
        self._call(cursor.execute, "SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        return PgCursor(self, cursor)

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except psycopg.Error as exc:
            raise translate(exc, self.where) from exc

    # --- state ---

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    def commit(self) -> None:
        if self.in_transaction:
            self.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction and not self.raw.closed:
            try:
                self.raw.execute("ROLLBACK")
            except psycopg.Error as exc:  # a dropped connection has nothing to roll back
                log.warning("rollback failed on %s: %s", self.where, exc)

    def close(self) -> None:
        if not self.raw.closed:
            self.rollback()
            self.raw.close()

    @property
    def closed(self) -> bool:
        return bool(self.raw.closed)


def connect(conninfo: str, where: str, *, lock_timeout_ms: int = LOCK_TIMEOUT_MS,
            application_name: str = "therapy-timer") -> PgConnection:
    """Connects (libpq reads ``.pgpass`` and the service file as usual) with the session the
    store needs: UTC, durable commits, bounded waits."""
    try:
        raw = psycopg.connect(conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                              application_name=application_name)
    except psycopg.Error as exc:
        raise translate(exc, where) from exc
    raw.adapters.register_loader("numeric", _NumericLoader)
    raw.adapters.register_dumper(bool, psycopg.types.numeric.IntDumper)
    conn = PgConnection(raw, where)
    try:
        version = raw.info.server_version
        if version < 130000:
            raise StorageError(
                f"{where} runs PostgreSQL {version // 10000}; Therapy Timer needs PostgreSQL "
                "13 or newer. Nothing was changed.")
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute("SET synchronous_commit = on")
        conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
        conn.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
        conn.execute("SET idle_in_transaction_session_timeout = 60000")
    except BaseException:
        raw.close()
        raise
    return conn


def translate(exc: psycopg.Error, where: str = "the clinic server") -> StorageError:
    """A psycopg error as the ``StorageError`` that says what happened, in the same words the
    SQLite store uses where the cause is the same."""
    text = (getattr(exc.diag, "message_primary", None) or str(exc) or "").strip()
    lowered = text.lower()
    state = getattr(exc, "sqlstate", None) or ""
    if isinstance(exc, pg_errors.RaiseException) or state == "P0001":
        if "frozen" in lowered or "finalized" in lowered or "append-only" in lowered:
            return FrozenVisitError(text)
        return InvalidDataError(f"the store refused the change: {text}")
    if isinstance(exc, (pg_errors.LockNotAvailable, pg_errors.DeadlockDetected,
                        pg_errors.SerializationFailure)):
        return DatabaseLockedError(
            f"{where} is busy with another station's change; nothing was saved. Try again in "
            "a moment.")
    if isinstance(exc, pg_errors.QueryCanceled):
        return DatabaseLockedError(
            f"{where} took too long to answer (statement timeout); nothing was saved. Try "
            "again in a moment.")
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return ReadOnlyError(f"{where} refused: this station's role may not do that "
                             f"({text}); nothing was saved")
    if isinstance(exc, pg_errors.ReadOnlySqlTransaction):
        return ReadOnlyError(f"{where} is read-only (a standby?); nothing was saved")
    if isinstance(exc, (pg_errors.DiskFull, pg_errors.OutOfMemory)) or state.startswith("53"):
        return DiskFullError(f"the disk of {where} is full; nothing was saved. Free space on "
                             "the server and try again")
    if isinstance(exc, pg_errors.IntegrityError):
        if "intervals_one_running" in lowered:  # issue 14: the referee of two stations
            return InvalidDataError(RUNNING_TWICE)
        if "provider_one_on_one" in lowered:
            return InvalidDataError(f"the store refused the change: {text}")
        return InvalidDataError(f"the store refused the change: {text}")
    if isinstance(exc, pg_errors.InvalidPassword) or "password authentication failed" in lowered:
        return ReadOnlyError(f"{where} refused the password (wrong password, or no password "
                             "found in .pgpass or the service file); nothing was changed")
    if isinstance(exc, pg_errors.InvalidCatalogName) or ("database" in lowered
                                                         and "does not exist" in lowered):
        return ForeignDatabaseError(f"{where}: {text}; run `therapy-timer server init` first")
    if isinstance(exc, psycopg.OperationalError) or state.startswith("08") \
            or state.startswith("57P"):
        return ConnectionLostError(
            f"cannot reach {where} ({text or 'the connection was closed'}); nothing was "
            "saved. Check that the server is running and this computer is on the network.")
    if isinstance(exc, pg_errors.DataCorrupted) or state.startswith("XX"):
        return CorruptDatabaseError(f"{where} reports damage ({text})")
    if isinstance(exc, (pg_errors.DataError, pg_errors.ProgrammingError)):
        return StorageError(f"database error in {where}: {text}")
    return StorageError(f"database error in {where}: {text}")

