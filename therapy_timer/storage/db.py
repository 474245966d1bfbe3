"""Opening the database file safely: permissions, pragmas, identity checks, error translation.

Every connection runs in WAL mode with ``synchronous=FULL`` (a committed change survives a power
cut), foreign keys on and a busy timeout, so a second app instance waits briefly instead of
failing. sqlite3 errors become ``StorageError`` subclasses that say what went wrong and where.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from therapy_timer.storage.errors import (
    RUNNING_TWICE,
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

#: ``PRAGMA application_id`` of a Therapy Timer database ("TTmr").
APPLICATION_ID = 0x54546D72
BUSY_TIMEOUT_MS = 5000
SQLITE_HEADER = b"SQLite format 3\x00"
MEMORY = ":memory:"


def create_private_file(path: Path) -> None:
    """Creates an empty file readable by its owner only (0600), and its folder (0700)."""
    if not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, mode=0o700)
        except OSError as exc:
            raise ReadOnlyError(f"cannot create the folder {path.parent}: {exc.strerror}") from exc
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise ReadOnlyError(
            f"cannot create the database {path}: {exc.strerror} (is the folder writable?)"
        ) from exc
    os.close(fd)
    os.chmod(path, 0o600)


def check_file(path: Path) -> bool:
    """Checks an existing file looks like SQLite. Returns False when it does not exist yet.

    Raises:
        CorruptDatabaseError: the file is not an SQLite database, or not a file at all (a
            folder, a named pipe, a device, a symbolic link that loops).
        ReadOnlyError: the file cannot be read.
    """
    if not _regular_file(path):
        return False
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return False
    except NotADirectoryError as exc:
        raise ReadOnlyError(f"cannot create the folder for {path}: part of that path is a "
                            "file, not a folder") from exc
    except IsADirectoryError:
        raise InvalidDataError(f"{path} is a folder, not a database file: give the file's "
                               "name") from None
    except OSError as exc:
        raise ReadOnlyError(f"cannot read {path}: {exc.strerror}") from exc
    if header and header != SQLITE_HEADER:
        raise CorruptDatabaseError(
            f"{path} is not a Therapy Timer database (it is not an SQLite file at all); "
            "nothing was changed"
        )
    return bool(header)


def _regular_file(path: Path) -> bool:
    """False when nothing is at ``path``; True for a regular file (through symlinks).

    Raises:
        CorruptDatabaseError: a folder, a named pipe, a device or a socket (opening a pipe
            would wait forever for a writer), or a symbolic link that loops.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return False
    except NotADirectoryError as exc:
        raise ReadOnlyError(f"cannot create the folder for {path}: part of that path is a "
                            "file, not a folder") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CorruptDatabaseError(f"{path} is a symbolic link that loops (it leads back "
                                       "to itself), not a database file; nothing was changed"
                                       ) from exc
        raise ReadOnlyError(f"cannot read {path}: {exc.strerror}") from exc
    if stat.S_ISREG(info.st_mode):
        return True
    kind = ("a folder" if stat.S_ISDIR(info.st_mode)
            else "a named pipe" if stat.S_ISFIFO(info.st_mode)
            else "a socket" if stat.S_ISSOCK(info.st_mode) else "a device")
    raise CorruptDatabaseError(f"{path} is {kind}, not a database file; nothing was changed")


