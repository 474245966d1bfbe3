"""Today's list, starting a visit, first run, the main window and ``--check``."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QSize, Qt

from therapy_timer.core.formats import format_time
from therapy_timer.core.model import Performer
from therapy_timer.core.records import Patient
from therapy_timer.ui.clock import FakeClock
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.today import QuickAddPatient, TodayPage

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def today(qtbot, clinic, clock):
    page = TodayPage(clinic.repo, clock)
    qtbot.addWidget(page)
    page.refresh()
    page.show()
    yield page
    page._search_timer.stop()


def test_search_as_you_type(qtbot, today):
    assert today.results.count() == 2
    qtbot.keyClicks(today.search, "exa")
    qtbot.waitUntil(lambda: today.results.count() == 1, timeout=2000)
    assert today.results.item(0).text().startswith("Example, Ben")


def test_start_a_visit_then_resume_it(qtbot, today, clinic):
    today.set_provider(clinic.pt.id)
    qtbot.keyClicks(today.search, "Sample")
    qtbot.waitUntil(lambda: today.results.count() == 1, timeout=2000)
    with qtbot.waitSignal(today.visit_chosen, timeout=2000) as blocker:
        qtbot.mouseClick(today.start_button, LEFT)
    visit = clinic.repo.get_visit(blocker.args[0])
    assert (visit.patient_id, visit.provider_id, visit.plan_id) == (
        clinic.patient.id, clinic.pt.id, clinic.plan.id)
    assert today.model.rowCount() == 1
    assert today.model.cell_text(0, 1) == "Sample, Ada"
    assert today.model.cell_text(0, 4) == "open"
    # Starting again for the same patient resumes the open visit.
    with qtbot.waitSignal(today.visit_chosen, timeout=2000) as again:
        qtbot.mouseClick(today.start_button, LEFT)
    assert again.args[0] == visit.id
    today.table.selectRow(0)
    with qtbot.waitSignal(today.visit_chosen, timeout=2000) as opened:
        qtbot.mouseClick(today.open_button, LEFT)
    assert opened.args[0] == visit.id


def test_units_of_a_running_visit_follow_the_apps_clock(qtbot, today, clinic, clock):
    """Today counts a running timer's minutes to the injected clock's now, not the
    computer's: 24 minutes of 97112 on the clock is 2 units whatever the wall says."""
    visit = clinic.repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id,
                                    clock.now())
    clinic.repo.start_interval(visit.id, "97112", Performer.PT, clock.now())
    clock.advance(minutes=24)
    today.refresh()
    assert [today.model.cell_text(0, c) for c in (4, 5)] == ["running", "2"]


def test_quick_add_patient(qtbot, today, clinic, monkeypatch):
    monkeypatch.setattr(QuickAddPatient, "ask", classmethod(
        lambda cls, parent, text="", today=None: Patient("Cy", "Newcomer", date(1970, 7, 7))))
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *a, **k: False))  # "Later"
    qtbot.mouseClick(today.quick_add, LEFT)
    assert today.results.currentItem().text().startswith("Newcomer, Cy")
    assert clinic.repo.search_patients("Newcomer")[0].birth_date == date(1970, 7, 7)


def test_quick_add_dialog_needs_names_and_a_typed_birth_date(qtbot):
    dialog = QuickAddPatient(None, "Newcomer", today=date(2026, 11, 23))
    qtbot.addWidget(dialog)
    assert dialog.last.text() == "Newcomer"
    assert dialog.birth.text() == ""  # never pre-filled
    dialog._check()
    assert "first and last name" in dialog.error.text()
    dialog.first.setText("Cy")
    dialog._check()
    assert "enter the date of birth" in dialog.error.text()
    assert dialog.result() == 0
    qtbot.keyClicks(dialog.birth, "13/45/1958")
    dialog._check()
    assert "not a date" in dialog.error.text()
    dialog.birth.clear()
    qtbot.keyClicks(dialog.birth, "04/12/1958")
    dialog._check()
    assert dialog.result() == 1
    patient = dialog.patient()
    assert patient.display_name == "Newcomer, Cy"
    assert patient.birth_date == date(1958, 4, 12)


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def test_window_remembers_its_size(qtbot, clinic, clock, settings, monkeypatch):
    from PySide6.QtCore import QRect

    from therapy_timer.ui import main_window
    from therapy_timer.ui.main_window import MainWindow

    # On a screen with room for it (issue 16: the size is kept within the screen).
    monkeypatch.setattr(main_window, "available_geometry", lambda w: QRect(0, 0, 1920, 1040))
    first = MainWindow(clinic.repo, clock, settings=settings)
    qtbot.addWidget(first)
    first.show()
    first.resize(1111, 777)
    first.close()
    second = MainWindow(clinic.repo, clock, settings=settings)
    qtbot.addWidget(second)
    assert second.size() == QSize(1111, 777)


