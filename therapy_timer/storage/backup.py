"""Backup and restore through SQLite's online backup API (safe while the app runs).

A backup is written to a temporary file beside the target, checked, then renamed into place,
so a failed backup never leaves a half-written file under the wanted name. Restore refuses
anything that is not a healthy Therapy Timer database, and first backs up the current one.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from therapy_timer.storage.db import (
    APPLICATION_ID,
    check_file,
    check_identity,
    connect,
    create_private_file,
    translating,
)
from therapy_timer.storage.errors import (
    CorruptDatabaseError,
    ForeignDatabaseError,
    InvalidDataError,
    NotFoundError,
    SchemaTooNewError,
)
from therapy_timer.storage.migrations import LATEST_VERSION, migrate


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _open_existing(path: Path) -> sqlite3.Connection:
    if not check_file(path):
        raise NotFoundError(f"there is no database at {path}")
    return connect(path)


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

    Raises:
        NotFoundError: no database at ``db_path``.
        InvalidDataError: ``out`` is the database itself.
        StorageError: the copy failed (nothing is left under ``out``).
    """
    db_path, out = Path(db_path), Path(out)
    if _same_file(db_path, out):
        raise InvalidDataError("the backup file must not be the database itself")
    if out.is_dir():
        raise InvalidDataError(f"the backup file {out} is a folder: give a file name")
    where = f"the database {db_path}"
    source = _open_existing(db_path)
    temp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        with translating(where):
            check_therapy_timer(source, where)
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        create_private_file(temp)
        with translating(f"the backup {out}"):
            target = sqlite3.connect(temp, isolation_level=None)
            try:
                source.backup(target)
                target.execute("PRAGMA journal_mode = DELETE")
                result = target.execute("PRAGMA integrity_check").fetchone()[0]
                if result != "ok":
                    raise CorruptDatabaseError(f"the backup failed its integrity check: {result}")
            finally:
                target.close()
        os.chmod(temp, 0o600)
        os.replace(temp, out)
        _fsync_dir(out.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    finally:
        source.close()
    return out


def check_therapy_timer(conn: sqlite3.Connection, where: str) -> int:
    """Checks identity, schema version and integrity; returns the schema version.

    Raises:
        ForeignDatabaseError, SchemaTooNewError, CorruptDatabaseError.
    """
    if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        raise ForeignDatabaseError(f"{where} is not a Therapy Timer database")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > LATEST_VERSION:
        raise SchemaTooNewError(f"{where} comes from a newer Therapy Timer (schema {version}, "
                                f"this app knows {LATEST_VERSION})")
    result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise CorruptDatabaseError(f"{where} is damaged: {result}")
    return version


def restore(db_path: Path | str, source: Path | str, now: datetime | None = None) -> Path | None:
    """Replaces the database at ``db_path`` with the backup ``source``.

    The source is checked first (a Therapy Timer database, not newer, intact); then the current
    database, if any, is backed up beside itself; then the pages are copied in with the backup
    API (one transaction) and the schema is migrated if the backup is older.

    Returns:
        The safety copy of the previous database, or None when there was none.
    """
    db_path, source = Path(db_path), Path(source)
    if _same_file(db_path, source):
        raise InvalidDataError("the backup to restore is the database itself")
    where = f"the file {source}"
    if not check_file(source):
        raise NotFoundError(f"there is no backup file at {source}")
    with translating(where):
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, isolation_level=None)
    try:
        with translating(where):
            check_therapy_timer(src, where)
        safety = None
        if check_file(db_path):
            stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
            safety = backup(db_path, db_path.with_name(f"{db_path.name}.before-restore-{stamp}"))
        target = connect(db_path)
        try:
            with translating(f"the database {db_path}"):
                if check_file(db_path):
                    check_identity(target, f"the database {db_path}")
                src.backup(target)
                target.execute("PRAGMA journal_mode = WAL")
                migrate(target, f"the database {db_path}")
        finally:
            target.close()
    finally:
        src.close()
    return safety


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
