"""The treatment room keeps timing when the clinic server is away (issue 14, item 4), on the
real main window: its store goes through a relay the test cuts. While cut the visit screen
keeps counting, taps land in the journal, the banner says plainly what is going on, and
Finish visit and the front desk say why they are unavailable; restored, the taps are on the
server in order with their times, and a change the server refused meanwhile is shown with
what to do until the clinician answers.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt

from tests.pg_relay import Relay
from tests.ui.conftest import START, seed_clinic
from tests.ui.shots import saved_shot
from therapy_timer.core.records import Practice
from therapy_timer.storage.repository import open_repository
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.station.name import apply_station

LEFT = Qt.MouseButton.LeftButton
WAITING = ("safe on this computer. They are sent when the clinic server is back.")


@pytest.fixture
def relay(pg_server):
    relay = Relay(pg_server.port)
    yield relay
    relay.close()


@pytest.fixture
def room(qtbot, pg_database, relay, clock, tmp_path):
    """A treatment room's window on the server through the relay (the clinic in Chicago:
    START, 14:00 UTC, is 8:00 AM there), a visit open with 97110 running since 8:00 AM, and
    the front desk's own connection to the server."""
    from therapy_timer.ui.main_window import MainWindow

    repo = open_repository(relay.uri(pg_database.rsplit("/", 1)[1]))
    clinic = seed_clinic(repo)
    repo.save_practice(Practice("Harbor Test Therapy", timezone="America/Chicago"))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("station/name", "Room 2")
    apply_station(repo, settings)  # as the app does before its window opens
    win = MainWindow(repo, clock, settings=settings, remember_size=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.show_today()
    win.today.set_provider(clinic.pt.id)
    win.today.start_for(clinic.patient.id)
    win.controller.timer.stop()  # the test ticks by hand
    tap(qtbot, win, "97110")
    desk = open_repository(pg_database)
    desk.station = "Front desk"
    yield win, clinic, desk
    win.close()
    desk.close()
    win.timers.journal.close()
    repo.close()


def tap(qtbot, win, code):
    with qtbot.waitSignal(win.controller.changed, timeout=5000):
        qtbot.mouseClick(win.visit_panel.tiles.tiles[code], LEFT)


def cut(relay):
    relay.refuse()
    relay.cut()


def on_server(desk, visit_id):
    return [(i.code, i.start, i.end) for i in desk.intervals_for(visit_id)]


def test_taps_while_cut_keep_counting_and_reach_the_server_in_order(qtbot, room, relay,
                                                                    clock, monkeypatch,
                                                                    tmp_path):
    win, clinic, desk = room
    panel = win.visit_panel
    visit_id = win.controller.visit.id
    assert panel.offline_banner.isHidden()
    assert panel.finalize_button.isEnabled()
    clock.advance(minutes=10)
    cut(relay)
    tap(qtbot, win, "97110")  # stop: the server is away, the journal keeps it
    assert panel.offline_banner.isVisible()
    assert panel.offline_banner.label.text() == (
        "Offline since 8:10 AM — 1 change waiting, " + WAITING)
    clock.advance(minutes=1)
    tap(qtbot, win, "97530")
    assert panel.offline_banner.label.text() == (
        "Offline since 8:10 AM — 2 changes waiting, " + WAITING)
    saved_shot(win, tmp_path / "offline.png",  # what the clinician sees, as a picture
               texts=["Offline since 8:10 AM — 2 changes waiting, " + WAITING])
    # The screen keeps counting from the taps' own times: 97530 runs, 97110 stopped at 10.
    assert [(i.code, i.start, i.end) for i in win.controller.intervals] == [
        ("97110", START, START + timedelta(minutes=10)),
        ("97530", START + timedelta(minutes=11), None)]
    clock.advance(minutes=4)
    win.controller.tick()
    facts = win.controller.facts()
    assert facts.seconds_by_code == {"97110": 600, "97530": 240}
    assert facts.running_code == "97530"
    assert win.controller.session_seconds() == 15 * 60
    # What needs the server says why it is unavailable.
    assert not panel.finalize_button.isEnabled()
    assert "Not available while the clinic server is away: finishing the visit needs it" in (
        panel.finalize_button.toolTip())
    assert not win.frontdesk_action.isEnabled()
    assert "the front desk needs it" in win.frontdesk_action.toolTip()
    assert win.station_status.text().endswith("· Room 2 · Not connected since 8:10 AM")
    # An edit needs the server: said at once, not waited for, nothing kept half-done.
    said = []
    monkeypatch.setattr(Ask, "warn", classmethod(lambda c, p, t, x: said.append((t, x))))
    first = win.controller.intervals[0]
    assert not win.controller.delete_interval(first.id, reason="wrong patient")
    qtbot.mouseClick(panel.finalize_button, LEFT)  # disabled: nothing happens
    win.visit_panel.on_finalize()  # the menu's Finish visit…: says why
    assert [t for t, _x in said] == ["Not done", "Not done"]
    assert "is away: this needs the clinic server" in said[0][1]
    assert said[1][1].startswith("Not available while the clinic server is away")
    assert win.stack.currentWidget() is panel
    assert on_server(desk, visit_id) == [("97110", START, None)]
    # The journal: owner-only, in the data folder, two entries in order.
    path = win.timers.journal.path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.name.startswith("Room-2-")
    assert [e.op for e in win.timers.journal.entries()] == ["stop_interval", "start_interval"]
    # The status bar's own check asks nothing on the screen's thread while offline (a
    # network that hangs would stall the screen): the probe's thread does.
    import therapy_timer.storage.pg.probe as probe_module

    def no_ping_here(_repo):
        raise AssertionError("the status bar pinged the server on the screen's thread")

    with monkeypatch.context() as patch:
        patch.setattr(probe_module, "ping", no_ping_here)
        win.heartbeat_timer.timeout.emit()
    assert win.station_status.text().endswith("· Room 2 · Not connected since 8:10 AM")
    # The heartbeat asks the server on a thread of its own: still away, nothing is sent.
    with qtbot.waitSignal(win.server_probe.answered, timeout=10000) as probe:
        win.heartbeat()
    assert probe.args == [False] and len(win.timers.journal) == 2
    # Restored: the next heartbeat sends them; the banner goes, Finish comes back.
    relay.accept()
    with qtbot.waitSignal(win.server_probe.answered, timeout=10000) as probe:
        win.heartbeat()
    assert probe.args == [True]
    qtbot.waitUntil(lambda: len(win.timers.journal) == 0, timeout=5000)
    qtbot.waitUntil(lambda: panel.offline_banner.isHidden(), timeout=5000)
    assert on_server(desk, visit_id) == [
        ("97110", START, START + timedelta(minutes=10)),
        ("97530", START + timedelta(minutes=11), None)]
    assert len(win.timers.journal) == 0
    assert panel.offline_banner.isHidden()
    assert panel.finalize_button.isEnabled()
    assert win.frontdesk_action.isEnabled()
    assert win.station_status.text().endswith("· Room 2 · Connected")
    # the screen re-reads the visit: the server's ids, the same times
    qtbot.waitUntil(lambda: all(i.id > 0 for i in win.controller.intervals), timeout=5000)
    assert [(i.code, i.start, i.end) for i in win.controller.intervals] == [
        ("97110", START, START + timedelta(minutes=10)),
        ("97530", START + timedelta(minutes=11), None)]
    assert desk.audit_verify() is None


def test_a_change_refused_on_replay_is_shown_and_kept_until_answered(qtbot, room, relay,
                                                                     clock):
    win, clinic, desk = room
    panel = win.visit_panel
    visit_id = win.controller.visit.id
    first = win.controller.intervals[0]
    clock.advance(minutes=10)
    cut(relay)
    tap(qtbot, win, "97110")
    tap(qtbot, win, "97530")
    # Meanwhile the visit is stopped and finalized at the front desk.
    desk.stop_interval(first.id, START + timedelta(minutes=12), take_over=True)
    desk.set_diagnoses(visit_id, ["M54.50"], validate=False)
    desk.finalize_visit(visit_id, None, "Front desk", START + timedelta(minutes=13))
    relay.accept()
    win.heartbeat()
    qtbot.waitUntil(lambda: panel.offline_banner.refusal.isVisible(), timeout=5000)
    text = panel.offline_banner.refusal.text()
    assert text.startswith("The clinic server refused a change made while offline: "
                           "Start 97530 at 8:10 AM. It said: visit ")
    assert "finalized" in text
    assert "Discard this change" in text and "Send it again" in text
    assert panel.offline_banner.discard_button.isVisible()
    assert panel.offline_banner.retry_button.isVisible()
    assert len(win.timers.journal) == 1  # kept, not lost
    win.heartbeat()  # and it stays: a heartbeat does not drop it
    assert len(win.timers.journal) == 1
    qtbot.mouseClick(panel.offline_banner.retry_button, LEFT)  # refused again: still there
    assert len(win.timers.journal) == 1
    qtbot.mouseClick(panel.offline_banner.discard_button, LEFT)
    assert len(win.timers.journal) == 0
    qtbot.waitUntil(lambda: panel.offline_banner.isHidden(), timeout=5000)
    assert on_server(desk, visit_id) == [
        ("97110", START, START + timedelta(minutes=12))]


def test_a_room_killed_while_cut_replays_its_journal_at_the_next_start(
        qtbot, pg_database, relay, tmp_path):
    """A station process keeps two taps in its journal while the server is cut and is
    killed. The next start of the app (same station name, same server) sends them before
    anything else: the crash question that follows asks only about the timer still running
    (97530), not about the 97110 the journal stopped."""
    from therapy_timer.paths import data_dir
    from therapy_timer.storage.journal import journal_path
    from therapy_timer.ui.clock import FakeClock
    from therapy_timer.ui.main_window import MainWindow

    t0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # the child's clock (offline_child.T0)
    desk = open_repository(pg_database)
    desk.station = "Room 2"  # the room's first run: the visit and its timer, online
    clinic = seed_clinic(desk)
    visit = desk.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, t0)
    first = desk.start_interval(visit.id, "97110", "PT", t0)
    desk.station = "Front desk"
    uri = relay.uri(pg_database.rsplit("/", 1)[1])
    repo = open_repository(uri)
    path = journal_path(data_dir(), "Room 2", str(repo.path))
    script = Path(__file__).parents[2] / "storage" / "offline_child.py"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])}
    child = subprocess.Popen([sys.executable, str(script), uri, str(path), str(visit.id),
                              str(first.id)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "ready"
        cut(relay)
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "kept 2 offline=True"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdin.close()
        child.stdout.close()
    assert on_server(desk, visit.id) == [("97110", t0, None)]
    relay.accept()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("station/name", "Room 2")
    apply_station(repo, settings)  # as the app does before its window opens
    win = MainWindow(repo, FakeClock(t0 + timedelta(minutes=11)), settings=settings,
                     remember_size=False)
    qtbot.addWidget(win)
    assert win.timers.journal.path == path and win.timers.offline
    win.start()
    try:
        assert on_server(desk, visit.id) == [
            ("97110", t0, t0 + timedelta(minutes=10)), ("97530", t0 + timedelta(minutes=10),
                                                        None)]
        assert len(win.timers.journal) == 0 and not win.timers.offline
        asked = [row.crashed.interval.code for row in win.recovery_dialog.rows]
        assert asked == ["97530"]
    finally:
        if win.recovery_dialog is not None:
            win.recovery_dialog.close()
        win.close()
        win.timers.journal.close()
        repo.close()
        desk.close()
