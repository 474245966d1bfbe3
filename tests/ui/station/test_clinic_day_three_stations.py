"""A clinic's day on one server and three stations, as issue 14's acceptance tries it: a visit
timed in Room 1 (whose connection goes through a relay the test cuts), followed live at the
front desk and in Room 2, the network cut during the visit and restored, the visit finalized
in the room, its superbill printed at the front desk, nothing lost and ``verify`` ok.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

import pytest
from PySide6.QtCore import QSettings, Qt

from tests.pg_relay import Relay
from tests.ui.conftest import START, seed_clinic
from therapy_timer.cli import main
from therapy_timer.core.records import Practice
from therapy_timer.storage.repository import open_repository
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.station.name import apply_station
from therapy_timer.ui.workers import Worker

LEFT = Qt.MouseButton.LeftButton
SECOND = 1000
STATUS = 4  # Today's Status column


def _station(qtbot, repo, clock, tmp_path, name: str, target: str):
    from therapy_timer.ui.main_window import MainWindow

    settings = QSettings(str(tmp_path / f"{name}.ini"), QSettings.Format.IniFormat)
    settings.setValue("station/name", name)
    apply_station(repo, settings)
    win = MainWindow(repo, clock, db_path=target, worker=Worker(), settings=settings,
                     remember_size=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.show_today()
    win.live.start()
    return win


def _tap(qtbot, win, code: str) -> None:
    with qtbot.waitSignal(win.controller.changed, timeout=5 * SECOND):
        qtbot.mouseClick(win.visit_panel.tiles.tiles[code], LEFT)


def _status_of(win, patient_name: str) -> str:
    """Today's Status of the patient's visit on ``win`` ("" while not listed)."""
    model = win.today.model
    return next((model.cell_text(r, STATUS) for r in range(model.rowCount())
                 if patient_name in model.cell_text(r, 1)), "")


@pytest.fixture
def clinic_day(qtbot, pg_server, pg_database, clock, tmp_path):
    relay = Relay(pg_server.port)
    name = pg_database.rsplit("/", 1)[1]
    room1_repo = open_repository(relay.uri(name))
    clinic = seed_clinic(room1_repo)
    room1_repo.save_practice(Practice("Harbor Test Therapy", timezone="America/Chicago"))
    desk_repo = open_repository(pg_database)
    room2_repo = open_repository(pg_database)
    room1 = _station(qtbot, room1_repo, clock, tmp_path, "Room 1", relay.uri(name))
    desk = _station(qtbot, desk_repo, clock, tmp_path, "Front desk", pg_database)
    room2 = _station(qtbot, room2_repo, clock, tmp_path, "Room 2", pg_database)
    yield relay, clinic, room1, desk, room2
    for win in (room1, desk, room2):
        win.live.stop()
        win.worker.shutdown()
        win.close()
    room1.timers.journal.close()
    for repo in (room1_repo, desk_repo, room2_repo):
        repo.close()
    relay.close()


def test_a_visit_timed_in_room_1_through_a_cut_network_is_billed_at_the_front_desk(
        qtbot, clinic_day, clock, pg_database, tmp_path, monkeypatch):
    relay, clinic, room1, desk, room2 = clinic_day
    patient = clinic.patient
    # Room 1 starts the visit and 97110 at 8:00 AM.
    room1.today.set_provider(clinic.pt.id)
    visit_id = room1.today.start_for(patient.id)
    room1.controller.timer.stop()  # the test ticks by hand
    _tap(qtbot, room1, "97110")
    # The front desk and Room 2 follow it live: running on their Today within a second.
    for other in (desk, room2):
        qtbot.waitUntil(lambda o=other: _status_of(o, patient.last_name) == "running",
                        timeout=SECOND)
    # Room 2 opens the same visit: it sees 97110 timed on Room 1.
    room2.show_visit(visit_id)
    qtbot.waitUntil(lambda: room2.controller.stations.banner() is not None, timeout=SECOND)
    assert "Room 1" in room2.controller.stations.banner()[0]

    # 8:12 AM, the Wi-Fi of Room 1 drops: the taps go on into the journal.
    clock.advance(minutes=12)
    relay.refuse()
    relay.cut()
    _tap(qtbot, room1, "97110")  # stop
    clock.advance(minutes=1)
    _tap(qtbot, room1, "97530")  # start
    assert len(room1.timers.journal) == 2
    assert "2 changes waiting" in room1.visit_panel.offline_banner.label.text()
    clock.advance(minutes=14)
    room1.controller.tick()
    assert room1.controller.facts().seconds_by_code == {"97110": 720, "97530": 840}

    # 8:27 AM, the network is back: the next heartbeat replays the journal, in order.
    relay.accept()
    with qtbot.waitSignal(room1.server_probe.answered, timeout=10 * SECOND):
        room1.heartbeat()
    qtbot.waitUntil(lambda: len(room1.timers.journal) == 0, timeout=5 * SECOND)
    assert [(i.code, i.start, i.end) for i in desk.repo.intervals_for(visit_id)] == [
        ("97110", START, START + timedelta(minutes=12)),
        ("97530", START + timedelta(minutes=13), None)]
    qtbot.waitUntil(lambda: _status_of(desk, patient.last_name) == "running", timeout=SECOND)

    # 8:40 AM, Room 1 finishes and finalizes the visit; Room 2's screen turns read-only.
    clock.advance(minutes=13)
    room1.repo.set_diagnoses(visit_id, ["M54.50"], user="Dana Test, PT", validate=False)
    room1.controller.reload()
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *args, **kw: True))
    qtbot.mouseClick(room1.visit_panel.finalize_button, LEFT)
    assert room1.stack.currentWidget() is room1.finalize_page
    qtbot.mouseClick(room1.finalize_page.finalize_button, LEFT)
    assert desk.repo.get_visit(visit_id).status.value == "finalized"
    qtbot.waitUntil(lambda: not room2.visit_panel.tiles.isEnabled(), timeout=SECOND)
    assert room2.visit_panel.read_only_notice.text().startswith("Finalized on another station")

    # The front desk lists it and prints its superbill: 97110 12 min + 97530 27 min = 39
    # timed minutes, 3 units under the 8-minute rule (Medicare): 97530 2, 97110 1.
    desk.show_frontdesk()
    qtbot.waitUntil(lambda: visit_id in [r.visit_id for r in desk.frontdesk.model.rows()],
                    timeout=10 * SECOND)
    lines = [(c.code, c.units) for c in desk.repo.charge_lines(visit_id)]
    assert sorted(lines) == [("97110", 1), ("97530", 2)]
    pdf = tmp_path / "superbill.pdf"
    assert main(["superbill", "--db", pg_database, "--visit", str(visit_id),
                 "--out", str(pdf)]) == 0
    assert shutil.which("pdftotext"), "pdftotext (poppler-utils) is needed: make test installs it"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "97110" in text and "97530" in text and patient.last_name in text
    # Nothing lost, and the audit chain and the data against it verify.
    assert main(["verify", "--db", pg_database]) == 0
