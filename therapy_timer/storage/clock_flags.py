"""Clock-jump flags on intervals: stored when the wall clock and real time disagree while timers
run (the machine slept, someone changed the clock), cleared only by the clinician's answer.

While the app runs, a timer's elapsed time comes from the monotonic clock: the wall clock only
anchors its start. The flag holds what the monotonic clock measured against what the wall clock
claimed, so a flagged running interval keeps counting the real minutes (``ClockFlag.measured``)
and a stop stores the measured end (start + measured duration), the wall reading kept beside it
in the flag and the audit log. Until the clinician answers, the visit cannot be finalized (a
schema-6 trigger refuses it). The three answers (``ClockAnswer``):

* "Time is right" (``WALL``): the computer's clock stands; a stopped interval gets back the
  wall clock's end, a running one counts wall time from its stored start.
* "Keep the measured time" (``MEASURED``): the end is start + the measured duration; a running
  interval keeps counting measured time and stores that end when it stops.
* "Stop at HH:MM" (``STOP``): the interval ends at the flag's last certain moment.

Our reading where no rule speaks (protecting the clinic in an audit): the superbill prints the
stored start and end, so the measured answer never moves a start, only stores an end that is
start + the minutes really measured, and every answer writes the times before and after, and
the wall reading, to the audit log. Nothing changes silently: a flag stays until answered.

At start-up, a timer's "last alive" later than the clock's now means the clock went back while
the app was closed: ``flag_clock_behind`` flags it like any other jump (nothing measured while
the app was down: the measured timeline goes on from the last-alive moment).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from therapy_timer.core.records import ClockFlag, CrashedInterval, StoredInterval
from therapy_timer.storage.base import RepositoryBase, clock_flag_text, interval_from
from therapy_timer.storage.db import to_text
from therapy_timer.storage.errors import InvalidDataError


class ClockAnswer(enum.StrEnum):
    """The clinician's answer to a clock flag (the audit log's ``choice``)."""

    WALL = "keep"  # "Time is right": the stored (wall-clock) times stand
    MEASURED = "measured"  # "Keep the measured time": start + the monotonic duration
    STOP = "stop"  # "Stop at HH:MM": end at the last certain moment


def merged(old: ClockFlag | None, new: ClockFlag) -> ClockFlag:
    """One flag for an interval caught by two jumps before anyone answered: the first jump's
    last certain moment stays (nothing after it is certain), the unaccounted time adds up. A
    second jump after a "keep the measured time" asks again (the offsets still add up)."""
    if old is None:
        return new
    gap = new.wall_seconds - new.real_seconds
    return ClockFlag(old.last_good, new.now, old.wall_seconds + gap, old.real_seconds)


def measured_stop(interval: StoredInterval, wall_end: str) -> tuple[str, str | None, dict]:
    """How a flagged running interval stops at the wall reading ``wall_end`` (text): its
    stored end is the measured one (the caller keeps it within the visit's day), the flag keeps
    the wall reading for "Time is right" (or goes, when the clinician already chose the
    measured time).

    Returns (end text, the new clock_flag text or None, audit detail).
    """
    flag = interval.clock_flag
    if flag is None:
        return wall_end, None, {}
    wall = datetime.fromisoformat(wall_end)
    end_text = to_text(max(flag.measured(wall), interval.start))
    detail = {"wall_end": wall_end, "measured_end": end_text}
    if flag.answer == ClockAnswer.MEASURED:
        return end_text, None, {**detail, "by_answer": "measured"}
    return end_text, clock_flag_text(replace(flag, wall_end=wall)), detail


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
        rows = self._rows(  # this station's clock jumped: its own timers (issue 14)
            'SELECT i.* FROM intervals i JOIN visits v ON v.id = i.visit_id'
            ' WHERE i."end" IS NULL AND i.deleted_at IS NULL AND v.status = \'open\''
            " AND (i.station = ? OR i.station IS NULL) ORDER BY i.visit_id, i.start, i.id",
            (self.station,))
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

    def flag_clock_behind(self, now: datetime, crashed: Iterable[CrashedInterval] | None = None,
                          user: str | None = None) -> list[StoredInterval]:
        """At start-up: flags every running interval whose last-alive moment is later than
        ``now`` (the clock went back while the app was closed, or is wrong now), in one commit,
        one audit entry per visit. Returns the intervals flagged.

        The flag's last certain moment is the last-alive one; nothing was measured while the
        app was down (``real_seconds`` 0), so the measured timeline goes on from last-alive.
        """
        if not isinstance(now, datetime) or now.tzinfo is None:
            raise InvalidDataError(f"time {now!r} must be a datetime with a time zone")
        items = list(self.crashed_intervals() if crashed is None else crashed)
        behind = [c for c in items if c.last_alive > now]
        if not behind:
            return []
        by_visit: dict[int, list[int]] = {}
        with self._write() as conn:
            for item in behind:
                interval = self.get_interval(item.interval.id)
                if interval.end is not None:  # stopped meanwhile: no question to ask
                    continue
                wall = (now - item.last_alive).total_seconds()
                flag = merged(interval.clock_flag, ClockFlag(item.last_alive, now, wall, 0.0))
                conn.execute("UPDATE intervals SET clock_flag = ? WHERE id = ?",
                             (clock_flag_text(flag), interval.id))
                by_visit.setdefault(interval.visit_id, []).append(interval.id)
            for visit_id, ids in by_visit.items():
                last = max(c.last_alive for c in behind if c.interval.id in ids)
                self._audit(now, user, "clock_jump", "visit", visit_id, {
                    "intervals": ids, "by": "restart", "last_good": to_text(last),
                    "now": to_text(now), "wall_seconds": round((now - last).total_seconds(), 3),
                    "real_seconds": 0.0})
        return [self.get_interval(i) for ids in by_visit.values() for i in ids]

    def resolve_clock_flags(self, interval_ids: Iterable[int], *, keep: bool | None = None,
                            answer: ClockAnswer | str | None = None, user: str,
                            now: datetime) -> list[StoredInterval]:
        """The clinician's answer to clock flags, all in one commit, each audited.

        ``answer`` (or the older ``keep``: True is ``WALL``, False ``STOP``):

        * ``WALL`` accepts the stored times: a stopped interval gets back the wall clock's end
          (kept in the flag when it was stopped), a running one counts wall time from its start.
        * ``MEASURED``: a stopped interval keeps its measured end (start + measured duration);
          a running one keeps counting measured time (the flag stays, answered, holding the
          offset) and stores its measured end when it stops.
        * ``STOP``: each interval ends at its flag's last certain moment
          (``ClockFlag.trusted_until``, never before its start): a running one is stopped
          there, a stopped one that ended later is shortened.

        Every end stays within the visit's day. Intervals without a pending flag are left alone.

        Raises:
            FrozenVisitError: an interval belongs to a visit that is no longer open.
            InvalidDataError: neither an answer nor ``keep`` was given.
        """
        if answer is None:
            if keep is None:
                raise InvalidDataError("answer the clock question: keep, measured or stop")
            answer = ClockAnswer.WALL if keep else ClockAnswer.STOP
        try:
            answer = ClockAnswer(answer)
        except ValueError:
            raise InvalidDataError(f"unknown answer {answer!r} to a clock question") from None
        intervals = [self.get_interval(i) for i in dict.fromkeys(interval_ids)]
        intervals = [i for i in intervals if i.clock_flag is not None and i.clock_flag.pending]
        visits = {visit_id: self._open_visit(visit_id)
                  for visit_id in {i.visit_id for i in intervals}}
        with self._write() as conn:
            for interval in intervals:
                flag = interval.clock_flag
                visit = visits[interval.visit_id]
                end = interval.end
                new_flag: str | None = None
                if answer is ClockAnswer.STOP:  # never past the end of the visit's day
                    at = max(self._end_in_day(visit, flag.trusted_until), interval.start)
                    if end is None or end > at:
                        end = at
                elif answer is ClockAnswer.WALL:
                    if end is not None and flag.wall_end is not None:
                        end = max(self._end_in_day(visit, flag.wall_end), interval.start)
                elif end is None:  # MEASURED while running: it goes on counting measured time
                    new_flag = clock_flag_text(replace(flag, answer=ClockAnswer.MEASURED.value))
                if end != interval.end:
                    conn.execute('UPDATE intervals SET "end" = ?, heartbeat = ?, clock_flag = ?'
                                 " WHERE id = ?", (to_text(end), to_text(end), new_flag,
                                                   interval.id))
                else:
                    conn.execute("UPDATE intervals SET clock_flag = ? WHERE id = ?",
                                 (new_flag, interval.id))
                measured = interval.measured_end(now)
                self._audit(now, user, "resolve_clock_jump", "interval", interval.id, {
                    "visit_id": interval.visit_id, "choice": answer.value,
                    "last_good": to_text(flag.last_good), "noticed": to_text(flag.now),
                    "wall_seconds": round(flag.wall_seconds, 3),
                    "real_seconds": round(flag.real_seconds, 3),
                    "wall_end": to_text(flag.wall_end) if interval.end is not None
                    else to_text(now),
                    "measured_end": to_text(measured),
                    "end_before": to_text(interval.end), "end_after": to_text(end)})
        return [self.get_interval(i.id) for i in intervals]

    def _stop_end(self, conn, interval: StoredInterval, visit, wall: datetime
                  ) -> tuple[str, dict, int]:
        """Stops ``interval`` (running, of ``visit``) at the wall reading ``wall`` inside the
        caller's transaction: the measured end when it carries a clock flag, the wall's
        otherwise, always within the visit's day and never before its start. Returns the end
        written, what the audit entry adds, and the rows changed (0: it was stopped already)."""
        if interval.clock_flag is None:
            end = max(to_text(self._end_in_day(visit, wall)), to_text(interval.start))
            cur = conn.execute('UPDATE intervals SET "end" = ?, heartbeat = ? WHERE id = ? AND'
                               ' "end" IS NULL', (end, end, interval.id))
            return end, {}, cur.rowcount
        # Measured from the wall reading itself (a set-back one is before the start).
        end, flag_text, detail = measured_stop(interval, to_text(wall))
        end = max(to_text(self._end_in_day(visit, datetime.fromisoformat(end))),
                  to_text(interval.start))
        cur = conn.execute('UPDATE intervals SET "end" = ?, heartbeat = ?, clock_flag = ?'
                           ' WHERE id = ? AND "end" IS NULL', (end, end, flag_text, interval.id))
        return end, detail, cur.rowcount
