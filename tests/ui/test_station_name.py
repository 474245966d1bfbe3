"""This station's name (issue 14, item 5's use of it): read from this computer's settings
(``station/name``), the host name by default, and handed to the store, whose intervals and
timer entries carry it. Quitting asks only about this station's timers."""

from __future__ import annotations

import json

from PySide6.QtCore import QSettings

from therapy_timer.core.model import Performer
from therapy_timer.storage.repository import open_repository
from therapy_timer.storage.stations import default_station
from therapy_timer.ui.station.name import STATION_KEY, apply_station, station_name

from .conftest import START, seed_clinic


def _settings(tmp_path, value=None) -> QSettings:
    settings = QSettings(str(tmp_path / "station.ini"), QSettings.Format.IniFormat)
    if value is not None:
        settings.setValue(STATION_KEY, value)
    return settings


def test_the_station_name_comes_from_this_computers_settings(tmp_path, repo):
    assert STATION_KEY == "station/name"
    assert station_name(_settings(tmp_path)) == default_station()
    assert station_name(_settings(tmp_path, "  ")) == default_station()
    settings = _settings(tmp_path, " Front   desk ")
    assert apply_station(repo, settings) == "Front desk"
    assert repo.station == "Front desk"


def test_the_stores_intervals_and_entries_carry_the_name_applied(tmp_path, repo, clock):
    clinic = seed_clinic(repo)
    apply_station(repo, _settings(tmp_path, "Room 2"))
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, START)
    interval = repo.start_interval(visit.id, "97110", Performer.PT, START)
    assert repo.get_interval(interval.id).station == "Room 2"
    [entry] = [e for e in repo.audit_entries() if e.action == "start_interval"]
    assert json.loads(entry.detail)["station"] == "Room 2"


def test_quitting_asks_only_about_this_stations_timers(qtbot, tmp_path, clock, monkeypatch):
    from therapy_timer.ui.dialogs import Ask
    from therapy_timer.ui.main_window import MainWindow

    path = tmp_path / "clinic.db"
    other = open_repository(path)
    clinic = seed_clinic(other)
    other.station = "Room 2"
    visit = other.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, START)
    other.start_interval(visit.id, "97110", Performer.PT, START)
    here = open_repository(path)
    here.station = "Room 1"
    asked = []
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *a, **k: asked.append(a)))
    win = MainWindow(here, clock, settings=_settings(tmp_path))
    qtbot.addWidget(win)
    try:
        assert win.confirm_quit() is True and asked == []  # Room 2's timer goes on there
        mine = here.start_visit(clinic.patient2.id, clinic.pt2.id, None, START)
        here.start_interval(mine.id, "97530", Performer.PT, START)
        assert win.confirm_quit() is None and len(asked) == 1  # asked (answered None)
        assert "1 timer is running (97530)" in asked[0][2]
    finally:
        win.heartbeat_timer.stop()
        here.close()
        other.close()
