"""Visits of other days, walked in the real window (issue 16, items 6 and 7): a visit left open
yesterday is found in "Open visits" (Today and the front desk), finished and finalized; a
patient's history opens from Today's search and from the patient editor, where last week's
visit is amended and a finalized one's superbill shown; starting a patient whose earlier visit
is still open asks first; the store refuses a timer on yesterday's visit; a timer left running
over midnight by a crash stops at midnight; a visit starts with its plan's diagnoses.

Modal dialogs are driven for real: each test replaces the dialog's ``exec`` with a function
that shows it, clicks its widgets as a user would, and returns its result. Synthetic data; the
clinic is in Chicago (the test clock's 14:00 UTC is 08:00 there, Monday 03/02/2026).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from therapy_timer.core.model import Performer
from therapy_timer.core.records import VisitStatus
from therapy_timer.storage.repository import open_repository
from therapy_timer.ui.clock import FakeClock
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.visit_history import VisitHistoryDialog

from .conftest import START, seed_clinic

LEFT = Qt.MouseButton.LeftButton
YESTERDAY = START - timedelta(days=1)  # Sun 03/01/2026 08:00 in Chicago
LAST_WEEK = START - timedelta(days=7)  # Mon 02/23/2026
REAL_BUTTONS = Ask.__dict__["buttons"]  # before the UI tests' guard replaces it


@pytest.fixture
def store(tmp_path):
    """A clinic in a database file (the front desk's jobs open their own connection)."""
    repo = open_repository(tmp_path / "history.sqlite")
    clinic = seed_clinic(repo)
    repo.save_practice(dataclasses.replace(repo.get_practice(), timezone="America/Chicago"))
    repo.save_fee("97110", 4500, date(2026, 1, 1))
    yield clinic
    repo.close()


@pytest.fixture
def window(qtbot, store, clock, tmp_path):
    from therapy_timer.ui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(store.repo, clock, db_path=str(store.repo.path), settings=settings)
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.show()
    win.show_today()
    yield win
    if win._controller is not None:
        win.controller.timer.stop()
    win.close()


def _open_visit_yesterday(clinic, minutes=20):
    """Yesterday's visit, left paused overnight with ``minutes`` of 97110 recorded."""
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, YESTERDAY)
    repo.start_interval(visit.id, "97110", Performer.PT, YESTERDAY)
    repo.pause_visit(visit.id, YESTERDAY + timedelta(minutes=minutes))
    repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
    return visit


def _finalized_last_week(clinic, minutes=38):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, LAST_WEEK)
    interval = repo.start_interval(visit.id, "97110", Performer.PT, LAST_WEEK)
    repo.stop_interval(interval.id, LAST_WEEK + timedelta(minutes=minutes))
    repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
    repo.finalize_visit(visit.id, None, "Dana Test, PT", LAST_WEEK + timedelta(hours=1))
    return visit


def _click_row(qtbot, table, row: int) -> None:
    rect = table.visualRect(table.model().index(row, 0))
    qtbot.mouseClick(table.viewport(), LEFT, pos=rect.center())


def _rows(dialog) -> list[list[str]]:
    model = dialog.model
    return [[model.cell_text(r, c) for c in range(model.columnCount())]
            for r in range(model.rowCount())]


def _drive(monkeypatch, qtbot, cls, steps):
    """Replaces ``cls.exec``: shows the dialog, runs ``steps(dialog)`` (clicks), returns its
    result. Returns the list of dialogs driven."""
    driven = []

    def exec_(self):
        self.show()
        qtbot.waitExposed(self)
        driven.append(self)
        steps(self)
        return self.result()

    monkeypatch.setattr(cls, "exec", exec_)
    return driven


def _pick(qtbot, row: int, button: str = "open_button"):
    def steps(dialog):
        _click_row(qtbot, dialog.table, row)
        qtbot.mouseClick(getattr(dialog, button), LEFT)
    return steps