def test_window_navigates_today_visit_review(qtbot, clinic, clock, settings, monkeypatch):
    from therapy_timer.ui.main_window import MainWindow

    win = MainWindow(clinic.repo, clock, settings=settings)
    qtbot.addWidget(win)
    win.show()
    win.start()
    assert win.stack.currentWidget() is win.today
    win.today.set_provider(clinic.pt.id)
    win.today.start_for(clinic.patient.id)
    assert win.stack.currentWidget() is win.visit_panel
    win.controller.timer.stop()
    qtbot.mouseClick(win.visit_panel.tiles.tiles["97110"], LEFT)
    clock.advance(minutes=9)
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *a, **k: True))
    qtbot.mouseClick(win.visit_panel.finalize_button, LEFT)
    assert win.stack.currentWidget() is win.finalize_page
    assert [r.code for r in win.finalize_page.model.rows()] == ["97110"]
    qtbot.mouseClick(win.finalize_page.back_button, LEFT)
    assert win.stack.currentWidget() is win.visit_panel
    qtbot.mouseClick(win.visit_panel.back_button, LEFT)
    assert win.stack.currentWidget() is win.today
    assert win.today.model.cell_text(0, 5) == "1"


def test_first_run_sets_up_practice_and_provider(qtbot, repo):
    from therapy_timer.ui.first_run import SETUP, FirstRunDialog

    dialog = FirstRunDialog(repo)
    qtbot.addWidget(dialog)
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert "Enter the practice" in dialog.error.text()
    qtbot.keyClicks(dialog.practice, "Lakeside Test Rehab")
    qtbot.keyClicks(dialog.provider, "Sam Test, OT")
    dialog.role.setCurrentIndex(2)
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.outcome == SETUP
    assert repo.get_practice().name == "Lakeside Test Rehab"
    [provider] = repo.list_providers()
    assert (provider.name, provider.role.value) == ("Sam Test, OT", "OT")


def test_first_run_offers_the_demo(qtbot, repo):
    from therapy_timer.ui.first_run import DEMO, FirstRunDialog

    dialog = FirstRunDialog(repo)
    qtbot.addWidget(dialog)
    qtbot.mouseClick(dialog.demo_button, LEFT)
    assert dialog.outcome == DEMO
    assert repo.get_practice() is None


def test_fake_clock_moves_wall_and_monotonic_time():
    clock = FakeClock()
    start, mono = clock.now(), clock.monotonic()
    clock.advance(minutes=2)
    assert (clock.now() - start, clock.monotonic() - mono) == (timedelta(minutes=2), 120)
    clock.sleep(minutes=10)
    assert clock.monotonic() - mono == 120
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_check_starts_the_real_gui_and_prints_ready(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, "-m", "therapy_timer", "--db", str(tmp_path / "c.db"), "--check"],
        capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ready"
    assert (tmp_path / "c.db").exists()
    # The process ends without the interpreter's teardown: the log still reached its file,
    # and a smoke test never overwrote the size the clinician's window last had.
    from therapy_timer.paths import log_dir

    assert "opened database" in (log_dir() / "therapy-timer.log").read_text()
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "TherapyTimer" / "therapy-timer.conf"
    assert not config.exists() or "geometry" not in config.read_text()


def test_check_reports_a_foreign_file(tmp_path):
    bad = tmp_path / "notes.db"
    bad.write_text("this is not a database")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, "-m", "therapy_timer", "--db", str(bad), "--check"],
        capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1
    assert "ready" not in result.stdout
    assert str(bad) in result.stderr


