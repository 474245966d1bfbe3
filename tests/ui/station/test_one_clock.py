"""One clock for the clinic (issue 14, item 3), as a station lives it: the real main window on
a station whose clock is wrong (+90 s, -200 s) against the test server. Every time it stores
is the server's (compared with the server's ``clock_timestamp()`` at the tap), two stations
with different clocks timing back-to-back stay in order, the status bar says how far off this
computer's clock is, the log says so once per change, and the clock-jump question still comes
when the record's own timeline jumps.

The test server runs on this machine: its clock is the system clock, so a station clock built
on the system clock plus a skew is off from the server's by exactly that skew.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from PySide6.QtCore import QSettings, Qt

from tests.ui.conftest import seed_clinic
from therapy_timer.core.model import Performer
from therapy_timer.storage.errors import ConnectionLostError
from therapy_timer.storage.repository import open_repository
from therapy_timer.ui.clock import SystemClock
from therapy_timer.ui.station.server_clock import ServerClock

LEFT = Qt.MouseButton.LeftButton
#: How far a stored time may be from the server's clock read around the tap, beyond the
#: measurement's own bound (one local round trip is well under a millisecond).
SLACK = timedelta(seconds=0.25)
LOGGER = "therapy_timer.ui.station.server_clock"


class SkewedClock(SystemClock):
    """This computer's clocks with the wall clock off by ``skew`` seconds (changeable, as a
    user changes the clock); the monotonic clock is the real one."""

    def __init__(self, skew: float) -> None:
        self.skew = skew

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=self.skew)


class Server:
    """The test database's own clock, read on a connection of the test's."""

    def __init__(self, uri: str) -> None:
        self.conn = psycopg.connect(uri, autocommit=True)

    def now(self) -> datetime:
        return self.conn.execute("SELECT clock_timestamp()").fetchone()[0].astimezone(UTC)

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def server(pg_database):
    clock = Server(pg_database)
    yield clock
    clock.close()


def make_window(qtbot, repo, clock, tmp_path):
    from therapy_timer.ui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(repo, clock, settings=settings, remember_size=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def station(qtbot, store_target, tmp_path):
    """A function making the main window of a station whose clock is off by ``skew``, on a
    new clinic (SQLite file or server database); the windows close at the end."""
    opened = []

    def make(skew: float):
        repo = open_repository(store_target)
        clinic = seed_clinic(repo) if not opened else None
        win = make_window(qtbot, repo, SkewedClock(skew), tmp_path / str(len(opened)))
        opened.append((win, repo))
        return win, clinic

    yield make
    for win, repo in opened:
        win.close()
        repo.close()


def start_visit(win, clinic) -> int:
    win.show_today()
    win.today.set_provider(clinic.pt.id)
    win.today.start_for(clinic.patient.id)
    assert win.stack.currentWidget() is win.visit_panel
    win.controller.timer.stop()  # the test ticks by hand
    return win.controller.visit.id


def tap(qtbot, win, code):
    with qtbot.waitSignal(win.controller.changed, timeout=5000):
        qtbot.mouseClick(win.visit_panel.tiles.tiles[code], LEFT)


def around(server: Server, action):
    """The server's clock just before and just after ``action()``."""
    before = server.now()
    action()
    return before, server.now()


def within(moment: datetime, span: tuple[datetime, datetime], error: float) -> bool:
    slack = SLACK + timedelta(seconds=error)
    return span[0] - slack <= moment <= span[1] + slack


def jump_keys(win) -> list[str]:
    win.visit_panel.refresh_notices()
    return [k for k in win.visit_panel.notices.notices if k.startswith("jump")]


def clock_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


# --- stored times are the server's --------------------------------------------------------


@pytest.mark.parametrize("store_target", ["postgresql"], indirect=True)
@pytest.mark.parametrize("skew", [90.0, -200.0])
def test_an_interval_timed_on_a_wrong_clock_is_stored_in_server_time(qtbot, station, server,
                                                                     skew):
    win, clinic = station(skew)
    assert isinstance(win.clock, ServerClock)
    error = win.clock.reading.error
    assert abs(win.clock.offset - (-skew)) <= win.clock.reading.round_trip
    opened = around(server, lambda: start_visit(win, clinic))
    visit = win.repo.get_visit(win.controller.visit.id)
    started = around(server, lambda: tap(qtbot, win, "97110"))
    win.controller._last_beat = None  # the next tick writes the heartbeat
    beat = around(server, win.controller.tick)
    heartbeat = win.repo._row('SELECT heartbeat FROM intervals WHERE "end" IS NULL')["heartbeat"]
    stopped = around(server, lambda: tap(qtbot, win, "97110"))
    interval = win.repo.intervals_for(visit.id)[0]
    assert within(visit.created_at, opened, error)
    assert within(interval.start, started, error)
    assert within(datetime.fromisoformat(heartbeat), beat, error)
    assert within(interval.end, stopped, error)
    # the station's own clock would have put them 90 s later / 200 s earlier
    assert abs((interval.start - (started[0] + timedelta(seconds=skew))).total_seconds()) > 60


