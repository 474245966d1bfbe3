"""A pause and a clock jump outlive the visit screen: leaving to Today, or restarting the app,
still shows PAUSED with a working Resume, and the clock question the heartbeat stored."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from PySide6.QtCore import QSettings, Qt

from therapy_timer.core.formats import format_time
from therapy_timer.ui.clock import FakeClock
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.tiles import PAUSED, RUNNING

from .conftest import START, seed_clinic

LEFT = Qt.MouseButton.LeftButton


def make_window(qtbot, repo, clock, tmp_path):
    from therapy_timer.ui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(repo, clock, settings=settings)
    qtbot.addWidget(win)
    win.show()
    win.start()
    return win


@pytest.fixture
def window(qtbot, clinic, clock, tmp_path):
    win = make_window(qtbot, clinic.repo, clock, tmp_path)
    yield win
    win.close()


def start_visit(win, clinic) -> int:
    win.today.set_provider(clinic.pt.id)
    win.today.start_for(clinic.patient.id)
    assert win.stack.currentWidget() is win.visit_panel
    win.controller.timer.stop()  # the test moves the FakeClock and repaints by hand
    return win.controller.visit.id


def tap(qtbot, win, code):
    with qtbot.waitSignal(win.controller.changed, timeout=2000):
        qtbot.mouseClick(win.visit_panel.tiles.tiles[code], LEFT)


def open_from_today(qtbot, win, row=0):
    win.today.table.selectRow(row)
    qtbot.mouseClick(win.today.open_button, LEFT)
    assert win.stack.currentWidget() is win.visit_panel
    win.controller.timer.stop()
    return win.visit_panel


def jump_notice(panel):
    keys = [k for k in panel.notices.notices if k.startswith("jump")]
    assert len(keys) == 1, keys
    return panel.notices.notices[keys[0]]


# --- pause ---------------------------------------------------------------------------------

def test_a_pause_survives_going_back_to_today(qtbot, window, clinic, clock):
    visit_id = start_visit(window, clinic)
    tap(qtbot, window, "97110")
    tap(qtbot, window, "97010")  # runs alongside
    clock.advance(minutes=10)
    panel = window.visit_panel
    qtbot.mouseClick(panel.pause_button, LEFT)
    paused_at = clock.now()
    qtbot.mouseClick(panel.back_button, LEFT)
    assert window.stack.currentWidget() is window.today
    assert window.today.model.cell_text(0, 4) == "paused"
    clock.advance(minutes=5)  # toileting, while the visit screen is closed
    window.heartbeat()
    assert clinic.repo.running_intervals() == []
    panel = open_from_today(qtbot, window)
    assert window.controller.paused and panel.pause_button.text() == "Resume"
    since = format_time(paused_at.astimezone())
    assert panel.now_running.text().startswith(f"PAUSED since {since}")
    assert panel.tiles.tiles["97110"].state == PAUSED
    with qtbot.waitSignal(window.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.pause_button, LEFT)
    assert sorted(i.code for i in clinic.repo.running_intervals()) == ["97010", "97110"]
    assert all(i.start == clock.now() for i in clinic.repo.running_intervals())
    assert panel.pause_button.text() == "Pause"
    clock.advance(minutes=5)
    tap(qtbot, window, "97110")
    assert panel.tiles.tiles["97110"].seconds == 15 * 60  # the pause is not treatment time
    qtbot.mouseClick(panel.back_button, LEFT)
    assert window.today.model.cell_text(0, 4) == "running"  # 97010 still runs
    actions = [e.action for e in clinic.repo.audit_entries("visit", visit_id)]
    assert "pause_visit" in actions and "resume_visit" in actions


def test_a_pause_survives_restarting_the_app(qtbot, tmp_path):
    from therapy_timer.storage.repository import open_repository

    path = tmp_path / "clinic.db"
    repo = open_repository(path)
    clinic = seed_clinic(repo)
    clock = FakeClock(START)
    win = make_window(qtbot, repo, clock, tmp_path)
    visit_id = start_visit(win, clinic)
    tap(qtbot, win, "97112")
    clock.advance(minutes=8)
    qtbot.mouseClick(win.visit_panel.pause_button, LEFT)
    win.close()
    repo.close()  # the app is gone; the pause is on disk

    clock.advance(minutes=3)
    repo = open_repository(path)
    try:
        win = make_window(qtbot, repo, clock, tmp_path)
        assert win.recovery_dialog is None  # nothing was left running
        assert win.today.model.cell_text(0, 4) == "paused"
        panel = open_from_today(qtbot, win)
        assert win.controller.visit.id == visit_id
        assert win.controller.paused and panel.pause_button.text() == "Resume"
        assert panel.tiles.tiles["97112"].state == PAUSED
        qtbot.mouseClick(panel.pause_button, LEFT)
        [running] = repo.running_intervals()
        assert (running.code, running.start) == ("97112", clock.now())
        assert panel.tiles.tiles["97112"].state == RUNNING
        win.close()
    finally:
        repo.close()


# --- clock jumps ---------------------------------------------------------------------------

def run_then_jump_on_today(qtbot, win, clinic, clock):
    """97110 runs 6 min, the clinician goes to Today, the clock jumps 2 h ahead, the next
    heartbeat (5 s later) notices. Returns (visit id, the last certain moment)."""
    visit_id = start_visit(win, clinic)
    tap(qtbot, win, "97110")
    clock.advance(minutes=5)
    qtbot.mouseClick(win.visit_panel.back_button, LEFT)
    assert not win.controller.timer.isActive()
    clock.advance(minutes=1)
    win.heartbeat()
    last_good = clock.now()
    clock.jump(minutes=120)
    clock.advance(seconds=5)
    win.heartbeat()
    return visit_id, last_good


@pytest.mark.parametrize("keep", [True, False])
def test_a_jump_while_on_today_is_asked_when_the_visit_opens(qtbot, window, clinic, clock,
                                                             keep):
    visit_id, last_good = run_then_jump_on_today(qtbot, window, clinic, clock)
    [flagged] = clinic.repo.running_intervals()
    assert flagged.clock_flag.trusted_until == last_good + timedelta(seconds=5)
    window.show_today()  # Today says the visit's time needs an answer
    assert window.today.model.cell_text(0, 4) == "check time (running)"
    panel = open_from_today(qtbot, window)
    notice = jump_notice(panel)
    assert "jumped ahead (120 min" in notice.label.text()
    caption = "Time is right" if keep else next(c for c in notice.buttons if c.startswith("Stop"))
    with qtbot.waitSignal(window.controller.changed, timeout=2000):
        notice.buttons[caption].click()
    assert window.controller.jumps == []
    assert not [k for k in panel.notices.notices if k.startswith("jump")]
    [stored] = clinic.repo.intervals_for(visit_id)
    assert stored.clock_flag is None
    if keep:  # the stored times stand: the minutes include the gap
        assert stored.running
        tap(qtbot, window, "97110")
        assert panel.tiles.tiles["97110"].seconds == 6 * 60 + 120 * 60 + 5
    else:  # the interval ends at the last certain moment
        assert stored.end == last_good + timedelta(seconds=5)
        assert clinic.repo.running_intervals() == []
        panel.on_tick()
        assert panel.tiles.tiles["97110"].seconds == 6 * 60 + 5
    [entry] = [e for e in clinic.repo.audit_entries("interval", stored.id)
               if e.action == "resolve_clock_jump"]
    assert json.loads(entry.detail)["choice"] == ("keep" if keep else "stop")
    assert entry.user == "Dana Test, PT"
    window.show_today()
    assert window.today.model.cell_text(0, 4) == "open"  # answered (and stopped)


def test_a_jump_just_before_opening_the_visit_is_caught_at_open(qtbot, window, clinic, clock):
    visit_id = start_visit(window, clinic)
    tap(qtbot, window, "97110")
    clock.advance(minutes=4)
    qtbot.mouseClick(window.visit_panel.back_button, LEFT)
    clock.sleep(minutes=45)  # no heartbeat came between the sleep and the tap on Open
    panel = open_from_today(qtbot, window)
    assert "slept" in jump_notice(panel).label.text()
    [stored] = clinic.repo.intervals_for(visit_id)
    assert stored.clock_flag.trusted_until == START + timedelta(minutes=4)


def test_the_visit_screen_tick_stores_its_jump_the_same_way(qtbot, window, clinic, clock):
    visit_id = start_visit(window, clinic)
    tap(qtbot, window, "97110")
    clock.advance(minutes=3)
    window.controller.tick()
    clock.sleep(minutes=30)
    with qtbot.waitSignal(window.controller.time_jump, timeout=2000):
        window.controller.tick()
    [stored] = clinic.repo.intervals_for(visit_id)
    assert stored.clock_flag.trusted_until == stored.start + timedelta(minutes=3)
    window.heartbeat()  # the same watch: the jump is not counted twice
    assert len(window.controller.jumps) == 1
    qtbot.mouseClick(window.visit_panel.back_button, LEFT)
    panel = open_from_today(qtbot, window)
    assert "slept" in jump_notice(panel).label.text()


def test_a_flag_survives_a_restart_and_blocks_finalizing_until_answered(qtbot, tmp_path,
                                                                       monkeypatch):
    from therapy_timer.storage.repository import open_repository

    path = tmp_path / "clinic.db"
    repo = open_repository(path)
    clinic = seed_clinic(repo)
    clock = FakeClock(START)
    win = make_window(qtbot, repo, clock, tmp_path)
    visit_id, last_good = run_then_jump_on_today(qtbot, win, clinic, clock)
    [interval] = repo.running_intervals()
    flag = interval.clock_flag
    assert flag.trusted_until == last_good + timedelta(seconds=5)
    stopped_at = clock.now()
    repo.stop_interval(interval.id, stopped_at)
    repo.set_diagnoses(visit_id, ["M54.50"], validate=False)
    win.close()
    repo.close()

    repo = open_repository(path)
    try:
        win = make_window(qtbot, repo, clock, tmp_path)
        assert repo.get_interval(interval.id).clock_flag == dataclasses.replace(
            flag, wall_end=stopped_at)  # kept across the restart, closed at the stop
        win.show_review(visit_id)
        page = win.finalize_page
        texts = [label.text() for label in page.findChildren(type(page.title))]
        assert any("clock jumped while 97110 ran" in t for t in texts)
        warned = []
        monkeypatch.setattr(Ask, "warn", classmethod(lambda cls, _p, title, text:
                                                     warned.append(text)))
        assert page.on_finalize() is False
        assert "confirm the time" in warned[0]
        assert repo.get_visit(visit_id).status.value == "open"
        qtbot.mouseClick(page.back_button, LEFT)
        panel = win.visit_panel
        win.controller.timer.stop()
        notice = jump_notice(panel)
        caption = next(c for c in notice.buttons if c.startswith("Stop"))
        notice.buttons[caption].click()
        assert repo.get_interval(interval.id).end == last_good + timedelta(seconds=5)
        monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *a, **k: True))
        win.show_review(visit_id)
        assert page.on_finalize() is True
        assert repo.get_visit(visit_id).status.value == "finalized"
        win.close()
    finally:
        repo.close()


# --- the watch itself ----------------------------------------------------------------------

class FlakyRepo:
    """Wraps a repository; the first ``fail`` flag writes raise like a locked file."""

    def __init__(self, repo, fail: int) -> None:
        self.repo, self.fail, self.calls = repo, fail, []

    def flag_clock_jump(self, *args, **kwargs):
        from therapy_timer.storage.errors import DatabaseLockedError

        self.calls.append(args)
        if self.fail:
            self.fail -= 1
            raise DatabaseLockedError("the database is locked")
        return self.repo.flag_clock_jump(*args, **kwargs)


def test_watch_sets_a_baseline_ignores_drift_and_retries_a_failed_write(qtbot, clinic, clock,
                                                                       visit):
    from therapy_timer.ui.clock_watch import JUMP_TOLERANCE_SECONDS, ClockWatch

    repo = clinic.repo
    repo.start_interval(visit.id, "97110", "PT", clock.now())
    flaky = FlakyRepo(repo, fail=1)
    watch = ClockWatch(flaky, clock)
    clock.jump(minutes=30)
    assert watch.check() == []  # the first check only sets the baseline
    clock.advance(minutes=1)
    clock.jump(seconds=JUMP_TOLERANCE_SECONDS - 1)  # NTP-sized drift: not a jump
    assert watch.check() == [] and flaky.calls == []
    last_good = clock.now()
    clock.jump(minutes=-20)  # someone sets the clock back
    assert watch.check() == []  # the write failed: nothing flagged, baseline kept
    clock.advance(seconds=5)
    with qtbot.waitSignal(watch.flagged, timeout=2000) as blocker:
        [flagged] = watch.check()  # retried from the same last certain moment
    assert blocker.args[0] == [flagged]
    assert flagged.clock_flag.last_good == last_good
    assert flagged.clock_flag.trusted_until == last_good + timedelta(seconds=5)
    assert flagged.clock_flag.wall_seconds == -20 * 60 + 5
    assert len(flaky.calls) == 2
    clock.advance(seconds=5)
    assert watch.check() == []  # the clocks agree again
