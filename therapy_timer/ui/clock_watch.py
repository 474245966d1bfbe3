"""Catches wall-clock jumps app-wide: one watcher compares the wall clock with the monotonic
clock each time it is asked (the visit screen's 1 Hz tick, the window's 5 s heartbeat).

When the two disagree by more than ``JUMP_TOLERANCE_SECONDS`` since the last check (the machine
slept, someone changed the clock), every interval running in any open visit is flagged in the
store (``repo.flag_clock_jump``), so the question survives leaving the visit screen and
restarting the app. The flag keeps what each clock said, so a flagged timer goes on counting,
and stores, the time the monotonic clock measured (``storage.clock_flags``). Time is read only
through the injected ``Clock``.

On a clinic server the app's clock is the server's time (``ui.station.server_clock``), and
the watch judges that timeline. A new measurement of the offset between two checks (a
heartbeat's) is no jump in itself. When the computer's own clock jumps, the watch measures
the offset again before it judges: a clock changed on this computer while the server's went
on is taken up by the offset (logged; nothing recorded moved, nothing flagged); a sleep, a jump
of the server's clock, or a jump while the server cannot be asked is flagged as before. On the
embedded file the offset is 0 and the watch judges the computer's clock, as it always did.
"""

from __future__ import annotations

import logging
from datetime import datetime

from PySide6.QtCore import QObject, Signal

from therapy_timer.storage.errors import StorageError
from therapy_timer.storage.server_clock import CONNECT_SAMPLES
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.clock import Clock

log = logging.getLogger(__name__)

#: Wall and monotonic clocks may disagree by this much between two checks before time is
#: flagged (checks come every 1-5 s; the slack absorbs a busy machine and NTP slewing).
JUMP_TOLERANCE_SECONDS = 10.0


class ClockWatch(QObject):
    """Compares the clocks on each ``check()``; stores a flag on running intervals on a jump.

    Signals:
        flagged(object): the list of ``StoredInterval`` just flagged (after the commit).
    """

    flagged = Signal(object)

    def __init__(self, repo, clock: Clock, *, tolerance: float = JUMP_TOLERANCE_SECONDS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.repo = repo
        self.clock = clock
        self.tolerance = tolerance
        self.user: str | None = None  # the audit log's acting user, when known
        self._last_wall: datetime | None = None
        self._last_mono: float | None = None
        self._last_own: datetime | None = None  # the computer's own clock (on a server)

    def check(self) -> list:
        """Reads both clocks; on a jump flags the running intervals. Returns those flagged.

        The first check only sets the baseline (a jump across a restart is the recovery
        dialog's business). When the flag cannot be written the baseline stays, so the next
        check tries again.
        """
        wall, mono, own = self.clock.now(), self.clock.monotonic(), self._own()
        last_wall, last_mono, last_own = self._last_wall, self._last_mono, self._last_own
        if last_wall is None or last_mono is None:
            self._last_wall, self._last_mono, self._last_own = wall, mono, own
            return []
        real_delta = mono - last_mono
        own_delta = (own - last_own).total_seconds() if own and last_own else None
        measure = getattr(self.clock, "measure", None)
        if (own_delta is not None and measure is not None
                and abs(own_delta - real_delta) > self.tolerance):
            measure(CONNECT_SAMPLES)  # this computer's clock jumped: ask the server again
            wall = self.clock.now()
        wall_delta = (wall - last_wall).total_seconds()
        if abs(wall_delta - real_delta) <= self.tolerance:
            if own_delta is not None and abs(own_delta - real_delta) > self.tolerance:
                log.warning("this computer's clock changed by %+.0fs while the clinic server's "
                            "went on: times keep the server's clock, nothing flagged",
                            own_delta - real_delta)
            self._last_wall, self._last_mono, self._last_own = wall, mono, own
            return []
        try:
            flagged = self.repo.flag_clock_jump(last_wall, wall, wall_delta, real_delta,
                                                user=self.user)
        except StorageError as exc:
            log.warning("clock jump not recorded (will retry): %s", exc)
            return []
        self._last_wall, self._last_mono, self._last_own = wall, mono, own
        log.warning("clock jump: wall %+.0fs vs real %+.0fs; %d running interval(s) flagged",
                    wall_delta, real_delta, len(flagged))
        if flagged:
            self.flagged.emit(flagged)
        return flagged

    def _own(self) -> datetime | None:
        """The computer's own wall clock when the app's clock is corrected to a server's
        (``ServerClock.station``); None when the app's clock is the computer's."""
        station = getattr(self.clock, "station", None)
        return station.now() if station is not None else None