@pytest.mark.parametrize("store_target", ["sqlite"], indirect=True)
def test_on_the_embedded_file_the_computers_clock_is_the_clock(qtbot, station):
    win, clinic = station(90.0)
    assert win.clock.offset == 0.0
    start_visit(win, clinic)
    tap(qtbot, win, "97110")
    interval = win.controller.intervals[0]
    ahead = (interval.start - datetime.now(UTC)).total_seconds()
    assert 89 < ahead <= 90.5  # one computer: what its clock says is what it stores
    assert win.clock_notice.isHidden()


@pytest.mark.parametrize("store_target", ["postgresql"], indirect=True)
def test_two_stations_with_different_clocks_time_back_to_back_in_order(qtbot, station,
                                                                       server):
    """Room 1's clock runs 90 s fast, Room 2's 200 s slow; one therapist times a patient in
    Room 1, then the next in Room 2 straight after. On their own clocks the second start
    would be 290 s before the first stop."""
    room1, clinic = station(90.0)
    room2, _ = station(-200.0)
    repo1, repo2 = room1.repo, room2.repo
    first = repo1.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id,
                              room1.clock.now())
    second = repo2.start_visit(clinic.patient2.id, clinic.pt.id, None, room2.clock.now())
    ctl1, ctl2 = room1.controller, room2.controller
    ctl1.open_visit(first.id)
    ctl2.open_visit(second.id)
    for ctl in (ctl1, ctl2):
        ctl.timer.stop()
    spans = [around(server, lambda: ctl1.tap("97110")), around(server, lambda: ctl1.tap("97110")),
             around(server, lambda: ctl2.tap("97110")), around(server, lambda: ctl2.tap("97110"))]
    a = repo2.intervals_for(first.id)[0]  # each read on the other station: one record
    b = repo1.intervals_for(second.id)[0]
    assert a.performer is Performer.PT and b.performer is Performer.PT
    assert a.start <= a.end <= b.start <= b.end
    error = max(room1.clock.reading.error, room2.clock.reading.error)
    for moment, span in zip((a.start, a.end, b.start, b.end), spans, strict=True):
        assert within(moment, span, error)


# --- the status bar and the log -----------------------------------------------------------


@pytest.mark.parametrize("store_target", ["postgresql"], indirect=True)
@pytest.mark.parametrize(("skew", "said", "logged"), [
    (90.0, "This computer's clock is 1 min 30 s ahead of the clinic server's; times are "
           "recorded by the server's clock", "is 1 min 30 s ahead of the clinic server's"),
    (-200.0, "This computer's clock is 3 min 20 s behind the clinic server's; times are "
             "recorded by the server's clock", "is 3 min 20 s behind the clinic server's"),
])
def test_a_wrong_clock_is_shown_in_the_status_bar_and_logged_once(qtbot, station, caplog,
                                                                  skew, said, logged):
    caplog.set_level(logging.INFO, logger=LOGGER)
    win, _ = station(skew)
    notice = win.clock_notice
    assert notice.isVisible()
    assert notice.text() == said
    assert "(server time), to within" in notice.toolTip()
    assert notice in win.statusBar().findChildren(type(notice))
    lines = clock_lines(caplog)
    assert len(lines) == 1 and logged in lines[0], lines
    assert f"offset {-skew:+.3f}"[:-2] in lines[0]  # by how much, in seconds
    assert caplog.records[-1].levelno == logging.WARNING
    for _ in range(3):  # heartbeats: measured again, not logged again
        win.heartbeat()
    assert len(clock_lines(caplog)) == 1
    win.clock.station.skew += 0.4  # a change of under a second: corrected, not logged
    win.heartbeat()
    assert len(clock_lines(caplog)) == 1
    win.clock.station.skew += 2.0  # this computer's clock moved 2.4 s since the line
    win.heartbeat()
    lines = clock_lines(caplog)
    assert len(lines) == 2, lines
    assert abs(win.clock.offset - (-skew - 2.4)) < 0.05
    assert notice.text() == said.replace("1 min 30 s", "1 min 32 s").replace(
        "3 min 20 s", "3 min 18 s")


