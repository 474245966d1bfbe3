"""Where Therapy Timer keeps its files: the database (``--db`` > ``THERAPY_TIMER_DB`` > the
platform's user data folder) and the log folder. Folders are created owner-only (0700); the
database file itself is created 0600 by the store.

``--db`` (or ``THERAPY_TIMER_DB``) may also name a clinic server (``postgresql://...``,
``service=NAME``, libpq keywords): ``db_path`` then returns that text unchanged, never a
``Path``, and ``shown(target)`` is how messages name it (the password left out)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from therapy_timer.storage.dialect import is_server

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
            environ: Mapping[str, str] | None = None, create_dir: bool = True) -> Path | str:
    """The database to open: ``--db``, else ``THERAPY_TIMER_DB``, else the data folder.

    A value naming a clinic server is returned as the string it is (``open_repository``
    takes it; it is not a file, so no file check applies to it). The folder of the default
    location is created owner-only; an explicit path's folder is left as the user made it
    (the store reports a missing one clearly).
    """
    environ = os.environ if environ is None else environ
    if cli_value:
        return _target(cli_value)
    if environ.get(ENV_DB):
        return _target(environ[ENV_DB])
    folder = data_dir()
    if create_dir:
        ensure_private_dir(folder)
    return folder / DB_FILENAME


def _target(value: str | os.PathLike) -> Path | str:
    text = os.fspath(value)
    if isinstance(text, str) and is_server(text):
        return text.strip()
    return Path(text).expanduser()


def shown(target: Path | str) -> str:
    """How messages name a database: the file's path, or ``the clinic server HOST:PORT/DB``
    (never its password)."""
    if is_server(target):
        from therapy_timer.storage.pg.store import describe

        return describe(str(target))
    return str(target)


def stem(target: Path | str) -> str:
    """A short name for files made from the database (a backup's suggested name): the
    file's stem, or the server database's name."""
    if is_server(target):
        from psycopg.conninfo import conninfo_to_dict

        try:
            parts = conninfo_to_dict(str(target))
        except Exception:  # noqa: BLE001 - psycopg raises ProgrammingError for bad text
            parts = {}
        return str(parts.get("dbname") or parts.get("service") or "clinic-server")
    return Path(target).stem
