"""Issue 11, items 4 and 5, on the real screens: a clock set back an hour during 97110 never
loses treatment time, each of the three answers to the clock notice is stored and audited, a
restart whose last-alive is in the future is flagged in the recovery dialog, and every running
timer of the station gets its heartbeat whatever visit screen shows.

The FakeClock's wall time is set back (``jump``) while its monotonic time runs on.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from PySide6.QtCore import QSettings, Qt

from therapy_timer.core.model import Performer
from therapy_timer.ui.clock import FakeClock, screen_time

from .conftest import START, seed_clinic
from .test_pause_and_clock_jumps import jump_notice, make_window, open_from_today, start_visit, tap

LEFT = Qt.MouseButton.LeftButton
JUMPED = START + timedelta(minutes=10)  # 14:10: the clock is set back to 13:10
CERTAIN = START + timedelta(minutes=10, seconds=1)  # the watch noticed 1 s later


@pytest.fixture
def window(qtbot, clinic, clock, tmp_path):
    win = make_window(qtbot, clinic.repo, clock, tmp_path)
    yield win
    win.close()


def set_back_during_97110(qtbot, win, clinic, clock):
    """97110 runs 10 min, the clock is set back an hour, the visit screen's tick notices it."""
    visit_id = start_visit(win, clinic)
    tap(qtbot, win, "97110")
    clock.advance(minutes=10)
    win.controller.tick()
    clock.jump(minutes=-60)
    clock.advance(seconds=1)
    with qtbot.waitSignal(win.controller.time_jump, timeout=2000):
        win.controller.tick()
    return visit_id


def elapsed_cell(panel) -> str:
    model = panel.interval_model
    return model.data(model.index(0, 4))


def test_the_tile_keeps_counting_the_real_minutes_after_the_clock_is_set_back(qtbot, window,
                                                                            clinic, clock):
    set_back_during_97110(qtbot, window, clinic, clock)
    panel = window.visit_panel
    clock.advance(minutes=5)
    panel.on_tick()
    assert panel.tiles.tiles["97110"].seconds == 15 * 60 + 1  # not 0:00
    assert elapsed_cell(panel) == "15:01"
    notice = jump_notice(panel)
    assert "set back (60 min)" in notice.label.text()
    assert list(notice.buttons) == ["Time is right", "Keep the measured time",
                                    f"Stop at {screen_time(CERTAIN)}"]


@pytest.mark.parametrize(("caption", "choice", "seconds"), [
    ("Time is right", "keep", 0),  # the computer's clock: 13:15 is before the 14:00 start
    ("Keep the measured time", "measured", 15 * 60 + 1),
    ("Stop at", "stop", 10 * 60 + 1),
])
def test_stopping_stores_the_measured_minutes_then_each_answer_is_stored_and_audited(
        qtbot, window, clinic, clock, caption, choice, seconds):
    visit_id = set_back_during_97110(qtbot, window, clinic, clock)
    panel = window.visit_panel
    clock.advance(minutes=5)
    tap(qtbot, window, "97110")  # the clinician stops it at the (wall) 13:15:01
    [stored] = clinic.repo.intervals_for(visit_id)
    assert stored.end == START + timedelta(minutes=15, seconds=1)  # the measured end
    assert stored.clock_flag.wall_end == START - timedelta(minutes=45, seconds=-1)
    panel.on_tick()
    assert panel.tiles.tiles["97110"].seconds == 15 * 60 + 1
    notice = jump_notice(panel)  # still asked: the stop did not answer it
    label = next(c for c in notice.buttons if c.startswith(caption))
    with qtbot.waitSignal(window.controller.changed, timeout=2000):
        notice.buttons[label].click()
    assert not [k for k in panel.notices.notices if k.startswith("jump")]
    [stored] = clinic.repo.intervals_for(visit_id)
    assert stored.clock_flag is None
    assert stored.end == START + timedelta(seconds=seconds)
    panel.on_tick()
    assert panel.tiles.tiles["97110"].seconds == seconds
    [entry] = [e for e in clinic.repo.audit_entries("interval", stored.id)
               if e.action == "resolve_clock_jump"]
    detail = json.loads(entry.detail)
    assert detail["choice"] == choice and entry.user == "Dana Test, PT"
    assert detail["end_before"] == "2026-03-02T14:15:01.000000+00:00"
    assert detail["wall_end"] == "2026-03-02T13:15:01.000000+00:00"
    assert detail["measured_end"] == "2026-03-02T14:15:01.000000+00:00"


