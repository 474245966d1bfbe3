"""The app's log: a file in the user log folder, owner-only, rotated when the app starts.

Log records name visits, intervals and patients by id only, never by name: the store and the
UI log ids. Names cannot be filtered out generally, so tests check a whole
demo run's log for the synthetic names instead.

The app runs for a working day and logs little (ids, warnings), so the file is rotated when
the app starts rather than while it writes: ``logging.handlers`` would import sockets, pickle
and queues on every start for a rotation that a day of use never needs.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from therapy_timer.paths import ensure_private_dir, log_dir

LOG_FILENAME = "therapy-timer.log"
MAX_BYTES = 1_000_000
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _PrivateFileHandler(logging.FileHandler):
    """A file handler whose file is created 0600."""

    def _open(self):
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.chmod(self.baseFilename, 0o600)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def rotate(path: Path, max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> bool:
    """Moves a log over ``max_bytes`` to ``.1`` (``.1`` to ``.2``, ...), keeping ``backups``.

    Returns whether it rotated. A file that cannot be moved is left to grow: logging must
    never stop the app.
    """
    try:
        if path.stat().st_size <= max_bytes:
            return False
    except FileNotFoundError:
        return False
    with contextlib.suppress(OSError):
        for n in range(backups - 1, 0, -1):
            older = path.with_name(f"{path.name}.{n}")
            if older.exists():
                os.replace(older, path.with_name(f"{path.name}.{n + 1}"))
        os.replace(path, path.with_name(f"{path.name}.1"))
        return True
    return False


def setup_logging(folder: Path | None = None, level: int = logging.INFO) -> Path:
    """Sends the ``therapy_timer`` loggers to the log file (rotated first); returns its path.

    Calling it again replaces the earlier handler (tests, repeated start-up).
    """
    folder = ensure_private_dir(Path(folder) if folder else log_dir())
    path = folder / LOG_FILENAME
    logger = logging.getLogger("therapy_timer")
    for handler in list(logger.handlers):
        if getattr(handler, "_therapy_timer", False):
            logger.removeHandler(handler)
            handler.close()
    rotate(path)
    handler = _PrivateFileHandler(path, encoding="utf-8", delay=True)
    handler._therapy_timer = True
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)
    return path
