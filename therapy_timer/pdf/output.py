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
    target = Path(path)
    if not str(path).strip():
        raise OutputError("no output file given")
    if target.is_dir():
        raise OutputError(f"{target} is a folder; give a file name")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {target}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {target}: no permission to write in {folder}")
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(f"cannot write {target}: the existing file is read-only")
    return target


def write_atomically(path: str | os.PathLike, writer: Callable[[BinaryIO], None]) -> Path:
    """Calls ``writer(stream)`` on a temporary file next to ``path``, then renames it into place.

    Args:
        path: the file to create or replace.
        writer: writes the whole content to the binary stream it is given (for example
            ``lambda s: render_superbill(data, s)``).

    Returns:
        The path written.

    Raises:
        OutputError: the path cannot be written (nothing is left behind).
        Exception: whatever ``writer`` raises (the temporary file is removed first).
    """
    target = check_writable(path)
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
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
        os.chmod(temp_name, mode)
        os.replace(temp_name, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
        raise
    return target
