"""Hidden temporary files (``.<name>.<pid>-<host>[.<tag>].part``) and sweeping up after a kill.

Every file the app writes (a PDF, a CSV, a backup, a restore's checked copy) is first written
under a hidden ``.part`` name beside its target and renamed when complete. A command killed
mid-write (SIGKILL, a power cut) cannot remove its own ``.part`` file, so the next run that
writes into the same folder removes the ones whose writer is gone: the name carries the
writer's process id and a short tag of its computer, so only a file of this computer whose
process no longer runs is removed at once (another computer's, on a shared folder, only once
it is a day old).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import time
from pathlib import Path

#: ``.<name>.<pid>-<host>[.<tag>].part``, plus SQLite's own files of such a temporary database.
_PART = re.compile(r"^\..+\.(?P<pid>\d+)-(?P<host>[0-9a-f]{6})(?:\.[A-Za-z0-9_-]+)?"
                   r"\.part(?:-journal|-wal|-shm)?$")
#: A ``.part`` file of another computer (or of a platform where a process cannot be probed)
#: is only removed once it has not changed for this long.
OTHER_HOST_SECONDS = 24 * 3600


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:6]


def part_prefix(target: Path) -> str:
    """The start of a temporary file name for ``target``: ``.<name>.<pid>-<host>.``."""
    return f".{target.name}.{os.getpid()}-{_host_tag()}."


def part_path(target: Path, tag: str) -> Path:
    """A temporary file beside ``target``: ``.<name>.<pid>-<host>.<tag>.part``."""
    return target.with_name(f"{part_prefix(target)}{tag}.part")


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it runs, as another user
        return True
    return True


def sweep(folder: Path) -> list[Path]:
    """Removes the ``.part`` files in ``folder`` left by killed writers; returns them."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    here = _host_tag()
    for entry in entries:
        match = _PART.match(entry.name)
        if not match:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False):
                continue
            if hasattr(os, "getuid") and info.st_uid != os.getuid():
                continue
        except OSError:
            continue
        if match["host"] == here and os.name == "posix":
            stale = not _running(int(match["pid"]))
        else:
            stale = time.time() - info.st_mtime > OTHER_HOST_SECONDS
        if stale:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def remove(path: Path) -> None:
    """Removes a temporary database file and SQLite's files beside it, if there."""
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            os.unlink(f"{path}{suffix}")
