"""After a simulated crash the recovery dialog appears, and each choice does what it says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import QDateTime, QSettings, Qt, QTimeZone
from PySide6.QtWidgets import QPushButton

from therapy_timer.core.formats import format_time
from therapy_timer.core.model import Performer
from therapy_timer.ui.clock import FakeClock
from therapy_timer.ui.recovery import KEEP, STOP_AT, STOP_LAST_ALIVE

LEFT = Qt.MouseButton.LeftButton
BEGAN = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
LAST_ALIVE = BEGAN + timedelta(minutes=12)
REOPENED = BEGAN + timedelta(minutes=55)


@pytest.fixture
def crashed_db(tmp_path):
    """A database file left by an app that died while 97110 ran (heartbeat at 14:12)."""
    from therapy_timer.storage.repository import open_repository

    path = tmp_path / "clinic.db"
    repo = open_repository(path)
    from tests.ui.conftest import seed_clinic

    clinic = seed_clinic(repo)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, BEGAN)
    repo.start_interval(visit.id, "97110", Performer.PT, BEGAN)
    repo.heartbeat(LAST_ALIVE)
    repo.close()  # the process is gone: nothing stopped the timer
    return path, visit.id


@pytest.fixture
def window(qtbot, crashed_db, tmp_path):
    from therapy_timer.storage.repository import open_repository
    from therapy_timer.ui.main_window import MainWindow

    path, _visit_id = crashed_db
    repo = open_repository(path)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(repo, FakeClock(REOPENED), db_path=str(path), settings=settings)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    repo.close()


def open_dialog(qtbot, window):
    with qtbot.waitSignal(window.recovery_shown, timeout=2000) as blocker:
        window.start()
    dialog = blocker.args[0]
    qtbot.waitExposed(dialog)
    return dialog


def test_dialog_shows_when_it_began_and_when_the_app_was_last_alive(qtbot, window):
    dialog = open_dialog(qtbot, window)
    [row] = dialog.rows
    local = BEGAN.astimezone()
    text = row.facts.text()
    assert format_time(local) in text
    assert format_time(LAST_ALIVE.astimezone()) in text
    assert "12 min" in text
    assert dialog.isVisible()


def test_keep_running(qtbot, window):
    dialog = open_dialog(qtbot, window)
    assert not window.heartbeat_timer.isActive()  # the last-alive time must survive until then
    with qtbot.waitSignal(dialog.resolved, timeout=2000) as blocker:
        qtbot.mouseClick(dialog.rows[0].keep, LEFT)
    [running] = window.repo.running_intervals()
    assert blocker.args[0] == {running.id: KEEP}
    assert running.heartbeat == REOPENED
    assert not dialog.isVisible()
    assert window.heartbeat_timer.isActive()
    window.clock.advance(minutes=1)
    window.heartbeat()  # on Today, the window keeps the running timer alive
    [running] = window.repo.running_intervals()
    assert running.heartbeat == REOPENED + timedelta(minutes=1)


def test_stop_at_last_alive(qtbot, window):
    dialog = open_dialog(qtbot, window)
    with qtbot.waitSignal(dialog.resolved, timeout=2000) as blocker:
        qtbot.mouseClick(dialog.rows[0].stop_alive, LEFT)
    assert window.repo.running_intervals() == []
    [stored] = window.repo.intervals_for(dialog.rows[0].crashed.interval.visit_id)
    assert stored.end == LAST_ALIVE
    assert list(blocker.args[0].values()) == [STOP_LAST_ALIVE]
    audit = window.repo.audit_entries("interval", stored.id)
    assert [(e.action, e.user) for e in audit if e.action == "recover"] == [
        ("recover", "Dana Test, PT")]


def test_stop_at_a_time_entered(qtbot, window):
    dialog = open_dialog(qtbot, window)
    row = dialog.rows[0]
    chosen = BEGAN + timedelta(minutes=31)
    row.when.setDateTime(QDateTime.fromSecsSinceEpoch(int(chosen.timestamp()),
                                                      QTimeZone.systemTimeZone()))
    with qtbot.waitSignal(dialog.resolved, timeout=2000):
        qtbot.mouseClick(row.stop_at, LEFT)
    [stored] = window.repo.intervals_for(row.crashed.interval.visit_id)
    assert stored.end == chosen
    assert stored.interval.seconds() == 31 * 60


def test_a_time_before_the_start_is_refused(qtbot, window):
    dialog = open_dialog(qtbot, window)
    row = dialog.rows[0]
    early = BEGAN - timedelta(minutes=5)
    row.when.setDateTime(QDateTime.fromSecsSinceEpoch(int(early.timestamp()),
                                                      QTimeZone.systemTimeZone()))
    qtbot.mouseClick(row.stop_at, LEFT)
    assert "before the timer began" in row.result.text()
    assert len(window.repo.running_intervals()) == 1
    assert dialog.isVisible() and row.choice is None
    assert STOP_AT not in dialog.choices.values()


def test_no_dialog_without_running_timers(qtbot, repo, clinic, clock, tmp_path):
    from therapy_timer.ui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(repo, clock, settings=settings)
    qtbot.addWidget(win)
    assert win.check_recovery() is None
    assert not [b for b in win.findChildren(QPushButton) if b.text() == "Keep it running"]
