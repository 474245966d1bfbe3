"""Minutes from timer intervals: per-code minutes, overlap checks, treatment time.

A timed code's minutes for the day = floor(summed seconds of its intervals / 60); never rounded
up. One-on-one and constant-attendance work cannot overlap (time cannot be counted twice);
supervised modalities may overlap anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from therapy_timer.core.codes import Catalog, default_catalog
from therapy_timer.core.model import BillingError, Interval, Service


@dataclass(frozen=True, slots=True)
class CodeTime:
    """Seconds one code ran in a day, split by who ran it."""

    code: str
    seconds: int
    assistant_seconds: int
    order: int  # position of the code's first start in the day

    @property
    def minutes(self) -> int:
        return self.seconds // 60

    @property
    def assistant_minutes(self) -> int:
        return self.assistant_seconds // 60

    @property
    def therapist_minutes(self) -> int:
        """The therapist's own whole minutes: each performer is counted the same way (whole
        minutes of their own seconds), so 7:30 + 7:30 is 7 + 7, never 8 for the therapist."""
        return (self.seconds - self.assistant_seconds) // 60


@dataclass(frozen=True, slots=True)
class DayTime:
    """What the timers say about one patient-day: per-code time and the documented totals."""

    codes: tuple[CodeTime, ...]
    total_timed_minutes: int
    total_treatment_minutes: int
    session_start: datetime | None
    session_end: datetime | None

    def services(self) -> list[Service]:
        return [
            Service(c.code, c.minutes, c.order, c.assistant_minutes, c.therapist_minutes)
            for c in self.codes
        ]


def check_overlaps(intervals: Sequence[Interval], now: datetime | None = None,
                   catalog: Catalog | None = None) -> None:
    """Raises BillingError naming the first two exclusive intervals that overlap."""
    catalog = catalog or default_catalog()
    exclusive = sorted(
        (i for i in intervals if catalog.get(i.code).kind.exclusive),
        key=lambda i: i.start,
    )
    latest: Interval | None = None
    latest_end: datetime | None = None
    for interval in exclusive:
        end = interval.end_or(now) if now is not None or interval.end else None
        if end is None:
            end = datetime.max.replace(tzinfo=interval.start.tzinfo)
        if latest is not None and latest_end is not None and interval.start < latest_end:
            raise BillingError(
                f"{latest.code} ({_hm(latest.start)}-{_hm(latest_end)}) and {interval.code} "
                f"({_hm(interval.start)}-{_hm(end)}) overlap: one-on-one time cannot be "
                "counted twice"
            )
        if latest_end is None or end > latest_end:
            latest, latest_end = interval, end


def _hm(moment: datetime) -> str:
    return "running" if moment.year == datetime.max.year else moment.strftime("%H:%M:%S")


def day_time(intervals: Sequence[Interval], now: datetime | None = None,
             catalog: Catalog | None = None) -> DayTime:
    """Per-code time and documented totals for one patient-day.

    Args:
        intervals: the day's intervals (a running one has ``end=None``).
        now: the moment running intervals count up to (required if any is running).

    Raises:
        BillingError: overlapping exclusive intervals, an unknown code, or a running interval
            with no ``now``.
    """
    catalog = catalog or default_catalog()
    check_overlaps(intervals, now, catalog)
    ordered = sorted(intervals, key=lambda i: i.start)
    seconds: dict[str, int] = {}
    assistant: dict[str, int] = {}
    order: dict[str, int] = {}
    spans: list[tuple[datetime, datetime]] = []
    for interval in ordered:
        code = interval.code.upper()
        sec = interval.seconds(now)
        seconds[code] = seconds.get(code, 0) + sec
        if interval.performer.is_assistant:
            assistant[code] = assistant.get(code, 0) + sec
        order.setdefault(code, len(order))
        spans.append((interval.start, interval.end_or(now) if now else interval.end))
    codes = tuple(
        CodeTime(code, seconds[code], assistant.get(code, 0), order[code]) for code in order
    )
    timed_minutes = sum(c.minutes for c in codes if catalog.get(c.code).timed)
    return DayTime(
        codes=codes,
        total_timed_minutes=timed_minutes,
        total_treatment_minutes=_union_seconds(spans) // 60,
        session_start=spans[0][0] if spans else None,
        session_end=max(end for _, end in spans) if spans else None,
    )


def _union_seconds(spans: list[tuple[datetime, datetime]]) -> int:
    """Seconds covered by at least one span (overlapping modalities count once)."""
    total = 0
    current_start = current_end = None
    for start, end in sorted(spans):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += int((current_end - current_start).total_seconds())
            current_start, current_end = start, end
        elif end > current_end:
            current_end = end
    if current_end is not None:
        total += int((current_end - current_start).total_seconds())
    return total


def service_day(moment: datetime, zone: tzinfo | None = None) -> date:
    """The calendar day a moment belongs to, in the clinic's zone (the moment's own by default)."""
    return (moment.astimezone(zone) if zone else moment).date()
