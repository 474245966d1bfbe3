"""Clock-jump flags on intervals: stored when the wall clock and real time disagree while timers
run (the machine slept, someone changed the clock), cleared only by the clinician's answer.

A flagged interval keeps its stored times until the clinician either keeps them or stops the
interval at the flag's last certain moment. Until then the visit cannot be finalized (a
schema-6 trigger refuses it). Both the flag and the answer go to the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from therapy_timer.core.records import ClockFlag, StoredInterval
from therapy_timer.storage.base import RepositoryBase, clock_flag_text, interval_from
from therapy_timer.storage.db import to_text
from therapy_timer.storage.errors import InvalidDataError


def merged(old: ClockFlag | None, new: ClockFlag) -> ClockFlag:
    """One flag for an interval caught by two jumps before anyone answered: the first jump's
    last certain moment stays (nothing after it is certain), the unaccounted time adds up."""
    if old is None:
        return new
    gap = new.wall_seconds - new.real_seconds
    return ClockFlag(old.last_good, new.now, old.wall_seconds + gap, old.real_seconds)


class ClockFlagMixin(RepositoryBase):
    """Flags running intervals after a clock jump; resolves the flags."""

    def flag_clock_jump(self, last_good: datetime, now: datetime, wall_seconds: float,
                        real_seconds: float, user: str | None = None) -> list[StoredInterval]:
        """Flags every interval running now (in any open visit), in one commit, one audit entry
        per visit. Returns the flagged intervals (none when nothing runs: nothing is written).

        Args:
            last_good: the last moment the wall clock and the monotonic clock agreed.
            now: the wall clock when the jump was noticed.
            wall_seconds: what the wall clock says passed since ``last_good``.
            real_seconds: what the monotonic clock says passed (none while asleep).
        """
        for moment in (last_good, now):
            if not isinstance(moment, datetime) or moment.tzinfo is None:
                raise InvalidDataError(f"time {moment!r} must be a datetime with a time zone")
        flag = ClockFlag(last_good, now, float(wall_seconds), float(real_seconds))
        rows = self._rows(
            'SELECT i.* FROM intervals i JOIN visits v ON v.id = i.visit_id'
            ' WHERE i."end" IS NULL AND i.deleted_at IS NULL AND v.status = \'open\''
            " ORDER BY i.visit_id, i.start, i.id")
        if not rows:
            return []
        running = [interval_from(r) for r in rows]
        by_visit: dict[int, list[int]] = {}
        with self._write() as conn:
            for interval in running:
                text = clock_flag_text(merged(interval.clock_flag, flag))
                conn.execute("UPDATE intervals SET clock_flag = ? WHERE id = ?",
                             (text, interval.id))
                by_visit.setdefault(interval.visit_id, []).append(interval.id)
            for visit_id, ids in by_visit.items():
                self._audit(now, user, "clock_jump", "visit", visit_id, {
                    "intervals": ids, "last_good": to_text(last_good), "now": to_text(now),
                    "wall_seconds": round(flag.wall_seconds, 3),
                    "real_seconds": round(flag.real_seconds, 3)})
        return [self.get_interval(i.id) for i in running]

    def resolve_clock_flags(self, interval_ids: Iterable[int], *, keep: bool, user: str,
                            now: datetime) -> list[StoredInterval]:
        """The clinician's answer to clock flags, all in one commit, each audited.

        ``keep`` accepts the stored times. Otherwise each interval ends at its flag's last
        certain moment (``ClockFlag.trusted_until``, never before its start): a running one is
        stopped there, a stopped one that ended later is shortened. Intervals without a flag
        are left alone.

        Raises:
            FrozenVisitError: an interval belongs to a visit that is no longer open.
        """
        intervals = [self.get_interval(i) for i in dict.fromkeys(interval_ids)]
        intervals = [i for i in intervals if i.clock_flag is not None]
        visits = {visit_id: self._open_visit(visit_id)
                  for visit_id in {i.visit_id for i in intervals}}
        with self._write() as conn:
            for interval in intervals:
                flag = interval.clock_flag
                end = interval.end
                if not keep:  # never past the end of the visit's day (the midnight edge)
                    trusted = self._end_in_day(visits[interval.visit_id], flag.trusted_until)
                    at = max(trusted, interval.start)
                    if end is None or end > at:
                        end = at
                if end != interval.end:
                    conn.execute('UPDATE intervals SET "end" = ?, heartbeat = ?, clock_flag = NULL'
                                 " WHERE id = ?", (to_text(end), to_text(end), interval.id))
                else:
                    conn.execute("UPDATE intervals SET clock_flag = NULL WHERE id = ?",
                                 (interval.id,))
                self._audit(now, user, "resolve_clock_jump", "interval", interval.id, {
                    "visit_id": interval.visit_id, "choice": "keep" if keep else "stop",
                    "last_good": to_text(flag.last_good), "noticed": to_text(flag.now),
                    "end_before": to_text(interval.end), "end_after": to_text(end)})
        return [self.get_interval(i.id) for i in intervals]
