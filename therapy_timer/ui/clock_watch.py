"""Catches wall-clock jumps app-wide: one watcher compares the wall clock with the monotonic
clock each time it is asked (the visit screen's 1 Hz tick, the window's 5 s heartbeat).

When the two disagree by more than ``JUMP_TOLERANCE_SECONDS`` since the last check (the machine
slept, someone changed the clock), every interval running in any open visit is flagged in the
store (``repo.flag_clock_jump``), so the question survives leaving the visit screen and
restarting the app. The flag keeps what each clock said, so a flagged timer goes on counting,
and stores, the time the monotonic clock measured (``storage.clock_flags``). Time is read only
through the injected ``Clock``.
"""

from __future__ import annotations

import logging
from datetime import datetime

from PySide6.QtCore import QObject, Signal

from therapy_timer.storage.errors import StorageError
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

    def check(self) -> list:
        """Reads both clocks; on a jump flags the running intervals. Returns those flagged.

        The first check only sets the baseline (a jump across a restart is the recovery
        dialog's business). When the flag cannot be written the baseline stays, so the next
        check tries again.
        """
        wall, mono = self.clock.now(), self.clock.monotonic()
        last_wall, last_mono = self._last_wall, self._last_mono
        if last_wall is None or last_mono is None:
            self._last_wall, self._last_mono = wall, mono
            return []
        wall_delta = (wall - last_wall).total_seconds()
        real_delta = mono - last_mono
        if abs(wall_delta - real_delta) <= self.tolerance:
            self._last_wall, self._last_mono = wall, mono
            return []
        try:
            flagged = self.repo.flag_clock_jump(last_wall, wall, wall_delta, real_delta,
                                                user=self.user)
        except StorageError as exc:
            log.warning("clock jump not recorded (will retry): %s", exc)
            return []
        self._last_wall, self._last_mono = wall, mono
        log.warning("clock jump: wall %+.0fs vs real %+.0fs; %d running interval(s) flagged",
                    wall_delta, real_delta, len(flagged))
        if flagged:
            self.flagged.emit(flagged)
        return flagged
