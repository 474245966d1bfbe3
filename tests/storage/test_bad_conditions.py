"""Bad conditions: each gives a clear message naming the problem, writes nothing partial and
loses nothing already saved. On both databases where the condition exists on both; the file's
own conditions (permissions, folders, damaged pages, its size limit) are marked sqlite_only,
with the server's counterpart beside them where it has one."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from tests.sql_dialect import fingerprint, make_read_only, outside, set_schema_version
from tests.unprivileged import as_nobody
from therapy_timer.core.records import Patient, VisitStatus
from therapy_timer.storage.dialect import is_server
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


SQLITE_ONLY = pytest.mark.sqlite_only


@pytest.fixture
def saved(store_target):
    """A database (file or server) holding a clinic and one finalized visit."""
    path = store_target
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
    other = outside(path)  # another program (on the server: another station) writing
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(DatabaseLockedError,
                       match="locked by another program|busy with another station's change"):
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
    make_read_only(repo.conn)  # a read-only file; a read-only server (a standby)
    with pytest.raises(ReadOnlyError, match="cannot be written|is read-only"):
        repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    assert repo.charge_lines(visit_id) == before
    repo.close()


@SQLITE_ONLY("a folder's permissions: a server has no folder of the clinic's to lock")
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


@SQLITE_ONLY("the file's folder: a server database needs none")
def test_folder_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ReadOnlyError, match="cannot create the folder .* not a folder"):
        open_repository(blocker / "sub" / "clinic.db")


@SQLITE_ONLY("the disk filled by PRAGMA max_page_count: the server's full disk is "
             "test_a_full_server_disk_leaves_no_partial_finalize")
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


def test_a_full_server_disk_leaves_no_partial_finalize(pg_database):
    """The server's counterpart of the full file: its disk fills in the middle of a finalize
    (the charge lines' insert fails with SQLSTATE 53100, disk_full, as PostgreSQL raises it):
    the store says so, the visit stays open with nothing half-written, and once space is
    freed the same finalize goes through. Server only: the file's case is the test above."""
    repo = open_repository(pg_database)
    clinic = build_clinic(repo)
    start = T0 + timedelta(days=1)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, start)
    for n, code in enumerate(["97110", "97140", "97530", "97112"]):
        repo.start_interval(visit.id, code, "PT", start + timedelta(minutes=15 * n))
    repo.pause_visit(visit.id, start + timedelta(minutes=60))
    repo.set_diagnoses(visit.id, ["R26.89", "M54.50"], validate=False)
    audit_rows = len(repo.audit_entries(limit=100_000))
    disk = outside(pg_database)
    disk.execute("CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS $x$ BEGIN"
                 " RAISE EXCEPTION 'could not extend file: No space left on device'"
                 " USING ERRCODE = 'disk_full'; END $x$")
    disk.execute("CREATE TRIGGER full_disk BEFORE INSERT ON charge_lines FOR EACH ROW"
                 " EXECUTE FUNCTION full_disk()")
    try:
        with pytest.raises(DiskFullError, match="disk of the clinic server .* is full"):
            repo.finalize_visit(visit.id, None, "avery", start + timedelta(minutes=61))
        assert repo.get_visit(visit.id).status is VisitStatus.OPEN
        assert repo.charge_lines(visit.id) == []
        assert len(repo.audit_entries(limit=100_000)) == audit_rows
    finally:
        disk.execute("DROP TRIGGER full_disk ON charge_lines")  # space freed
        disk.execute("DROP FUNCTION full_disk()")
        disk.close()
    assert repo.audit_verify() is None
    lines = repo.finalize_visit(visit.id, None, "avery", start + timedelta(minutes=61))
    assert sum(line.units for line in lines) == 4
    repo.close()


@SQLITE_ONLY("a file that is not a database: on a server, another program's database is "
             "test_another_programs_database_is_refused_unchanged")
def test_not_an_sqlite_file_is_refused_unchanged(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"Dear diary, " * 100)
    before = digest(path)
    with pytest.raises(CorruptDatabaseError, match="not a Therapy Timer database"):
        open_repository(path)
    assert digest(path) == before


@SQLITE_ONLY("pages scribbled over in the file: a server's data files are the server's")
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