def _search(qtbot, today, text):
    today.search.clear()
    qtbot.keyClicks(today.search, text)
    qtbot.waitUntil(lambda: today.results.count() == 1
                    and today.results.item(0).data(Qt.ItemDataRole.UserRole) is not None,
                    timeout=2000)


# --- an open visit of yesterday, from "Open visits" ----------------------------------------

def test_yesterdays_open_visit_is_finished_and_finalized_from_the_open_visits_list(
        qtbot, store, window, monkeypatch):
    repo = store.repo
    old = _open_visit_yesterday(store)
    window.show_today()
    today = window.today
    assert today.open_visits_button.text() == "Open visits (1)\u2026"
    assert today.earlier.text() == ("1 visit of an earlier day is still open: finish and "
                                    "finalize it.")
    assert today.model.rowCount() == 0  # Today lists only today

    seen = []

    def steps(dialog):
        seen.append((dialog.windowTitle(), _rows(dialog), dialog.hint.text()))
        _pick(qtbot, 0)(dialog)

    _drive(monkeypatch, qtbot, VisitHistoryDialog, steps)
    qtbot.mouseClick(today.open_visits_button, LEFT)
    [(title, rows, hint)] = seen
    assert title == "Open visits"
    assert rows == [["03/01/2026", "1 day", "Sample, Ada", "PT", "Dana Test, PT", "paused"]]
    assert "1 from an earlier day" in hint

    # It opens the way Today opens a visit: its timers, with the date said.
    panel = window.visit_panel
    assert window.stack.currentWidget() is panel
    window.controller.timer.stop()
    assert window.controller.visit.id == old.id
    assert "visit of 03/01/2026 (1 day ago)" in panel.subtitle.text()

    # A timer now would bill today's minutes under 03/01: refused, and the clinician is told.
    warned = []
    monkeypatch.setattr(Ask, "warn", classmethod(
        lambda cls, parent, title, text: warned.append(text)))
    qtbot.mouseClick(panel.tiles.tiles["97110"], LEFT)
    assert len(warned) == 1
    assert "from 03/01/2026" in warned[0] and "start a new visit today" in warned[0]
    # Resume is a timer too: not offered (the store refuses it as well).
    assert panel.pause_button.text() == "Resume" and not panel.pause_button.isEnabled()
    assert "Of 03/01/2026: finish the visit (97110)" in panel.now_running.text()
    qtbot.keyClick(panel.tiles, Qt.Key.Key_1)  # digit 1 taps 97110: refused the same way
    assert len(warned) == 2 and "03/01/2026" in warned[1]
    assert [(i.code, i.end - i.start) for i in repo.intervals_for(old.id)] == [
        ("97110", timedelta(minutes=20))]
    assert not repo.running_intervals()

    # Finished with its recorded time, then finalized from the review.
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *a, **k: True))
    qtbot.mouseClick(panel.finalize_button, LEFT)
    page = window.finalize_page
    assert window.stack.currentWidget() is page
    assert [(r.code, r.units) for r in page.model.rows()] == [("97110", 1)]
    qtbot.mouseClick(page.finalize_button, LEFT)
    assert "FINALIZED" in page.subtitle.text()
    stored = repo.get_visit(old.id)
    assert (stored.status, stored.day) == (VisitStatus.FINALIZED, date(2026, 3, 1))
    assert [(ln.code, ln.units, ln.minutes) for ln in repo.charge_lines(old.id)] == [
        ("97110", 1, 20)]
    qtbot.mouseClick(page.done_button, LEFT)
    assert window.stack.currentWidget() is today
    assert today.open_visits_button.text() == "Open visits (0)\u2026"
    assert today.earlier.text() == ""