def test_auto_lock_is_wired_and_the_unlocker_becomes_the_acting_user(qtbot, clinic, clock,
                                                                      settings):
    from therapy_timer.ui.main_window import MainWindow

    clinic.repo.save_provider(clinic.pta, pin="2468")
    win = MainWindow(clinic.repo, clock, settings=settings)
    qtbot.addWidget(win)
    win.show()
    win.start()
    from therapy_timer.ui.lock import LockController

    assert isinstance(win.lock, LockController)
    win.lock.lock()
    assert win.lock.is_locked
    assert not win.lock.unlock(clinic.pta.id, "0000")
    assert win.lock.unlock(clinic.pta.id, "2468")
    assert win.controller.user == "Lee Test, PTA"
    assert win.today.user == "Lee Test, PTA"  # patient edits name the same person


def test_no_match_says_how_to_add_a_patient(qtbot, today, monkeypatch):
    warned = []
    monkeypatch.setattr(Ask, "warn", classmethod(lambda cls, p, t, text: warned.append(text)))
    qtbot.keyClicks(today.search, "Zzyzx")
    qtbot.waitUntil(lambda: "Quick-add" in today.results.item(0).text(), timeout=2000)
    qtbot.mouseClick(today.start_button, LEFT)
    assert warned and "quick-add" in warned[0].lower()


def test_diagnoses_button_saves_the_ordered_codes(qtbot, clinic, clock, settings, monkeypatch):
    from therapy_timer.ui import diagnoses
    from therapy_timer.ui.main_window import DiagnosesDialog, MainWindow

    class Source:
        def __init__(self, worker, parent=None):
            self.started = False

        def start(self):
            self.started = True

    monkeypatch.setattr(diagnoses, "IcdIndexSource", Source)
    asked = []

    def ask(cls, parent, source, codes):
        asked.append((source.started, tuple(codes)))
        return ["R26.89", "M25.561"]

    monkeypatch.setattr(DiagnosesDialog, "ask", classmethod(ask))
    win = MainWindow(clinic.repo, clock, settings=settings)
    qtbot.addWidget(win)
    win.show_today()
    win.today.set_provider(clinic.pt.id)
    visit_id = win.today.start_for(clinic.patient.id)
    win.controller.timer.stop()
    qtbot.mouseClick(win.visit_panel.diagnoses_button, LEFT)
    assert asked == [(True, ())]
    assert clinic.repo.get_visit(visit_id).diagnoses == ("R26.89", "M25.561")
    assert win.controller.visit.diagnoses == ("R26.89", "M25.561")
    assert win.visit_panel.diagnoses_button.text() == "Diagnoses (2)"
    # From the review too: it reloads with the new list.
    win.show_review(visit_id)
    qtbot.mouseClick(win.finalize_page.diagnoses_button, LEFT)
    assert len(asked) == 2 and asked[1][1] == ("R26.89", "M25.561")
    assert win.stack.currentWidget() is win.finalize_page


def test_open_the_demo_clinic_builds_off_the_ui_thread(qtbot, tmp_path, settings):
    from therapy_timer.storage.repository import open_repository
    from therapy_timer.ui.app import build_demo
    from therapy_timer.ui.main_window import MainWindow

    path = tmp_path / "first.db"
    repo = open_repository(path)
    win = MainWindow(repo, FakeClock(), db_path=str(path), settings=settings)
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.worker.idle, timeout=30000):
        build_demo(win, path)
        assert not win.isEnabled()  # the window waits, the UI thread does not
    assert win.isEnabled()
    assert repo.get_practice().name
    assert len(repo.list_providers()) == 5
    assert "made up" in win.statusBar().currentMessage()
    win.close()
    repo.close()


def test_front_desk_page_is_wired_in(qtbot, tmp_path, settings):
    from therapy_timer.storage.repository import open_repository
    from therapy_timer.ui.main_window import MainWindow

    path = tmp_path / "desk.db"
    repo = open_repository(path)  # the page's jobs open their own connection to the file
    from tests.ui.conftest import seed_clinic

    seed_clinic(repo)
    win = MainWindow(repo, FakeClock(), db_path=str(path), settings=settings)
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.worker.idle, timeout=20000):
        win.frontdesk_action.trigger()
    assert win.stack.currentWidget() is win.frontdesk
    win.close()
    repo.close()


