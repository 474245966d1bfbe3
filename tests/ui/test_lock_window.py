"""The lock screen in the real main window (issue 16, items 8 and 9): it shows the running
timers (codes, time, next-unit countdown) and never a name; a PIN, once any provider has one,
is the only way back in; whoever unlocks is the acting user; closing locked restarts locked;
an open dialog hides its title and contents under the lock."""

from __future__ import annotations

from datetime import date

import pytest
from PySide6.QtCore import QPoint, QRect, QSettings, QSize, Qt
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QWidget

from tests.ui.shots import saved_shot
from therapy_timer.ui.lock import LOCKED_KEY, LOCKOUT_SECONDS, MAX_TRIES
from therapy_timer.ui.settings import set_lock_minutes

LEFT = Qt.MouseButton.LeftButton
NAMES = ("Sample", "Ada", "Example", "Ben")  # the synthetic patients' names


@pytest.fixture
def settings(tmp_path):
    store = QSettings(str(tmp_path / "station.ini"), QSettings.Format.IniFormat)
    set_lock_minutes(5, store)
    return store


@pytest.fixture
def pins(clinic):
    """Dana (the visit's PT) and Robin have PINs; Lee (the PTA) has none."""
    clinic.repo.save_provider(clinic.pt, pin="2468")
    clinic.repo.save_provider(clinic.pt2, pin="1357")
    return clinic


def _window(qtbot, clinic, clock, settings, size=(1366, 768)):
    from therapy_timer.ui.main_window import MainWindow

    win = MainWindow(clinic.repo, clock, settings=settings)
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    win.start()
    win.lock.timer.stop()  # the test calls check() after moving the FakeClock
    return win


@pytest.fixture
def win(qtbot, clinic, clock, settings):
    window = _window(qtbot, clinic, clock, settings)
    yield window
    window.close()


def _start_97110(qtbot, win, clinic, clock, minutes=10):
    """Dana starts Ada's visit from Today and taps 97110; nobody touches the computer."""
    win.today.set_provider(clinic.pt.id)
    win.today.start_for(clinic.patient.id)
    win.controller.timer.stop()
    qtbot.mouseClick(win.visit_panel.tiles.tiles["97110"], LEFT)
    assert win.controller.running_codes() == ("97110",)
    clock.advance(minutes=minutes)


def test_the_lock_screen_counts_units_as_the_visit_screen_does(qtbot, pins, clock, win):
    """A Medicare patient's hot pack beside 97110: documented, not billed, on both screens."""
    _start_97110(qtbot, win, pins, clock, minutes=0)
    qtbot.mouseClick(win.visit_panel.tiles.tiles["97010"], LEFT)
    clock.advance(minutes=10)
    win.controller.tick()
    assert win.visit_panel.totals.units.value.text() == "1"
    assert win.lock.check()
    card = win.lock.lock_screen.board.cards[0]
    assert card.units.text() == "1 UNIT SO FAR"


def _visible_texts(widget: QWidget) -> str:
    texts = [widget.windowTitle()]
    for child in widget.findChildren(QWidget):
        if child.isVisible():
            for attr in ("text", "currentText", "placeholderText", "windowTitle", "toolTip",
                         "accessibleName"):
                getter = getattr(child, attr, None)
                if getter is not None:
                    texts.append(getter())
    return " | ".join(texts)


def _type_pin(qtbot, screen, provider_id, pin):
    box = screen.provider_box
    box.setFocus()
    while box.currentData() != provider_id:  # choose with the keyboard, as a user would
        before = box.currentIndex()
        qtbot.keyClick(box, Qt.Key.Key_Down)
        if box.currentIndex() == before:
            qtbot.keyClick(box, Qt.Key.Key_Home)
    qtbot.keyClicks(screen.pin_edit, pin)
    qtbot.mouseClick(screen.unlock_button, LEFT)


# -- item 8: the running timer on the lock screen --------------------------------------------