def test_the_front_desks_open_visits_button_opens_yesterdays_visit(qtbot, store, window,
                                                                   monkeypatch):
    old = _open_visit_yesterday(store)
    with qtbot.waitSignal(window.worker.idle, timeout=20000):
        window.frontdesk_action.trigger()
    desk = window.frontdesk
    qtbot.waitUntil(lambda: "still open" in desk.summary.text() or desk.desk is not None,
                    timeout=5000)
    assert desk.open_visits_button.text() == "Open visits (1)\u2026"
    seen = []

    def steps(dialog):
        seen.append(_rows(dialog))
        _pick(qtbot, 0)(dialog)

    _drive(monkeypatch, qtbot, VisitHistoryDialog, steps)
    qtbot.mouseClick(desk.open_visits_button, LEFT)
    assert seen == [[["03/01/2026", "1 day", "Sample, Ada", "PT", "Dana Test, PT", "paused"]]]
    assert window.stack.currentWidget() is window.visit_panel
    assert window.controller.visit.id == old.id


def test_the_open_visits_list_is_oldest_first_and_says_when_empty(qtbot, store):
    repo = store.repo
    dialog = VisitHistoryDialog(repo, date(2026, 3, 2))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.heading.text() == "Open visits (0)"
    assert "No open visits" in dialog.empty.text()
    assert not dialog.open_button.isEnabled()
    yesterday = _open_visit_yesterday(store)
    older = repo.start_visit(store.patient2.id, store.pt2.id, None, START - timedelta(days=4))
    today = repo.start_visit(store.patient2.id, store.pt.id, None, START)
    dialog.refresh()
    assert [row[:3] for row in _rows(dialog)] == [
        ["02/26/2026", "4 days", "Example, Ben"], ["03/01/2026", "1 day", "Sample, Ada"],
        ["03/02/2026", "today", "Example, Ben"]]
    assert dialog.heading.text() == "Open visits (3)"
    assert "2 from earlier days" in dialog.hint.text()
    assert dialog.superbill_button.isHidden()  # nothing billed yet
    _click_row(qtbot, dialog.table, 1)
    dialog.activateWindow()
    dialog.table.setFocus()
    qtbot.waitUntil(dialog.table.hasFocus, timeout=2000)
    qtbot.keyClick(dialog.table, Qt.Key.Key_Return)  # Enter opens the selected visit
    assert dialog.chosen == ("open", yesterday.id)
    assert {older.id, today.id}.isdisjoint({dialog.chosen[1]})


# --- a patient's history ------------------------------------------------------------------

def test_history_from_todays_search_lists_every_day_and_shows_a_superbill(
        qtbot, store, window, monkeypatch):
    repo = store.repo
    last = _finalized_last_week(store)
    old = _open_visit_yesterday(store)
    today = window.today
    _search(qtbot, today, "Sample")
    assert today.history_button.isEnabled()
    seen = []

    def steps(dialog):
        seen.append((dialog.windowTitle(), _rows(dialog)))
        _click_row(qtbot, dialog.table, 0)
        seen.append(dialog.superbill_button.isEnabled())  # open: nothing to print
        _click_row(qtbot, dialog.table, 1)
        seen.append(dialog.superbill_button.isEnabled())
        qtbot.mouseClick(dialog.superbill_button, LEFT)

    _drive(monkeypatch, qtbot, VisitHistoryDialog, steps)
    desk = window.frontdesk  # built now, so the test can wait on its preview
    with qtbot.waitSignal(desk.document_ready, timeout=30000) as shown:
        qtbot.mouseClick(today.history_button, LEFT)
    title, rows = seen[0]
    assert title == "Visit history \u00b7 Sample, Ada"
    assert rows == [["03/01/2026", "PT", "Dana Test, PT", "paused", "", ""],
                    ["02/23/2026", "PT", "Dana Test, PT", "finalized", "3", "$135.00"]]
    assert seen[1:] == [False, True]
    assert shown.args == ["superbill"]
    assert window.stack.currentWidget() is desk
    assert desk.date_range() == (date(2026, 2, 23), date(2026, 2, 23))
    assert desk.selected_visit() == last.id
    assert desk.print_button.isEnabled()
    assert "Superbill: Sample, Ada" in desk.preview_title.text()
    assert repo.get_visit(old.id).status is VisitStatus.OPEN


