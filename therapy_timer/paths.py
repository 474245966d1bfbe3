"""Where Therapy Timer keeps its files: the database (``--db`` > ``THERAPY_TIMER_DB`` > the
platform's user data folder) and the log folder. Folders are created owner-only (0700); the
database file itself is created 0600 by the store."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

APP_NAME = "therapy-timer"
DB_FILENAME = "therapy-timer.db"
ENV_DB = "THERAPY_TIMER_DB"


def ensure_private_dir(path: Path) -> Path:
    """Creates ``path`` (and parents) with mode 0700 if missing; returns it."""
    if not path.exists():
        path.mkdir(parents=True, mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
    return path


def data_dir() -> Path:
    """The per-user data folder (e.g. ``~/.local/share/therapy-timer`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    """The per-user log folder (e.g. ``~/.local/state/therapy-timer/log`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """The per-user config folder (e.g. ``~/.config/therapy-timer`` on Linux): the audit
    anchor keys and checkpoints live here, outside the database."""
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def db_path(cli_value: str | os.PathLike | None = None,
            environ: Mapping[str, str] | None = None, create_dir: bool = True) -> Path:
    """The database file to open: ``--db``, else ``THERAPY_TIMER_DB``, else the data folder.

    The folder of the default location is created owner-only; an explicit path's folder is
    left as the user made it (the store reports a missing one clearly).
    """
    environ = os.environ if environ is None else environ
    if cli_value:
        return Path(cli_value).expanduser()
    if environ.get(ENV_DB):
        return Path(environ[ENV_DB]).expanduser()
    folder = data_dir()
    if create_dir:
        ensure_private_dir(folder)
    return folder / DB_FILENAME
