"""Live boundary facts for the visit so far, recomputed every second for the screen.

Neutral facts only: units now, when the next unit would start, and minutes already spent that
would not bill if the visit ended now. Closed intervals are summed once (``LiveTally``); each
tick adds only the running interval, so a recompute costs a few microseconds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from therapy_timer.core.codes import Catalog, default_catalog
from therapy_timer.core.minutes import check_overlaps
from therapy_timer.core.model import BillingError, Interval, Rule, Service
from therapy_timer.core.units import Allocation, allocate, cms_units, per_code_units


@dataclass(frozen=True, slots=True)
class LiveFacts:
    """What the visit screen shows, as of ``now``."""

    rule: Rule
    allocation: Allocation
    seconds_by_code: dict[str, int]
    total_timed_minutes: int
    units_now: int
    running_code: str | None
    seconds_to_next_unit: int | None  # None when nothing timed is running
    unbilled_minutes: int  # timed minutes beyond the units billed now (all of them below 8)
    #: Codes the payer bundles (Medicare's 97010): documented, never a unit of their own.
    bundled: frozenset[str] = frozenset()

    def units(self, code: str) -> int:
        """The units ``code`` bills now (0 for a bundled code)."""
        return 0 if code in self.bundled else self.allocation.units(code)

    @property
    def untimed_units(self) -> int:
        """Units of the untimed codes that bill (one each; bundled codes none)."""
        return sum(1 for line in self.allocation.lines
                   if not line.timed and line.units and line.code not in self.bundled)

    @property
    def total_units(self) -> int:
        """What the visit bills now: timed units plus the billed untimed codes."""
        return self.units_now + self.untimed_units


class LiveTally:
    """Holds a visit's closed intervals summed once; ``facts(now)`` adds the running one.

    ``tie`` is the clinician's stored tie choice: shown at once while the rule allows it (the
    rule's pick otherwise; the review says when a choice no longer holds). ``untimed_ok``:
    untimed codes under a minute the clinician confirmed to bill. ``offsets``: seconds to add
    to a running code's wall-clock elapsed time, so it counts what the monotonic clock measured
    (a clock set back an hour: +3600; ``ClockFlag.offset_seconds``).
    """

    def __init__(self, intervals: Sequence[Interval], rule: Rule = Rule.CMS,
                 catalog: Catalog | None = None, *, medicare: bool = False,
                 tie: Mapping[str, int] | None = None,
                 untimed_ok: Collection[str] = (),
                 offsets: Mapping[str, float] | None = None) -> None:
        self.offsets = {code.upper(): float(s) for code, s in (offsets or {}).items()}
        self.rule = rule
        self.catalog = catalog or default_catalog()
        self.medicare = medicare
        self.tie = dict(tie or {})
        self.untimed_ok = tuple(untimed_ok)
        check_overlaps([i for i in intervals if i.end is not None], None, self.catalog)
        self._closed: dict[str, int] = {}
        self._order: dict[str, int] = {}
        self._running: list[Interval] = []
        self._timed: dict[str, bool] = {}
        for interval in sorted(intervals, key=lambda i: i.start):
            code = interval.code.upper()
            self._order.setdefault(code, len(self._order))
            self._timed.setdefault(code, self.catalog.get(code).timed)
            if interval.end is None:
                self._running.append(interval)
            else:
                self._closed[code] = self._closed.get(code, 0) + interval.seconds()

    def facts(self, now: datetime) -> LiveFacts:
        seconds = dict(self._closed)
        for interval in self._running:
            code = interval.code.upper()
            if code in self.offsets:  # measured: wall elapsed plus the clock's offset
                elapsed = (now - interval.start) + timedelta(seconds=self.offsets[code])
                ran = max(0, elapsed // timedelta(seconds=1))
            else:
                ran = interval.seconds(now)
            seconds[code] = seconds.get(code, 0) + ran
        services = [Service(code, seconds.get(code, 0) // 60, order)
                    for code, order in self._order.items()]
        allocation = allocate(services, self.rule, catalog=self.catalog, explain=False,
                              untimed_ok=self.untimed_ok)
        if self.tie and allocation.ties:
            # The times moved on and the choice no longer holds: the rule's pick until the
            # review resets it (and says so).
            with contextlib.suppress(BillingError):
                allocation = allocation.with_choice(self.tie)
        timed_minutes = allocation.total_timed_minutes
        units_now = allocation.timed_units
        running = next((i for i in self._running if self._timed[i.code.upper()]), None)
        to_next = None
        if running is not None:
            code = running.code.upper()
            sec = seconds[code]
            if self.rule is Rule.CMS:
                target = 15 * cms_units(timed_minutes) + 8 if timed_minutes >= 8 else 8
                to_next = (target - timed_minutes) * 60 - sec % 60
            else:
                minutes = sec // 60
                target = 15 * per_code_units(minutes) + 8 if minutes >= 8 else 8
                to_next = (target - minutes) * 60 - sec % 60
        if self.rule is Rule.CMS:
            unbilled = max(0, timed_minutes - 15 * units_now) if units_now else timed_minutes
        else:
            unbilled = sum(
                max(0, line.minutes - 15 * line.units) if line.units else line.minutes
                for line in allocation.lines if line.timed
            )
        return LiveFacts(
            rule=self.rule,
            allocation=allocation,
            seconds_by_code=seconds,
            total_timed_minutes=timed_minutes,
            units_now=units_now,
            running_code=running.code.upper() if running else None,
            seconds_to_next_unit=to_next,
            unbilled_minutes=unbilled,
            bundled=frozenset(code for code in self._order if self.medicare
                              and self.catalog.get(code).medicare_bundled),
        )


def live_facts(intervals: Sequence[Interval], now: datetime, rule: Rule = Rule.CMS,
               catalog: Catalog | None = None, *, medicare: bool = False,
               tie: Mapping[str, int] | None = None,
               untimed_ok: Collection[str] = ()) -> LiveFacts:
    """One-off live facts (the screen keeps a ``LiveTally`` instead)."""
    return LiveTally(intervals, rule, catalog, medicare=medicare, tie=tie,
                     untimed_ok=untimed_ok).facts(now)