def test_amending_last_weeks_visit_from_the_patient_editors_history(
        qtbot, store, window, monkeypatch):
    from therapy_timer.ui.patients import PatientDialog
    from therapy_timer.ui.visit_dialogs import IntervalEditDialog

    repo = store.repo
    last = _finalized_last_week(store, minutes=38)
    today = window.today
    _search(qtbot, today, "Sample")

    def editor(dialog):
        assert dialog.history_button.text() == "Visit history\u2026"
        qtbot.mouseClick(dialog.history_button, LEFT)

    editors = _drive(monkeypatch, qtbot, PatientDialog, editor)
    lists = _drive(monkeypatch, qtbot, VisitHistoryDialog, _pick(qtbot, 0))
    qtbot.mouseClick(today.edit_button, LEFT)
    assert len(editors) == 1 and not editors[0].isVisible()  # the editor closed
    assert lists[0].chosen == ("open", last.id)

    # A finalized visit opens to its review, where Amend... corrects it.
    page = window.finalize_page
    assert window.stack.currentWidget() is page
    assert "FINALIZED" in page.subtitle.text() and page.amend_button.isVisible()
    monkeypatch.setattr(Ask, "text", classmethod(
        lambda cls, *a, **k: "ended 8 minutes earlier than recorded"))
    qtbot.mouseClick(page.amend_button, LEFT)
    panel = window.visit_panel
    assert window.stack.currentWidget() is panel
    window.controller.timer.stop()
    amendment = window.controller.visit
    assert (amendment.amends_id, amendment.day) == (last.id, date(2026, 2, 23))
    assert "visit of 02/23/2026 (7 days ago)" in panel.subtitle.text()

    # The clinician corrects the recorded time (within that day) and finalizes again.
    def fix(dialog):
        dialog.end.setDateTime(dialog.end.dateTime().addSecs(-8 * 60))
        qtbot.keyClicks(dialog.reason, "stopped late")
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Save), LEFT)

    _drive(monkeypatch, qtbot, IntervalEditDialog, fix)
    _click_row(qtbot, panel.table, 0)
    qtbot.mouseClick(panel.edit_button, LEFT)
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *a, **k: True))
    qtbot.mouseClick(panel.finalize_button, LEFT)
    assert [(r.code, r.units) for r in page.model.rows()] == [("97110", 2)]
    qtbot.mouseClick(page.finalize_button, LEFT)
    assert repo.get_visit(last.id).status is VisitStatus.AMENDED
    fixed = repo.get_visit(amendment.id)
    assert (fixed.status, fixed.day) == (VisitStatus.FINALIZED, date(2026, 2, 23))
    assert [(ln.code, ln.units, ln.minutes) for ln in repo.charge_lines(fixed.id)] == [
        ("97110", 2, 30)]


def test_the_editors_history_keeps_unsaved_edits_when_the_user_says_so(qtbot, store,
                                                                      monkeypatch):
    from therapy_timer.ui.patients import PatientDialog

    last = _finalized_last_week(store)
    monkeypatch.setattr(PatientDialog, "ask_discard", classmethod(lambda cls, p, what: False))
    dialog = PatientDialog(store.repo, store.patient.id, today=date(2026, 3, 2))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.chart, "-X")
    _drive(monkeypatch, qtbot, VisitHistoryDialog, _pick(qtbot, 0))
    qtbot.mouseClick(dialog.history_button, LEFT)
    assert dialog.isVisible() and dialog.chosen_visit is None
    assert dialog.chart.text() == "T1-X"
    monkeypatch.setattr(PatientDialog, "ask_discard", classmethod(lambda cls, p, what: True))
    qtbot.mouseClick(dialog.history_button, LEFT)
    assert not dialog.isVisible() and dialog.chosen_visit == ("open", last.id)


# --- starting a patient whose visit of an earlier day is still open -----------------------