@pytest.mark.parametrize("store_target", ["postgresql"], indirect=True)
def test_a_clock_within_a_few_seconds_shows_no_notice(qtbot, station, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    win, _ = station(3.0)
    assert win.clock_notice.isHidden()
    assert win.clock_notice.text() == ""
    lines = clock_lines(caplog)
    assert len(lines) == 1 and "is 3 s ahead of the clinic server's" in lines[0]
    assert caplog.records[-1].levelno == logging.INFO
    win.clock.station.skew = -7.0  # now off by more than the notice's 5 s
    win.heartbeat()
    assert win.clock_notice.isVisible()
    assert win.clock_notice.text().startswith("This computer's clock is 7 s behind")


# --- clock jumps ---------------------------------------------------------------------------


@pytest.mark.parametrize("store_target", ["sqlite", "postgresql"], indirect=True)
def test_this_computers_clock_set_back_while_a_timer_runs(qtbot, station, store_target,
                                                          caplog):
    """On the embedded file, the jump is flagged as before (the computer's clock is the
    record's). On a server, the offset takes it up: the record keeps the server's time, so
    nothing needs confirming; the log and the status bar say what changed."""
    caplog.set_level(logging.INFO)
    win, clinic = station(90.0)
    visit_id = start_visit(win, clinic)
    tap(qtbot, win, "97110")
    win.controller.tick()  # the watch's baseline
    win.clock.station.skew -= 3600  # someone sets this computer's clock back an hour
    win.controller.tick()
    interval = win.repo.intervals_for(visit_id)[0]
    if isinstance(store_target, str):  # the server
        assert interval.clock_flag is None
        assert jump_keys(win) == []
        assert abs(win.clock.offset - 3510.0) < 0.5
        assert any("this computer's clock changed by -3600s while the clinic server's went on"
                   in r.getMessage() for r in caplog.records)
        win.heartbeat()
        assert win.clock_notice.text().startswith(
            "This computer's clock is 58 min 30 s behind the clinic server's")
        assert (win.clock.now() - interval.start).total_seconds() < 5  # still counting on
    else:
        assert interval.clock_flag is not None
        assert interval.clock_flag.wall_seconds - interval.clock_flag.real_seconds < -3590
        assert len(jump_keys(win)) == 1
        assert win.clock_notice.isHidden()


@pytest.mark.parametrize("store_target", ["postgresql"], indirect=True)
def test_a_jump_while_the_server_cannot_be_asked_is_flagged_as_before(qtbot, station,
                                                                      monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    win, clinic = station(-200.0)
    visit_id = start_visit(win, clinic)
    tap(qtbot, win, "97110")
    win.controller.tick()
    kept = win.clock.offset

    def away(conn):
        raise ConnectionLostError("the clinic server is not answering")

    monkeypatch.setattr("therapy_timer.storage.dialect.server_epoch", away)
    win.clock.station.skew += 1800  # the clock jumps ahead half an hour
    # the flag itself is written on the store's connection, which still answers here
    win.controller.tick()
    assert win.clock.offset == kept
    flag = win.repo.intervals_for(visit_id)[0].clock_flag
    assert flag is not None
    assert 1790 < flag.wall_seconds - flag.real_seconds < 1810
    assert len(jump_keys(win)) == 1
    for _ in range(3):  # heartbeats while the server stays away: said once, not every beat
        win.heartbeat()
    missed = [line for line in clock_lines(caplog) if "clock offset not measured" in line]
    assert len(missed) == 1, missed


@pytest.mark.parametrize("store_target", ["postgresql"], indirect=True)
def test_a_jump_of_the_servers_own_clock_is_flagged(qtbot, station, monkeypatch):
    """The station's clock holds still, the server's jumps ahead 10 minutes (someone set it):
    the record's timeline jumped, so the heartbeat's new offset is a jump to confirm, not a
    correction."""
    from therapy_timer.storage import dialect

    win, clinic = station(0.0)
    visit_id = start_visit(win, clinic)
    tap(qtbot, win, "97110")
    win.heartbeat()  # the watch's baseline
    real = dialect.server_epoch
    monkeypatch.setattr("therapy_timer.storage.dialect.server_epoch",
                        lambda conn: real(conn) + 600)
    win.heartbeat()
    flag = win.repo.intervals_for(visit_id)[0].clock_flag
    assert flag is not None
    assert 590 < flag.wall_seconds - flag.real_seconds < 610
    assert len(jump_keys(win)) == 1


@pytest.mark.parametrize("store_target", ["postgresql"], indirect=True)
def test_small_corrections_between_heartbeats_are_no_jump(qtbot, station):
    win, clinic = station(90.0)
    visit_id = start_visit(win, clinic)
    tap(qtbot, win, "97110")
    win.heartbeat()
    for drift in (0.3, 1.5, 4.0):  # this computer's clock drifting off, heartbeat by heartbeat
        win.clock.station.skew += drift
        win.heartbeat()
        win.controller.tick()
    assert win.repo.intervals_for(visit_id)[0].clock_flag is None
    assert abs(win.clock.offset - (-95.8)) < 0.05
