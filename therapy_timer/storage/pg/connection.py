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
one computer. A clinic's writes are a few per minute per room.

Inside a write transaction the connection runs in pipeline mode: ``BEGIN`` and the lock are
sent at once but not waited for until the transaction's first read; a write whose result
nobody reads yet is not waited for until the next read or the ``COMMIT``. A timer tap waits
on about a third fewer round trips so. An error of such a write surfaces at that next read
or the COMMIT, still inside the same transaction, which then rolls back whole. Statements
inside the pipeline are never server-side prepared (reads outside transactions are).

A connection that drops (the server restarted, the network went away) is opened again on the
next call, once, transparently: a read that failed is sent again on the new connection, and so
is a transaction of which the server had answered nothing yet (nothing of it can have been
applied). A change is never sent twice: a drop in the middle of
a transaction fails that transaction (the server rolls it back, nothing of it is saved, and the
connection refuses the rest of it until the store ends it), and a drop while the ``COMMIT``
itself was on its way raises ``CommitOutcomeUnknownError``: the server may have kept the change
or not, and the station must look before entering it again.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.adapt import Loader

from therapy_timer.storage.errors import (
    RUNNING_TWICE,
    CommitOutcomeUnknownError,
    ConnectionLostError,
    CorruptDatabaseError,
    DatabaseLockedError,
    DiskFullError,
    ForeignDatabaseError,
    FrozenVisitError,
    InvalidDataError,
    ReadOnlyError,
    StorageError,
    UnsupportedServerError,
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
#: How long unacknowledged data may wait on a cut network before the connection counts as
#: dropped (libpq's tcp_user_timeout).
TCP_TIMEOUT_MS = 10000
#: The oldest server release the store is tested on (``server_version`` as libpq gives it).
MINIMUM_SERVER_VERSION = 130000

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


_INSERT_INTO = re.compile(r'\s*INSERT\s+INTO\s+"?(\w+)"?', re.I)
_IDENTITY_TABLE = re.compile(r"\s*CREATE\s+TABLE\s+(\w+)\s*\(\s*id\s+INTEGER\s+PRIMARY\s+KEY",
                             re.I)
_identity_tables: set[str] | None = None


def _returns_id(sql: str) -> bool:
    """True for an INSERT into a table whose ``id`` is an identity (SQLite's INTEGER PRIMARY
    KEY): it is sent with ``RETURNING id``, so ``lastrowid`` costs no second round trip."""
    global _identity_tables
    if _identity_tables is None:
        from therapy_timer.storage.migrations import MIGRATIONS

        _identity_tables = {match.group(1).lower() for _n, _d, statements in MIGRATIONS
                            for statement in statements
                            if (match := _IDENTITY_TABLE.match(statement))}
    if "returning" in sql.lower():
        return False
    match = _INSERT_INTO.match(sql)
    return bool(match) and match.group(1).lower() in _identity_tables


class PgCursor:
    """What ``conn.execute`` returns: iterate it, ``fetchone``, ``fetchall``, ``rowcount``,
    ``lastrowid`` (the id the last INSERT drew from its table's identity)."""

    def __init__(self, conn: PgConnection, cursor: psycopg.Cursor | None,
                 returning: bool = False) -> None:
        self._conn = conn
        self._cursor = cursor
        self._returning = returning  # an INSERT sent with RETURNING id: lastrowid is here

    def _has_rows(self) -> bool:
        """Whether the statement returned rows (read from the result itself: psycopg's
        ``description`` builds an object per column)."""
        if self._cursor is None:
            return False
        result = self._settled().pgresult
        return result is not None and result.nfields > 0

    def fetchone(self):
        return self._conn._call(self._cursor.fetchone) if self._has_rows() else None

    def fetchall(self) -> list:
        return self._conn._call(self._cursor.fetchall) if self._has_rows() else []

    def _settled(self):
        """The psycopg cursor once its results are in (a queued write waits for them)."""
        self._conn._settle()
        return self._cursor

    def __iter__(self):
        return iter(self.fetchall())

    @property
    def rowcount(self) -> int:
        return self._settled().rowcount if self._cursor is not None else -1

    @property
    def description(self):
        return self._settled().description if self._cursor is not None else None

    @property
    def lastrowid(self) -> int | None:
        if self._returning:
            rows = self.fetchall()  # the id of each row inserted; sqlite3 gives the last
            if rows:
                return int(rows[-1][0])
        row = self._conn.execute("SELECT lastval()").fetchone()
        return int(row[0]) if row else None


class PgConnection:
    """A psycopg connection in autocommit mode, with explicit ``BEGIN``/``COMMIT`` as the
    store issues them (like ``sqlite3.connect(isolation_level=None)``)."""

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection, where: str, opener=None) -> None:
        self.raw = raw
        self.where = where
        #: Opens a new, set-up connection to the same database (after a drop); None: never.
        self._opener = opener
        #: A transaction died with its connection: its remaining statements are refused
        #: until the store ends it (ROLLBACK), so none of them lands outside it.
        self._lost_tx = False
        #: How many times the connection was opened again after a drop (tests, logs).
        self.reconnects = 0
        #: Inside a write transaction the connection is in pipeline mode: a write whose
        #: result nobody reads yet is queued and goes out with the next read or the COMMIT.
        self._pipeline: psycopg.Pipeline | None = None
        self._pipeline_cm = None
        self._begun = ("BEGIN", True)
        #: What was queued since BEGIN while nothing of it has been answered yet: sent
        #: again, whole, on a new connection if the old one turns out to be dead.
        self._replay: list[tuple[PgCursor, str, tuple]] | None = None
        self._queued: list[PgCursor] = []
        self._unsynced = False
        self._changes = 0
        self.total_changes = 0
        self.row_factory = None  # accepted and ignored: rows always read by name too
        self._trace = None

    # --- statements ---

    def execute(self, sql: str, params: Any = ()) -> PgCursor:
        head = sql.lstrip()[:16].upper()
        if head.startswith("BEGIN"):
            return self._begin(sql)
        if head.startswith("ROLLBACK"):
            self.rollback()
            return PgCursor(self, None)
        if head.startswith(("COMMIT", "END")):
            self._commit()
            return PgCursor(self, None)
        if self._trace is not None:
            self._trace(sql)
        read = head.startswith(("SELECT", "WITH", "SHOW", "EXPLAIN", "SET "))
        returning = head.startswith("INSERT") and _returns_id(sql)
        text = to_pg(sql) + " RETURNING id" if returning else to_pg(sql)
        if self._pipeline is not None:
            return self._queue(text, tuple(params), read=head.startswith(("SELECT", "WITH")),
                               returning=returning)
        cursor = self._send(lambda raw: raw.cursor(row_factory=_row_factory),
                            "execute", text, tuple(params), retry=read)
        if not head.startswith(("SELECT", "WITH")):
            self.total_changes += max(cursor.rowcount, 0)
        return PgCursor(self, cursor, returning)

    def _queue(self, text: str, params: tuple, *, read: bool, returning: bool) -> PgCursor:
        """A statement inside the write transaction: queued; a read is answered at once
        (with whatever was queued before it), a write when its result is asked for, the
        next read comes, or the COMMIT."""
        if self._lost_tx:
            raise ConnectionLostError(self._lost_message())
        wrapper = PgCursor(self, None, returning)
        if self._replay is not None:
            self._replay.append((wrapper, text, params))
        if not read:
            self._queued.append(wrapper)
        self._enqueue(wrapper, text, params)
        if read:
            self._settle()
        return wrapper

    def _enqueue(self, wrapper: PgCursor, text: str, params: tuple) -> None:
        try:
            cursor = self.raw.cursor(row_factory=_row_factory)  # raises on a closed one too
            # Never a server-side prepared statement inside the pipeline: a statement refused
            # by a guard trigger aborts the rest of its batch, a Parse with it, and psycopg's
            # cache of prepared names would drift from the server's ("prepared statement
            # does not exist" on the next use). Reads outside transactions stay prepared.
            cursor.execute(text, params, prepare=False)
        except psycopg.Error as exc:
            self._dropped_before_answer(exc)
            return
        wrapper._cursor = cursor
        self._unsynced = True

    def _settle(self) -> None:
        """Sends what is queued and takes the answers (one round trip)."""
        if self._pipeline is None or not self._unsynced:
            return
        try:
            self._pipeline.sync()
        except psycopg.Error as exc:
            self._unsynced = False
            self._dropped_before_answer(exc)
            return
        self._answered()

    def _answered(self) -> None:
        self._unsynced = False
        self._replay = None
        for wrapper in self._queued:
            self._changes += max(wrapper._cursor.rowcount, 0)
        self._queued.clear()

    def _dropped_before_answer(self, exc: psycopg.Error) -> None:
        """A connection found dead before anything of the transaction was answered: nothing
        of it can have been applied, so it is opened again and the transaction sent again,
        whole. After an answer, a drop fails the transaction (``_fail_in_pipeline``)."""
        if self._replay is None or not self._dropped() or self._opener is None:
            self._fail_in_pipeline(exc)
        log.warning("the connection to %s dropped (%s): connecting again", self.where, exc)
        statements, queued = self._replay, self._queued
        self._end_pipeline()
        self._reopen()  # ConnectionLostError when the server cannot be reached: nothing sent
        self._start_pipeline(*self._begun)
        self._replay, self._queued = None, queued  # no second resend: a drop now fails it
        try:
            for wrapper, text, params in statements:
                cursor = self.raw.cursor(row_factory=_row_factory)
                cursor.execute(text, params, prepare=False)
                wrapper._cursor = cursor
            self._pipeline.sync()
        except psycopg.Error as error:
            self._fail_in_pipeline(error)
        self._answered()

    def _fail_in_pipeline(self, exc: psycopg.Error):
        error = translate(exc, self.where)
        if isinstance(error, ConnectionLostError) and self._dropped():
            self._lost_tx = True
            self._end_pipeline()
            log.warning("the connection to %s dropped in a transaction: %s", self.where, exc)
            raise ConnectionLostError(self._lost_message()) from exc
        raise error from exc

    def _start_pipeline(self, begin: str = "BEGIN", lock: bool = True) -> None:
        self._pipeline_cm = self.raw.pipeline()
        self._pipeline = self._pipeline_cm.__enter__()
        self._unsynced = False
        self._queued = []
        self._begun = (begin, lock)
        self.raw.execute(begin, prepare=False)
        if lock:
            self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        self._unsynced = True

    def _end_pipeline(self, exc: BaseException | None = None) -> None:
        """Leaves pipeline mode (sending and answering what is still queued)."""
        pipeline, self._pipeline = self._pipeline, None
        self._queued = []
        self._unsynced = False
        if pipeline is None:
            return
        manager, self._pipeline_cm = self._pipeline_cm, None
        if exc is not None or self._dropped():
            with contextlib.suppress(Exception):
                manager.__exit__(type(exc) if exc else ConnectionLostError,
                                 exc or ConnectionLostError("dropped"), None)
            return
        manager.__exit__(None, None, None)

    def unpipelined(self) -> psycopg.Connection:
        """The raw connection for a bulk step inside the transaction (COPY, which pipeline
        mode refuses): what is queued is sent and answered, the transaction goes on
        unpipelined. Only for the administrator's tools (``server migrate``)."""
        self._settle()
        self._replay = None
        self._end_pipeline()
        return self.raw

    def set_trace_callback(self, callback) -> None:
        """Like sqlite3's: ``callback(sql)`` for each statement sent (tests count queries)."""
        self._trace = callback

    def executemany(self, sql: str, rows) -> PgCursor:
        rows = [tuple(r) for r in rows]
        if not rows:
            return PgCursor(self, None)
        if self._pipeline is not None:  # each row queued, all answered in one round trip
            text = to_pg(sql)
            for row in rows:
                self._queue(text, row, read=False, returning=False)
            self._settle()
            return PgCursor(self, None)
        cursor = self._send(lambda raw: raw.cursor(row_factory=_row_factory),
                            "executemany", to_pg(sql), rows, retry=False)
        self.total_changes += len(rows)
        return PgCursor(self, cursor)

    def cursor(self) -> PgConnection:
        return self

    def _begin(self, sql: str = "BEGIN") -> PgCursor:
        """BEGIN and the clinic's write lock, sent and not waited for: they are answered
        with the transaction's first read (or its COMMIT), in the same round trip.
        SQLite's ``BEGIN IMMEDIATE`` (and DEFERRED, EXCLUSIVE) is a plain BEGIN here, the
        lock doing IMMEDIATE's work;
        any other BEGIN is sent as written, and a ``READ ONLY`` one (a consistent read: a
        backup) takes no write lock, so stations go on writing meanwhile."""
        if self._lost_tx:
            raise ConnectionLostError(self._lost_message())
        if self._dropped():
            self._reopen()
        words = sql.split()
        if len(words) <= 2 and (len(words) == 1 or words[1].upper().rstrip(";") in (
                "IMMEDIATE", "DEFERRED", "EXCLUSIVE", "TRANSACTION")):
            statement, lock = "BEGIN", True
        else:
            statement = " ".join(words)
            lock = "READ ONLY" not in statement.upper()
        self._changes = 0
        try:
            self._start_pipeline(statement, lock)
        except psycopg.Error as exc:  # found dead as BEGIN went out: nothing was sent
            self._end_pipeline(exc)
            if not self._dropped() or self._opener is None:
                raise translate(exc, self.where) from exc
            self._reopen()
            try:
                self._start_pipeline(statement, lock)
            except psycopg.Error as again:
                self._end_pipeline(again)
                raise translate(again, self.where) from again
        self._replay = []
        return PgCursor(self, None)

    def _commit(self) -> None:
        if self._lost_tx:
            self._lost_tx = False
            raise ConnectionLostError(self._lost_message())
        if self._pipeline is None:
            if not self._dropped() and self.in_transaction:
                self._plain_commit()
            return
        if self._replay is not None:
            # Nothing of the transaction answered yet: make sure the connection is alive
            # and the lock held before the COMMIT goes out, so a dead connection is found
            # while the change can still be sent again.
            self._settle()
        queued = list(self._queued)
        try:
            self.raw.execute("COMMIT", prepare=False)  # as text: a relay, a log can see it
            self._end_pipeline()
        except psycopg.Error as exc:
            error = translate(exc, self.where)
            if self._pipeline is not None:
                with contextlib.suppress(Exception):
                    self._end_pipeline(exc)
            if isinstance(error, ConnectionLostError) and self._dropped():
                self._commit_unknown(exc)
            raise error from exc
        self.total_changes += self._changes + sum(max(w._cursor.rowcount, 0) for w in queued)
        self._changes = 0

    def _plain_commit(self) -> None:
        try:
            self.raw.execute("COMMIT", prepare=False)
        except psycopg.Error as exc:
            error = translate(exc, self.where)
            if isinstance(error, ConnectionLostError) and self._dropped():
                self._commit_unknown(exc)
            raise error from exc

    def _commit_unknown(self, exc: psycopg.Error):
        log.error("the connection to %s dropped during COMMIT: outcome unknown", self.where)
        raise CommitOutcomeUnknownError(
            f"the connection to {self.where} dropped while the server was saving this "
            "change: it may or may not have been saved. Look at the visit before entering "
            "it again.") from exc

    def _send(self, make_cursor, method: str, sql: str, params, *, retry: bool):
        def run(raw):
            cursor = make_cursor(raw)
            getattr(cursor, method)(sql, params)
            return cursor

        return self._attempt(run, retry=retry)

    def _attempt(self, run, *, retry: bool):
        """``run(raw)`` on a live connection: opened again first if it dropped while idle;
        sent again once after a drop when ``retry`` (a read, or a BEGIN) and no transaction
        was open. A drop inside a transaction fails it: nothing of it was saved."""
        if self._lost_tx:
            raise ConnectionLostError(self._lost_message())
        if self._dropped():
            self._reopen()
        in_tx = self.in_transaction
        try:
            return run(self.raw)
        except psycopg.Error as exc:
            error = translate(exc, self.where)
            if not (isinstance(error, ConnectionLostError) and self._dropped()):
                raise error from exc
            if in_tx:
                self._lost_tx = True
                log.warning("the connection to %s dropped in a transaction: %s", self.where,
                            exc)
                raise ConnectionLostError(self._lost_message()) from exc
            if not retry:
                raise ConnectionLostError(
                    f"the connection to {self.where} dropped while a change was on its way: "
                    "it may or may not have been saved. Look before entering it "
                    "again.") from exc
            log.warning("the connection to %s dropped (%s): connecting again", self.where,
                        exc)
        self._reopen()
        try:
            return run(self.raw)
        except psycopg.Error as exc:
            raise translate(exc, self.where) from exc

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except psycopg.Error as exc:
            raise translate(exc, self.where) from exc

    def _dropped(self) -> bool:
        return bool(self.raw.closed or self.raw.broken)

    def _reopen(self) -> None:
        """A new connection in place of the dropped one (ConnectionLostError when the server
        still cannot be reached: the next call tries again)."""
        if self._opener is None:
            raise ConnectionLostError(f"the connection to {self.where} was closed")
        with contextlib.suppress(psycopg.Error):
            self.raw.close()
        self.raw = self._opener()
        self.reconnects += 1
        log.info("connected again to %s", self.where)

    def _lost_message(self) -> str:
        return (f"the connection to {self.where} dropped in the middle of this change; the "
                "server rolled it back, so nothing of it was saved. Check that the server is "
                "running and this computer is on the network, then try again.")

    # --- state ---

    @property
    def in_transaction(self) -> bool:
        if self._pipeline is not None:  # BEGIN may still be queued
            return True
        if self._dropped():  # a dead connection holds no transaction, unless one died on it
            return self._lost_tx
        return self.raw.info.transaction_status in (
            pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR,
            pq.TransactionStatus.ACTIVE)

    def commit(self) -> None:
        if self.in_transaction:
            self.execute("COMMIT")

    def rollback(self) -> None:
        self._lost_tx = False
        self._replay = None
        if self._pipeline is not None:
            try:
                if not self._dropped():
                    self.raw.execute("ROLLBACK", prepare=False)
                self._end_pipeline()
            except psycopg.Error as exc:  # an error still queued, or the connection gone
                log.warning("rollback on %s: %s", self.where, exc)
                with contextlib.suppress(Exception):
                    self._end_pipeline(exc)
        if not self._dropped() and self.in_transaction:
            try:
                self.raw.execute("ROLLBACK", prepare=False)
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
    store needs: UTC, durable commits, bounded waits. After a drop the connection is opened
    again the same way."""

    def opener() -> psycopg.Connection:
        return _open_raw(conninfo, where, lock_timeout_ms, application_name)

    return PgConnection(opener(), where, opener)


def _open_raw(conninfo: str, where: str, lock_timeout_ms: int,
              application_name: str) -> psycopg.Connection:
    try:
        # Keepalives and a TCP timeout: a cut network (Wi-Fi gone, no reset) is noticed in
        # seconds, not when the operating system gives up minutes later with the screen
        # waiting on it.
        raw = psycopg.connect(conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                              application_name=application_name,
                              keepalives=1, keepalives_idle=5, keepalives_interval=2,
                              keepalives_count=3, tcp_user_timeout=TCP_TIMEOUT_MS)
    except psycopg.Error as exc:
        raise translate(exc, where) from exc
    raw.adapters.register_loader("numeric", _NumericLoader)
    raw.adapters.register_dumper(bool, psycopg.types.numeric.IntDumper)
    try:
        version = raw.info.server_version
        if version < MINIMUM_SERVER_VERSION:
            raise UnsupportedServerError(
                f"{where} runs PostgreSQL {version // 10000}; Therapy Timer needs PostgreSQL "
                f"{MINIMUM_SERVER_VERSION // 10000} or newer. Nothing was changed.")
        for statement in ("SET TIME ZONE 'UTC'", "SET synchronous_commit = on",
                          f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}",
                          f"SET lock_timeout = {int(lock_timeout_ms)}",
                          "SET idle_in_transaction_session_timeout = 60000"):
            raw.execute(statement)
    except psycopg.Error as exc:
        raw.close()
        raise translate(exc, where) from exc
    except BaseException:
        raw.close()
        raise
    return raw


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
    if isinstance(exc, pg_errors.InvalidPassword) or "password authentication failed" in lowered \
            or "no password supplied" in lowered:
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

