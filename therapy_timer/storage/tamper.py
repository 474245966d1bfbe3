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
import logging
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from therapy_timer.storage import anchor as anchors
from therapy_timer.storage import chain_walk, dialect
from therapy_timer.storage.data_check import _check_data
from therapy_timer.storage.db import MEMORY, to_text
from therapy_timer.storage.migrations import LATEST_VERSION, guard_triggers, trigger_problems
from therapy_timer.storage.verify_report import (  # noqa: F401 - verify's report, said here
    CLI_SOURCE,
    LIMITS,
    SHOWN,
    VerifyReport,
    _problem,
)

log = logging.getLogger(__name__)

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
    walk = chain_walk._ChainWalk(conn, record, use_key, points)
    data = VerifyReport()
    try:
        # Workers reopen the file; a server's chain is walked by this process.
        walk.start(path, 1 if on_server else chain_walk._worker_count(workers, path, walk.entries))
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
