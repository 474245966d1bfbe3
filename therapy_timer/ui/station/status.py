"""The status bar's "where the data is, and whether it is connected".

``StationStatus(repo, settings=None, clock=None)``: a label kept at the right of the main
window's status bar: ``Clinic server 10.0.0.5/therapy_timer · Room 2 · Connected`` (or
``· Not connected since 10:42 AM``), or ``This computer: ~/.local/share/therapy-timer/
therapy-timer.db`` (a file is always there: no connection to lose). ``check()`` is called on
the main window's heartbeat: one round trip to the server (``storage/pg/probe.py ping``); a
``ConnectionLostError`` there, or ``lost(exc)`` called by whoever met one, shows "Not
connected since" the first moment it failed, until a check succeeds again. Attributes:
``connected`` (bool), ``since`` (aware datetime or None).
"""

from __future__ import annotations

import logging
from datetime import datetime

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLabel, QWidget

from therapy_timer.storage.errors import ConnectionLostError
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.clock import Clock, SystemClock, screen_time

log = logging.getLogger(__name__)

CONNECTED_STYLE = "color: #065f46; padding: 0 6px;"
LOST_STYLE = "color: #a40000; font-weight: 700; padding: 0 6px;"


def where_text(repo, settings: QSettings | None = None) -> str:
    """Where ``repo``'s data is, as the status bar names it."""
    from therapy_timer.ui.station.target import home_relative, station_name

    if getattr(repo, "on_server", False):
        from therapy_timer.storage.pg.store import describe

        address = describe(str(repo.path)).removeprefix("the clinic server ")
        address = address.replace(":5432/", "/")
        return f"Clinic server {address} · {station_name(settings)}"
    path = str(getattr(repo, "path", "") or "")
    if not path or path == ":memory:":
        return "This computer: (a database in memory)"
    return f"This computer: {home_relative(path)}"


class StationStatus(QLabel):
    """Where the data is and whether the server answers."""

    def __init__(self, repo, settings: QSettings | None = None, clock: Clock | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stationStatus")
        self.setAccessibleName("Where the data is")
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.repo = repo
        self.settings = settings
        self.clock = clock or SystemClock()
        self.on_server = bool(getattr(repo, "on_server", False))
        self.connected = True
        self.since: datetime | None = None
        self.refresh()

    def refresh(self) -> None:
        """Shows the place again (after Settings renamed the station)."""
        where = where_text(self.repo, self.settings)
        if not self.on_server:
            self.setStyleSheet(CONNECTED_STYLE)
            self.setText(where)
            self.setToolTip("The clinic's data is in this file on this computer.")
            return
        if self.connected:
            self.setStyleSheet(CONNECTED_STYLE)
            self.setText(f"{where} · Connected")
            self.setToolTip("The clinic server answered the last check.")
        else:
            at = screen_time(self.since) if self.since else "?"
            self.setStyleSheet(LOST_STYLE)
            self.setText(f"{where} · Not connected since {at}")
            self.setToolTip("The clinic server does not answer. Check the network; the "
                            "status changes back by itself when it answers again.")

    def check(self) -> bool:
        """One round trip to the server; returns whether it answered."""
        if not self.on_server:
            return True
        from therapy_timer.storage.pg.probe import ping

        try:
            ping(self.repo)
        except ConnectionLostError as exc:
            self.lost(exc)
            return False
        if not self.connected:
            log.info("the clinic server answers again (not connected since %s)", self.since)
        self.connected, self.since = True, None
        self.refresh()
        return True

    def lost(self, exc: BaseException | None = None) -> None:
        """The server did not answer: "Not connected since" the first moment it failed."""
        if self.connected:
            log.warning("the clinic server does not answer: %s", exc)
            self.connected, self.since = False, self.clock.now()
        self.refresh()
