"""Writing output files safely: a temporary file in the target folder, then one rename.

A failed or interrupted build never leaves a half-written PDF or CSV under the requested name,
and an existing file there is only replaced once the new one is complete. A run killed
mid-write leaves its hidden ``.part`` file; the next run into that folder removes it
(``therapy_timer/partfiles.py``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from therapy_timer import partfiles


class OutputError(Exception):
    """The output path cannot be written (missing folder, no permission, a folder, ...)."""


def check_writable(path: str | os.PathLike) -> Path:
    """Checks that ``path`` names a file we may create in an existing, writable folder.

    Raises:
        OutputError: with a message naming the path and the problem.
    """
    if not str(path).strip():
        raise OutputError("no output file given")
    target = Path(path)
    try:
        return _check_writable(target)
    except OSError as exc:  # a name the system refuses outright (too long, bad bytes)
        raise OutputError(f"cannot write {shown(target)}: {exc.strerror or exc}") from None


def shown(path: Path, limit: int = 80) -> str:
    """The path for a one-line message: a very long one is cut in the middle with "…"."""
    text = str(path)
    return text if len(text) <= limit else f"{text[:limit // 2]}…{text[-(limit // 2):]}"


def _check_writable(target: Path) -> Path:
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {shown(target)}: the folder {shown(folder)} does not "
                          "exist")
    longest = _name_max(folder) - TEMP_EXTRA
    if len(os.fsencode(target.name)) > longest:
        raise OutputError(f"cannot write {shown(target)}: the file name is "
                          f"{len(target.name)} characters long; at most {longest} fit")
    if target.is_dir():
        raise OutputError(f"{shown(target)} is a folder; give a file name")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {shown(target)}: no permission to write in "
                          f"{shown(folder)}")
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(f"cannot write {shown(target)}: the existing file is read-only")
    return target


#: What the temporary name adds to the file's (".NAME." + 8 random characters + ".part").
TEMP_EXTRA = 15
#: Every file written here may hold patient data: owner-only, whatever the umask.
MODE = 0o600


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # no pathconf on Windows (255 there too)
        return 255


def write_atomically(path: str | os.PathLike, writer: Callable[[BinaryIO], None]) -> Path:
    """Calls ``writer(stream)`` on a temporary file next to ``path``, then renames it into place.

    Args:
        path: the file to create or replace.
        writer: writes the whole content to the binary stream it is given (for example
            ``lambda s: render_superbill(data, s)``).

    The file is owner-only (0600) even under a permissive umask, and even when it replaces
    a file that was readable by others: superbills, day sheets and exports hold patient data.

    Returns:
        The path written.

    Raises:
        OutputError: the path cannot be written (nothing is left behind).
        Exception: whatever ``writer`` raises (the temporary file is removed first).
    """
    target = check_writable(path)
    folder = target.parent if str(target.parent) else Path(".")
    partfiles.sweep(folder)  # what an earlier, killed run left behind
    try:
        handle, temp_name = tempfile.mkstemp(prefix=partfiles.part_prefix(target),
                                             suffix=".part", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(handle, "wb") as stream:
            writer(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, MODE)
        os.replace(temp_name, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
        raise
    return target