def test_another_programs_database_is_refused_unchanged(store_target, tmp_path, request):
    if is_server(str(store_target)):  # a new database, not the clinic's template copy
        path = request.getfixturevalue("pg_server").new_database()
    else:
        path = tmp_path / "recipes.db"
    conn = outside(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.execute("INSERT INTO recipes VALUES ('soup')")
    conn.commit()
    conn.close()
    before = fingerprint(path)
    with pytest.raises(ForeignDatabaseError, match="another program"):
        open_repository(path)
    assert fingerprint(path) == before
    if is_server(str(path)):
        assert list(before) == ["recipes"]  # nothing of ours was created beside it
    else:
        assert not (tmp_path / "recipes.db-wal").exists()


def test_newer_schema_is_refused_unchanged(saved):
    path, _, _ = saved
    conn = outside(path)
    set_schema_version(conn, 99)
    if not is_server(str(path)):
        conn.execute("PRAGMA journal_mode = DELETE")  # no -wal beside it: the bytes say all
    conn.close()
    before = fingerprint(path)
    with pytest.raises(SchemaTooNewError, match="newer Therapy Timer"):
        open_repository(path)
    assert fingerprint(path) == before


@SQLITE_ONLY("file modes of the database, its -wal and -shm: the server keeps its own files")
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


@SQLITE_ONLY("where the SQLite file lives by default; a server is named by its URI")
def test_db_path_precedence(tmp_path):
    from therapy_timer.paths import ENV_DB, db_path

    env = {ENV_DB: str(tmp_path / "env.db")}
    assert db_path(tmp_path / "cli.db", env) == tmp_path / "cli.db"
    assert db_path(None, env) == tmp_path / "env.db"
    assert db_path(None, {}).name == "therapy-timer.db"


@contextlib.contextmanager
def app_log(folder):
    """The app's log set up as at start-up (DEBUG), taken down afterwards: yields its file."""
    import logging

    from therapy_timer.logging_setup import setup_logging

    log_file = setup_logging(folder, level=logging.DEBUG)
    logger = logging.getLogger("therapy_timer")
    try:
        yield log_file
        for handler in logger.handlers:
            handler.flush()
    finally:
        for handler in list(logger.handlers):
            if getattr(handler, "_therapy_timer", False):
                logger.removeHandler(handler)
                handler.close()
        logger.setLevel(logging.NOTSET)


@SQLITE_ONLY("time: the demo's three months take about 11 s to write to the server; the "
             "server's log is test_the_server_log_never_names_patients_nor_the_password")
def test_log_is_private_and_never_names_patients(tmp_path):
    from therapy_timer.demo import FIRST, LAST, build_demo_file

    with app_log(tmp_path / "logs") as log_file:
        build_demo_file(tmp_path / "demo.db", seed=3, end_date=T0.date())
        repo = open_repository(tmp_path / "demo.db")
        for item in repo.crashed_intervals():
            repo.resolve_crashed(item.interval.id, "stop-at-last-alive", user="t", now=T0)
        repo.close()
    text = log_file.read_text()
    assert "opened database" in text
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(log_file.parent.stat().st_mode) == 0o700
    for name in FIRST + LAST:
        assert name not in text


def test_the_server_log_never_names_patients_nor_the_password(pg_database, tmp_path):
    """The server's counterpart of the test above: a clinic written over a URI that carries a
    password (the test server trusts 127.0.0.1, so any password opens it) logs neither the
    patients' names nor the password."""
    uri = pg_database.replace("postgresql://postgres@", "postgresql://postgres:Sw0rdf1sh@")
    with app_log(tmp_path / "logs") as log_file:
        repo = open_repository(uri)
        clinic = build_clinic(repo)
        visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
        repo.start_interval(visit.id, "97110", "PT", T0)
        repo.heartbeat(T0 + timedelta(minutes=9))
        repo.close()
        repo = open_repository(uri)  # the timer left running: recovered at the next start
        for item in repo.crashed_intervals():
            repo.resolve_crashed(item.interval.id, "stop-at-last-alive", user="t", now=T0)
        repo.close()
    text = log_file.read_text()
    assert "opened the clinic server 127.0.0.1" in text
    assert "Sw0rdf1sh" not in text
    for name in ("Testa", "Patienta", "Testb", "Patientb", "1EG4TE5MK73"):
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
    assert repo.conn.execute("SELECT count(*) FROM intervals").fetchone()[0] == 121  # and the
    # finalized visit's one
    repo.close()
