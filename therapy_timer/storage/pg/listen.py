"""The change feed of a clinic server: its own connection, LISTENing on the app's channel.

``PgChangeFeed(conninfo)`` connects once (``connect()``, blocking: call it where waiting is
fine) and LISTENs on ``notify.CHANNEL``. Its socket (``fileno()``) becomes readable when a
notification arrives; ``drain()`` never blocks: it reads what the socket holds and returns
the parsed ``Change`` values, oldest first. The UI watches the socket with a
``QSocketNotifier`` and calls ``drain()`` when it fires; nothing polls.

A dropped connection (the server restarted, the network gone, the backend terminated) shows
as a readable socket that yields an error: ``drain()`` then closes it and sets ``lost``.
``reconnect()`` (blocking, at most ``CONNECT_TIMEOUT_S``; run it off the UI thread) tries once
to connect and LISTEN again; after it succeeds the next ``drain()`` returns
``Change.everything("missed")`` first: whatever changed while the station was away was never
sent to it, so it reloads what it shows. TCP keepalives on this connection make a silently
dead network (a treatment room's Wi-Fi) show as an error within about half a minute.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading

import psycopg
from psycopg import pq

from therapy_timer.storage.changes import Change
from therapy_timer.storage.pg.notify import CHANNEL

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
#: The listen connection's TCP keepalives: idle seconds, probe interval, probes.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
              "keepalives_count": 3}


def parse(payload: str, pid: int | None = None) -> Change | None:
    """A notification's payload (``notify.function_statement``) as a ``Change``; None for a
    payload that is not ours (logged, never raised)."""
    try:
        data = json.loads(payload)
        return Change(table=str(data["table"]), op=str(data.get("op") or ""),
                      id=_int(data.get("id")), visit_id=_int(data.get("visit_id")),
                      patient_id=_int(data.get("patient_id")), session=pid)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("a notification on %s that is not a change (%s): %.80r", CHANNEL, exc,
                    payload)
        return None


def _int(value) -> int | None:
    return None if value is None else int(value)


class PgChangeFeed:
    """LISTEN on a clinic server, read without blocking (see the module's docstring)."""

    kind = "server"
    #: A socket to watch: no polling interval.
    poll_ms = None

    def __init__(self, conninfo: str, where: str = "the clinic server") -> None:
        self.conninfo = conninfo
        self.where = where
        self.lost = False
        self._conn: psycopg.Connection | None = None
        self._missed = False
        self._lock = threading.Lock()  # reconnect() runs on its own thread

    # --- connection ---

    def connect(self) -> None:
        """Connects and LISTENs (blocking).

        Raises:
            ConnectionLostError: the server cannot be reached (the message names it).
        """
        from therapy_timer.storage.pg.connection import translate

        try:
            conn = psycopg.connect(self.conninfo, autocommit=True,
                                   connect_timeout=CONNECT_TIMEOUT_S,
                                   application_name="therapy-timer live", **KEEPALIVES)
        except psycopg.Error as exc:
            raise translate(exc, self.where) from exc
        try:
            conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            conn.close()
            raise translate(exc, self.where) from exc
        with self._lock:
            old, self._conn = self._conn, conn
            self.lost = False
        if old is not None:
            old.close()

    def reconnect(self) -> bool:
        """One try to connect again after ``lost`` (blocking). True when listening again; the
        next ``drain()`` then says that changes were missed."""
        from therapy_timer.storage.errors import StorageError

        try:
            self.connect()
        except StorageError as exc:
            log.info("live updates: %s", exc)
            return False
        self._missed = True
        log.info("live updates from %s again (changes meanwhile: reload)", self.where)
        return True

    def fileno(self) -> int | None:
        """The socket to watch for readability (None while not connected)."""
        conn = self._conn
        if conn is None or conn.closed:
            return None
        try:
            return conn.pgconn.socket
        except psycopg.OperationalError:
            return None

    @property
    def connected(self) -> bool:
        return self.fileno() is not None and not self.lost

    @property
    def session(self) -> int | None:
        """The listening backend's pid (tests terminate it to cut the feed)."""
        conn = self._conn
        return None if conn is None or conn.closed else conn.info.backend_pid

    # --- reading ---

    def drain(self) -> list[Change]:
        """Every change the socket holds now, oldest first; never blocks. After a reconnect,
        ``Change.everything("missed")`` comes first. A dropped connection sets ``lost`` (the
        changes read before it are still returned)."""
        out: list[Change] = []
        if self._missed:
            self._missed = False
            out.append(Change.everything("missed"))
        conn = self._conn
        if conn is None or conn.closed:
            return out
        pgconn = conn.pgconn
        try:
            pgconn.consume_input()
        except psycopg.OperationalError as exc:
            self._drop(f"{exc}".strip() or "the connection was closed")
        while True:
            note = pgconn.notifies()
            if note is None:
                break
            change = parse(note.extra.decode("utf-8", "replace"), note.be_pid)
            if change is not None:
                out.append(change)
        if not self.lost and pgconn.status != pq.ConnStatus.OK:
            self._drop("the connection was closed")
        return out

    def _drop(self, why: str) -> None:
        log.warning("live updates from %s lost: %s", self.where, " ".join(why.split()))
        self.lost = True
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):  # already gone
                conn.close()

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            conn.close()