def test_idle_lock_with_a_running_timer_shows_codes_time_and_countdown_and_no_name(
        qtbot, pins, clock, win, tmp_path):
    _start_97110(qtbot, win, pins, clock, minutes=10)
    assert win.lock.check()  # 10 idle minutes: the name is hidden...
    screen = win.lock.lock_screen
    qtbot.waitExposed(screen)
    board = screen.board
    assert board.isVisible()  # ...the timer is not
    card = board.cards[0]
    assert card.isVisible() and len([c for c in board.cards if c.isVisible()]) == 1
    assert card.codes[0].text() == "▶ 97110"
    assert card.labels[0].text() == "Therapeutic exercise"
    assert card.times[0].text() == "10:00"
    # The visit screen's own countdown (CMS: the second unit at 23 minutes).
    facts = win.controller.facts()
    assert facts.seconds_to_next_unit == 13 * 60
    assert card.next_unit.text() == "13:00"
    assert card.units.text() == "1 UNIT SO FAR"
    assert card.since.text() == "ON THE CLOCK SINCE 2:00 PM"  # 14:00 UTC, no zone set: UTC
    texts = _visible_texts(screen)
    assert not any(name in texts for name in NAMES), texts
    assert "Dana Test, PT" in screen.provider_box.currentText()  # a provider, never a patient
    assert win.windowTitle() == "Therapy Timer (locked)"
    assert not win.visit_panel.isVisible() and not win.visit_panel.title.isVisible()
    # Large type: the numbers read across the room.
    assert card.next_unit.font().pixelSize() >= 60 and card.times[0].font().pixelSize() >= 40
    # The board follows the clock every second (the lock screen's own 1 s tick).
    clock.advance(seconds=1)
    qtbot.waitUntil(lambda: card.times[0].text() == "10:01", timeout=3000)
    assert card.next_unit.text() == "12:59"
    # The timer kept running in the store all along: idle treatment time is not lost.
    running = pins.repo.running_intervals()
    assert [i.code for i in running] == ["97110"]
    # Unlocked, the visit screen shows the same countdown.
    _type_pin(qtbot, screen, pins.pt.id, "2468")
    assert not win.lock.is_locked
    win.visit_panel.on_tick()
    assert win.visit_panel.totals.next_unit.value.text() == "12:59"
    assert win.visit_panel.title.text() == "Sample, Ada"


def test_lock_screen_screenshots_at_both_sizes(qtbot, pins, clock, win, shots):
    _start_97110(qtbot, win, pins, clock, minutes=14)
    qtbot.mouseClick(win.visit_panel.tiles.tiles["97010"], LEFT)  # a hot pack alongside
    clock.advance(minutes=3, seconds=25)
    for size in ((1366, 768), (1024, 700)):
        win.resize(*size)
        qtbot.wait(10)
        win.lock.lock()
        screen = win.lock.lock_screen
        qtbot.waitExposed(screen)
        # The offscreen platform's screen is 800 x 800; on a real screen the lock covers the
        # whole window.
        screen.setGeometry(QRect(QPoint(0, 0), QSize(*size)))
        qtbot.wait(10)
        card = screen.board.cards[0]
        assert [c.text() for c in card.codes if c.isVisible()] == ["▶ 97110", "▶ 97010"]
        assert [c.text() for c in card.labels if c.isVisible()] == [
            "Therapeutic exercise", "Hot or cold packs"]
        assert [t.text() for t in card.times if t.isVisible()] == ["17:25", "3:25"]
        assert card.next_unit.text() == "5:35"
        # Everything fits: the board and the unlock button lie inside the screen.
        for widget in (card.next_unit, card.times[1], screen.unlock_button, screen.pin_edit):
            corner = widget.mapTo(screen, widget.rect().bottomRight())
            assert screen.rect().contains(corner), (size, widget)
        saved_shot(screen, shots / f"lock-{size[0]}x{size[1]}.png",
                   texts=["Therapy Timer is locked"])
        texts = _visible_texts(screen)
        assert not any(name in texts for name in NAMES), texts
        _type_pin(qtbot, screen, pins.pt.id, "2468")
        assert not win.lock.is_locked


def _fits(screen, widgets):
    for widget in widgets:
        corner = widget.mapTo(screen, widget.rect().bottomRight())
        origin = widget.mapTo(screen, widget.rect().topLeft())
        assert screen.rect().contains(corner) and screen.rect().contains(origin), widget


