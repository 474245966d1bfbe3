"""Running a piece of a test without root's powers (CI runs as root, and root may write
anywhere): a forked child drops to the unprivileged user 'nobody' and reports back."""

from __future__ import annotations

import os

NOBODY = 65534


def as_nobody(action) -> str:
    """Runs ``action()`` in a forked child without root's powers; returns what it returned, or
    ``"<ExceptionName>: <message>"`` when it raised."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            if os.geteuid() == 0:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            message = str(action())
        except BaseException as exc:
            message = f"{type(exc).__name__}: {exc}"
        os.write(write_fd, message.encode())
        os._exit(0)
    os.close(write_fd)
    chunks = []
    while chunk := os.read(read_fd, 4096):
        chunks.append(chunk)
    os.close(read_fd)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()
