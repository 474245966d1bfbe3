"""verify's walk of the audit chain: its links, its keyed hashes and the checkpoints kept
outside the file, in one pass over the entries up to the newest at the start.

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
from itertools import repeat
from operator import methodcaller
from pathlib import Path

from therapy_timer.core.records import AuditBreak
from therapy_timer.storage import anchor as anchors
from therapy_timer.storage import dialect
from therapy_timer.storage.audit import GENESIS, entry_hash
from therapy_timer.storage.db import MEMORY
from therapy_timer.storage.verify_report import CLI_SOURCE, VerifyReport, _problem

log = logging.getLogger(__name__)


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
