"""The station's offline journal: the timer taps kept on this computer while the clinic
server is away (issue 14, item 4).

A small SQLite file per station and server in the user's data folder (``journal_path``),
owner-only (0600, its WAL and shared-memory files too: SQLite gives them the file's mode),
in WAL mode with ``synchronous=FULL``: every ``append`` is on disk (fsynced) before the call
returns, so a tap the screen counted survives the station being killed or losing power.

Each entry is one action the visit screen took (``start_interval``, ``stop_interval``,
``pause_visit``, ``resume_visit``), with its arguments and the moment it was taken (the
station's clock, already corrected to the server's when the offset was known), in the order
taken. An entry carries an ``op_id`` (a random id). For a start taken offline the visit
screen shows the interval under a provisional id (``Entry.provisional``, negative); a later
stop of that interval names the provisional id, and ``resolve`` maps it to the server's id
once the start was sent (the map is written in the journal transaction that removes the
start).

An entry the server refuses stays, marked ``refused`` with the reason, until the clinician
answers (``discard`` or ``retry``): the journal never drops a tap silently.

No Qt here: the replay itself (``storage.offline.JournaledTimers``) and the screen's banner
read this file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

#: The actions the journal keeps (the visit screen's timer writes).
OPS = ("start_interval", "stop_interval", "pause_visit", "resume_visit")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id TEXT NOT NULL UNIQUE,
    op TEXT NOT NULL,
    visit_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    args TEXT NOT NULL,
    refused TEXT,
    refused_kind TEXT,
    attempted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ids (
    provisional INTEGER PRIMARY KEY,
    real INTEGER
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


@dataclass(frozen=True)
class Entry:
    """One kept action. ``provisional`` is the id the screen shows for an interval a start
    taken offline will create (``-id``); ``refused`` the server's reason when it refused."""

    id: int
    op_id: str
    op: str
    visit_id: int
    at: datetime
    args: dict
    refused: str | None = None
    refused_kind: str | None = None
    #: It may have reached the server already (sent before, outcome unknown): replay looks
    #: before sending it again.
    attempted: bool = False

    def provisional(self, k: int = 0) -> int:
        """The id the screen shows for the ``k``-th interval this entry starts (a resume
        starts one per paused code); never a server id (those are positive)."""
        return -(self.id * 100 + k)

    def describe(self, when: str | None = None) -> str:
        """The change as the clinician took it: "Stop 97110 at 10:47" (``when``: the time
        as the screens show it; the log's UTC time otherwise)."""
        when = when or self.at.astimezone(UTC).strftime("%H:%M UTC")
        code = self.args.get("code") or ", ".join(self.args.get("codes", ())) or ""
        verb = {"start_interval": "Start", "stop_interval": "Stop",
                "pause_visit": "Pause", "resume_visit": "Resume"}[self.op]
        return f"{verb} {code} at {when}".replace("  ", " ")


