"""Backup and restore through SQLite's online backup API (safe while the app runs).

A backup is written to a hidden temporary file beside the target, checked, then renamed into
place, so a failed backup never leaves a half-written file under the wanted name; it never
writes over a database, its ``-wal``, ``-shm`` or ``-journal`` file, or a folder.

A restore never touches the clinic database until the backup has passed every check, on a copy:
the backup's *data* is copied into a schema the app creates itself (its own tables, indexes and
triggers; nothing of the file's own schema objects: added triggers and views are left out, and
the message names them), migrated to this version, then checked as ``verify`` checks a clinic
(integrity, references, the audit chain). Only then, holding the database exclusively (so no
window has it open), the current database is copied beside itself and the checked copy takes
its place in one rename. Any failure before that rename leaves the database byte for byte as it
was, and the message says so.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from therapy_timer import partfiles
from therapy_timer.storage.checks import (
    compare,
    connect_for_reading,
    connect_read_only,
    existing_file,
    open_existing,
    reference_schema,
    require_clinic,
)
from therapy_timer.storage.db import (
    APPLICATION_ID,
    BUSY_TIMEOUT_MS,
    check_file,
    check_identity,
    create_private_file,
    translating,
)
from therapy_timer.storage.errors import (
    CorruptDatabaseError,
    DatabaseLockedError,
    DiskFullError,
    EarlierDayError,
    ForeignDatabaseError,
    InvalidDataError,
    ProviderBusyError,
    ReadOnlyError,
    StorageError,
)
from therapy_timer.storage.migrations import LATEST_VERSION, migrate

#: The files SQLite keeps beside a database; a backup never goes over any of them.
COMPANIONS = ("-wal", "-shm", "-journal")
_COMPANION_NAMES = {"-wal": "write-ahead log", "-shm": "shared-memory index",
                    "-journal": "rollback journal"}
LOCK_SECONDS = BUSY_TIMEOUT_MS / 1000
#: Windows and macOS folders usually ignore case: CLINIC.DB-WAL is clinic.db-wal there.
_CASE_BLIND = sys.platform in ("win32", "darwin")


@dataclass(frozen=True, slots=True)
class Restored:
    """What a restore did: where the previous database went, and what it left out or
    re-created (``"trigger x"``) because the backup's schema was not the app's own."""

    previous: Path | None
    left_out: tuple[str, ...] = ()
    recreated: tuple[str, ...] = ()


def _real(path: Path) -> Path:
    try:
        return Path(os.path.realpath(path))
    except (OSError, RuntimeError, ValueError):
        return Path(os.path.abspath(path))


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _companion_of(out: Path, db_path: Path) -> str | None:
    """``""`` when ``out`` is the database, a suffix when it is one of its companion files."""
    real_out, real_db = _real(out), _real(db_path)
    for suffix in ("", *COMPANIONS):
        twin = Path(f"{real_db}{suffix}")
        if (real_out == twin or _same(out, twin)
                or (_CASE_BLIND and real_out.parent == twin.parent
                    and real_out.name.casefold() == twin.name.casefold())):
            return suffix
    return None


def check_backup_target(db_path: Path | str | None, out: Path | str) -> Path:
    """Refuses any ``out`` a backup must not be written to; returns it as a ``Path``.

    ``db_path`` None (or a clinic server's address) is a backup of a server: every check but
    "not the database itself" applies.

    Refused: the database itself, its ``-wal``, ``-shm`` or ``-journal`` file (writing there
    destroys its latest changes), a file beside another live database under those names, a
    database in use (a ``-wal`` or ``-journal`` beside it), a folder, a pipe or device, a
    missing or unwritable folder.

    Raises:
        InvalidDataError, ReadOnlyError: with a message naming the file and the problem.
    """
    if not str(out).strip():
        raise InvalidDataError("no backup file given: name the file to write")
    from therapy_timer.storage.dialect import is_server

    server = db_path is None or is_server(db_path)
    db_path, out = Path("clinic" if server else db_path), Path(out)
    suffix = None if server else _companion_of(out, db_path)
    if suffix == "":
        raise InvalidDataError(f"the backup must be another file than the database itself "
                               f"({db_path}); nothing was written")
    if suffix:
        raise InvalidDataError(
            f"{out} is the database's {_COMPANION_NAMES[suffix]} ({db_path.name}{suffix}): "
            "writing a backup there would destroy its latest changes. The backup must be "
            "another file than the database and its -wal, -shm and -journal files; nothing "
            "was written")
    try:
        info = os.stat(out)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise InvalidDataError(f"cannot write the backup to {out}: {exc.strerror}") from exc
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise InvalidDataError(f"{out} is a folder: give the backup a file name, for example "
                               f"{out / (db_path.stem + '-backup.db')}; nothing was written")
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise InvalidDataError(f"{out} is not a regular file (a pipe or a device): choose a "
                               "file name; nothing was written")
    real = _real(out)
    for suffix, what in _COMPANION_NAMES.items():
        base = real.name[:-len(suffix)] if real.name.endswith(suffix) else None
        if base and (real.parent / base).exists():
            raise InvalidDataError(
                f"{out} is the {what} of the database {real.parent / base}: writing there "
                "would destroy its latest changes; choose another name. Nothing was written")
        if info is not None and suffix != "-shm" and Path(f"{real}{suffix}").exists():
            raise InvalidDataError(
                f"{out} is a database in use ({real.name}{suffix} is beside it): writing over "
                "it would lose its latest changes; choose another name. Nothing was written")
    folder = out.parent
    if not folder.is_dir():
        raise InvalidDataError(f"cannot write {out}: the folder {folder} does not exist; "
                               "nothing was written")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ReadOnlyError(f"cannot write {out}: no permission to write in {folder}; "
                            "nothing was written")
    return out


def backup_before_upgrade(db_path: Path | str, version: int) -> Path:
    """Copies an older-schema database beside itself before it is migrated.

    The copy is named ``<file>.schema<version>-<UTC time>.bak`` so an upgrade of the app can
    always be undone by restoring it.
    """
    db_path = Path(db_path)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return backup(db_path, db_path.with_name(f"{db_path.name}.schema{version}-{stamp}.bak"))


def backup(db_path: Path | str, out: Path | str) -> Path:
    """Copies the database at ``db_path`` to ``out`` (created 0600). Returns ``out``.

    A clinic server's address is written as a new SQLite clinic (``pg/backup.py``). The
    database is only read (never switched, chmodded or migrated).

    Raises:
        NotFoundError: no database at ``db_path``.
        InvalidDataError: ``out`` may not be written (see ``check_backup_target``), or the
            database is an empty file or lacks the app's tables.
        StorageError: the copy failed (nothing is left under ``out``).
    """
    from therapy_timer.storage.dialect import is_server

    if is_server(db_path):  # File > Backup on a station of a clinic server
        from therapy_timer.storage.pg.backup import backup_server

        return backup_server(str(db_path), out).out
    db_path = Path(db_path)
    out = check_backup_target(db_path, out)
    repo = open_existing(db_path)
    try:
        where = f"the database {db_path}"
        with translating(where):
            result = repo.conn.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise CorruptDatabaseError(f"{where} is damaged: {result}; nothing was written")
        _copy(repo.conn, out, where)
    finally:
        repo.close()
    return out


def _copy_pages(source: sqlite3.Connection, target: sqlite3.Connection, where: str) -> None:
    """SQLite's online backup, waiting at most ``LOCK_SECONDS`` for a lock on the source
    (Python's own loop would wait for ever)."""
    deadline = time.monotonic() + LOCK_SECONDS

    def progress(status: int, remaining: int, total: int) -> None:
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) and \
                time.monotonic() > deadline:
            raise DatabaseLockedError(
                f"{where} is locked by another program or Therapy Timer window (waited "
                f"{LOCK_SECONDS:.0f} seconds); nothing was written. Try again in a moment")

    source.backup(target, progress=progress)


def _copy(source: sqlite3.Connection, out: Path, where: str) -> None:
    """Copies ``source`` to a hidden file beside ``out``, checks it, renames it to ``out``."""
    partfiles.sweep(out.parent)
    temp = partfiles.part_path(out, "backup")
    partfiles.remove(temp)
    try:
        create_private_file(temp)
        with translating(f"the backup {out}"):
            target = sqlite3.connect(temp, isolation_level=None)
            try:
                _copy_pages(source, target, where)
                target.execute("PRAGMA journal_mode = DELETE")
                result = target.execute("PRAGMA integrity_check").fetchone()[0]
                if result != "ok":
                    raise CorruptDatabaseError(f"the backup failed its integrity check: {result}")
            finally:
                target.close()
        os.chmod(temp, 0o600)
        os.replace(temp, out)
        _fsync_dir(out.parent)
    except OSError as exc:
        raise _os_error(exc, f"the backup {out}") from exc
    finally:
        partfiles.remove(temp)


def _os_error(exc: OSError, where: str) -> StorageError:
    import errno

    if exc.errno == errno.ENOSPC:
        return DiskFullError(f"the disk holding {where} is full; nothing was written")
    return ReadOnlyError(f"cannot write {where}: {exc.strerror or exc}; nothing was written")


# --- restore -------------------------------------------------------------------------------


def check_candidate(path: Path, where: str) -> None:
    """The standard a file must meet to become the clinic database, checked as ``verify``
    checks one: the app's schema (every table, index and trigger) at this version, integrity
    and references, and the audit chain.

    Raises:
        StorageError: naming the first problem found.
    """
    repo = open_existing(path)
    try:
        version = require_clinic(repo.conn, where)
        if version != LATEST_VERSION:
            raise InvalidDataError(f"{where} is at schema {version}, not {LATEST_VERSION}")
        with translating(where):
            differences = compare(repo.conn, LATEST_VERSION)
        wrong = differences.missing_objects + differences.changed + differences.foreign
        if wrong:
            raise InvalidDataError(f"{where} does not have the app's schema: "
                                   f"{', '.join(wrong)}")
        integrity = repo.integrity_check()
        if integrity != "ok":
            raise CorruptDatabaseError(f"{where} is damaged: {integrity.splitlines()[0]}")
        broken = repo.audit_verify()
        if broken is not None:
            raise InvalidDataError(f"{where} fails verification: {broken}")
    finally:
        repo.close()


def restore(db_path: Path | str, source: Path | str, now: datetime | None = None) -> Restored:
    """Replaces the database at ``db_path`` with the backup ``source`` (see the module text).

    Raises:
        StorageError: the backup was refused or the database is in use; the message ends by
            saying that the database is unchanged (and where a copy went, if one was made).
    """
    db_path, source = Path(db_path), Path(source)
    where = f"the backup {source}"
    raw = partfiles.part_path(db_path, "restore-copy")
    candidate = partfiles.part_path(db_path, "restore")
    saved: list[Path] = []
    try:
        existing_file(source, "backup file")
        if _companion_of(source, db_path) is not None:
            raise InvalidDataError(f"{source} is the database itself (or one of its files), "
                                   "not a backup")
        has_clinic = check_file(db_path)  # refuses a pipe, a folder, a link loop, a text file
        if has_clinic and not _marked(db_path):  # another program's: refused before copying
            current = connect_read_only(db_path)
            try:
                with translating(f"the database {db_path}"):
                    check_identity(current, f"the database {db_path}")
            finally:
                current.close()
        folder = db_path.parent
        if not folder.is_dir():
            raise InvalidDataError(f"the folder {folder} of the database does not exist")
        partfiles.sweep(folder)
        partfiles.remove(raw)
        partfiles.remove(candidate)
        # 1. A private copy of the backup as it is (through its -wal, if it has one).
        src = connect_for_reading(source)
        try:
            create_private_file(raw)
            with translating(where):
                copy = sqlite3.connect(raw, isolation_level=None)
                try:
                    _copy_pages(src, copy, where)
                finally:
                    copy.close()
        finally:
            src.close()
        # 2. Its data, in the app's own schema, at this version; then the standard check.
        left_out, recreated = _rebuild(raw, candidate, where)
        partfiles.remove(raw)
        check_candidate(candidate, where)
        # 3. Only now the clinic database: copied beside itself, then replaced in one rename.
        previous = _swap(db_path, candidate, now, saved) if has_clinic else None
        if not has_clinic:
            os.replace(candidate, db_path)
            _fsync_dir(folder)
    except StorageError as exc:
        raise _unchanged(exc, db_path, saved, raw.exists() or candidate.exists()) from exc
    except OSError as exc:
        raise _unchanged(_os_error(exc, f"the database {db_path}"), db_path, saved,
                         raw.exists() or candidate.exists()) from exc
    finally:
        partfiles.remove(raw)
        partfiles.remove(candidate)
    return Restored(previous, left_out, recreated)


def _marked(path: Path) -> bool:
    """The file's header carries the Therapy Timer application id (read without SQLite, which
    would leave a -wal and -shm beside a WAL-mode file)."""
    try:
        with path.open("rb") as handle:
            header = handle.read(72)
    except OSError:
        return False
    return len(header) == 72 and int.from_bytes(header[68:72], "big") == APPLICATION_ID


def _unchanged(exc: StorageError, db_path: Path, saved: list[Path],
               copied: bool) -> StorageError:
    text = str(exc).rstrip(".")
    for tail in ("; nothing was changed", ". Nothing was changed", "; nothing was written",
                 "; nothing was saved"):
        text = text.removesuffix(tail)
    text += (f". Nothing was restored: the database {db_path} is unchanged"
             + (f" (a copy of it was also saved as {saved[0]})" if saved else "")
             + ("; the copy of the backup made for checking was deleted" if copied else ""))
    if isinstance(exc, ProviderBusyError | EarlierDayError):
        return StorageError(text)
    return type(exc)(text)


def _rebuild(raw: Path, candidate: Path, where: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Checks the copy ``raw`` and copies its data into the app's own schema at ``candidate``.

    Returns:
        What the backup carried that was left out, and the app's own objects re-created.
    """
    with translating(where):
        conn = sqlite3.connect(raw, isolation_level=None)
    try:
        with translating(where):
            conn.execute("PRAGMA trusted_schema = OFF")
            if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                raise ForeignDatabaseError(f"{where} is not a Therapy Timer database")
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                raise CorruptDatabaseError(f"{where} is damaged: {result}")
            version = require_clinic(conn, where)
            differences = compare(conn, version)
    finally:
        conn.close()
    ours = reference_schema(version)
    create_private_file(candidate)
    with translating(f"the checked copy of {where}"):
        build = sqlite3.connect(candidate, isolation_level=None)
    try:
        with translating(f"the checked copy of {where}"):
            build.execute("PRAGMA foreign_keys = OFF")
            build.execute("PRAGMA trusted_schema = OFF")
            build.execute("ATTACH DATABASE ? AS backup", (str(raw),))
            build.execute("BEGIN IMMEDIATE")
            tables = [o for o in ours.values() if o.kind == "table"]
            for table in tables:
                build.execute(table.sql)
            try:
                for table in tables:
                    names = ", ".join(f'"{c}"' for c in table.columns)
                    build.execute(f'INSERT INTO main."{table.name}" ({names}) '
                                  f'SELECT {names} FROM backup."{table.name}"')
            except sqlite3.IntegrityError as exc:
                raise InvalidDataError(f"{where} holds data the app's rules refuse ({exc})"
                                       ) from exc
            _copy_sequences(build)
            _copy_statistics(build, ours)
            for obj in ours.values():  # indexes and triggers, in the migrations' order
                if obj.kind != "table" and obj.sql:
                    build.execute(obj.sql)
            build.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            build.execute(f"PRAGMA user_version = {version}")
            build.execute("COMMIT")
            build.execute("DETACH DATABASE backup")
            build.execute("PRAGMA foreign_keys = ON")
            migrate(build, f"the checked copy of {where}")
            build.execute("PRAGMA journal_mode = WAL")
    finally:
        build.close()
    return differences.foreign, differences.missing_objects + differences.changed


def _copy_sequences(build: sqlite3.Connection) -> None:
    """AUTOINCREMENT counters: an id used before the backup is never handed out again."""
    has = "SELECT 1 FROM {0}.sqlite_master WHERE name = 'sqlite_sequence'"
    if not (build.execute(has.format("main")).fetchone()
            and build.execute(has.format("backup")).fetchone()):
        return
    for name, seq in build.execute("SELECT name, seq FROM backup.sqlite_sequence").fetchall():
        if not isinstance(seq, int):
            continue
        row = build.execute("SELECT seq FROM main.sqlite_sequence WHERE name = ?",
                            (name,)).fetchone()
        if row is None:
            if build.execute("SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND "
                             "name = ?", (name,)).fetchone():
                build.execute("INSERT INTO main.sqlite_sequence (name, seq) VALUES (?, ?)",
                              (name, seq))
        elif seq > row[0]:
            build.execute("UPDATE main.sqlite_sequence SET seq = ? WHERE name = ?", (seq, name))


def _copy_statistics(build: sqlite3.Connection, ours) -> None:
    """The query planner's statistics of the app's own tables and indexes (a 10-year clinic
    keeps its fast plans after a restore); any other row is left out."""
    if not build.execute("SELECT 1 FROM backup.sqlite_master WHERE name = 'sqlite_stat1'"
                         ).fetchone():
        return
    build.execute("ANALYZE main.sqlite_master")  # creates main.sqlite_stat1, instantly
    for tbl, idx, stat_text in build.execute(
            "SELECT tbl, idx, stat FROM backup.sqlite_stat1").fetchall():
        table = ours.get(tbl)
        if table is None or table.kind != "table" or not isinstance(stat_text, str):
            continue
        automatic = isinstance(idx, str) and idx.startswith(f"sqlite_autoindex_{tbl}_")
        if idx is not None and not automatic and (idx not in ours
                                                  or ours[idx].kind != "index"):
            continue
        build.execute("INSERT INTO main.sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)",
                      (tbl, idx, stat_text))


def _swap(db_path: Path, candidate: Path, now: datetime | None, saved: list[Path]) -> Path:
    """With the database held exclusively: copy it beside itself, then rename ``candidate``
    over it. Returns the copy."""
    where = f"the database {db_path}"
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=LOCK_SECONDS)
    try:
        with translating(where):
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # Exclusive locking: every other connection (an open window, another command)
            # holds a lock while it has the file open, so this waits for them, at most 5 s.
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            try:
                conn.execute("BEGIN EXCLUSIVE")
                conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                raise DatabaseLockedError(
                    f"{where} is in use by another program or Therapy Timer window (restore "
                    f"waited {LOCK_SECONDS:.0f} seconds for it): close Therapy Timer on every "
                    "computer that uses this database, then restore again") from exc
            check_identity(conn, where)
            # Every change is in the main file: a -wal left beside it must hold nothing.
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy and busy[0]:
                raise DatabaseLockedError(f"{where} is in use: its write-ahead log could not "
                                          "be emptied")
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        safety = db_path.with_name(f"{db_path.name}.before-restore-{stamp}")
        n = 1
        while safety.exists():
            n += 1
            safety = db_path.with_name(f"{db_path.name}.before-restore-{stamp}-{n}")
        _copy(conn, safety, where)
        saved.append(safety)
        # Out of WAL before the rename: closing a WAL connection deletes "<db>-wal" by name,
        # which after the rename would be the restored file's.
        with translating(where):
            conn.execute("PRAGMA journal_mode = DELETE")
        if os.name == "nt":  # Windows renames nothing over an open file
            conn.close()
        os.replace(candidate, db_path)
        _fsync_dir(db_path.parent)
    finally:
        conn.close()
    return safety


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