def test_starting_a_patient_with_yesterdays_open_visit_asks_first(qtbot, store, window,
                                                                 monkeypatch):
    repo = store.repo
    old = _open_visit_yesterday(store)
    today = window.today
    today.set_provider(store.pt.id)
    _search(qtbot, today, "Sample")
    asked, answers = [], [None, 0, 1]
    monkeypatch.setattr(Ask, "buttons", classmethod(
        lambda cls, parent, title, text, options: asked.append((title, text, options))
        or answers.pop(0)))

    qtbot.mouseClick(today.start_button, LEFT)  # Cancel: nothing happens
    title, text, options = asked[0]
    assert title == "An earlier visit is still open"
    assert options == ["Finish that visit (03/01/2026) first", "Start a new visit today"]
    assert text.startswith("Sample, Ada has a visit of 03/01/2026 that is still open "
                           "(paused \u00b7 PT \u00b7 Dana Test, PT). Its recorded time bills "
                           "under 03/01/2026")
    assert window.stack.currentWidget() is today
    assert repo.visits_on(date(2026, 3, 2)) == []

    qtbot.mouseClick(today.start_button, LEFT)  # finish that one first
    assert window.stack.currentWidget() is window.visit_panel
    window.controller.timer.stop()
    assert window.controller.visit.id == old.id
    assert repo.visits_on(date(2026, 3, 2)) == []

    window.show_today()
    qtbot.mouseClick(today.start_button, LEFT)  # a new visit today
    new = window.controller.visit
    window.controller.timer.stop()
    assert new.id != old.id and new.day == date(2026, 3, 2)
    assert [s.visit.id for s in repo.visits_on(date(2026, 3, 2))] == [new.id]
    assert repo.get_visit(old.id).status is VisitStatus.OPEN  # still waiting to be finished

    window.show_today()
    qtbot.mouseClick(today.start_button, LEFT)  # today's visit resumes: no question
    window.controller.timer.stop()
    assert len(asked) == 3 and window.controller.visit.id == new.id


def test_ask_buttons_answers_with_the_button_clicked(monkeypatch):
    def click(label):
        def exec_(box):
            [button] = [b for b in box.buttons() if b.text() == label]
            button.click()
            return 0
        return exec_

    options = ["Finish that visit (03/01/2026) first", "Start a new visit today"]
    monkeypatch.setattr(Ask, "buttons", REAL_BUTTONS)
    monkeypatch.setattr(QMessageBox, "exec", click("Start a new visit today"))
    assert Ask.buttons(None, "t", "x", options) == 1
    monkeypatch.setattr(QMessageBox, "exec", click(options[0]))
    assert Ask.buttons(None, "t", "x", options) == 0
    monkeypatch.setattr(QMessageBox, "exec", click("Cancel"))
    assert Ask.buttons(None, "t", "x", options) is None


# --- crash recovery over midnight ---------------------------------------------------------

def test_a_timer_a_crash_left_running_over_midnight_stops_at_midnight(qtbot, tmp_path):
    from therapy_timer.ui.main_window import MainWindow
    from therapy_timer.ui.recovery import STOP_LAST_ALIVE

    late = datetime(2026, 3, 2, 5, 50, tzinfo=UTC)  # 23:50 on 03/01 in Chicago
    midnight = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    path = tmp_path / "crashed.sqlite"
    repo = open_repository(path)
    clinic = seed_clinic(repo)
    repo.save_practice(dataclasses.replace(repo.get_practice(), timezone="America/Chicago"))
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, late)
    interval = repo.start_interval(visit.id, "97110", Performer.PT, late)
    repo.heartbeat(midnight + timedelta(minutes=25))  # the app died at 00:25
    repo.close()

    repo = open_repository(path)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(repo, FakeClock(START), db_path=str(path), settings=settings)
    qtbot.addWidget(win)
    win.show()
    try:
        with qtbot.waitSignal(win.recovery_shown, timeout=2000) as blocker:
            win.start()
        dialog = blocker.args[0]
        [row] = dialog.rows
        assert not row.keep.isEnabled()  # it cannot run on into today
        assert "03/01/2026" in row.keep.toolTip()
        with qtbot.waitSignal(dialog.resolved, timeout=2000) as resolved:
            qtbot.mouseClick(row.stop_alive, LEFT)
        assert resolved.args[0] == {interval.id: STOP_LAST_ALIVE}
        assert repo.get_interval(interval.id).end == midnight
        assert "Stopped at" in row.result.text()
        assert repo.bill_visit(visit.id, START).total_timed_minutes == 10
    finally:
        win.stop_lock()
        win.close()
        repo.close()


