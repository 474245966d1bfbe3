"""One clock for the clinic: how far this station's clock is from the clinic server's.

Intervals timed on different stations must be comparable, so on a clinic server every time a
station stores is the server's time. The station measures its clock's offset from the
server's the way NTP does with one round trip: it reads its own clock (wall and monotonic),
asks the server for ``clock_timestamp()`` (the server's real time, not the transaction's
start), and reads its monotonic clock again. The server answered somewhere within the round
trip, so ``offset = server - (station time at the midpoint)`` is right to within half the
round trip (``ClockReading.error``); the best of a few samples (the shortest round trip) is
kept when the repository connects.

The repository keeps the latest reading (``clock_offset``) and corrects with it in one place:
``server_now()`` is the station's clock plus the offset. The app's clock source (the UI's
``ServerClock``) reads its time from there, and so does ``repo.clock`` (the audit time of
changes that take no ``now``). On the embedded SQLite file there is one computer and one
clock: the offset is 0 and nothing is measured.

A later sample (each heartbeat) replaces the reading when it is at least as precise as the
kept one (aged by what a PC clock may drift since), or when the two disagree beyond their
error bounds (a clock moved): a slow network answer never makes the correction worse, and a
clock that was changed is taken up at once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from therapy_timer.storage import dialect
from therapy_timer.storage.base import RepositoryBase
from therapy_timer.storage.errors import StorageError

log = logging.getLogger(__name__)

#: Samples taken when the repository connects (and after a clock change): the shortest
#: round trip of them is kept.
CONNECT_SAMPLES = 3
#: How fast a PC's clock may drift from the server's, in seconds per second (500 ppm, NTP's
#: own bound): a kept reading's error grows by this much with its age.
MAX_DRIFT = 500e-6


class StationClock(Protocol):
    """The station's own clock, as the app reads it (``ui.clock.Clock``)."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class _ThisComputer:
    """The computer's own clocks (until the app hands the repository its clock)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(frozen=True)
class ClockReading:
    """One measurement of the station's clock against the server's.

    Attributes:
        offset: seconds to add to the station's clock to get the server's (positive: the
            station's clock is behind).
        round_trip: seconds the question took on the station's monotonic clock; the server
            read its clock somewhere within them.
        at: the station's monotonic clock at the midpoint (how old the reading is).
        station_time: the station's wall clock at the midpoint.
    """

    offset: float
    round_trip: float
    at: float
    station_time: datetime

    @property
    def error(self) -> float:
        """The most ``offset`` can be wrong by: half the round trip."""
        return self.round_trip / 2

    def aged_error(self, mono: float) -> float:
        """``error`` grown by the drift a PC clock may have gathered since the reading."""
        return self.error + MAX_DRIFT * max(0.0, mono - self.at)

    def server_time(self) -> datetime:
        """The server's clock at the midpoint."""
        return self.station_time + timedelta(seconds=self.offset)


def sample(conn, clock: StationClock) -> ClockReading:
    """One round trip: the station's clock before and after the server's ``clock_timestamp``
    (on SQLite the one computer's clock: offset 0, no round trip)."""
    wall0, mono0 = clock.now(), clock.monotonic()
    server = dialect.server_epoch(conn)
    mono1 = clock.monotonic()
    round_trip = max(0.0, mono1 - mono0)
    midpoint = wall0 + timedelta(seconds=round_trip / 2)
    if server is None:
        return ClockReading(0.0, 0.0, mono0, wall0)
    return ClockReading(server - midpoint.timestamp(), round_trip, mono0 + round_trip / 2,
                        midpoint)


def better(old: ClockReading | None, new: ClockReading) -> ClockReading:
    """The reading to keep: ``new`` when it is as precise as ``old`` (aged), or when the two
    disagree beyond both error bounds (one of the clocks moved); ``old`` otherwise."""
    if old is None:
        return new
    aged = old.aged_error(new.at)
    if new.error <= aged or abs(new.offset - old.offset) > new.error + aged:
        return new
    return old


class ServerClockMixin(RepositoryBase):
    """The station clock's offset from the clinic server's, and the server's time now."""

    _clock_reading: ClockReading | None = None
    _station_clock: StationClock | None = None

    @property
    def clock_reading(self) -> ClockReading | None:
        """The reading in use: None on a server not measured yet (or never reached)."""
        return self._clock_reading

    @property
    def clock_offset(self) -> float | None:
        """Seconds the server's clock is ahead of this station's (negative: behind); 0.0 on
        the embedded file (one computer); None on a server not measured yet."""
        if not self.on_server:
            return 0.0
        reading = self._clock_reading
        return None if reading is None else reading.offset

    @property
    def station_clock(self) -> StationClock:
        """The station's own clock the offset is measured against (the app's, once it has
        measured with it; the computer's before)."""
        if self._station_clock is None:
            self._station_clock = _ThisComputer()
        return self._station_clock

    def measure_clock(self, clock: StationClock | None = None,
                      samples: int = 1) -> ClockReading | None:
        """Measures the station's clock against the server's (``samples`` round trips, the
        shortest kept) and keeps the better of it and the reading in use (``better``).
        ``clock`` is the station's clock (the app's); a different clock from the last one
        replaces the reading outright. On the embedded file: nothing to measure, None.

        Raises:
            StorageError: the server did not answer (the reading in use stays).
        """
        if clock is not None and clock is not self._station_clock:
            self._station_clock = clock
            self._clock_reading = None
        if not self.on_server:
            return None
        if self._closed:
            raise StorageError("the database is closed")
        station = self.station_clock  # PgConnection turns a psycopg error into StorageError
        taken = [sample(self.conn, station) for _ in range(max(1, samples))]
        best = min(taken, key=lambda r: r.round_trip)
        self._clock_reading = better(self._clock_reading, best)
        return self._clock_reading

    def server_now(self) -> datetime:
        """The clinic's time now: the station's clock corrected by the measured offset (the
        station's own clock on the embedded file, or before a first measurement)."""
        now = self.station_clock.now()
        offset = self.clock_offset
        return now + timedelta(seconds=offset) if offset else now