def test_keeping_the_measured_time_while_it_runs_counts_on_and_stops_measured(qtbot, window,
                                                                            clinic, clock):
    visit_id = set_back_during_97110(qtbot, window, clinic, clock)
    panel = window.visit_panel
    notice = jump_notice(panel)
    with qtbot.waitSignal(window.controller.changed, timeout=2000):
        notice.buttons["Keep the measured time"].click()
    assert window.controller.jumps == []
    assert not [k for k in panel.notices.notices if k.startswith("jump")]
    clock.advance(minutes=20)
    panel.on_tick()
    assert panel.tiles.tiles["97110"].seconds == 30 * 60 + 1
    tap(qtbot, window, "97110")
    [stored] = clinic.repo.intervals_for(visit_id)
    assert stored.end == START + timedelta(minutes=30, seconds=1)
    assert stored.clock_flag is None
    window.show_today()
    assert window.today.model.cell_text(0, 4) == "open"


def test_the_measured_time_is_what_the_review_bills(qtbot, window, clinic, clock):
    visit_id = set_back_during_97110(qtbot, window, clinic, clock)
    clock.advance(minutes=14)
    tap(qtbot, window, "97110")  # 24:01 measured
    notice = jump_notice(window.visit_panel)
    with qtbot.waitSignal(window.controller.changed, timeout=2000):
        notice.buttons["Keep the measured time"].click()
    billing = clinic.repo.bill_visit(visit_id, clock.now())
    assert [(line.code, line.units) for line in billing.allocation.lines] == [("97110", 2)]


# --- across a restart ----------------------------------------------------------------------

@pytest.fixture
def behind_db(tmp_path):
    """The app died while 97110 ran (last alive 14:40); the clock was set back an hour before
    it opened again (13:45)."""
    from therapy_timer.storage.repository import open_repository

    path = tmp_path / "clinic.db"
    repo = open_repository(path)
    clinic = seed_clinic(repo)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, START)
    repo.start_interval(visit.id, "97110", Performer.PT, START)
    repo.heartbeat(START + timedelta(minutes=40))
    repo.close()
    return path, visit.id


@pytest.fixture
def reopened(qtbot, behind_db, tmp_path):
    from therapy_timer.storage.repository import open_repository
    from therapy_timer.ui.main_window import MainWindow

    path, _visit_id = behind_db
    repo = open_repository(path)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    clock = FakeClock(START - timedelta(minutes=15))
    win = MainWindow(repo, clock, db_path=str(path), settings=settings)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    repo.close()


def open_recovery(qtbot, win):
    with qtbot.waitSignal(win.recovery_shown, timeout=2000) as blocker:
        win.start()
    dialog = blocker.args[0]
    qtbot.waitExposed(dialog)
    return dialog


def test_a_restart_with_last_alive_in_the_future_is_flagged_in_the_recovery_dialog(
        qtbot, reopened, behind_db):
    _path, visit_id = behind_db
    dialog = open_recovery(qtbot, reopened)
    [row] = dialog.rows
    assert row.clock_behind
    assert "clock is 55 min behind the last-alive time" in row.facts.text()
    [stored] = reopened.repo.intervals_for(visit_id)
    assert stored.clock_flag.pending  # flagged in the store like any other jump
    assert stored.clock_flag.trusted_until == START + timedelta(minutes=40)
    [entry] = [e for e in reopened.repo.audit_entries("visit", visit_id)
               if e.action == "clock_jump"]
    assert json.loads(entry.detail)["by"] == "restart"
    with qtbot.waitSignal(dialog.resolved, timeout=2000):
        qtbot.mouseClick(row.stop_alive, LEFT)
    [stored] = reopened.repo.intervals_for(visit_id)
    assert stored.end == START + timedelta(minutes=40)  # the 40 minutes measured are kept
    assert stored.clock_flag is None  # the clinician's stop answered the clock question


