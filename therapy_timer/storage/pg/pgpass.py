"""libpq's password file (``.pgpass``): where it is and writing a station's line into it,
owner-only. No psycopg here: Settings > This computer uses it on any clinic, and psycopg's
import (about 190 ms) is paid only when a server is opened."""

from __future__ import annotations

import os
from pathlib import Path


def pgpass_path() -> Path:
    """Where libpq looks for passwords: PGPASSFILE, else ~/.pgpass (on Windows
    %APPDATA%\\postgresql\\pgpass.conf)."""
    if os.environ.get("PGPASSFILE"):
        return Path(os.environ["PGPASSFILE"])
    if os.name == "nt":
        return Path(os.environ.get("APPDATA", Path.home())) / "postgresql" / "pgpass.conf"
    return Path.home() / ".pgpass"


def _pgpass_field(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace(":", "\\:")


def _pgpass_key(line: str) -> tuple[str, ...] | None:
    fields, current, escaped = [], "", False
    for char in line.rstrip("\n"):
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":" and len(fields) < 4:
            fields.append(current)
            current = ""
        else:
            current += char
    return tuple(fields) if len(fields) == 4 else None


def write_pgpass(entries: list[tuple[str, str, str, str]], password: str,
                 path: Path | None = None) -> Path:
    """Puts ``host:port:database:role:password`` lines in the password file (replacing lines
    for the same host, port, database and role), written whole and owner-only (0600: libpq
    ignores a password file others can read)."""
    path = path or pgpass_path()
    keep: list[str] = []
    if path.exists():
        wanted = {tuple(str(v) for v in entry) for entry in entries}
        keep = [line for line in path.read_text(encoding="utf-8").splitlines()
                if _pgpass_key(line) not in wanted]
    lines = [*keep, *(":".join(_pgpass_field(v) for v in (*entry, password))
                      for entry in entries)]
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
