"""What another station (or another window) changed: the store's change feeds.

``open_feed(repo)`` returns the feed for the repository's database; both kinds answer the same
few questions, so the UI's live layer (``ui/station/live.py``) never asks which one it has:

- ``fileno()``: a socket to watch for readability, or None (then call ``drain()`` every
  ``poll_ms`` milliseconds);
- ``drain()``: the ``Change`` values that arrived, never blocking;
- ``lost`` / ``reconnect()``: a feed whose connection dropped, and one blocking try to get it
  back (the next ``drain()`` then returns ``Change.everything("missed")``);
- ``close()``.

On a clinic server the database itself sends each change in the change's own commit
(LISTEN/NOTIFY: ``pg/notify.py``, ``pg/listen.py``).

On SQLite (one computer: several windows, or the app opened twice on one file) there is no
server to push, so ``SqliteChangeFeed`` asks SQLite's ``PRAGMA data_version`` every
``SQLITE_POLL_MS``, on the window's own connection. That number changes exactly when another
connection committed to the file since this connection last asked, and never for this
connection's own commits, so a window does not reload after its own change; the question
reads a counter in the WAL index in shared memory, no disk read and no lock, a few
microseconds. (A ``QFileSystemWatcher`` on the ``-wal`` file was the other choice: it fires on
this window's own writes and checkpoints too, not at all on some network file systems, and
would need Qt here, below the UI.) It cannot say what changed, so it returns
``Change.everything("another connection committed")`` and the views reload what they show.
Every change the store makes writes its audit entry in the same commit except a running
timer's heartbeat (every few seconds, no news to anyone): a commit that left the audit log's
newest entry where it was is left out, or a window would reload every five seconds while the
other one times a visit.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass

from therapy_timer.storage import dialect

log = logging.getLogger(__name__)

#: How often an SQLite window asks whether another connection committed.
SQLITE_POLL_MS = 250


@dataclass(frozen=True, slots=True)
class Change:
    """One changed row (``table``, ``op`` I/U/D, its ids), or ``everything`` (table None):
    reload all that is shown (changes were missed, or the feed cannot say which).

    ``session`` is the writing connection's id on the server (its backend pid), so a station
    can tell its own changes from the others'; None when unknown.
    """

    table: str | None
    op: str = ""
    id: int | None = None
    visit_id: int | None = None
    patient_id: int | None = None
    session: int | None = None
    reason: str = ""

    @classmethod
    def everything(cls, reason: str) -> Change:
        return cls(table=None, reason=reason)

    @property
    def is_everything(self) -> bool:
        return self.table is None


class SqliteChangeFeed:
    """Another connection's commits to an SQLite file, noticed by ``PRAGMA data_version``."""

    kind = "file"
    poll_ms = SQLITE_POLL_MS
    lost = False

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._version = self._read()
        self._head = self._audit_head()

    def _read(self) -> int | None:
        try:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        except (sqlite3.Error, TypeError) as exc:  # closed, or in the middle of closing
            log.debug("data_version not read: %s", exc)
            return None

    def _audit_head(self) -> int | None:
        try:
            row = self._conn.execute("SELECT max(seq) FROM audit_log").fetchone()
        except (sqlite3.Error, TypeError) as exc:
            log.debug("audit head not read: %s", exc)
            return None
        return None if row is None or row[0] is None else int(row[0])

    def connect(self) -> None:
        """Nothing to connect: the window's own connection is asked."""

    def fileno(self) -> int | None:
        return None

    def drain(self) -> list[Change]:
        version = self._read()
        if version is None or version == self._version:
            return []
        self._version = version
        head = self._audit_head()
        if head == self._head:
            return []  # a heartbeat (or nothing the screens show)
        self._head = head
        return [Change.everything("another connection committed")]

    def reconnect(self) -> bool:
        return True

    @property
    def session(self) -> int | None:
        return None

    def close(self) -> None:
        self._version = None


def open_feed(repo):
    """The change feed of ``repo``'s database: a LISTEN connection of its own on a clinic
    server (not connected yet: call ``connect()``), the window's own connection on SQLite."""
    if getattr(repo, "on_server", False):
        from therapy_timer.storage.pg.listen import PgChangeFeed

        return PgChangeFeed(str(repo.target), repo.where)
    return SqliteChangeFeed(repo.conn)


def session_of(conn) -> int | None:
    """The id the server gives this connection's changes (``Change.session``): the backend
    pid on PostgreSQL, None on SQLite (its feed never reports a window's own commits)."""
    if not dialect.is_pg(conn):
        return None
    raw = getattr(conn, "raw", None)
    try:
        return int(raw.info.backend_pid) if raw is not None and not raw.closed else None
    except Exception:  # noqa: BLE001 - a connection being replaced: treat as unknown
        return None
