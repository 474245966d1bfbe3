"""After a crash: find timers left running, with the last moment the app was alive, and
resolve each one (keep it running, stop it at the last heartbeat, or stop it at a given time).

Every resolution is audit-logged. Elapsed time always comes from the stored timestamps.
"""

from __future__ import annotations

import enum
from datetime import datetime

from therapy_timer.core.records import CrashedInterval, StoredInterval
from therapy_timer.storage.base import RepositoryBase, interval_from
from therapy_timer.storage.db import to_text
from therapy_timer.storage.errors import InvalidDataError


class Resolution(enum.StrEnum):
    KEEP_RUNNING = "keep-running"  # "it is still running" (the session went on)
    STOP_AT_LAST_ALIVE = "stop-at-last-alive"  # stop at the last heartbeat
    STOP_AT = "stop-at"  # stop at a time the clinician gives


class RecoveryMixin(RepositoryBase):
    """Crash recovery for running intervals."""

    def crashed_intervals(self) -> list[CrashedInterval]:
        """Every running interval with its patient and last-alive moment (heartbeat or start).

        Call at start-up, before this instance writes its own first heartbeat. Only this
        station's timers (``storage.stations``): another station's go on there.
        """
        rows = self._rows(
            'SELECT i.*, v.patient_id AS patient FROM intervals i JOIN visits v'
            ' ON v.id = i.visit_id WHERE i."end" IS NULL AND i.deleted_at IS NULL'
            " AND (i.station = ? OR i.station IS NULL) ORDER BY i.start, i.id",
            (self.station,))
        out = []
        for row in rows:
            interval = interval_from(row)
            alive = max(interval.heartbeat or interval.start, interval.start)
            out.append(CrashedInterval(interval, row["patient"], alive))
        return out

    def resolve_crashed(self, interval_id: int, resolution: Resolution | str, *,
                        user: str, now: datetime, at: datetime | None = None
                        ) -> StoredInterval:
        """Applies one recovery choice to a running interval.

        Args:
            resolution: keep running, stop at the last heartbeat, or stop at ``at``.
            at: the stop time for ``STOP_AT`` (between the start and ``now``).

        Raises:
            InvalidDataError: the interval is not running, or ``at`` is outside its span.
        """
        resolution = Resolution(resolution)
        row = self._one("SELECT * FROM intervals WHERE id = ?", (interval_id,),
                        f"interval {interval_id}")
        interval = interval_from(row)
        if interval.end is not None:
            raise InvalidDataError(f"interval {interval_id} is not running (stopped at "
                                   f"{interval.end.isoformat()})")
        last_alive = max(interval.heartbeat or interval.start, interval.start)
        visit = self.get_visit(interval.visit_id)
        if resolution is Resolution.KEEP_RUNNING and visit.day < self.service_day(now):
            # Kept running, it would count today's minutes under the earlier date of service.
            raise InvalidDataError(
                f"this timer began on {visit.day:%m/%d/%Y}: it cannot run on into a later day. "
                "Stop it when it really ended (at the last-alive time or a time you enter).")
        if resolution is Resolution.STOP_AT:
            if at is None or at.tzinfo is None:
                raise InvalidDataError("give the stop time (with a time zone)")
            # A clock set back since (last alive later than now): up to the last-alive moment.
            if not interval.start <= at <= max(now, interval.start, last_alive):
                raise InvalidDataError("the stop time must be between the interval's start and "
                                       "now")
            end = at
        elif resolution is Resolution.STOP_AT_LAST_ALIVE:
            end = last_alive
        else:
            end = None
        if end is not None:  # the midnight edge: never past the end of the visit's day
            end = max(self._end_in_day(visit, end), interval.start)
        flag = interval.clock_flag
        with self._write() as conn:
            if end is None:  # alive now (on its measured timeline when the clock went back)
                alive = max(interval.measured_end(now), last_alive)
                conn.execute('UPDATE intervals SET heartbeat = ? WHERE id = ? AND "end" IS NULL',
                             (to_text(alive), interval_id))
            else:
                # Stopped at a moment the clinician chose: that answers a clock question too
                # (the flag's times go to the audit entry below).
                cur = conn.execute('UPDATE intervals SET "end" = ?, heartbeat = ?, clock_flag ='
                                   ' NULL WHERE id = ? AND "end" IS NULL',
                                   (to_text(end), to_text(end), interval_id))
                if cur.rowcount != 1:
                    raise InvalidDataError(f"interval {interval_id} was stopped meanwhile")
            self._audit(now, user, "recover", "interval", interval_id, {
                "visit_id": interval.visit_id, "resolution": resolution.value,
                "last_alive": to_text(last_alive), "end": to_text(end),
                **({"clock_flag": {"last_good": to_text(flag.last_good),
                                   "noticed": to_text(flag.now),
                                   "wall_seconds": round(flag.wall_seconds, 3),
                                   "real_seconds": round(flag.real_seconds, 3),
                                   "answered": end is not None}}
                   if flag is not None else {})})
        return interval_from(self._one("SELECT * FROM intervals WHERE id = ?", (interval_id,),
                                       f"interval {interval_id}"))
