"""Issue 11, item 9: every file that holds patient data is owner-only, whatever the umask:
a database created in an existing empty file, its WAL and SHM, and leftover journal files."""

from __future__ import annotations

import os
import stat

import pytest

from tests.pdf.clinic import build
from tests.unprivileged import as_nobody
from therapy_timer.storage.repository import open_repository

pytestmark = pytest.mark.sqlite_only(
    "file modes of the database, its -wal, -shm and journals: the server keeps its own files")


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_database_made_in_an_existing_empty_file_is_owner_only(tmp_path):
    os.chmod(tmp_path, 0o755)  # a folder others may enter (a shared drive, /srv/...)
    db = tmp_path / "clinic.db"
    old = os.umask(0o022)
    try:
        db.touch()  # the empty file a user (or an installer) made first
        assert _mode(db) == 0o644
        repo = open_repository(db)
        build(repo)  # patient data written: the WAL and SHM exist now
        for suffix in ("", "-wal", "-shm"):
            assert _mode(db.with_name(db.name + suffix)) == 0o600, suffix
        repo.close()
    finally:
        os.umask(old)

    def read_as_another_user():
        with open(db, "rb") as handle:
            return handle.read(16)

    assert as_nobody(read_as_another_user).startswith("PermissionError")


def test_loose_journal_files_are_tightened_when_the_database_opens(tmp_path):
    db = tmp_path / "clinic.db"
    first = open_repository(db)  # another window keeps the WAL and SHM in use
    build(first)
    wal, shm = db.with_name("clinic.db-wal"), db.with_name("clinic.db-shm")
    for path in (db, wal, shm):
        os.chmod(path, 0o644)
    second = open_repository(db)
    try:
        for path in (db, wal, shm):
            assert _mode(path) == 0o600, path.name
    finally:
        second.close()
        first.close()
