"""Auto-lock: idle time from the injected clock, a lock screen that hides names, PIN unlock."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QMainWindow, QPushButton, QVBoxLayout, QWidget

from tests.ui.shots import saved_shot
from therapy_timer.core.model import Discipline, Performer
from therapy_timer.core.records import Provider
from therapy_timer.storage.repository import open_repository
from therapy_timer.ui.clock import FakeClock
from therapy_timer.ui.lock import LOCKOUT_SECONDS, MAX_TRIES, LockController
from therapy_timer.ui.settings import set_lock_minutes

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")
PATIENT = "Sample, Ada"


@pytest.fixture
def shots(tmp_path):
    return Path(os.environ.get("THERAPY_TIMER_SHOTS", tmp_path))


@pytest.fixture
def store():
    repo = open_repository(":memory:")
    dana = repo.save_provider(Provider("Dana Test", Discipline.PT, Performer.PT,
                                       credentials="PT"), pin="2468")
    lee = repo.save_provider(Provider("Lee Test", Discipline.PT, Performer.PTA,
                                      credentials="PTA"))
    repo.dana, repo.lee = dana, lee
    yield repo
    repo.close()


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))


@pytest.fixture
def window(qtbot):
    win = QMainWindow()
    win.setWindowTitle("Therapy Timer")
    central = QWidget()
    layout = QVBoxLayout(central)
    win.patient_label = QLabel(PATIENT)
    win.button = QPushButton("Pause")
    win.presses = []
    win.button.clicked.connect(lambda: win.presses.append("click"))
    shortcut = QShortcut(QKeySequence(Qt.Key.Key_Space), win)
    shortcut.activated.connect(lambda: win.presses.append("space"))
    layout.addWidget(win.patient_label)
    layout.addWidget(win.button)
    win.setCentralWidget(central)
    qtbot.addWidget(win)
    win.resize(640, 420)  # inside the 800x600 offscreen screen
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def qsettings(tmp_path):
    settings = QSettings(str(tmp_path / "app.ini"), QSettings.Format.IniFormat)
    set_lock_minutes(5, settings)
    return settings


@pytest.fixture
def lock(qtbot, window, clock, store, qsettings):
    controller = LockController(window, clock, store, settings=qsettings,
                                current_provider=lambda: store.dana.id)
    controller.timer.stop()  # tests call check() after moving the clock
    yield controller
    controller.lock_screen.hide()
    controller.detach()


def _visible_texts(widget):
    texts = []
    for child in widget.findChildren(QWidget):
        if child.isVisible():
            for attr in ("text", "currentText", "placeholderText"):
                getter = getattr(child, attr, None)
                if getter is not None:
                    texts.append(getter())
    return " | ".join(texts)


def test_locks_after_idle_minutes_from_settings(qtbot, lock, clock):
    clock.advance(minutes=4, seconds=59)
    assert not lock.check()
    clock.advance(seconds=1)
    with qtbot.waitSignal(lock.locked, timeout=1000, raising=False):
        assert lock.check()
    assert lock.is_locked


def test_activity_resets_idle_time(qtbot, lock, clock, window):
    clock.advance(minutes=4)
    qtbot.mouseMove(window.button)
    qtbot.keyClick(window.button, Qt.Key.Key_A)
    clock.advance(minutes=4)
    assert not lock.check()
    clock.advance(minutes=1)
    assert lock.check()


def test_sleep_counts_as_idle(lock, clock):
    clock.sleep(minutes=30)  # monotonic clock stood still; the wall clock moved
    assert lock.check()


def test_zero_minutes_never_locks(lock, clock, qsettings):
    set_lock_minutes(0, qsettings)
    clock.advance(minutes=600)
    assert not lock.check()


def test_lock_screen_hides_patient_names_and_covers_window(qtbot, lock, window, shots):
    lock.lock()
    screen = lock.lock_screen
    qtbot.waitExposed(screen)
    assert screen.isVisible()
    assert screen.geometry().contains(window.geometry())
    texts = _visible_texts(screen)
    assert PATIENT not in texts
    assert "Therapy Timer is locked" in texts
    assert "Dana Test" in screen.provider_box.currentText()
    assert window.windowTitle() == "Therapy Timer (locked)"
    assert not window.patient_label.isVisible()  # the page underneath is hidden as well
    saved_shot(screen, shots / "lock-screen.png", texts=["Therapy Timer is locked", "Dana Test"])


def test_input_to_the_window_is_swallowed_while_locked(qtbot, lock, window):
    lock.lock()
    qtbot.mouseClick(window.button, Qt.MouseButton.LeftButton)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.presses == []


def test_pin_required_and_checked(qtbot, lock, store, window):
    lock.lock()
    screen = lock.lock_screen
    assert screen.pin_edit.isVisible()
    qtbot.mouseClick(screen.unlock_button, Qt.MouseButton.LeftButton)
    assert screen.message.text() == "Enter the PIN for Dana Test."
    qtbot.keyClicks(screen.pin_edit, "1111")
    qtbot.keyClick(screen.pin_edit, Qt.Key.Key_Return)
    assert screen.message.text() == ("Wrong PIN for Dana Test. 4 more wrong tries and "
                                     "unlocking waits 30 s.")
    assert lock.is_locked and screen.pin_edit.text() == ""
    with qtbot.waitSignal(lock.unlocked, timeout=2000) as blocker:
        qtbot.keyClicks(screen.pin_edit, "2468")
        qtbot.keyClick(screen.pin_edit, Qt.Key.Key_Return)
    assert blocker.args[0].name == "Dana Test"
    assert not lock.is_locked
    assert window.windowTitle() == "Therapy Timer"
    assert window.patient_label.isVisible()
    qtbot.mouseClick(window.button, Qt.MouseButton.LeftButton)
    assert window.presses == ["click"]


def test_current_provider_may_be_a_provider_object(qtbot, window, clock, store, qsettings):
    controller = LockController(window, clock, store, settings=qsettings,
                                current_provider=lambda: store.dana)
    controller.timer.stop()
    controller.lock()
    assert controller.lock_screen.provider_box.currentData() == store.dana.id
    assert controller.unlock(store.dana.id, "2468")
    controller.detach()


def test_provider_without_pin_unlocks_with_a_tap_while_nobody_has_a_pin(qtbot, lock, store):
    store.save_provider(store.dana, pin="", current_pin="2468")  # PINs not in use here
    lock.lock()
    screen = lock.lock_screen
    screen.provider_box.setCurrentIndex(screen.provider_box.findData(store.lee.id))
    assert not screen.pin_edit.isVisible()
    with qtbot.waitSignal(lock.unlocked, timeout=2000) as blocker:
        qtbot.mouseClick(screen.unlock_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].name == "Lee Test"


def test_too_many_wrong_pins_wait(qtbot, lock, clock, store):
    lock.lock()
    for _ in range(MAX_TRIES):
        assert not lock.unlock(store.dana.id, "0000")
    assert "wait 30 s" in lock.lock_screen.message.text()
    assert not lock.unlock(store.dana.id, "2468")  # even the right PIN waits
    clock.advance(LOCKOUT_SECONDS)
    assert lock.unlock(store.dana.id, "2468")


def test_wrong_pins_and_the_wait_survive_restarting_the_app(qtbot, window, clock, store,
                                                            qsettings):
    # Issue 11, item 9: closing and reopening the app must not reset the count (the count
    # and the wait are kept per computer in QSettings, read back at start).
    def restarted():
        controller = LockController(window, clock, store, settings=qsettings,
                                    current_provider=lambda: store.dana.id)
        controller.timer.stop()
        controller.lock()
        return controller

    first = restarted()
    for _ in range(MAX_TRIES - 1):
        assert not first.unlock(store.dana.id, "0000")
    first.lock_screen.hide()
    first.detach()
    second = restarted()
    assert not second.unlock(store.dana.id, "0000")  # the fifth wrong PIN, not the first
    assert "wait 30 s" in second.lock_screen.message.text()
    second.lock_screen.hide()
    second.detach()
    third = restarted()
    assert not third.unlock(store.dana.id, "2468")  # the wait outlives the restart too
    clock.advance(LOCKOUT_SECONDS)
    assert third.unlock(store.dana.id, "2468")
    third.detach()