def test_kept_running_after_a_restart_behind_the_visit_asks_with_three_answers(
        qtbot, reopened, behind_db):
    _path, visit_id = behind_db
    dialog = open_recovery(qtbot, reopened)
    with qtbot.waitSignal(dialog.resolved, timeout=2000):
        qtbot.mouseClick(dialog.rows[0].keep, LEFT)
    reopened.clock.advance(minutes=5)
    panel = open_from_today(qtbot, reopened)
    panel.on_tick()
    assert panel.tiles.tiles["97110"].seconds == 45 * 60  # 40 before + 5 since the restart
    notice = jump_notice(panel)
    assert "set back" in notice.label.text()
    assert list(notice.buttons) == ["Time is right", "Keep the measured time",
                                    f"Stop at {screen_time(START + timedelta(minutes=40))}"]
    with qtbot.waitSignal(reopened.controller.changed, timeout=2000):
        notice.buttons["Keep the measured time"].click()
    tap(qtbot, reopened, "97110")
    [stored] = reopened.repo.intervals_for(visit_id)
    assert stored.end == START + timedelta(minutes=45) and stored.clock_flag is None


# --- item 5: heartbeats whatever screen shows ----------------------------------------------

def test_another_visits_timer_gets_its_heartbeat_while_a_visit_with_nothing_running_shows(
        qtbot, window, clinic, clock):
    repo = clinic.repo
    first = start_visit(window, clinic)
    tap(qtbot, window, "97110")
    qtbot.mouseClick(window.visit_panel.back_button, LEFT)
    window.today.set_provider(clinic.pt2.id)
    window.today.start_for(clinic.patient2.id)  # Robin's visit: nothing runs in it
    shown = window.controller.visit.id
    assert shown != first and window.controller.running() == []
    assert window.controller.timer.isActive()  # the visit screen shows: its tick beats
    for _ in range(3):
        clock.advance(seconds=6)
        window.controller.tick()
        window.heartbeat()  # the window leaves the beating to the visit screen's tick
    [running] = repo.running_intervals()
    assert running.visit_id == first
    assert running.heartbeat == START + timedelta(seconds=18)
    [crashed] = repo.crashed_intervals()
    assert crashed.last_alive == START + timedelta(seconds=18)


def test_two_timers_caught_by_one_set_back_stay_one_question_when_one_stops(qtbot, window,
                                                                          clinic, clock):
    visit_id = start_visit(window, clinic)
    tap(qtbot, window, "97010")  # a supervised modality runs alongside
    tap(qtbot, window, "97110")
    clock.advance(minutes=10)
    window.controller.tick()
    clock.jump(minutes=-60)
    clock.advance(seconds=1)
    with qtbot.waitSignal(window.controller.time_jump, timeout=2000):
        window.controller.tick()
    clock.advance(minutes=2)
    tap(qtbot, window, "97010")  # stopped: measured end, its wall reading kept
    notice = jump_notice(window.visit_panel)  # still one notice for the one jump
    assert "97010, 97110" in notice.label.text() or "97110, 97010" in notice.label.text()
    with qtbot.waitSignal(window.controller.changed, timeout=2000):
        notice.buttons["Keep the measured time"].click()
    ends = {i.code: i.end for i in clinic.repo.intervals_for(visit_id)}
    assert ends == {"97010": START + timedelta(minutes=12, seconds=1), "97110": None}


def test_a_set_back_not_yet_noticed_when_the_tile_is_tapped_still_stops_measured(
        qtbot, window, clinic, clock):
    visit_id = start_visit(window, clinic)
    tap(qtbot, window, "97110")
    clock.advance(minutes=10)
    window.controller.tick()
    clock.jump(minutes=-60)
    clock.advance(seconds=20)  # no tick came between the set-back and the tap
    tap(qtbot, window, "97110")
    [stored] = clinic.repo.intervals_for(visit_id)
    assert stored.end == START + timedelta(minutes=10, seconds=20)
    assert stored.clock_flag.pending  # and the notice asks
    assert list(jump_notice(window.visit_panel).buttons)[:2] == ["Time is right",
                                                                 "Keep the measured time"]
