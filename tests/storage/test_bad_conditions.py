"""Bad conditions: each gives a clear message naming the problem, writes nothing partial and
loses nothing already saved."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from tests.unprivileged import as_nobody
from therapy_timer.core.records import Patient, VisitStatus
from therapy_timer.storage.errors import (
    CorruptDatabaseError,
    DatabaseLockedError,
    DiskFullError,
    ForeignDatabaseError,
    ReadOnlyError,
    SchemaTooNewError,
)
from therapy_timer.storage.repository import open_repository

from .conftest import T0, build_clinic


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def saved(tmp_path):
    """A database file holding a clinic and one finalized visit."""
    path = tmp_path / "clinic.db"
    repo = open_repository(path)
    clinic = build_clinic(repo)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", "PT", T0)
    repo.pause_visit(visit.id, T0 + timedelta(minutes=30))
    repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
    repo.finalize_visit(visit.id, None, "avery", T0 + timedelta(minutes=31))
    repo.close()
    return path, clinic, visit.id


def test_locked_database_is_refused_then_works(saved):
    path, clinic, _ = saved
    repo = open_repository(path, busy_timeout_ms=100)
    visit = repo.start_visit(clinic.other.id, clinic.pt.id, clinic.other_plan.id,
                             T0 + timedelta(hours=2))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(DatabaseLockedError, match="locked by another program"):
        repo.start_interval(visit.id, "97110", "PT", T0 + timedelta(hours=2))
    other.execute("ROLLBACK")
    other.close()
    assert repo.intervals_for(visit.id) == []  # nothing half-written
    repo.start_interval(visit.id, "97110", "PT", T0 + timedelta(hours=2))
    assert len(repo.intervals_for(visit.id)) == 1
    assert repo.audit_verify() is None
    repo.close()


def test_two_instances_share_the_file_safely(saved):
    path, clinic, _ = saved
    first = open_repository(path)
    second = open_repository(path)
    a = first.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id,
                          T0 + timedelta(days=1))
    b = second.start_visit(clinic.other.id, clinic.ot.id, None, T0 + timedelta(days=1))
    for n in range(20):
        moment = T0 + timedelta(days=1, minutes=n)
        first.start_interval(a.id, "97110" if n % 2 else "97140", "PT", moment)
        second.start_interval(b.id, "97530" if n % 2 else "97535", "OT", moment)
        first.heartbeat(moment)
    assert len(second.intervals_for(a.id)) == 20 and len(first.intervals_for(b.id)) == 20
    assert first.audit_verify() is None
    first.close()
    second.close()


def test_read_only_database_refuses_writes_and_keeps_data(saved):
    path, clinic, visit_id = saved
    repo = open_repository(path)
    before = repo.charge_lines(visit_id)
    repo.conn.execute("PRAGMA query_only = ON")  # what a read-only file looks like to SQLite
    with pytest.raises(ReadOnlyError, match="cannot be written"):
        repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    assert repo.charge_lines(visit_id) == before
    repo.close()


def test_read_only_directory(saved):
    import shutil
    import tempfile

    path, _, visit_id = saved
    folder = Path(tempfile.mkdtemp(prefix="tt-readonly-", dir="/tmp"))
    try:
        copy = folder / "clinic.db"
        repo = open_repository(path)
        repo.close()  # checkpointed: the main file holds everything
        shutil.copy(path, copy)
        os.chmod(copy, 0o644)
        os.chmod(folder, 0o755)  # readable, but only its owner may create files in it
        before = digest(copy)

        def try_to_write() -> str:
            repo = open_repository(copy)
            repo.start_visit(1, 1, None, T0)
            return "wrote"

        message = as_nobody(try_to_write)
        assert message.startswith("ReadOnlyError"), message
        assert "cannot" in message and str(copy) in message
        assert digest(copy) == before
        repo = open_repository(copy)
        assert repo.get_visit(visit_id).status is VisitStatus.FINALIZED
        repo.close()
    finally:
        shutil.rmtree(folder)


def test_folder_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ReadOnlyError, match="cannot create the folder .* not a folder"):
        open_repository(blocker / "sub" / "clinic.db")


def test_full_disk_leaves_no_partial_finalize(saved):
    path, clinic, visit_id = saved
    repo = open_repository(path)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id,
                             T0 + timedelta(days=1))
    start = T0 + timedelta(days=1)
    for n, code in enumerate(["97110", "97140", "97530", "97112"]):
        repo.start_interval(visit.id, code, "PT", start + timedelta(minutes=15 * n))
    repo.pause_visit(visit.id, start + timedelta(minutes=60))
    repo.set_diagnoses(visit.id, ["R26.89", "M54.50"], validate=False)
    audit_rows = len(repo.audit_entries())
    pages = repo.conn.execute("PRAGMA page_count").fetchone()[0]
    repo.conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now full
    # Fill the last free pages (big rows, then small audit entries) so the next write needs
    # a new page.
    with pytest.raises(DiskFullError, match="disk holding .* is full"):
        for n in range(10_000):
            repo.save_patient(Patient("Filler", f"Filler{n}" + "x" * 500))
    with pytest.raises(DiskFullError):
        for _ in range(10_000):
            repo.set_notes(visit.id, "n")
    notes_before = repo.get_visit(visit.id).notes
    with pytest.raises(DiskFullError):
        repo.finalize_visit(visit.id, None, "avery", start + timedelta(minutes=61))
    assert repo.get_visit(visit.id).status is VisitStatus.OPEN
    assert repo.get_visit(visit.id).notes == notes_before
    assert repo.charge_lines(visit.id) == []
    assert repo.audit_verify() is None
    assert len(repo.audit_entries(limit=100_000)) >= audit_rows
    repo.conn.execute("PRAGMA max_page_count = 1073741823")  # space freed
    lines = repo.finalize_visit(visit.id, None, "avery", start + timedelta(minutes=61))
    assert sum(line.units for line in lines) == 4
    assert repo.integrity_check() == "ok"
    repo.close()


def test_not_an_sqlite_file_is_refused_unchanged(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"Dear diary, " * 100)
    before = digest(path)
    with pytest.raises(CorruptDatabaseError, match="not a Therapy Timer database"):
        open_repository(path)
    assert digest(path) == before


def test_damaged_database_is_reported(saved):
    path, _, _ = saved
    size = path.stat().st_size
    with path.open("r+b") as handle:  # scribble over the pages after the header page
        handle.seek(4096)
        handle.write(os.urandom(min(size - 4096, 16 * 4096)))
    with pytest.raises(CorruptDatabaseError, match="damaged"):
        repo = open_repository(path)
        try:
            assert repo.integrity_check() == "ok"
            repo.visits_on(T0.date())
        finally:
            repo.close()


def test_foreign_sqlite_database_is_refused_unchanged(tmp_path):
    path = tmp_path / "recipes.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.execute("INSERT INTO recipes VALUES ('soup')")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(ForeignDatabaseError, match="another program"):
        open_repository(path)
    assert digest(path) == before
    assert not (tmp_path / "recipes.db-wal").exists()


def test_newer_schema_is_refused_unchanged(saved):
    path, _, _ = saved
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    before = digest(path)
    with pytest.raises(SchemaTooNewError, match="newer Therapy Timer"):
        open_repository(path)
    assert digest(path) == before


def test_database_and_folder_permissions(tmp_path, monkeypatch):
    from therapy_timer.paths import db_path

    default = db_path()
    assert str(default).startswith(os.environ["XDG_DATA_HOME"])
    assert stat.S_IMODE(default.parent.stat().st_mode) == 0o700
    repo = open_repository(default)
    repo.start_visit  # noqa: B018 - the file exists now
    build_clinic(repo)
    for suffix in ("", "-wal", "-shm"):
        file = default.with_name(default.name + suffix)
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    repo.close()
    loose = tmp_path / "loose.db"
    open_repository(loose).close()
    os.chmod(loose, 0o644)
    open_repository(loose).close()
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


def test_db_path_precedence(tmp_path):
    from therapy_timer.paths import ENV_DB, db_path

    env = {ENV_DB: str(tmp_path / "env.db")}
    assert db_path(tmp_path / "cli.db", env) == tmp_path / "cli.db"
    assert db_path(None, env) == tmp_path / "env.db"
    assert db_path(None, {}).name == "therapy-timer.db"


def test_log_is_private_and_never_names_patients(tmp_path):
    import logging

    from therapy_timer.demo import FIRST, LAST, build_demo_file
    from therapy_timer.logging_setup import setup_logging

    log_file = setup_logging(tmp_path / "logs", level=logging.DEBUG)
    try:
        build_demo_file(tmp_path / "demo.db", seed=3, end_date=T0.date())
        repo = open_repository(tmp_path / "demo.db")
        for item in repo.crashed_intervals():
            repo.resolve_crashed(item.interval.id, "stop-at-last-alive", user="t", now=T0)
        repo.close()
        for handler in logging.getLogger("therapy_timer").handlers:
            handler.flush()
    finally:
        logger = logging.getLogger("therapy_timer")
        for handler in list(logger.handlers):
            if getattr(handler, "_therapy_timer", False):
                logger.removeHandler(handler)
                handler.close()
        logger.setLevel(logging.NOTSET)
    text = log_file.read_text()
    assert "opened database" in text
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(log_file.parent.stat().st_mode) == 0o700
    for name in FIRST + LAST:
        assert name not in text


def test_two_processes_write_at_once_without_corruption(saved):
    """Two app instances (separate processes) record timers on one file at the same time."""
    path, clinic, _ = saved
    repo = open_repository(path)
    visits = [repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id,
                               T0 + timedelta(days=2)).id,
              repo.start_visit(clinic.other.id, clinic.ot.id, None, T0 + timedelta(days=2)).id]
    repo.close()
    children = []
    for visit_id, code, performer in ((visits[0], "97110", "PT"), (visits[1], "97530", "OT")):
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                mine = open_repository(path)
                for n in range(60):
                    moment = T0 + timedelta(days=2, minutes=n)
                    mine.start_interval(visit_id, code if n % 2 else "97140", performer, moment)
                    mine.heartbeat(moment)
                mine.close()
                status = 0
            finally:
                os._exit(status)
        children.append(pid)
    for pid in children:
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    repo = open_repository(path)
    assert repo.integrity_check() == "ok"
    assert repo.audit_verify() is None
    assert [len(repo.intervals_for(v)) for v in visits] == [60, 60]
    assert len(repo.running_intervals()) == 2
    assert repo.db["intervals"].count == 121  # plus the finalized visit's one
    repo.close()
