"""Injectable clocks: the app reads time only through one of these, never from timer ticks.

``SystemClock`` is the real one. ``FakeClock`` is what tests hand to the controller and advance
by hand, so a 24-minute intervention takes no real time. Both give aware UTC datetimes (wall
clock) and a monotonic reading in seconds; comparing the two lets the controller notice a sleep
or a wall-clock jump.

Every time the screens show is in the clinic's zone (``on_screen``), the zone that decides a
visit's calendar day and that the superbill prints, even on a computer set to another zone.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

_display_zone: tzinfo | None = None


def set_display_zone(zone: tzinfo | None) -> None:
    """The zone times are shown in: the practice's (the main window sets it from the store);
    None shows the computer's own."""
    global _display_zone
    _display_zone = zone


def display_zone() -> tzinfo | None:
    """The zone set by ``set_display_zone`` (None: the computer's)."""
    return _display_zone


def on_screen(moment: datetime) -> datetime:
    """``moment`` in the zone the screens show times in."""
    return moment.astimezone(_display_zone)


def screen_time(moment: datetime | None, seconds: bool = False) -> str:
    """``moment`` as the screens show a time: 12-hour in the screens' zone (``9:05 AM``;
    ``core.formats``, the helper the PDFs use too)."""
    from therapy_timer.core.formats import format_time

    return format_time(on_screen(moment), seconds) if moment else ""


class Clock(Protocol):
    """What the app needs from a clock."""

    def now(self) -> datetime:
        """The wall-clock time, an aware UTC datetime."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never jumps (it may stop while asleep)."""
        ...


class SystemClock:
    """The machine's clocks."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock tests drive by hand.

    ``advance`` moves both clocks together (ordinary time passing); ``jump`` moves only the wall
    clock (a user changing the time, a time-zone mistake); ``sleep`` moves only the wall clock
    too, as a suspended machine's monotonic clock does on most platforms.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._mono = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float = 0, *, minutes: float = 0) -> datetime:
        """Lets ``seconds`` (plus ``minutes``) of ordinary time pass; returns the new now."""
        delta = seconds + 60 * minutes
        if delta < 0:
            raise ValueError("time only moves forward; use jump() for a wall-clock change")
        self._now += timedelta(seconds=delta)
        self._mono += delta
        return self._now

    def jump(self, seconds: float = 0, *, minutes: float = 0) -> datetime:
        """Moves only the wall clock (forwards or backwards)."""
        self._now += timedelta(seconds=seconds + 60 * minutes)
        return self._now

    def sleep(self, seconds: float = 0, *, minutes: float = 0) -> datetime:
        """The machine sleeps: wall time passes, the monotonic clock does not."""
        return self.jump(seconds, minutes=minutes)