# --- a visit starts with its plan's diagnoses ---------------------------------------------

def test_a_visit_starts_with_the_diagnoses_of_its_plan_of_care(qtbot, store, window,
                                                             icd_cache, monkeypatch):
    from therapy_timer.ui.diagnoses import IcdIndexSource
    from therapy_timer.ui.main_window import DiagnosesDialog
    from therapy_timer.ui.patients import PatientDialog

    repo = store.repo
    source = IcdIndexSource(window.worker, icd_cache)
    with qtbot.waitSignal(source.ready, timeout=20000):
        source.start()
    window.icd_source = source  # the app's one index (the editor finds it through the window)

    def add_codes(*codes):
        def steps(dialog):
            picker = dialog.picker
            for code in codes:
                picker.search.clear()
                qtbot.keyClicks(picker.search, code)
                qtbot.mouseClick(picker.add_button, LEFT)
            save = dialog.findChild(QDialogButtonBox).button(
                QDialogButtonBox.StandardButton.Save)
            qtbot.mouseClick(save, LEFT)
        return steps

    seen = {}

    def editor(dialog):
        tabs = dialog.tabs
        qtbot.mouseClick(tabs.tabBar(), LEFT, pos=tabs.tabBar().tabRect(2).center())
        assert tabs.currentWidget() is dialog.plans
        field = dialog.plan_diagnoses
        seen["before"] = field.label.text()
        qtbot.mouseClick(field.button, LEFT)
        seen["after"] = field.label.text()
        qtbot.mouseClick(dialog.save_button, LEFT)
        seen["message"] = dialog.message.text()
        qtbot.mouseClick(dialog.close_button, LEFT)

    _drive(monkeypatch, qtbot, PatientDialog, editor)
    _drive(monkeypatch, qtbot, DiagnosesDialog, add_codes("M54.50", "R26.89"))
    today = window.today
    today.set_provider(store.pt.id)
    _search(qtbot, today, "Sample")
    qtbot.mouseClick(today.edit_button, LEFT)
    assert seen == {"before": "None yet: visits start with no diagnosis",
                    "after": "A M54.50   B R26.89", "message": "Saved."}
    assert repo.get_plan(store.plan.id).diagnoses == ("M54.50", "R26.89")

    # Start visit: the new visit carries the plan's list.
    qtbot.mouseClick(today.start_button, LEFT)
    panel = window.visit_panel
    window.controller.timer.stop()
    visit = window.controller.visit
    assert visit.plan_id == store.plan.id
    assert panel.diagnoses_button.text() == "Diagnoses (2)"
    assert repo.get_visit(visit.id).diagnoses == ("M54.50", "R26.89")

    # The clinician changes this visit's list: the plan keeps its own.
    def remove_first(dialog):
        picker = dialog.picker
        assert picker.diagnoses() == ["M54.50", "R26.89"]
        _click_row(qtbot, picker.chosen, 0)
        qtbot.mouseClick(picker.remove_button, LEFT)
        qtbot.mouseClick(dialog.findChild(QDialogButtonBox).button(
            QDialogButtonBox.StandardButton.Save), LEFT)

    _drive(monkeypatch, qtbot, DiagnosesDialog, remove_first)
    qtbot.mouseClick(panel.diagnoses_button, LEFT)
    assert panel.diagnoses_button.text() == "Diagnoses (1)"
    assert repo.get_visit(visit.id).diagnoses == ("R26.89",)
    # Issue 11: the picker's description is kept with the visit, as documented.
    assert repo.get_visit(visit.id).diagnosis_descriptions == (
        "Other abnormalities of gait and mobility",)
    assert repo.get_plan(store.plan.id).diagnoses == ("M54.50", "R26.89")
    source.index().close()