def test_diagnosis_index_is_prepared_once_and_reused(qtbot, clinic, clock, settings,
                                                     monkeypatch):
    from therapy_timer.ui.diagnoses import IcdIndexSource
    from therapy_timer.ui.main_window import DiagnosesDialog, MainWindow

    started = []
    monkeypatch.setattr(IcdIndexSource, "start", lambda self: started.append(self))
    win = MainWindow(clinic.repo, clock, settings=settings)
    qtbot.addWidget(win)
    win.prepare_diagnoses()
    win.prepare_diagnoses()
    assert len(started) == 1
    seen = []
    monkeypatch.setattr(DiagnosesDialog, "ask",
                        classmethod(lambda cls, parent, source, codes: seen.append(source)))
    visit = clinic.repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, clock.now())
    win.edit_diagnoses(visit.id)
    assert seen == [started[0]] and len(started) == 1


def test_screens_show_and_take_times_in_the_clinics_zone(qtbot, clinic, clock, settings):
    """A practice in Honolulu on a computer set to another zone: Today, the visit's recorded
    time and the interval editor all speak Honolulu time (as the superbill does), and a time
    typed in the editor is stored as the Honolulu moment it names."""
    from zoneinfo import ZoneInfo

    from PySide6.QtCore import QTime

    from therapy_timer.ui.main_window import MainWindow
    from therapy_timer.ui.visit_dialogs import IntervalEditDialog

    zone = ZoneInfo("Pacific/Honolulu")  # UTC-10 all year
    practice = clinic.repo.get_practice()
    clinic.repo.save_practice(dataclasses.replace(practice, timezone="Pacific/Honolulu"))
    win = MainWindow(clinic.repo, clock, settings=settings)
    qtbot.addWidget(win)
    win.show()
    win.start()
    win.today.set_provider(clinic.pt.id)
    win.today.start_for(clinic.patient.id)
    win.controller.timer.stop()
    start = clock.now()
    qtbot.mouseClick(win.visit_panel.tiles.tiles["97110"], LEFT)
    clock.advance(minutes=10)
    qtbot.mouseClick(win.visit_panel.tiles.tiles["97110"], LEFT)
    local = start.astimezone(zone)
    first = win.visit_panel.interval_model.index(0, 0)
    assert first.data() == format_time(local)
    assert first.data(Qt.ItemDataRole.ToolTipRole) == format_time(local, seconds=True)
    win.show_today()
    assert win.today.model.cell_text(0, 0) == format_time(local)
    [interval] = clinic.repo.intervals_for(win.controller.visit.id)
    dialog = IntervalEditDialog(interval, (Performer.PT,))
    qtbot.addWidget(dialog)
    assert dialog.start.text() == f"{local:%m/%d/%Y} {format_time(local, seconds=True)}"
    dialog.start.setTime(QTime(local.hour, local.minute + 2, local.second))
    assert dialog.result_edit().changes == {"start": start + timedelta(minutes=2)}


def test_the_smallest_window_shows_every_tile_whole_and_the_whole_name(qtbot, clinic, clock,
                                                                       settings):
    """At the 1024 x 700 minimum the visit screen keeps four tiles across without overlap,
    and a long patient name wraps instead of being cut off beside the buttons."""
    from itertools import combinations

    from therapy_timer.ui.main_window import MainWindow

    patient = clinic.repo.save_patient(Patient("Maximiliana", "Featherstonehaugh-Brightmoor",
                                               date(1950, 1, 1), chart_number="T9"))
    plan = clinic.repo.save_plan(dataclasses.replace(clinic.plan, id=None,
                                                     patient_id=patient.id))
    win = MainWindow(clinic.repo, clock, settings=settings)
    qtbot.addWidget(win)
    win.resize(1024, 700)
    win.show()
    visit = clinic.repo.start_visit(patient.id, clinic.pt.id, plan.id, clock.now())
    win.show_visit(visit.id)
    win.controller.timer.stop()
    panel = win.visit_panel
    qtbot.waitUntil(lambda: panel.tiles.width() > 0 and panel.title.width() > 0, timeout=2000)
    assert win.width() == 1024
    tiles = list(panel.tiles.tiles.values())
    assert len({t.y() for t in tiles[:4]}) == 1  # four across
    for a, b in combinations(tiles, 2):
        assert not a.geometry().intersects(b.geometry()), (a.code, b.code)
    assert all(t.geometry().right() < panel.tiles.width() for t in tiles)
    title = panel.title
    assert title.text() == "Featherstonehaugh-Brightmoor, Maximiliana"
    assert title.height() >= title.heightForWidth(title.width())  # every line of it shows
