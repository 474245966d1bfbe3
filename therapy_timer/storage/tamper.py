"""Tamper evidence: the chain's anchor at run time, and ``verify``'s checks of the data
against the audit chain.

``verify_report`` checks, and says how many of each it checked:

- the chain links (every entry's hash covers the one before);
- every entry's keyed hash (HMAC) with the anchor key kept outside the database, when the key
  is at hand: a forged, rewritten or re-hashed entry fails it;
- the checkpoints of the chain head kept outside the file (this computer's, a companion
  file's, the ones printed on day sheets): entries cut off or rewritten below one fail;
- the data against the chain: each finalized visit's charge lines against its finalize
  entry, each amendment and void against its entry, each payment and payment void against
  its entry, and no charge line or finalize entry on an open visit;
- the guard triggers: none missing, altered or added.

What it could not check (no key, no checkpoint) is said, and what no check can see is listed
in ``LIMITS``.

Speed (a 10-year clinic holds about 2.8 million entries): SQLite writes each entry's payload
(``json_array``, the very text ``audit.entry_hash`` hashes, for entries where it provably is),
whole batches are checked with a few C calls each, and on the command line a long chain is cut
into ranges walked by worker processes at once. Whatever a shortcut cannot tell falls back to
the entry-by-entry walk with ``audit.entry_hash``: the report is the same either way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import sqlite3
import sys
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from operator import methodcaller
from pathlib import Path

from therapy_timer.core.records import AuditBreak
from therapy_timer.storage import anchor as anchors
from therapy_timer.storage import dialect
from therapy_timer.storage.audit import GENESIS, entry_hash
from therapy_timer.storage.db import MEMORY, to_text
from therapy_timer.storage.migrations import LATEST_VERSION, guard_triggers, trigger_problems

log = logging.getLogger(__name__)

#: What verify cannot detect, printed with every report.
LIMITS = (
    "someone who holds the anchor key (this computer's account, or a companion file) can "
    "rewrite the log and re-sign it",
    "entries added after the newest checkpoint kept outside the file can be cut off unseen",
    "an older copy of the whole file put back is caught only by a checkpoint newer than it",
    "patients, payers, fees and open visits are audited but not compared with the log",
    "entries written before the database had its anchor (by a version without it) carry no "
    "keyed hash: only the chain and the checkpoints cover them",
)
CLI_SOURCE = "the checkpoint given"
#: How many findings of one kind are listed (the count says how many there are).
SHOWN = 20


def db_name(path: Path | str) -> str:
    """How checkpoints name a database file (its absolute path)."""
    if str(path) == MEMORY:
        return MEMORY
    return os.path.abspath(os.fspath(path))


class ChainAnchor:
    """The open database's anchor key (None where it is not on this computer) and its
    checkpoints. The repository signs each entry with ``key`` and calls ``checkpoint``."""

    def __init__(self, key: anchors.AnchorKey | None, key_id: str, db: str,
                 folder: Path | None) -> None:
        self.key = key
        self.key_id = key_id
        self.db = db
        self.folder = folder  # None: nothing is written outside (an in-memory database)
        self.written = 0
        self.every = anchors.CHECKPOINT_EVERY
        self.last_seq = anchors.last_checkpoint(key_id, db, folder) if folder else 0
        #: True when this open created the key (the app tells the clinic once where it is).
        self.created = False

    def checkpoint(self, conn: sqlite3.Connection) -> anchors.Checkpoint | None:
        """Records the chain head outside the file (when it moved); returns it."""
        self.written = 0
        try:
            row = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
                               ).fetchone()
        except sqlite3.Error as exc:
            log.warning("audit checkpoint not read: %s", exc)
            return None
        if row is None:
            return None
        point = anchors.Checkpoint(int(row[0]), str(row[1]), to_text(datetime.now(UTC)),
                                   db=self.db)
        if self.folder is not None and point.seq != self.last_seq:
            try:
                anchors.append_checkpoint(self.key_id, point, self.db, self.folder)
            except anchors.AnchorError as exc:
                log.warning("audit checkpoint not kept: %s", exc)
        self.last_seq = point.seq
        return point


def has_anchor_table(conn: sqlite3.Connection) -> bool:
    return dialect.has_table(conn, "audit_anchor")


def anchor_record(conn: sqlite3.Connection) -> tuple[str, int] | None:
    if not has_anchor_table(conn):
        return None
    row = conn.execute("SELECT key_id, first_seq FROM audit_anchor WHERE id = 1").fetchone()
    return (str(row[0]), int(row[1])) if row else None


def setup_anchor(conn: sqlite3.Connection, path: Path | str,
                 folder: Path | None = None, create: bool = True) -> ChainAnchor | None:
    """The database's anchor, created (key file and anchor record) on first open.

    A key that cannot be written outside the file leaves the database unanchored for now
    (logged); a database whose key is not on this computer is opened with ``key`` None:
    entries written here are left unsigned (logged).
    """
    if not has_anchor_table(conn):
        return None
    memory = str(path) == MEMORY
    folder = None if memory else (folder or anchors.anchor_dir())
    db = db_name(path)
    record = anchor_record(conn)
    if record is not None:
        key_id = record[0]
        key = None
        try:
            key = anchors.find_key(key_id, folder) if folder is not None else None
        except anchors.AnchorError as exc:
            log.warning("%s", exc)
        if key is None:
            log.warning("the audit anchor key of %s (id %s) is not on this computer (%s): "
                        "entries written here are not signed; copy the key file there",
                        db, key_id, folder)
        result = ChainAnchor(key, key_id, db, folder)
        if create:
            result.checkpoint(conn)
        return result
    if not create:
        return None
    key = anchors.new_key()
    if folder is not None:
        try:
            # Checkpoints of an earlier database under this name no longer apply.
            anchors.mark_file(db, "retired", to_text(datetime.now(UTC)), folder)
            saved = anchors.save_key(key, folder)
        except anchors.AnchorError as exc:
            log.warning("the audit chain is not anchored yet: %s", exc)
            return None
        log.info("audit anchor key created: %s", saved)
    now = datetime.now(UTC)
    try:
        conn.execute("BEGIN IMMEDIATE")
        if anchor_record(conn) is not None:  # another instance anchored it meanwhile
            conn.execute("ROLLBACK")
            return setup_anchor(conn, path, folder, create)
        row = conn.execute("SELECT max(seq) FROM audit_log").fetchone()
        first = int(row[0] or 0) + 1
        # No audit entry of its own: the chain stays what the clinic's actions made it (the
        # demo clinic is the same for the same seed); every entry from ``first`` on is signed.
        conn.execute("INSERT INTO audit_anchor (id, key_id, first_seq, created_at)"
                     " VALUES (1, ?, ?, ?)", (key.key_id, first, to_text(now)))
        conn.execute("COMMIT")
    except sqlite3.Error as exc:  # a file opened read-only: anchored when next writable
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        log.warning("the audit chain of %s is not anchored yet: %s", db, exc)
        if folder is not None:
            with contextlib.suppress(OSError):
                anchors.key_path(key.key_id, folder).unlink()
        return None
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    result = ChainAnchor(key, key.key_id, db, folder)
    result.created = True
    result.checkpoint(conn)
    return result


# --- verify ---

@dataclass
class VerifyReport:
    """What verify checked (with counts), what it found, what it could not check."""

    checked: list[str] = field(default_factory=list)
    problems: list[AuditBreak] = field(default_factory=list)
    cannot: list[str] = field(default_factory=list)
    limits: tuple[str, ...] = LIMITS

    @property
    def ok(self) -> bool:
        return not self.problems

    def first(self) -> AuditBreak | None:
        return self.problems[0] if self.problems else None


def _problem(report: VerifyReport, seq: int, reason: str) -> None:
    report.problems.append(AuditBreak(seq, reason))


def parse_checkpoint(text: str) -> anchors.Checkpoint:
    """``SEQ:HASH`` as printed on a day sheet (spaces in the hash allowed).

    Raises:
        ValueError: naming what is wrong.
    """
    seq_text, sep, digest = str(text).partition(":")
    digest = "".join(digest.split()).lower()
    if not sep or not seq_text.strip().isdigit() or len(seq_text.strip()) > 18:
        raise ValueError(f"checkpoint {text!r} must look like 1234:3f2a9c1b0d4e7788")
    if len(digest) < 12 or len(digest) > 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"checkpoint {text!r}: the hash must be 12 to 64 hex digits")
    return anchors.Checkpoint(int(seq_text), digest, "", CLI_SOURCE)


def verify_report(conn: sqlite3.Connection, path: Path | str, *,
                  key: anchors.AnchorKey | None = None,
                  checkpoints: list[anchors.Checkpoint] | tuple = (),
                  runtime_key: anchors.AnchorKey | None = None,
                  folder: Path | None = None, workers: int | None = None) -> VerifyReport:
    """Checks the database behind ``conn`` (read only).

    Args:
        key: the anchor key given by the user (a key or companion file); else this
            computer's key for the database (or ``runtime_key``, the open repository's).
        checkpoints: more checkpoints to hold the chain to (a companion file's, paper ones).
        workers: processes that walk the audit chain; default one per core (at most
            ``MAX_WORKERS``) for a chain of ``PARALLEL_FROM`` entries or more outside the
            desktop app, else one. The report is the same either way.
    """
    report = VerifyReport()
    memory = str(path) == MEMORY
    folder = None if memory else (folder or anchors.anchor_dir())
    version = dialect.schema_version(conn)
    record = anchor_record(conn)
    points = list(checkpoints)
    on_server = dialect.is_pg(conn)
    if on_server:  # no key on a server: stations cannot rewrite its log
        from therapy_timer.storage.pg.verify import server_anchor

        server_anchor(report)
        use_key = record = None
    else:
        use_key = _anchor_key(report, conn, path, record, key, runtime_key, folder, version,
                              points)
    walk = _ChainWalk(conn, record, use_key, points)
    data = VerifyReport()
    try:
        # Workers reopen the file; a server's chain is walked by this process.
        walk.start(path, 1 if on_server else _worker_count(workers, path, walk.entries))
        if not walk.running:  # in one process: the chain first, as always
            walk.finish(report, db_name(path))
        _check_data(data, conn)  # while the workers walk the chain
        _check_triggers(data, conn, version)
        if walk.running:
            walk.finish(report, db_name(path))
    finally:
        walk.stop()
    report.problems.extend(data.problems)
    report.checked.extend(data.checked)
    report.cannot.extend(data.cannot)
    return report


def _anchor_key(report, conn, path, record, key, runtime_key, folder, version, points):
    """Which key signs this chain, and the checkpoints kept for it; notes what is missing."""
    db = db_name(path)
    if record is None:
        if version < 8 or not has_anchor_table(conn):
            report.cannot.append(f"the keyed hashes: this database predates the anchor (schema"
                                 f" {version}); it gets one when the app next opens it")
            return None
        signed = conn.execute("SELECT count(*) FROM audit_log WHERE mac IS NOT NULL"
                              ).fetchone()[0]
        kept = anchors.checkpoints_naming(db, folder) if folder is not None else {}
        if signed:
            _problem(report, 0, f"{signed} audit entries carry keyed hashes but the database's "
                                "anchor record is gone (removed)")
        elif kept:
            key_id, found = next(iter(kept.items()))
            _problem(report, 0, f"this computer anchored this database (key {key_id}, "
                                f"checkpoint at entry {max(c.seq for c in found)}) but its "
                                "anchor record is gone (removed)")
            points.extend(found)
        elif key is not None:
            _problem(report, 0, f"an anchor key was given ({key.key_id}) but the database has "
                                "no anchor record (removed, or not this key's database)")
        else:
            report.cannot.append("the keyed hashes: this database has no anchor yet (the app "
                                 "creates it when it opens the file with its config folder "
                                 "writable)")
        return None
    key_id, _first = record
    if folder is not None:
        for other, found in anchors.checkpoints_naming(db, folder).items():
            if other != key_id:
                _problem(report, 0, f"this computer anchored this database file with key "
                                    f"{other} (checkpoint at entry {max(c.seq for c in found)}"
                                    f"), but the file now names key {key_id}: its anchor was "
                                    "replaced")
                points.extend(found)
    if key is not None and key.key_id != key_id:
        _problem(report, 0, f"the anchor key given ({key.key_id}, {key.source}) is not this "
                            f"database's: the database names key {key_id}")
        return None
    if key is None and runtime_key is not None and runtime_key.key_id == key_id:
        key = runtime_key
    if key is None and folder is not None:
        try:
            key = anchors.find_key(key_id, folder)
        except anchors.AnchorError as exc:
            report.cannot.append(f"the keyed hashes: {exc}")
    if key is None:
        where = folder if folder is not None else "memory"
        report.cannot.append(f"the keyed hashes (forged, rewritten or re-hashed entries): the "
                             f"anchor key of this database (id {key_id}) is not on this "
                             f"computer (looked in {where}); give it with --key FILE")
    if folder is not None:
        points.extend(anchors.read_checkpoints(key_id, folder))
    return key


def _strict(point: anchors.Checkpoint, db: str) -> bool:
    """A checkpoint the file must reach: one taken of this very file (not superseded by a
    restore), or one the user gave."""
    return point.source == CLI_SOURCE or (point.db == db and not point.superseded)


#: verify's chain walk reads the chain in batches of this many entries.
_CHUNK = 16384
#: A chain of at least this many entries is walked by worker processes (the command line,
#: one per core), each over one range of entry numbers.
PARALLEL_FROM = 300_000
MAX_WORKERS = 4
_HEX = methodcaller("hexdigest")
_JSON = "CAST(json_array(prev_hash, seq, at, user, action, entity, entity_id, detail) AS BLOB)"
#: SQLite writes the payload ``audit.entry_hash`` hashes (compact JSON) of an entry of text
#: and whole numbers; NULL for any other, which Python then hashes itself. With the app's
#: table only ``entity_id`` can hold a fraction (the other columns turn numbers into text).
_PAYLOAD = f"CASE WHEN typeof(entity_id) = 'real' THEN NULL ELSE {_JSON} END"
_PAYLOAD_ANY_TABLE = (
    "CASE WHEN typeof(seq) = 'integer' AND typeof(prev_hash) = 'text' AND typeof(at) = 'text'"
    " AND typeof(user) = 'text' AND typeof(action) = 'text' AND typeof(entity) = 'text' AND"
    f" typeof(detail) = 'text' AND typeof(entity_id) IN ('integer', 'null') THEN {_JSON} END")
_TEXT_COLUMNS = ("prev_hash", "at", "user", "action", "entity", "detail")
_payloads_checked: dict[str, bool] = {}


def sqlite_writes_payloads(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite's ``json_array`` writes exactly what ``audit.entry_hash`` hashes
    for text of ASCII characters but DEL (control characters escaped as Python escapes them)
    and for whole numbers, and writes any other character (DEL, beyond ASCII) as it is, so
    that ``_left_to_python`` sees it. Checked once per SQLite version."""
    if dialect.is_pg(conn):  # PostgreSQL's JSON text is its own: Python writes each payload
        return False
    version = sqlite3.sqlite_version
    if version not in _payloads_checked:
        values = ["".join(map(chr, range(0x7F))), 0, -1, 2**63 - 1, -(2**63), None, '"\\']
        same = conn.execute(f"SELECT CAST(json_array({', '.join('?' * len(values))}) AS BLOB)",
                            values).fetchone()[0] == _reference_payload(values)
        for char in ("\x7f", "\x80", "\u00e9", "\u2028", "\ufeff", "\U0001f600"):
            written = conn.execute("SELECT CAST(json_array(?) AS BLOB)", (char,)).fetchone()[0]
            same = same and (written == _reference_payload([char])
                             or _left_to_python(written))
        _payloads_checked[version] = same
    return _payloads_checked[version]


def _left_to_python(payloads: bytes) -> bool:
    """Payloads SQLite wrote that may differ from Python's: a character Python writes as
    ``\\uXXXX`` and SQLite as it is (beyond ASCII, or DEL)."""
    return not payloads.isascii() or b"\x7f" in payloads


def _reference_payload(values: list) -> bytes:
    return json.dumps(values, separators=(",", ":"), ensure_ascii=True).encode("ascii")


@dataclass
class _Part:
    """The walk over one range of entry numbers, on from ``last`` (the entry before the
    range) as one walk in order goes on; or, with ``last`` None (a worker's range), with the
    link of its first entry left to the caller (``_ChainWalk.finish``)."""

    last: tuple[int, str] | None = None  # (seq, hash) of the last entry walked
    chain_off: bool = False  # the chain broke before the range: its links are not checked
    mac_off: bool = False  # a keyed hash failed before the range: no more are checked
    first: tuple[int, str] | None = None  # (seq, prev_hash) of its first entry
    count: int = 0
    chain_break: AuditBreak | None = None  # the first inside the range
    mac_problem: AuditBreak | None = None  # the first inside the range
    signed: int = 0  # entries whose keyed hash holds, before mac_problem
    problems: list[AuditBreak] = field(default_factory=list)  # checkpoints not held, in order
    seen: set[int] = field(default_factory=set)  # checkpointed entries reached


def _checkpoint_differs(seq: int, point: anchors.Checkpoint) -> AuditBreak:
    return AuditBreak(seq, f"differs from the checkpoint kept in {_from(point)}: rewritten, "
                           "the rest re-hashed")


def _walk_part(conn: sqlite3.Connection, lo: int, hi: int, key, first_signed, want: dict,
               has_mac: bool, payload: str | None, part: _Part | None = None) -> _Part:
    """Entries ``lo`` to ``hi`` (on from ``part``'s state): batches whose payloads SQLite
    writes (``payload``, None when it cannot) are checked with a few C calls each
    (``_fast_batch``); a batch that does not pass so is walked entry by entry with
    ``audit.entry_hash`` (``_walk_rows``), which alone decides what is reported."""
    part = part or _Part()
    mac = "mac" if has_mac else "NULL"
    rows_sql = ("SELECT seq, at, user, action, entity, entity_id, detail, prev_hash, hash, "
                f"{mac} FROM audit_log WHERE seq BETWEEN ? AND ? ORDER BY seq")
    if payload is None:
        _walk_rows(part, conn.execute(rows_sql, (lo, hi)), key, first_signed, want)
        return part
    marks = sorted(want)
    batch_sql = (f"SELECT prev_hash, hash, {mac}, {payload} FROM audit_log"
                 " WHERE seq BETWEEN ? AND ? ORDER BY seq")
    start = lo
    while start is not None and start <= hi:
        end = min(start + _CHUNK - 1, hi)
        try:
            rows = conn.execute(batch_sql, (start, end)).fetchall()
        except sqlite3.Error:  # a value json_array refuses (a blob): entry by entry
            rows = None
        if rows is None or not _fast_batch(part, start, end, rows, key, first_signed, want,
                                           marks):
            _walk_rows(part, conn.execute(rows_sql, (start, end)), key, first_signed, want)
        if rows is not None and len(rows) == end - start + 1:
            start = end + 1
        else:  # a gap: on from the next entry there is
            start = conn.execute("SELECT min(seq) FROM audit_log WHERE seq > ? AND seq <= ?",
                                 (end, hi)).fetchone()[0]
    return part


def _fast_batch(part: _Part, start: int, end: int, rows: list, key, first_signed, want: dict,
                marks: list) -> bool:
    """Checks entries ``start`` to ``end`` (rows of prev_hash, hash, mac, payload) at once;
    True when every entry is there and passes what ``_walk_rows`` checks (the part then counts
    them), False (the part untouched) when anything differs or cannot be told this way."""
    try:
        if len(rows) != end - start + 1:  # a gap
            return False
        prevs, digests, macs, payloads = zip(*rows, strict=True)
        if part.chain_break is None and not part.chain_off:
            if part.last is not None and (start != part.last[0] + 1
                                          or prevs[0] != part.last[1]):
                return False
            if prevs[1:] != digests[:-1] or None in payloads:
                return False
            if _left_to_python(b"".join(payloads)):
                return False
            if tuple(map(_HEX, map(hashlib.sha256, payloads))) != digests:
                return False
        signed = 0
        if key is not None and part.mac_problem is None and not part.mac_off:
            signing = digests
            if None in macs:  # entries from before the anchor carry none
                last_unsigned = end - macs[::-1].index(None)
                if first_signed is not None and last_unsigned >= first_signed:
                    return False
                signing = [d for d, mac in zip(digests, macs, strict=True) if mac is not None]
                macs = [mac for mac in macs if mac is not None]
            if key.macs(map(str.encode, signing, repeat("ascii"))) != list(macs):
                return False
            signed = len(macs)
        found = []
        reached = marks[bisect_left(marks, start):bisect_right(marks, end)]
        for seq in reached:
            digest = digests[seq - start]
            found.extend(_checkpoint_differs(seq, point) for point in want[seq]
                         if not digest.startswith(point.hash))
    except (TypeError, AttributeError, ValueError, UnicodeError):
        return False  # a value of another type: entry by entry
    if part.first is None:
        part.first = (start, prevs[0])
    part.last = (end, digests[-1])
    part.count += len(rows)
    part.signed += signed
    part.problems.extend(found)
    part.seen.update(reached)
    return True


def _walk_rows(part: _Part, rows, key, first_signed, want: dict) -> None:
    """The reference walk, entry by entry: the chain's links, keyed hashes, checkpoints."""
    for seq, at, user, action, entity, entity_id, detail, prev_hash, digest, mac in rows:
        part.count += 1
        last = part.last
        if part.first is None:
            part.first = (seq, prev_hash)
        if part.chain_break is None and not part.chain_off:
            if last is not None and seq != last[0] + 1:
                part.chain_break = AuditBreak(last[0] + 1, f"entry {last[0] + 1} is missing "
                                                           f"(next is {seq})")
            elif last is not None and prev_hash != last[1]:
                part.chain_break = AuditBreak(seq, "does not point at the previous entry's "
                                                   "hash")
            elif entry_hash(prev_hash, seq, at, user, action, entity, entity_id,
                            detail) != digest:
                part.chain_break = AuditBreak(seq, "its content does not match its hash "
                                                   "(changed after writing)")
        part.last = (seq, digest)
        if key is not None and part.mac_problem is None and not part.mac_off:
            if mac is None:
                if first_signed is not None and seq >= first_signed:
                    part.mac_problem = AuditBreak(seq, "carries no keyed hash: written without "
                                                       "the anchor key, or forged")
            elif mac != key.mac(digest):
                part.mac_problem = AuditBreak(seq, "its keyed hash does not match: forged, or "
                                                   "rewritten and re-hashed without the key")
            else:
                part.signed += 1
        if seq in want:
            part.seen.add(seq)
            part.problems.extend(_checkpoint_differs(seq, point) for point in want[seq]
                                 if not digest.startswith(point.hash))


def _part_worker(send, path: str, lo: int, hi: int, args: tuple) -> None:
    """A worker process's walk of one range (its own read-only connection); sends the part,
    or None when it could not (the main process then walks that range itself)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the main process stops it
    part = None
    try:
        from therapy_timer.storage.checks import connect_for_reading

        conn = connect_for_reading(Path(path))
        try:
            part = _walk_part(conn, lo, hi, *args)
        finally:
            conn.close()
    except Exception:  # noqa: BLE001 - the main process walks the range and says what fails
        part = None
    try:
        send.send(part)
    finally:
        send.close()


def _worker_count(workers: int | None, path: Path | str, entries: int) -> int:
    """How many processes walk the chain: one (this one) unless it is long, this is the
    command line (never the desktop app: Qt's threads must not be forked) and the system
    can fork."""
    if str(path) == MEMORY or not hasattr(os, "fork"):
        return 1
    if workers is not None:
        return max(1, workers)
    if entries < PARALLEL_FROM or "PySide6" in sys.modules or threading.active_count() > 1:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return min(cpus, MAX_WORKERS)


class _ChainWalk:
    """verify's pass over the chain: its links, its keyed hashes and the checkpoints, over
    the entries up to the newest at the start. A long chain is cut into ranges of entry
    numbers walked by worker processes at once; ``finish`` checks the links between the
    ranges and reports what one pass in order would (the first break first)."""

    def __init__(self, conn: sqlite3.Connection, record, key, points) -> None:
        if dialect.is_pg(conn):  # the server's column types are its own: Python hashes
            columns = {name: ("", 0) for name in dialect.table_columns(conn, "audit_log")}
        else:
            columns = {r[1]: (str(r[2]).upper(), r[5])
                       for r in conn.execute("PRAGMA table_info(audit_log)")}
        self.conn = conn
        self.key = key
        self.first_signed = record[1] if record else None
        self.want: dict[int, list[anchors.Checkpoint]] = {}
        for point in points:
            self.want.setdefault(point.seq, []).append(point)
        payload = None
        if sqlite_writes_payloads(conn):
            app_table = (columns.get("seq") == ("INTEGER", 1)
                         and all(columns.get(c, ("",))[0] == "TEXT" for c in _TEXT_COLUMNS))
            payload = _PAYLOAD if app_table else _PAYLOAD_ANY_TABLE
        self.args = (key, self.first_signed, self.want, "mac" in columns, payload)
        lo, hi = conn.execute("SELECT min(seq), max(seq) FROM audit_log").fetchone()
        self.span = (lo, hi) if lo is not None else None
        self.running: list = []  # (process, pipe, lo, hi) of each worker

    @property
    def entries(self) -> int:
        return self.span[1] - self.span[0] + 1 if self.span else 0

    def start(self, path: Path | str, workers: int) -> None:
        """Starts ``workers`` processes (when more than one); without them (they cannot
        start) the ranges are walked here."""
        if self.span is None or workers < 2:
            return
        lo, hi = self.span
        size = hi - lo + 1
        bounds = sorted({lo + size * k // workers for k in range(workers)} | {hi + 1})
        try:
            import multiprocessing

            context = multiprocessing.get_context("fork")
            for first, after in zip(bounds, bounds[1:], strict=False):
                receive, send = context.Pipe(duplex=False)
                process = context.Process(target=_part_worker, daemon=True,
                                          args=(send, os.fspath(path), first, after - 1,
                                                self.args))
                self.running.append((process, receive, first, after - 1))
                try:
                    process.start()
                finally:
                    send.close()  # the worker's end, kept open in the worker only
        except (OSError, ValueError, ImportError) as exc:
            log.warning("verify walks the audit chain in one process: %s", exc)
            self.stop()

    def stop(self) -> None:
        """Ends the workers still running (an error or Ctrl-C in this process)."""
        for process, receive, _lo, _hi in self.running:
            if process.is_alive():
                process.terminate()
            with contextlib.suppress(AssertionError, OSError):
                process.join()
            receive.close()
        self.running = []

    def _results(self) -> list[tuple[_Part | None, int, int]]:
        """Each range's walk in order: a worker's, or None (walk it here)."""
        if self.span is None:
            return []
        if not self.running:
            return [(None, *self.span)]
        results = []
        for process, receive, lo, hi in self.running:
            try:
                part = receive.recv()
            except (EOFError, OSError):  # the worker died
                part = None
            process.join()
            results.append((part, lo, hi))
        self.stop()
        return results

    def finish(self, report: VerifyReport, db: str) -> None:
        """Adds what the walk found and checked to ``report``. A range no worker walked (one
        failed, or stopped at a value it could not hash) is walked here on from the ranges
        before it, exactly as one walk in order (and fails where that fails)."""
        key, first_signed, want = self.key, self.first_signed, self.want
        chain_break = mac_problem = head = None
        expected_seq, expected_prev = 1, GENESIS
        count = signed = 0
        seen: set[int] = set()
        for part, lo, hi in self._results():
            here = part is None
            if here:
                part = _walk_part(self.conn, lo, hi, *self.args, part=_Part(
                    last=(expected_seq - 1, expected_prev), chain_off=chain_break is not None,
                    mac_off=mac_problem is not None))
            if not part.count:
                continue
            if chain_break is None:
                seq, prev_hash = part.first
                if here:  # its first link was checked with the rest
                    chain_break = part.chain_break
                elif seq != expected_seq:
                    chain_break = AuditBreak(expected_seq,
                                             f"entry {expected_seq} is missing (next is {seq})")
                elif prev_hash != expected_prev:
                    chain_break = AuditBreak(seq, "does not point at the previous entry's hash")
                else:
                    chain_break = part.chain_break
            expected_seq, expected_prev = part.last[0] + 1, part.last[1]
            if mac_problem is None:
                signed += part.signed
                mac_problem = part.mac_problem
            count += part.count
            head = part.last
            seen |= part.seen
            report.problems.extend(part.problems)
        if chain_break is not None:
            report.problems.insert(0, chain_break)
        if mac_problem is not None:
            report.problems.append(mac_problem)
        last = head[0] if head else 0
        if first_signed is not None and first_signed > last + 1:
            _problem(report, first_signed, f"the anchor says entries are signed from entry "
                                           f"{first_signed} on, but the chain ends at entry "
                                           f"{last} (the anchor record was moved, or entries "
                                           "removed)")
        beyond = [want[seq] for seq in sorted(set(want) - seen)]
        strict = [p for points_at in beyond for p in points_at if _strict(p, db)]
        if strict:
            point = strict[0]
            _problem(report, point.seq, "is gone: a checkpoint of this file kept in "
                                        f"{_from(point)} recorded it, and the chain "
                                        + (f"ends at entry {last}" if last else "is empty")
                                        + " (its newest entries were removed)")
        elif beyond:
            newest = max(p.seq for points_at in beyond for p in points_at)
            report.checked.append(f"this file ends at entry {last}, before the newest "
                                  f"checkpoint of its clinic's chain (entry {newest}): an older"
                                  " copy (a backup), its entries up to there as checkpointed")
        report.checked.append(f"audit chain: {count} entries linked"
                              + (f" (newest: entry {head[0]}, {head[1][:16]})" if head else ""))
        if key is not None:
            first = f" from entry {first_signed}" if first_signed else ""
            report.checked.append(f"keyed hashes: {signed} entries{first} signed with anchor "
                                  f"key {key.key_id}")
        if want:
            report.checked.append(f"checkpoints kept outside the file: {len(want)} (newest at "
                                  f"entry {max(want)})")
        else:
            report.cannot.append("cut-off newest entries: no checkpoint of this chain is kept "
                                 "on this computer or was given (--checkpoint, --key)")


def _from(point: anchors.Checkpoint) -> str:
    return f"{point.source or 'a checkpoint'}" + (f" ({point.at})" if point.at else "")


def _lines_of(detail: dict) -> list:
    return [[str(c), [str(m) for m in mods], int(u), int(ch)]
            for c, mods, u, ch in detail.get("lines", [])]


def _recorded_lines(detail: dict) -> str:
    """A finalize entry's charge lines as verify compares them with the stored ones."""
    try:
        return _show(_lines_of(detail))
    except (TypeError, ValueError):
        return "unreadable"


#: A finalize entry's ``lines`` as SQLite reads them (JSON) from an entry of strict JSON
#: (which Python reads too); else NULL and Python reads the entry.
_FINALIZE_LINES = (
    "CASE WHEN action = 'finalize' AND typeof(detail) = 'text' AND json_valid(detail) THEN"
    " CASE WHEN json_type(detail, '$.lines') = 'array' THEN json_extract(detail, '$.lines')"
    " END END")


def _check_data(report: VerifyReport, conn: sqlite3.Connection) -> None:
    """Finalized visits, amendments, voids and payments against their audit entries."""
    entries: dict[str, dict[int, list[tuple[int, dict]]]] = {}
    payment_entries: dict[str, dict[int, tuple[int, int, dict]]] = {"payment": {},
                                                                    "payment voided": {}}
    recorded: dict[str, str] = {}  # a finalize entry's lines (as SQLite read them) -> shown
    for seq, action, entity_id, detail, lines in conn.execute(
            f"SELECT seq, action, entity_id, detail,"
            f" {'NULL' if dialect.is_pg(conn) else _FINALIZE_LINES} FROM audit_log WHERE"
            " entity = 'visit' AND action IN ('finalize', 'amend', 'void', 'payment',"
            " 'payment voided')"):
        if (lines is not None and "\\" not in detail and detail.isprintable()
                and detail.count('"lines"') == 1):
            # No escape, no control character, and "lines" written once: one member named
            # lines, the same array SQLite read as Python reads from the whole entry.
            data = recorded.get(lines)
            if data is None:
                data = recorded[lines] = _recorded_lines({"lines": json.loads(lines)})
            entries.setdefault(action, {}).setdefault(entity_id, []).append((seq, data))
            continue
        try:
            data = json.loads(detail)
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if action in payment_entries:
            with_id = data.get("payment")
            if isinstance(with_id, int):
                payment_entries[action][with_id] = (seq, entity_id, data)
            continue
        if action == "finalize":  # kept as the compact text it is compared as
            data = _recorded_lines(data)
        entries.setdefault(action, {}).setdefault(entity_id, []).append((seq, data))
    finals = entries.get("finalize", {})
    amends = entries.get("amend", {})
    voids = entries.get("void", {})
    lines, counts = _stored_by_visit(conn)
    amendment_rows = {r[0]: r[1:] for r in conn.execute(
        "SELECT original_visit_id, new_visit_id, reason FROM amendments")}
    found: list[AuditBreak] = []
    visits = finalized = line_count = voided = amended = 0
    visit_ids = set()
    statuses = {}
    for visit_id, status, finalized_at in conn.execute(
            "SELECT id, status, finalized_at FROM visits"):
        visits += 1
        visit_ids.add(visit_id)
        statuses[visit_id] = status
        final = finals.get(visit_id)
        stored = lines.get(visit_id, "no lines")
        if status == "open":
            if final:
                found.append(AuditBreak(final[-1][0], f"finalized visit {visit_id}, but the "
                                                      "visit is open (reopened)"))
            if visit_id in counts:
                found.append(AuditBreak(0, f"visit {visit_id} is open but holds "
                                           f"{counts[visit_id]} charge line(s)"))
            continue
        if finalized_at is not None or status in ("finalized", "amended"):
            if not final:
                found.append(AuditBreak(0, f"visit {visit_id} is {status} but no audit entry "
                                           "records its finalize"))
            else:
                seq, recorded = final[-1]
                if recorded != stored:
                    found.append(AuditBreak(seq, f"visit {visit_id}'s charge lines differ from "
                                                 f"what its finalize entry recorded (stored "
                                                 f"{stored}, recorded {recorded})"))
                finalized += 1
                line_count += counts.get(visit_id, 0)
        if status == "void":
            reasons = [d.get("reason") for _s, d in voids.get(visit_id, [])]
            if not any(isinstance(r, str) and r.strip() for r in reasons):
                found.append(AuditBreak(0, f"visit {visit_id} is void but no audit entry "
                                           "records its void and reason"))
            else:
                voided += 1
        if status == "amended":
            row = amendment_rows.get(visit_id)
            recorded = [d for _s, d in amends.get(visit_id, [])]
            if row is None:
                found.append(AuditBreak(0, f"visit {visit_id} is amended but has no amendment"))
            elif not any(d.get("new_visit_id") == row[0] and d.get("reason") == row[1]
                         for d in recorded):
                found.append(AuditBreak(0, f"visit {visit_id}'s amendment (correction visit "
                                           f"{row[0]}) is not the one its audit entry records"))
            else:
                amended += 1
    for visit_id, final in finals.items():
        if visit_id not in visit_ids:
            found.append(AuditBreak(final[-1][0], f"finalized visit {visit_id}, which is gone"))
    for action, status, words in (("void", "void", "voided"), ("amend", "amended", "amended")):
        for visit_id, recorded in entries.get(action, {}).items():
            if statuses.get(visit_id) != status:
                found.append(AuditBreak(recorded[-1][0], f"{words} visit {visit_id}, but the "
                                        + ("visit is gone" if visit_id not in statuses
                                           else f"visit is not {status}")))
    payments = payment_voids = 0
    rows: list | sqlite3.Cursor = []
    if _has_table(conn, "payments"):
        has_kind = "kind" in dialect.table_columns(conn, "payments")
        rows = conn.execute("SELECT id, visit_id, cents, method, reference, "
                            + ("kind" if has_kind else "'patient'")
                            + ", voided_at, void_reason FROM payments")
    payment_ids = set()
    for pid, visit_id, cents, method, reference, kind, voided_at, reason in rows:
        payments += 1
        payment_ids.add(pid)
        entry = payment_entries["payment"].get(pid)
        if entry is None:
            found.append(AuditBreak(0, f"payment {pid} (visit {visit_id}) has no audit entry"))
        else:
            seq, entity_id, data = entry
            differs = [name for name, have, want in (
                ("visit", visit_id, entity_id), ("amount", cents, data.get("cents")),
                ("method", method, data.get("method")),
                ("reference", reference, data.get("reference", reference)),
                ("kind", kind, data.get("kind", kind))) if have != want]
            if differs:
                found.append(AuditBreak(seq, f"payment {pid}'s {', '.join(differs)} differ "
                                             "from what its entry recorded"))
        void = payment_entries["payment voided"].get(pid)
        if voided_at is not None:
            payment_voids += 1
            if void is None or void[2].get("reason") != reason:
                found.append(AuditBreak(void[0] if void else 0,
                                        f"payment {pid} is void but no audit entry records "
                                        "that void and its reason"))
        elif void is not None:
            found.append(AuditBreak(void[0], f"voided payment {void[2].get('payment')}, but "
                                             "the payment is not void"))
    for pid, (seq, visit_id, _data) in payment_entries["payment"].items():
        if pid not in payment_ids:
            found.append(AuditBreak(seq, f"recorded payment {pid} (visit {visit_id}), which "
                                         "is gone"))
    report.checked.append(f"finalized visits: {finalized} of {visits} visits, their "
                          f"{line_count} charge lines as their finalize entries recorded")
    report.checked.append(f"amendments: {amended}, voids: {voided}, each as its entry "
                          "recorded")
    report.checked.append(f"payments: {payments} ({payment_voids} voided), each as its entry "
                          "recorded")
    report.problems.extend(found[:SHOWN])
    if len(found) > SHOWN:
        report.problems.append(AuditBreak(0, f"... and {len(found) - SHOWN} more differences "
                                             "between the data and the log"))


#: Each visit's charge lines, as JSON (line number, code, modifiers, units, charge).
_VISIT_LINES = ("SELECT visit_id, count(*), json_group_array(json_array(line_no, code,"
                " modifiers, units, charge_cents)) FROM charge_lines GROUP BY visit_id")
_LINE_TYPES = (int, str, str, int, int)  # the types the table declares


def _stored_by_visit(conn: sqlite3.Connection) -> tuple[dict, dict]:
    """Each visit's charge lines as ``_show`` writes them (in line order), and how many."""
    lines: dict[int, str] = {}
    counts: dict[int, int] = {}
    try:
        if dialect.is_pg(conn):  # SQLite's JSON words: the server's lines are read one by one
            raise sqlite3.Error("not SQLite")
        grouped = conn.execute(_VISIT_LINES).fetchall()
    except sqlite3.Error:  # a value JSON cannot hold (a blob): line by line
        per_visit: dict[int, list] = {}
        for visit_id, *line in conn.execute(
                "SELECT visit_id, code, modifiers, units, charge_cents FROM charge_lines"
                " ORDER BY visit_id, line_no"):
            per_visit.setdefault(visit_id, []).append(line)
        for visit_id, rows in per_visit.items():
            lines[visit_id], counts[visit_id] = _stored_lines(rows), len(rows)
        return lines, counts
    shown: dict[str, str] = {}  # a visit's lines as SQLite wrote them -> as _show writes them
    for visit_id, count, written in grouped:
        counts[visit_id] = count
        text = shown.get(written)
        if text is None:
            rows = _written_lines(written)
            if rows is not None:
                text = shown[written] = _stored_lines(rows)
            else:  # a value of another type than the table's: that visit's lines one by one
                text = _stored_lines(conn.execute(
                    "SELECT code, modifiers, units, charge_cents FROM charge_lines WHERE"
                    " visit_id = ? ORDER BY line_no", (visit_id,)))
        lines[visit_id] = text
    return lines, counts


def _written_lines(written: str) -> list | None:
    """A visit's lines from ``_VISIT_LINES``'s JSON, in line order; None when a value is not
    of the type the table declares (or the JSON is not that)."""
    try:
        rows = json.loads(written)
    except (TypeError, ValueError):
        return None
    if not isinstance(rows, list) or not all(
            isinstance(row, list) and len(row) == 5
            and all(type(v) is t for v, t in zip(row, _LINE_TYPES, strict=True))
            for row in rows):
        return None
    return [row[1:] for row in sorted(rows)]  # line numbers are unique within a visit


def _stored_lines(rows) -> str:
    return "; ".join(_show([[code, [m for m in modifiers.split() if m], units, charge]])
                     for code, modifiers, units, charge in rows)


def _show(lines) -> str:
    """Charge lines as verify compares and prints them: ``97110-GP x3 135.00; ...``."""
    if not lines:
        return "no lines"
    return "; ".join(f"{c}{'-' + '-'.join(m) if m else ''} x{u} {ch / 100:.2f}"
                     for c, m, u, ch in lines)


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return dialect.has_table(conn, name)


def _check_triggers(report: VerifyReport, conn: sqlite3.Connection, version: int) -> None:
    if version != LATEST_VERSION:
        report.cannot.append(f"the guard triggers: the file is at schema {version} (the app "
                             f"migrates it to {LATEST_VERSION} when it opens it)")
        return
    ours = guard_triggers()
    if dialect.is_pg(conn):
        from therapy_timer.storage.pg import notify, schema, store

        missing, changed = store.trigger_problems(conn)
        # The live-update triggers (pg/notify.py) are the app's too, checked at each open.
        present = sorted(set(schema.present_triggers(conn)) - notify.names())
    else:
        missing, changed = trigger_problems(conn)
        present = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")]
    foreign = [name for name in present if name not in ours]
    # A station cannot put a server's trigger back (its role may not change the schema):
    # the administrator's `server repair` does, and the message says so.
    if dialect.is_pg(conn):
        mends, added = ("`therapy-timer server repair` puts it back; a station cannot",
                        "added to the database")
    else:
        mends, added = "the app re-creates it when it opens the database", "added to the file"
    for name in missing:
        _problem(report, 0, f"guard trigger {name} is missing (removed; {mends})")
    for name in changed:
        _problem(report, 0, f"guard trigger {name} was altered ({mends})")
    for name in foreign:
        _problem(report, 0, f"trigger {name} is not one of the app's ({added})")
    report.checked.append(f"guard triggers: {len(ours) - len(missing) - len(changed)} of "
                          f"{len(ours)} in place")


class TamperMixin:
    """The repository's side of tamper evidence (``conn``, ``path`` and ``anchor`` come from
    the repository)."""

    anchor: ChainAnchor | None = None
    #: Guard triggers found missing or altered, and re-created, when the database opened.
    repaired_triggers: tuple[str, ...] = ()

    def verify_report(self, key_file: Path | str | None = None,
                      checkpoints: list[anchors.Checkpoint] | tuple = ()) -> VerifyReport:
        """Everything ``verify`` checks (read only).

        Args:
            key_file: the anchor key file or a backup's companion file; default this
                computer's key for the database.
            checkpoints: more checkpoints (``parse_checkpoint`` reads a printed one).

        Raises:
            anchors.AnchorError: the key file cannot be read.
        """
        key = None
        points = list(checkpoints)
        if key_file is not None:
            key, kept = anchors.load_key_file(key_file)
            points.extend(kept)
        runtime = self.anchor.key if self.anchor is not None else None
        return verify_report(self.conn, self.path, key=key, checkpoints=points,
                             runtime_key=runtime)

    def audit_checkpoint(self) -> anchors.Checkpoint | None:
        """The chain head now, also kept outside the file (the day sheet prints it); None
        when the log is empty."""
        if self.anchor is not None:
            return self.anchor.checkpoint(self.conn)
        row = self.conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
                                ).fetchone()
        return anchors.Checkpoint(int(row[0]), str(row[1])) if row else None

    def export_anchor(self, out: Path | str) -> Path:
        """Writes the anchor key and this computer's checkpoints to ``out`` (owner-only), to
        keep apart from the database (a backup's companion file).

        Raises:
            anchors.AnchorError: the database has no anchor key on this computer.
        """
        if self.anchor is None or self.anchor.key is None:
            raise anchors.AnchorError(f"the database {self.path} has no anchor key on this "
                                      "computer to copy")
        self.audit_checkpoint()
        kept = (anchors.read_checkpoints(self.anchor.key_id, self.anchor.folder)
                if self.anchor.folder is not None else [])
        return anchors.write_companion(self.anchor.key, kept, out)


def note_restored(path: Path | str, folder: Path | None = None) -> None:
    """Says that a backup was restored at ``path`` on purpose: the checkpoints taken of the
    file before no longer have to be reached (they must still match where the restored chain
    reaches them). Call after a restore succeeded."""
    if str(path) != MEMORY:
        anchors.mark_file(db_name(path), "restored", to_text(datetime.now(UTC)), folder)


def companion_path(backup: Path | str) -> Path:
    """Where a backup's companion file (anchor key and checkpoints) goes: beside it."""
    backup = Path(backup)
    return backup.with_name(backup.name + ".anchor")


def write_backup_companion(backup: Path | str, folder: Path | None = None) -> Path | None:
    """Copies the anchor key and checkpoints of the (just written) backup's database into
    ``<backup>.anchor``, owner-only. None when this computer holds no key for it.

    Raises:
        anchors.AnchorError: the companion file cannot be written.
    """
    conn = sqlite3.connect(f"file:{Path(backup).resolve()}?mode=ro", uri=True)
    try:
        record = anchor_record(conn)
    finally:
        conn.close()
    if record is None:
        return None
    key = anchors.find_key(record[0], folder)
    if key is None:
        return None
    return anchors.write_companion(key, anchors.read_checkpoints(record[0], folder),
                                   companion_path(backup))


def repaired_note(path: Path | str, names) -> str:
    """What the app says when it re-created guard triggers it found missing or altered."""
    return (f"{path} had lost guard triggers (someone removed or altered them): re-created "
            f"{', '.join(names)}. Run 'therapy-timer verify' to see whether anything was "
            "changed meanwhile.")


def anchor_created_note(anchor: ChainAnchor) -> str:
    """What the app tells the clinic once, when it created the database's anchor key."""
    where = anchors.key_path(anchor.key_id, anchor.folder)
    return (f"Therapy Timer created this database's audit anchor key: {where} (owner-only). "
            "With it, 'therapy-timer verify' proves the audit log was not rewritten. Keep a "
            "copy apart from the database: File > Backup writes one beside each backup "
            "(<backup>.anchor); 'therapy-timer anchor --out FILE' writes one on demand.")