def test_manual_lock_shows_every_visit_on_the_clock(qtbot, pins, clock, win, shots):
    """Two patients on the clock (the PT's and the PTA's): one card each, still no names;
    four: smaller cards, two a row, all inside a 1024 x 700 window."""
    from therapy_timer.core.model import Discipline, Performer
    from therapy_timer.core.records import Patient, Provider

    repo = pins.repo
    other = repo.start_visit(pins.patient2.id, pins.pta.id, None, clock.now())
    repo.start_interval(other.id, "97530", Performer.PTA, clock.now())
    _start_97110(qtbot, win, pins, clock, minutes=2)
    win.resize(1024, 700)
    qtbot.keyClick(win, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)  # Lock (Ctrl+L)
    assert win.lock.is_locked
    screen = win.lock.lock_screen
    screen.setGeometry(QRect(0, 0, 1024, 700))  # the offscreen screen is 800 x 800
    cards = [c for c in screen.board.cards if c.isVisible()]
    assert [c.codes[0].text() for c in cards] == ["▶ 97110", "▶ 97530"]
    assert [c.times[0].text() for c in cards] == ["2:00", "2:00"]
    assert [c.next_unit.text() for c in cards] == ["6:00", "6:00"]
    qtbot.wait(10)
    _fits(screen, [c.next_unit for c in cards] + [screen.unlock_button])
    saved_shot(screen, shots / "lock-two-visits-1024x700.png", texts=["Therapy Timer is locked"])
    for first, code in (("Cy", "97112"), ("Di", "97116")):
        patient = repo.save_patient(Patient(first, "Testcase", date(1960, 1, 1)))
        provider = repo.save_provider(Provider(f"{first} Therapist, PT", Discipline.PT,
                                               Performer.PT))
        visit = repo.start_visit(patient.id, provider.id, None, clock.now())
        repo.start_interval(visit.id, code, Performer.PT, clock.now())
    clock.advance(seconds=30)
    win.lock.check()  # every few seconds while locked: timers started elsewhere show up
    cards = [c for c in screen.board.cards if c.isVisible()]
    assert [c.codes[0].text() for c in cards] == ["▶ 97110", "▶ 97530", "▶ 97112", "▶ 97116"]
    assert [c.times[0].text() for c in cards] == ["2:30", "2:30", "0:30", "0:30"]
    assert screen.board.compact
    qtbot.wait(10)
    _fits(screen, [c.next_unit for c in cards] + [screen.unlock_button])
    saved_shot(screen, shots / "lock-four-visits-1024x700.png", texts=["Therapy Timer is locked"])
    texts = _visible_texts(screen)
    assert not any(name in texts for name in (*NAMES, "Testcase", "Cy", "Di"))


def test_nothing_running_shows_no_board(qtbot, pins, clock, win):
    clock.advance(minutes=6)
    assert win.lock.check()
    assert not win.lock.lock_screen.board.isVisible()


# -- item 9: the PIN ---------------------------------------------------------------------------


def test_unlock_as_a_provider_without_a_pin_is_refused(qtbot, pins, clock, win):
    _start_97110(qtbot, win, pins, clock, minutes=1)
    win.lock.lock()
    screen = win.lock.lock_screen
    box = screen.provider_box
    assert "Lee Test, PTA  (no PIN: cannot unlock)" in [box.itemText(i)
                                                        for i in range(box.count())]
    box.setFocus()
    while box.currentData() != pins.pta.id:
        qtbot.keyClick(box, Qt.Key.Key_Down)
    assert not screen.pin_edit.isVisible()
    assert not screen.unlock_button.isEnabled()
    assert "Lee Test, PTA has no PIN" in screen.message.text()
    assert "Settings > Providers" in screen.message.text()  # how to set one
    qtbot.mouseClick(screen.unlock_button, LEFT)
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert win.lock.is_locked
    # Not through the controller either, nor as "nobody".
    assert not win.lock.unlock(pins.pta.id, "")
    assert "has no PIN" in screen.message.text()
    assert not win.lock.unlock(None, "")
    assert win.lock.is_locked and not win.visit_panel.isVisible()
    # A deactivated provider's PIN no longer opens it.
    import dataclasses

    pins.repo.save_provider(dataclasses.replace(pins.pt2, active=False))
    assert not win.lock.unlock(pins.pt2.id, "1357")
    assert win.lock.is_locked


def test_unlocking_as_someone_else_makes_them_the_acting_user(qtbot, pins, clock, win):
    _start_97110(qtbot, win, pins, clock, minutes=3)
    win.lock.lock()
    screen = win.lock.lock_screen
    assert screen.provider_box.currentData() == pins.pt.id  # the visit's PT preselected
    _type_pin(qtbot, screen, pins.pt2.id, "1357")
    assert not win.lock.is_locked
    assert win.controller.user == "Robin Test, PT"
    unlocked = pins.repo.audit_entries("provider", limit=1)[0]
    assert (unlocked.action, unlocked.user) == ("unlock", "Robin Test, PT")
    # The next audited action names Robin, not the visit's provider.
    qtbot.mouseClick(win.visit_panel.tiles.tiles["97112"], LEFT)
    entry = pins.repo.audit_entries("interval", limit=1)[0]
    assert (entry.action, entry.user) == ("start_interval", "Robin Test, PT")
    assert win.today.user == "Robin Test, PT"
    assert win.frontdesk.user == "Robin Test, PT"