def connect(path: Path | str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """Opens (creating if needed) a database file; nothing is written to it yet.

    Call ``make_durable`` once the file is known to be ours: it switches to WAL.
    """
    if str(path) != MEMORY:
        path = Path(path)
        if not check_file(path):
            create_private_file(path)
        # Owner-only even when the file was there already (empty, or made under a loose
        # umask), and its journal files with it: SQLite gives new ones the database's mode.
        for suffix in ("", "-wal", "-shm", "-journal"):
            _tighten(path.with_name(path.name + suffix))
    label = str(path)
    with translating(label):
        conn = sqlite3.connect(label, isolation_level=None, timeout=busy_timeout_ms / 1000)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA recursive_triggers = ON")
        except BaseException:
            conn.close()
            raise
    return conn


def make_durable(conn: sqlite3.Connection, where: str) -> None:
    """WAL journal and ``synchronous=FULL``: a committed change survives a crash or power cut."""
    with translating(where):
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() not in ("wal", "memory"):
            raise ReadOnlyError(f"cannot switch {where} to WAL mode (got {mode}); is the folder "
                                "writable?")
        conn.execute("PRAGMA synchronous = FULL")


def _tighten(path: Path) -> None:
    """Removes group/other permissions from an existing database file we own."""
    try:
        info = path.stat()
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISREG(info.st_mode) and mode & 0o077 and info.st_uid == os.getuid():
            os.chmod(path, mode & 0o700)
    except (OSError, AttributeError):  # missing (a journal file), or no getuid (Windows)
        pass


@contextlib.contextmanager
def translating(where: str = "the database") -> Iterator[None]:
    """Turns sqlite3 errors into StorageError subclasses naming the problem."""
    try:
        yield
    except StorageError:
        raise
    except sqlite3.Error as exc:
        raise translate(exc, where) from exc


def translate(exc: sqlite3.Error, where: str = "the database") -> StorageError:
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    lowered = text.lower()
    if "frozen" in lowered or "finalized" in lowered or "append-only" in lowered:
        return FrozenVisitError(text)
    if name.startswith("SQLITE_BUSY") or name.startswith("SQLITE_LOCKED") or "locked" in lowered:
        return DatabaseLockedError(
            f"{where} is locked by another program or Therapy Timer window; nothing was saved. "
            "Try again in a moment, or close the other window."
        )
    if name.startswith("SQLITE_READONLY") or "readonly" in lowered or "read-only" in lowered:
        return ReadOnlyError(f"{where} cannot be written (read-only file or folder); "
                             "nothing was saved")
    if name.startswith("SQLITE_FULL") or "disk is full" in lowered:
        return DiskFullError(f"the disk holding {where} is full; nothing was saved. Free some "
                             "space and try again")
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in lowered:
        return ReadOnlyError(f"cannot open {where} (missing folder or no permission)")
    if (name.startswith("SQLITE_NOTADB") or name.startswith("SQLITE_CORRUPT")
            or "not a database" in lowered or "malformed" in lowered):
        return CorruptDatabaseError(f"{where} is damaged or not a database ({text}); restore "
                                    "it from a backup")
    if isinstance(exc, sqlite3.IntegrityError):
        if "intervals.visit_id, intervals.code" in text:  # intervals_one_running (issue 14)
            return InvalidDataError(RUNNING_TWICE)
        return InvalidDataError(f"the store refused the change: {text}")
    if name.startswith("SQLITE_IOERR"):
        return StorageError(f"the disk could not read or write {where} ({text}); nothing "
                            "was saved")
    return StorageError(f"database error in {where}: {text}")


def check_identity(conn: sqlite3.Connection, where: str) -> bool:
    """True for a Therapy Timer database, False for an empty new one.

    Raises:
        ForeignDatabaseError: an SQLite database of some other program.
    """
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if app_id == APPLICATION_ID:
        return True
    tables = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    ).fetchone()[0]
    if tables:
        raise ForeignDatabaseError(
            f"{where} is an SQLite database of another program, not a Therapy Timer database; "
            "nothing was changed"
        )
    return False


# --- values as stored: UTC ISO-8601 text, days as YYYY-MM-DD, cents as integers ---

def to_text(moment: datetime | None) -> str | None:
    """An aware datetime as fixed-width UTC ISO-8601 text (sorts as it compares)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise InvalidDataError(f"time {moment.isoformat()} has no time zone; refusing to store "
                               "a naive local time")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def day_text(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def day_from(text: str | None) -> date | None:
    return None if not text else date.fromisoformat(text)
