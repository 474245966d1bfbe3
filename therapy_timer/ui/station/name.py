"""This station's name: what the audit log and the take-over question call this computer.

It is kept per computer in QSettings (``station/name``; Settings > This computer edits it) and
defaults to the computer's host name. ``apply_station`` hands it to the store, which writes it
on every interval this computer times.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QSettings

from therapy_timer.storage.errors import InvalidDataError
from therapy_timer.storage.stations import clean_station, default_station
from therapy_timer.ui.settings import app_settings

log = logging.getLogger(__name__)

STATION_KEY = "station/name"


def station_name(settings: QSettings | None = None) -> str:
    """The station's name from this computer's settings, else its host name."""
    value = app_settings(settings).value(STATION_KEY, "")
    try:
        return clean_station(value) if value else default_station()
    except InvalidDataError:
        return default_station()


def apply_station(repo, settings: QSettings | None = None) -> str:
    """Tells the store which station it speaks for; returns the name."""
    name = station_name(settings)
    repo.station = name
    log.info("this station is %r", name)
    return name
