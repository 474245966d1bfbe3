"""The app's clock source: this computer's clock, corrected to the clinic server's.

``ServerClock`` is the one ``Clock`` the main window hands every page, so every time the
station stores (an interval's start and stop, a heartbeat, a pause, an audit time, a
finalize) is the server's time, while elapsed time still comes from the computer's monotonic
clock. The correction itself is the store's (``storage.server_clock``: the offset measured
with one round trip, ``repo.server_now()``); this wrapper measures with the station's clock
when the window opens (the best of a few round trips) and again with each heartbeat, and logs
the offset once per change of more than a second. On the embedded file the offset is 0.

A ``FakeClock`` (a test's own timeline) is not measured against anything: ``station_clock``
wraps only a clock that reads this computer's real time (``SystemClock``, or a test's
deliberately wrong one built on it).

Clock jumps (``ui.clock_watch``) are judged on the corrected timeline: when the computer's
own clock jumps, the watch measures the offset again first. A changed clock that the server's
clock disproves (the server's time went on as real time did) moves the offset, not the
record, and is logged, not flagged; a sleep, a jump of the server's own clock, or a jump
while the server cannot be asked shows on the corrected timeline and is flagged as before.
"""

from __future__ import annotations

import logging
from datetime import datetime

from therapy_timer.storage.errors import StorageError
from therapy_timer.storage.server_clock import CONNECT_SAMPLES, ClockReading
from therapy_timer.ui.clock import Clock, SystemClock

log = logging.getLogger(__name__)

#: An offset that changed by more than this since the last log line is logged again.
LOG_CHANGE_SECONDS = 1.0
#: A clock off by more than this from the server's is worth a notice (the status bar's) and a
#: warning in the log; NTP keeps a healthy PC within a fraction of a second.
NOTICE_SECONDS = 5.0


def amount(seconds: float) -> str:
    """``seconds`` (its size) as staff read it: ``2 min 13 s``, ``1 h 5 min``, ``4 s``."""
    total = round(abs(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes:
        parts.append(f"{minutes} min")
    if secs or not parts:
        parts.append(f"{secs} s")
    return " ".join(parts)


def behind_or_ahead(offset: float) -> str:
    """``2 min 13 s behind`` (the server's clock is ahead) or ``... ahead of``."""
    return f"{amount(offset)} {'behind' if offset > 0 else 'ahead of'}"


class ServerClock:
    """A ``Clock`` whose ``now()`` is the clinic server's time (``repo.server_now()``) and
    whose ``monotonic()`` is the station's.

    Attributes:
        station: the computer's own clock (what the offset is measured against).
        repo: the store that measures and keeps the offset.
    """

    def __init__(self, station: Clock, repo) -> None:
        self.station = station
        self.repo = repo
        self._logged: float | None = None
        self._unmeasured = False  # the last measurement failed (logged once per outage)
        self.measure(CONNECT_SAMPLES)

    def now(self) -> datetime:
        return self.repo.server_now()

    def monotonic(self) -> float:
        return self.station.monotonic()

    @property
    def offset(self) -> float | None:
        """Seconds the server's clock is ahead of this computer's (0 on the embedded file;
        None on a server not measured yet)."""
        return self.repo.clock_offset

    @property
    def reading(self) -> ClockReading | None:
        return self.repo.clock_reading

    def measure(self, samples: int = 1) -> ClockReading | None:
        """Measures the offset again (``samples`` round trips); logs a change of more than a
        second. Returns the reading in use (None when there is none: the file, or a server
        that did not answer)."""
        try:
            reading = self.repo.measure_clock(self.station, samples)
        except StorageError as exc:  # the reading in use stays; the next heartbeat retries
            if not self._unmeasured:
                log.warning("clock offset not measured (the last one stays in use): %s", exc)
            self._unmeasured = True
            return self.repo.clock_reading
        self._unmeasured = False
        if reading is not None and (self._logged is None
                                    or abs(reading.offset - self._logged) > LOG_CHANGE_SECONDS):
            self._logged = reading.offset
            how = ("agrees with the clinic server's" if abs(reading.offset) < 0.5 else
                   f"is {behind_or_ahead(reading.offset)} the clinic server's")
            level = (logging.WARNING if round(abs(reading.offset)) > NOTICE_SECONDS
                     else logging.INFO)
            log.log(level, "this computer's clock %s (offset %+.3f s, measured to within "
                    "%.1f ms); times are recorded by the server's clock", how, reading.offset,
                    reading.error * 1000)
        return reading


def station_clock(repo, clock: Clock | None) -> Clock:
    """The clock the app runs on: ``clock`` (this computer's by default) corrected to the
    server's when it reads real time; a test's ``FakeClock`` as it is."""
    clock = clock or SystemClock()
    return ServerClock(clock, repo) if isinstance(clock, SystemClock) else clock
