"""A throwaway PostgreSQL server for the tests, started in a temporary folder.

``make test`` installs PostgreSQL (scripts/ensure-system-deps) when it is missing; a machine
without it fails these tests, naming what to install: a skipped database is not a tested one.
The server refuses to run as root, so as root it runs as the ``postgres`` user (the test
process stays root and connects over TCP to 127.0.0.1 with trust authentication: tests only).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL is not installed: run `make test` (it installs it), or "
                       "apt-get install postgresql postgresql-contrib")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One server: ``admin_uri`` connects as its superuser; ``new_database()`` makes a fresh,
    empty database and returns its URI; ``drop_database()`` removes one.

    A test server does not fsync (``durable = False``): the tests kill stations and restart
    the server, never the computer, so every committed write is still in the system's cache
    for the server to read back, while hundreds of databases copied and dropped per run cost
    no disk flushes. A benchmark measuring commits sets ``durable = True``.
    """

    _names = itertools.count(1)
    durable = False

    def __init__(self, folder: Path | None = None) -> None:
        self.bin = _bin_dir()
        self.folder = Path(folder or tempfile.mkdtemp(prefix="tt-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        self.folder.chmod(0o700)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(a) for a in args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def init(self) -> Server:
        self._run(self.bin / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")
        return self

    def start(self) -> Server:
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} "
                   "-c max_connections=60 -c shared_buffers=32MB")
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off"
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.folder / "log", "-w",
                  "-t", "60", "-o", options, "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(self.bin / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def uri(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    @property
    def admin_uri(self) -> str:
        return self.uri()

    def sql(self, statement: str, database: str = "postgres") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.uri(database), autocommit=True) as conn:
            cursor = conn.execute(statement)
            return cursor.fetchall() if cursor.description else []

    def new_database(self, template: str | None = None) -> str:
        name = f"tt_{os.getpid()}_{next(self._names)}"
        clause = f" TEMPLATE {template}" if template else " TEMPLATE template0"
        if not self.durable and self._major() >= 15:
            clause += " STRATEGY FILE_COPY"  # without fsync: half the time of WAL_LOG
        for attempt in range(20):
            try:
                self.sql(f"CREATE DATABASE {name}{clause}")
                break
            except Exception as exc:  # noqa: BLE001 - the template busy for a moment
                if "being accessed" not in str(exc) or attempt == 19:
                    raise
                time.sleep(0.05)
        return self.uri(name)

    def drop_database(self, database: str) -> None:
        """Removes a database (a name or its URI), closing whatever still connects to it."""
        name = database.rsplit("/", 1)[-1]
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def _major(self) -> int:
        version = self.bin.parent.name  # /usr/lib/postgresql/15/bin
        return int(version) if version.isdigit() else 15


@contextlib.contextmanager
def running_server():
    server = Server().init().start()
    try:
        yield server
    finally:
        server.destroy()
