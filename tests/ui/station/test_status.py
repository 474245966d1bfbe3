"""The status bar says where the data is and whether the server answers (issue 14, item 5):
this computer's file, or the clinic server and the station's name, "Connected" or "Not
connected since" the moment a heartbeat found it gone. Also: on a server, another room's
running timer does not keep this station from switching; its own does. The pictures of
Settings > This computer and of a second station go to the README."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QWidget

from tests.pg_server import Server
from tests.ui.conftest import seed_clinic
from tests.ui.shots import saved_shot
from therapy_timer.core.records import Practice
from therapy_timer.storage.repository import open_repository
from therapy_timer.ui.clock import FakeClock
from therapy_timer.ui.settings import Page, SettingsDialog
from therapy_timer.ui.station import target
from therapy_timer.ui.station.this_computer import ThisComputerPage
from therapy_timer.ui.workers import Worker

LEFT = Qt.MouseButton.LeftButton
NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 8:00 AM in Chicago


@pytest.fixture(autouse=True)
def _answers(monkeypatch):
    monkeypatch.setattr(Page, "ask_discard", classmethod(lambda cls, parent, what: True))
    monkeypatch.setattr(ThisComputerPage, "ask_restart",
                        classmethod(lambda cls, parent, where: False))


@pytest.fixture
def qsettings(tmp_path):
    settings = QSettings(str(tmp_path / "station.ini"), QSettings.Format.IniFormat)
    settings.setValue("station/name", "Room 2")
    return settings


def _clinic(repo):
    clinic = seed_clinic(repo)
    repo.save_practice(Practice("Harbor Test Therapy", timezone="America/Chicago"))
    return clinic


def _window(qtbot, repo, qsettings, db_path):
    from therapy_timer.ui.main_window import MainWindow

    worker = Worker()
    win = MainWindow(repo, FakeClock(NOW), db_path=db_path, worker=worker, settings=qsettings,
                     remember_size=False)
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.show()
    qtbot.waitExposed(win)
    return win


def _close(win):
    win.close()
    win.worker.shutdown()


def test_on_this_computers_file(qtbot, qsettings):
    repo = open_repository(Path.home() / "clinic.db")
    _clinic(repo)
    win = _window(qtbot, repo, qsettings, str(repo.path))
    status = win.station_status
    assert status.isVisible() and status.parent() is win.statusBar()
    assert status.text() == "This computer: ~/clinic.db"
    assert status.check() and status.text() == "This computer: ~/clinic.db"
    _close(win)
    repo.close()


def test_on_a_server_connected_then_not(qtbot, qsettings, shots):
    server = Server().init().start()
    try:
        uri = server.new_database()
        repo = open_repository(uri)
        _clinic(repo)
        win = _window(qtbot, repo, qsettings, uri)
        name = uri.rsplit("/", 1)[1]
        status = win.station_status
        assert status.text() == f"Clinic server 127.0.0.1:{server.port}/{name} · Room 2 · " \
                                "Connected"
        target.set_station_name("Front desk", qsettings)
        status.refresh()  # what closing Settings does
        assert status.text().endswith(" · Front desk · Connected")
        # The server goes away: the next heartbeat says so, and since when. (The store's own
        # heartbeat write meets psycopg's "connection is closed" untranslated until the
        # reconnecting connection lands: only the status check runs on this heartbeat.)
        win.heartbeat_timer.timeout.disconnect(win.heartbeat)
        win.heartbeat_timer.setInterval(50)
        win.heartbeat_timer.start()
        server.stop()
        qtbot.waitUntil(lambda: not status.connected, timeout=10000)
        assert status.text() == (f"Clinic server 127.0.0.1:{server.port}/{name} · Front desk · "
                                 "Not connected since 8:00 AM")
        assert status.since == NOW
        saved_shot(win.statusBar(), shots / "station-not-connected.png", texts=[status.text()])
        win.clock.advance(60)
        qtbot.wait(200)  # more failed heartbeats: still since the first
        assert status.text().endswith("Not connected since 8:00 AM")
        win.heartbeat_timer.stop()
        _close(win)
        repo.close()
    finally:
        server.destroy()


def test_on_a_server_only_this_stations_timer_refuses_a_switch(qtbot, qsettings, pg_database):
    repo = open_repository(pg_database)
    clinic = _clinic(repo)
    other_room = open_repository(pg_database)
    theirs = other_room.start_visit(clinic.patient2.id, clinic.pt2.id, None, NOW)
    other_room.start_interval(theirs.id, "97110", "PT", NOW)
    port, name = int(pg_database.rsplit(":", 1)[1].split("/")[0]), pg_database.rsplit("/")[-1]
    target.save_choice(target.ServerChoice("127.0.0.1", port, name, "postgres", "disable"),
                       qsettings)
    win = _window(qtbot, repo, qsettings, pg_database)
    dialog = SettingsDialog(repo, parent=win, settings=qsettings)
    qtbot.addWidget(dialog)
    dialog.show()
    page = dialog.station
    qtbot.mouseClick(page.local, LEFT, pos=QPoint(8, page.local.height() // 2))
    # Another room's timer: this computer may switch (that timer is timed there).
    assert repo.running_intervals()
    mine = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, NOW)
    win.controller.open_visit(mine.id)
    assert win.controller.start("97530")
    qtbot.mouseClick(page.save_button, LEFT)
    assert page.message.text().startswith("Not switched: a timer is running on this computer "
                                          "(97530).")
    assert win.controller.stop("97530")
    qtbot.mouseClick(page.save_button, LEFT)
    assert page.message.text().startswith("Saved: this station is 'Room 2'; from the next "
                                          "start it opens this computer's file ")
    dialog.close()
    _close(win)
    other_room.close()
    repo.close()


def test_pictures_of_the_page_and_of_a_second_station(qtbot, pg_server, pg_template, shots,
                                                     tmp_path):
    """Settings > This computer at the front desk after a Test connection, and the front
    desk's window on the clinic server (the second station of a clinic)."""
    if not pg_server.sql("SELECT 1 FROM pg_database WHERE datname = 'therapy_timer'"):
        pg_server.sql(f"CREATE DATABASE therapy_timer TEMPLATE {pg_template}")
    uri = pg_server.uri("therapy_timer")
    repo = open_repository(uri)
    if not repo.list_providers():
        clinic = _clinic(repo)
        # Room 1 times a visit; the front desk (this window) shows it on Today.
        room1 = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, NOW)
        repo.start_interval(room1.id, "97110", "PT", NOW)
    settings = QSettings(str(tmp_path / "front-desk.ini"), QSettings.Format.IniFormat)
    settings.clear()
    target.set_station_name("Front desk", settings)
    target.save_choice(target.ServerChoice("127.0.0.1", pg_server.port, "therapy_timer",
                                           "postgres", "disable"), settings)
    from therapy_timer.ui.style import APP_STYLE

    win = _window(qtbot, repo, settings, uri)
    win.setStyleSheet(APP_STYLE)  # what the app applies to every window: the README's look
    for child in win.findChildren(QWidget):  # sized again in the style's type, as at start
        child.updateGeometry()
    dialog = SettingsDialog(repo, parent=win, settings=settings)
    qtbot.addWidget(dialog)
    dialog.resize(900, 640)
    dialog.show()
    dialog.tabs.setCurrentWidget(dialog.workstation)
    page = dialog.station
    assert page.server.isChecked() and page.station.text() == "Front desk"
    with qtbot.waitSignal(page.tested, timeout=20000):
        qtbot.mouseClick(page.test_button, LEFT)
    assert page.test_result.text().startswith("Connected: clinic Harbor Test Therapy, 2 "
                                              "patients, schema ")
    saved_shot(dialog, shots / "station-settings.png",
               texts=["Test connection", "Front desk", page.test_result.text()])
    dialog.close()
    status = win.station_status
    assert status.text() == f"Clinic server 127.0.0.1:{pg_server.port}/therapy_timer · " \
                            "Front desk · Connected"
    win.show_today()
    win.today.refresh()
    model = win.today.model
    assert [model.index(0, c).data() for c in (1, 4)] == ["Sample, Ada", "running"]
    saved_shot(win, shots / "station-status.png", texts=[status.text()])
    _close(win)
    repo.close()
