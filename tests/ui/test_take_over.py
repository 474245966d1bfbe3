"""One visit, two stations (issue 14, item 2), driven on the real visit screens: Room 2 times
a visit; Room 1 opens it, sees its timer as Room 2's, taps, is asked "This visit is being timed
on Room 2: take it over?", and on Take over the timer goes on in Room 1 with its time (the same
interval in the store); Room 2, when it next refreshes or acts, shows "Taken over by Room 1 at
TIME" and its tile is no longer its own. Two stores (two connections) on one clinic server."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from therapy_timer.storage.repository import open_repository
from therapy_timer.ui.clock import FakeClock
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.session_controller import SessionController
from therapy_timer.ui.tiles import ELSEWHERE, RUNNING
from therapy_timer.ui.visit_panel import VisitPanel

from .conftest import START, seed_clinic
from .shots import saved_shot

LEFT = Qt.MouseButton.LeftButton
QUESTION = "This visit is being timed on {}: take it over?"


class Station:
    """One computer: its store (its own connection), controller and visit screen."""

    def __init__(self, qtbot, target, name, clock):
        self.repo = open_repository(target)
        self.repo.station = name
        self.controller = SessionController(self.repo, clock)
        self.panel = VisitPanel(self.controller)
        qtbot.addWidget(self.panel)

    def open(self, qtbot, visit_id):
        self.controller.open_visit(visit_id)
        self.controller.timer.stop()  # tests repaint by hand after moving the clock
        self.panel.load()
        self.panel.resize(1280, 760)
        self.panel.show()
        qtbot.waitExposed(self.panel)

    def tap(self, qtbot, code):
        with qtbot.waitSignal(self.controller.changed, timeout=5000):
            qtbot.mouseClick(self.panel.tiles.tiles[code], LEFT)

    def tile(self, code):
        self.controller.tick()
        tile = self.panel.tiles.tiles[code]
        return tile.state, tile.performer, tile.seconds

    def banner(self) -> str:
        return self.panel.now_running.text().replace("\u00a0", " ")  # a time never wraps

    def close(self):
        self.controller.timer.stop()
        self.repo.close()


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def rooms(qtbot, pg_database, clock):
    seeder = open_repository(pg_database)
    clinic = seed_clinic(seeder)
    visit = seeder.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, START)
    seeder.close()
    room1 = Station(qtbot, pg_database, "Room 1", clock)
    room2 = Station(qtbot, pg_database, "Room 2", clock)
    yield room1, room2, visit
    room1.close()
    room2.close()


@pytest.fixture
def questions(monkeypatch):
    """Answers the take-over question with the next of ``answers``; records what it said."""
    asked = []
    answers = []

    def confirm(cls, parent, title, text, *, yes="Yes", no="No"):
        asked.append((title, text, yes, no))
        return answers.pop(0)

    monkeypatch.setattr(Ask, "confirm", classmethod(confirm))
    return asked, answers


def test_room_1_takes_over_room_2s_visit_and_the_timer_goes_on_with_its_time(
        qtbot, rooms, clock, questions, shots):
    room1, room2, visit = rooms
    asked, answers = questions
    room2.open(qtbot, visit.id)
    room2.tap(qtbot, "97110")
    clock.advance(minutes=10)
    assert room2.tile("97110") == (RUNNING, "PT", 600)  # its tick beats: Room 2 is there
    [timed] = room2.repo.running_intervals()

    room1.open(qtbot, visit.id)
    # Room 1 sees the timer counting, as Room 2's, and says so.
    assert room1.tile("97110") == (ELSEWHERE, "Room 2", 600)
    assert "running on Room 2" in room1.panel.tiles.tiles["97110"].accessibleDescription()
    assert "Timed on Room 2" in room1.banner()

    answers.append(True)
    room1.tap(qtbot, "97110")
    [(title, text, yes, no)] = asked
    assert title == QUESTION.format("Room 2")
    assert text.startswith(QUESTION.format("Room 2") + "\n")
    assert "Room 2 has timed it since 2:00 PM (97110 running)." in text
    assert (yes, no) == ("Take over", "Cancel")
    assert "silent" not in text  # Room 2 beat just now (a silent one: see below)
    # The same interval, same start, still running: now Room 1's. No minute lost.
    [now_running] = room1.repo.running_intervals()
    assert (now_running.id, now_running.start, now_running.end, now_running.station) == (
        timed.id, START, None, "Room 1")
    assert len(room1.repo.intervals_for(visit.id)) == 1
    assert room1.tile("97110") == (RUNNING, "PT", 600)
    assert "Timed on" not in room1.banner() and "97110" in room1.banner()
    clock.advance(minutes=5)
    assert room1.tile("97110") == (RUNNING, "PT", 900)
    [entry] = [e for e in room1.repo.audit_entries() if e.action == "take_over"]
    assert json.loads(entry.detail)["text"] == "taken over from Room 2 by Room 1"

    # Room 2 still shows its own timer until it reads the visit again ...
    assert room2.tile("97110") == (RUNNING, "PT", 900)
    seen = []
    room2.controller.taken_over.connect(seen.append)
    room2.controller.reload()  # what a live update (or reopening) does
    assert [t.station for t in seen] == ["Room 1"]
    assert "Taken over by Room 1 at 2:10 PM" in room2.banner()
    assert room2.tile("97110") == (ELSEWHERE, "Room 1", 900)
    saved_shot(room2.panel, shots / "taken-over.png", texts=["Taken over by Room 1 at\u00a02:10"])
    # ... and its heartbeat no longer touches the timer: Room 1 keeps it alive.
    clock.advance(seconds=30)
    assert room2.repo.heartbeat(clock.now()) == 0
    assert room1.repo.heartbeat(clock.now()) == 1


def test_cancel_leaves_the_visit_with_the_other_station(qtbot, rooms, clock, questions):
    room1, room2, visit = rooms
    asked, answers = questions
    room2.open(qtbot, visit.id)
    room2.tap(qtbot, "97110")
    clock.advance(minutes=3)
    room1.open(qtbot, visit.id)
    answers.append(False)
    before = room1.repo.intervals_for(visit.id)
    entries = len(room1.repo.audit_entries())
    with qtbot.waitSignal(room1.controller.changed, timeout=5000):
        qtbot.mouseClick(room1.panel.tiles.tiles["97112"], LEFT)  # would switch 97110 off
    assert [a[0] for a in asked] == [QUESTION.format("Room 2")]
    assert room1.repo.intervals_for(visit.id) == before
    assert len(room1.repo.audit_entries()) == entries
    assert room1.tile("97110") == (ELSEWHERE, "Room 2", 180)
    assert room1.tile("97112")[0] != RUNNING


def test_the_taken_over_station_is_told_when_it_next_acts_and_asked_in_turn(
        qtbot, rooms, clock, questions):
    """Room 2 was not refreshed: its clinician taps the 97110 they still see running (to
    stop it). The store refuses; Room 2 shows it was taken over, and asks about Room 1."""
    room1, room2, visit = rooms
    asked, answers = questions
    room2.open(qtbot, visit.id)
    room2.tap(qtbot, "97110")
    clock.advance(minutes=4)
    room1.open(qtbot, visit.id)
    answers.append(True)
    room1.tap(qtbot, "97110")
    clock.advance(minutes=2)
    answers.append(False)
    room2.tap(qtbot, "97110")
    assert [a[0] for a in asked] == [QUESTION.format("Room 2"), QUESTION.format("Room 1")]
    assert "Taken over by Room 1 at 2:04 PM" in room2.banner()
    [still] = room2.repo.running_intervals()
    assert (still.start, still.end, still.station) == (START, None, "Room 1")
    assert room2.tile("97110") == (ELSEWHERE, "Room 1", 360)


def test_a_silent_station_is_named_silent_since_its_last_heartbeat(qtbot, rooms, clock,
                                                                   questions):
    room1, room2, visit = rooms
    asked, answers = questions
    room2.open(qtbot, visit.id)
    room2.tap(qtbot, "97110")
    clock.advance(minutes=1)
    room2.repo.heartbeat(clock.now())  # 8:01, then Room 2 goes quiet (closed, unplugged)
    clock.advance(minutes=5)
    room1.open(qtbot, visit.id)
    answers.append(True)
    room1.tap(qtbot, "97110")
    [(_title, text, _yes, _no)] = asked
    assert "Room 2 has been silent since 2:01 PM" in text
    assert room1.tile("97110") == (RUNNING, "PT", 360)


def test_a_station_with_no_visit_screen_reports_the_holder_instead_of_asking(
        qtbot, rooms, clock):
    """A controller nobody put a question on (no visit screen) says who times the visit."""
    room1, room2, visit = rooms
    room2.repo.start_interval(visit.id, "97110", "PT", clock.now())
    controller = SessionController(room1.repo, clock)
    controller.open_visit(visit.id)
    controller.timer.stop()
    failures = []
    controller.failed.connect(failures.append)
    assert controller.start("97112") is False
    assert failures and "being timed on Room 2" in failures[0]
    assert room1.repo.running_intervals()[0].station == "Room 2"
    assert room1.repo.running_intervals()[0].start == START
