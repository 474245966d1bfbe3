"""A station of a clinic server (issue 13): the app starts on the server ``--db`` names, shows
its address without the password, and every job that opens its own connection (the front
desk's listing and documents, File > Export, File > Backup) reaches the server with the address
as given, password included. The server here asks for passwords (scram-sha-256), so a job that
reconnected without it would fail."""

from __future__ import annotations

import csv
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog

from tests.pdf.clinic import build
from tests.pg_password import PASSWORD, password_server
from therapy_timer.storage.repository import open_repository
from therapy_timer.ui.clock import FakeClock
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.file_actions import ExportRangeDialog
from therapy_timer.ui.workers import Worker

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")
LEFT = Qt.MouseButton.LeftButton
DAY = date(2026, 11, 20)
TIMEOUT = 30000


@pytest.fixture(scope="module")
def server():
    with password_server() as running:
        yield running


@pytest.fixture(autouse=True)
def _no_pgpass(monkeypatch, tmp_path):
    """The password comes from the address only (no .pgpass of the test account)."""
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))


_names = iter(range(1, 1000))


@pytest.fixture
def station(server):
    """A new clinic database on the server (the small clinic of tests/pdf/clinic.py), and
    the address a station is given: with the password."""
    import psycopg

    name = f"station_{os.getpid()}_{next(_names)}"
    with psycopg.connect(server.uri(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    uri = server.uri(name)
    repo = open_repository(uri)
    build(repo)
    repo.close()
    return uri, name


@pytest.fixture
def window(qtbot, station, tmp_path):
    """The main window as the app opens it on a server (ui/app.py): db_path is the address
    as given."""
    from therapy_timer.ui.main_window import MainWindow

    uri, _ = station
    repo = open_repository(uri)
    worker = Worker()
    clock = FakeClock(datetime(2026, 11, 20, 23, 0, tzinfo=UTC))
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(repo, clock, db_path=uri, worker=worker, settings=settings,
                     remember_size=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
    worker.shutdown()
    repo.close()


def _menu_action(win, text):
    menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&File")
    return next(a for a in menu.actions() if a.text().replace("&", "").startswith(text))


def _save_as(monkeypatch, path, seen):
    def dialog(parent, caption, suggested, filters):
        seen.append(suggested)
        return (str(path), "")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))


def _informs(monkeypatch):
    said = []
    monkeypatch.setattr(Ask, "inform", classmethod(lambda c, p, t, x: said.append((t, x))))
    monkeypatch.setattr(Ask, "warn", classmethod(lambda c, p, t, x: said.append((t, x))))
    return said


def test_the_window_names_the_server_without_its_password(window, station, server):
    _, name = station
    assert window.statusBar().currentMessage() == \
        f"Database: postgresql://postgres@127.0.0.1:{server.port}/{name}"
    assert PASSWORD not in window.windowTitle()


def test_export_from_the_file_menu_reaches_the_server_on_its_own_connection(
        qtbot, window, tmp_path, monkeypatch):
    target = tmp_path / "charges.csv"
    _save_as(monkeypatch, target, [])
    said = _informs(monkeypatch)

    def ask(cls, parent, first, last):
        dialog = cls(first, last, parent)
        qtbot.addWidget(dialog)
        dialog.show()
        dialog.start_edit.setDate(DAY)
        dialog.end_edit.setDate(DAY)
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), LEFT)
        return dialog.dates()
    monkeypatch.setattr(ExportRangeDialog, "ask", classmethod(ask))
    with qtbot.waitSignal(window.file_actions.exported, timeout=TIMEOUT) as done:
        _menu_action(window, "Export charge lines (CSV)").trigger()
    with target.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == done.args[1] > 0
    assert {r["service_date"] for r in rows} == {"2026-11-20"}
    assert [title for title, _ in said] == ["Export finished"]


def test_backup_from_the_file_menu_writes_the_servers_clinic_to_a_file(
        qtbot, window, station, tmp_path, monkeypatch):
    _, name = station
    target = tmp_path / "copy.sqlite"
    seen = []
    _save_as(monkeypatch, target, seen)
    said = _informs(monkeypatch)
    with qtbot.waitSignal(window.file_actions.backed_up, timeout=TIMEOUT):
        _menu_action(window, "Backup").trigger()
    assert seen[0].endswith(f"{name}-backup-2026-11-20.sqlite")
    (title, text), = said
    assert title == "Backup finished" and str(target) in text and PASSWORD not in text
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("SELECT count(*) FROM visits").fetchone()[0] == \
            window.repo.conn.execute("SELECT count(*) FROM visits").fetchone()[0] == 3
    finally:
        copy.close()
    repo = open_repository(target)
    try:
        assert repo.verify_report().ok
    finally:
        repo.close()


def test_the_front_desk_lists_and_prints_from_the_server(qtbot, station):
    """The desk's listing and its day sheet run on the worker, each on its own connection."""
    from therapy_timer.ui.frontdesk import FrontDeskPage

    uri, _ = station
    repo = open_repository(uri)
    worker = Worker()
    try:
        clock = FakeClock(datetime(2026, 11, 20, 23, 0, tzinfo=UTC))
        with qtbot.waitSignal(worker.idle, timeout=TIMEOUT):
            page = FrontDeskPage(repo, worker, clock=clock, user="Front Desk")
        qtbot.addWidget(page)
        page.set_range(DAY, DAY)
        page.show()
        qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=TIMEOUT)
        assert page.summary.text().startswith("2 finalized visits on 11/20/2026")
        assert page.summary.text().endswith(" 1 visit is still open (not billable yet).")
        with qtbot.waitSignal(page.document_ready, timeout=TIMEOUT) as ready:
            qtbot.mouseClick(page.daysheet_button, LEFT)
        assert ready.args == ["daysheet"]
    finally:
        worker.shutdown()
        repo.close()


def _start(args, tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PGPASSFILE=str(tmp_path / "none"))
    return subprocess.run([sys.executable, "-m", "therapy_timer", *args, "--check"],
                          capture_output=True, text=True, timeout=120, env=env)


def test_the_app_starts_on_the_server_and_logs_no_password(station, tmp_path):
    uri, name = station
    result = _start(["--db", uri], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ready"
    assert PASSWORD not in result.stdout + result.stderr
    from therapy_timer.paths import log_dir

    log = (log_dir() / "therapy-timer.log").read_text()
    assert "opened the clinic server 127.0.0.1:" in log and name in log
    assert PASSWORD not in log


def test_the_app_on_a_wrong_password_says_so_in_one_line(station, server, tmp_path):
    _, name = station
    result = _start(["--db", server.uri(name, password="wrong-one")], tmp_path)
    assert result.returncode == 1
    assert "ready" not in result.stdout
    assert result.stderr == (
        f"therapy-timer: the clinic server 127.0.0.1:{server.port}/{name} refused the password "
        "(wrong password, or no password found in .pgpass or the service file); nothing was "
        "changed\n")