def test_wrong_pin_says_so_and_waits_after_five(qtbot, pins, clock, win, settings):
    win.lock.lock()
    screen = win.lock.lock_screen
    _type_pin(qtbot, screen, pins.pt.id, "0000")
    assert screen.message.text().startswith("Wrong PIN for Dana Test, PT.")
    for _ in range(MAX_TRIES - 1):
        qtbot.keyClicks(screen.pin_edit, "9999")
        qtbot.keyClick(screen.pin_edit, Qt.Key.Key_Return)
    assert "wait 30 s" in screen.message.text()
    assert not screen.pin_edit.isEnabled() and not screen.unlock_button.isEnabled()
    assert not win.lock.unlock(pins.pt.id, "2468")  # even the right PIN waits
    # Closing and starting again does not skip the wait.
    win.close()
    again = _window(qtbot, pins, clock, settings)
    assert again.lock.is_locked
    assert not again.lock.unlock(pins.pt.id, "2468")
    assert "wait" in again.lock.lock_screen.message.text()
    clock.advance(LOCKOUT_SECONDS)
    again.lock.tick()
    assert again.lock.lock_screen.pin_edit.isEnabled()
    _type_pin(qtbot, again.lock.lock_screen, pins.pt.id, "2468")
    assert not again.lock.is_locked
    again.close()


def test_closed_while_locked_starts_locked(qtbot, pins, clock, settings):
    first = _window(qtbot, pins, clock, settings)
    first.lock.lock()
    assert settings.value(LOCKED_KEY, type=bool)
    screen = first.lock.lock_screen
    first.close()  # closing the locked window...
    assert not screen.isVisible()  # (it does not keep a closed app running)
    second = _window(qtbot, pins, clock, settings)  # ...and starting again
    assert second.lock.is_locked
    assert second.windowTitle() == "Therapy Timer (locked)"
    assert not second.today.isVisible()
    _type_pin(qtbot, second.lock.lock_screen, pins.pt.id, "2468")
    assert not second.lock.is_locked and second.today.isVisible()
    second.close()
    third = _window(qtbot, pins, clock, settings)  # closed unlocked: starts unlocked
    assert not third.lock.is_locked
    third.close()


def test_the_lock_screen_cannot_be_closed_away(qtbot, pins, clock, win):
    win.lock.lock()
    screen = win.lock.lock_screen
    assert not screen.close()  # Alt+F4 on the lock screen
    assert win.lock.is_locked and screen.isVisible()


def test_an_open_patient_dialog_shows_no_name_under_the_lock(qtbot, pins, clock, win):
    """The patient editor is left open (modal, as Today opens it); the lock hides its title
    and contents without closing it, and brings both back, typing kept, on unlock."""
    from therapy_timer.ui.patients import PatientDialog

    dialog = PatientDialog(pins.repo, pins.patient.id, win, user="Dana Test, PT",
                           today=date(2026, 3, 2))
    seen = {}

    def while_open():
        assert "Sample, Ada" in dialog.windowTitle()
        qtbot.keyClicks(dialog.phone, "x")
        win.lock.lock()
        seen["title"] = dialog.windowTitle()
        seen["texts"] = _visible_texts(dialog)
        seen["open"] = dialog.isVisible()
        # A question box opening while locked is hidden too.
        box = QMessageBox(QMessageBox.Icon.Information, "About Sample, Ada", "Sample, Ada",
                          parent=win)
        box.setWindowModality(Qt.WindowModality.ApplicationModal)
        box.show()
        seen["box"] = (box.windowTitle(), _visible_texts(box))
        # The lock screen is put back on top of the modal stack: it keeps the keyboard.
        qtbot.waitUntil(lambda: QApplication.activeModalWidget() is win.lock.lock_screen,
                        timeout=2000)
        box.hide()
        seen["lock_texts"] = _visible_texts(win.lock.lock_screen)
        _type_pin(qtbot, win.lock.lock_screen, pins.pt.id, "2468")
        seen["after"] = dialog.windowTitle()
        seen["edit"] = dialog.phone.text()
        dialog.done(QDialog.DialogCode.Rejected)  # (Close would ask about the typing)

    dialog.setWindowModality(Qt.WindowModality.ApplicationModal)  # as exec() shows it
    dialog.show()
    qtbot.waitExposed(dialog)
    while_open()
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert seen["open"]  # the dialog stayed open under the lock (nothing typed is lost)
    assert seen["title"] == "Therapy Timer (locked)"
    assert not any(name in seen["texts"] for name in NAMES), seen["texts"]
    assert seen["box"][0] == "Therapy Timer (locked)"
    assert not any(name in seen["box"][1] for name in NAMES), seen["box"]
    assert not any(name in seen["lock_texts"] for name in NAMES)
    assert "Sample, Ada" in seen["after"]
    assert seen["edit"].endswith("x")


