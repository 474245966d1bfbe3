"""The app's log: a rotating file in the user log folder, owner-only.

Log records name visits, intervals and patients by id only, never by name: the store and the
UI log ids. Names cannot be filtered out generally, so tests check a whole
demo run's log for the synthetic names instead.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

from therapy_timer.paths import ensure_private_dir, log_dir

LOG_FILENAME = "therapy-timer.log"
MAX_BYTES = 1_000_000
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _PrivateRotatingHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler whose files are created 0600."""

    def _open(self):
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.chmod(self.baseFilename, 0o600)
        return os.fdopen(fd, self.mode.replace("w", "a"), encoding=self.encoding,
                         errors=self.errors)


def setup_logging(folder: Path | None = None, level: int = logging.INFO) -> Path:
    """Sends the ``therapy_timer`` loggers to a rotating file; returns the file's path.

    Calling it again replaces the earlier handler (tests, repeated start-up).
    """
    folder = ensure_private_dir(Path(folder) if folder else log_dir())
    path = folder / LOG_FILENAME
    logger = logging.getLogger("therapy_timer")
    for handler in list(logger.handlers):
        if getattr(handler, "_therapy_timer", False):
            logger.removeHandler(handler)
            handler.close()
    handler = _PrivateRotatingHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                      encoding="utf-8", delay=True)
    handler._therapy_timer = True
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)
    return path