def journal_path(folder: Path, station: str, server: str) -> Path:
    """The journal of ``station`` on ``server`` (its address without password) in ``folder``:
    one file per pair, so a laptop used against two servers never mixes their taps."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", station).strip("-")[:40] or "station"
    digest = hashlib.sha256(f"{station}\0{server}".encode()).hexdigest()[:12]
    return Path(folder) / "journal" / f"{slug}-{digest}.sqlite3"


class Journal:
    """The durable, ordered list of actions waiting for the server."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        if not self.path.exists():  # created owner-only before SQLite opens it
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
        os.chmod(self.path, 0o600)
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=5)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")  # each commit fsynced (WAL too)
        self.conn.executescript(_SCHEMA)

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def _tx(self):
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- writing --------------------------------------------------------------------------

    def append(self, op: str, visit_id: int, at: datetime, *, attempted: bool = False,
               **args) -> Entry:
        """Keeps one action; on disk (fsynced) when this returns. ``attempted``: it was sent
        and the server's answer was lost (it may be there already)."""
        if op not in OPS:
            raise ValueError(f"the journal keeps timer actions, not {op!r}")
        if at.tzinfo is None:
            raise ValueError("a journal time needs its time zone")
        op_id = uuid.uuid4().hex
        with self._tx() as conn:
            entry_id = conn.execute(
                "INSERT INTO entries (op_id, op, visit_id, at, args, attempted)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (op_id, op, visit_id, at.isoformat(timespec="microseconds"),
                 json.dumps(args, sort_keys=True), int(attempted))).lastrowid
        return self.get(entry_id)

    def done(self, entry: Entry, real_ids: list[int] | tuple[int, ...] = ()) -> None:
        """The server committed ``entry``: it leaves the journal; the provisional ids of the
        intervals it started map to the server's ``real_ids`` (same transaction: a crash
        keeps both or neither)."""
        with self._tx() as conn:
            conn.executemany("INSERT OR REPLACE INTO ids (provisional, real) VALUES (?, ?)",
                             [(entry.provisional(k), real) for k, real in enumerate(real_ids)])
            conn.execute("DELETE FROM entries WHERE id = ?", (entry.id,))

    def attempt(self, entry: Entry) -> Entry:
        """About to send ``entry``: from now on it may be on the server (on disk first, so
        a crash before ``done`` makes the next replay look before sending it again)."""
        if not entry.attempted:
            with self._tx() as conn:
                conn.execute("UPDATE entries SET attempted = 1 WHERE id = ?", (entry.id,))
        return self.get(entry.id)

    def refuse(self, entry: Entry, reason: str, kind: str) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE entries SET refused = ?, refused_kind = ? WHERE id = ?",
                         (reason, kind, entry.id))

    def retry(self, entry_id: int, **changes) -> None:
        """The clinician asked to send a refused change again (``changes``: arguments to set
        on it first, e.g. ``take_over=True``; None leaves one as it is)."""
        entry = self.get(entry_id)
        args = {**entry.args, **{k: v for k, v in changes.items() if v is not None}}
        with self._tx() as conn:
            conn.execute("UPDATE entries SET refused = NULL, refused_kind = NULL, args = ?"
                         " WHERE id = ?", (json.dumps(args, sort_keys=True), entry_id))

    def discard(self, entry_id: int) -> list[Entry]:
        """The clinician gave a refused change up: it leaves the journal, and with a start,
        the stops of the interval it would have made (they stop nothing now). Returns what
        left."""
        entry = self.get(entry_id)
        gone = [entry]
        mine = {entry.provisional(k) for k in range(100)}
        gone += [e for e in self.entries()
                 if e.op == "stop_interval" and e.args.get("interval_id") in mine]
        with self._tx() as conn:
            conn.executemany("DELETE FROM entries WHERE id = ?", [(e.id,) for e in gone])
        return gone

    def set_offline_since(self, moment: datetime | None) -> None:
        with self._tx() as conn:
            if moment is None:
                conn.execute("DELETE FROM meta WHERE key = 'offline_since'")
            else:
                conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES"
                             " ('offline_since', ?)", (moment.isoformat(),))

    # -- reading --------------------------------------------------------------------------

    def offline_since(self) -> datetime | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'offline_since'").fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def get(self, entry_id: int) -> Entry:
        row = self.conn.execute("SELECT * FROM entries WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise LookupError(f"journal entry {entry_id} is not in the journal")
        return _entry(row)

    def entries(self) -> list[Entry]:
        """Every waiting action, in the order taken."""
        return [_entry(r) for r in self.conn.execute("SELECT * FROM entries ORDER BY id")]

    def __len__(self) -> int:
        return self.conn.execute("SELECT count(*) FROM entries").fetchone()[0]

    def refused(self) -> list[Entry]:
        return [e for e in self.entries() if e.refused is not None]

    def resolve(self, interval_id: int) -> int | None:
        """A real interval id as it is; a provisional one as the server's id once its start
        was sent (None: not sent yet, or discarded)."""
        if interval_id > 0:
            return interval_id
        row = self.conn.execute("SELECT real FROM ids WHERE provisional = ?",
                                (interval_id,)).fetchone()
        return row[0] if row else None


def _entry(row) -> Entry:
    return Entry(row["id"], row["op_id"], row["op"], row["visit_id"],
                 datetime.fromisoformat(row["at"]), json.loads(row["args"]),
                 row["refused"], row["refused_kind"], bool(row["attempted"]))