def test_without_any_pin_a_tap_unlocks_and_names_the_user(qtbot, clinic, clock, win, shots):
    win.lock.lock()
    screen = win.lock.lock_screen
    screen.setGeometry(QRect(0, 0, 1024, 700))
    qtbot.wait(10)
    saved_shot(screen, shots / "lock-no-pin-1024x700.png", texts=["Therapy Timer is locked"])
    assert not screen.pin_edit.isVisible()
    assert screen.hint.text() == "Patient details are hidden. Pick who you are to continue."
    box = screen.provider_box
    box.setFocus()
    while box.currentData() != clinic.pta.id:
        qtbot.keyClick(box, Qt.Key.Key_Down)
    qtbot.mouseClick(screen.unlock_button, LEFT)
    assert not win.lock.is_locked
    assert win.controller.user == "Lee Test, PTA"


def test_settings_say_what_the_pin_protects(qtbot, clinic, settings):
    from therapy_timer.ui.settings import SettingsDialog

    dialog = SettingsDialog(clinic.repo, settings=settings)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.tabs.setCurrentWidget(dialog.workstation)
    text = dialog.workstation.pin_explain.text()
    assert dialog.workstation.pin_explain.isVisible()
    for words in ("once any provider has a PIN", "opens only with a PIN",
                  "the audit log names", "cannot unlock", "starts locked",
                  "does not encrypt"):
        assert words in text
    dialog.tabs.setCurrentWidget(dialog.providers)
    assert any("opens only with a PIN" in label.text()
               for label in dialog.providers.findChildren(type(dialog.workstation.pin_explain))
               if label.isVisible())


def test_restarted_locked_with_a_timer_left_running_hides_the_recovery_dialog(
        qtbot, pins, clock, settings):
    """Closed while locked during 97110; at the next start the recovery question (which
    names the patient) waits under the lock, its title and contents hidden, the timer on the
    lock screen; unlocked, it is back and answers as usual."""
    first = _window(qtbot, pins, clock, settings)
    _start_97110(qtbot, first, pins, clock, minutes=4)
    pins.repo.heartbeat(clock.now())
    first.lock.lock()
    first.close()
    clock.advance(minutes=2)
    second = _window(qtbot, pins, clock, settings)
    dialog = second.recovery_dialog
    assert dialog is not None and dialog.isVisible()  # still open: nothing is decided for you
    assert second.lock.is_locked
    assert dialog.windowTitle() == "Therapy Timer (locked)"
    texts = _visible_texts(dialog)
    assert not any(name in texts for name in NAMES), texts
    card = second.lock.lock_screen.board.cards[0]
    assert (card.codes[0].text(), card.times[0].text()) == ("▶ 97110", "6:00")
    _type_pin(qtbot, second.lock.lock_screen, pins.pt.id, "2468")
    assert dialog.windowTitle() == "Timers left running"
    assert "Sample, Ada" in _visible_texts(dialog)  # (what the lock had hidden)
    assert dialog.rows[0].keep.isVisible()
    qtbot.mouseClick(dialog.rows[0].keep, LEFT)
    assert [i.code for i in pins.repo.running_intervals()] == ["97110"]
    second.close()


def test_a_dialog_left_open_saves_as_whoever_unlocked(qtbot, pins, clock, win):
    """Dana left the patient editor open; Robin unlocks and saves: the audit names Robin."""
    from therapy_timer.ui.patients import PatientDialog

    dialog = PatientDialog(pins.repo, pins.patient.id, win, user="Dana Test, PT",
                           today=date(2026, 3, 2))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.phone, "(555) 010-0123")
    win.lock.lock()
    _type_pin(qtbot, win.lock.lock_screen, pins.pt2.id, "1357")
    assert dialog.isVisible() and dialog.phone.text() == "(555) 010-0123"
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert pins.repo.get_patient(pins.patient.id).phone == "(555) 010-0123"
    entry = pins.repo.audit_entries("patient", limit=1)[0]
    assert entry.user == "Robin Test, PT"
