"""Engine speed: recomputing a 50-interval visit, against a trivial baseline in the same run.

Target: under 100 us per live recompute (what the visit screen does every second).
Run: .venv/bin/python benchmarks/engine.py
"""

from __future__ import annotations

import platform
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import fmt_us, per_call_seconds  # noqa: E402

from therapy_timer.core.billing import BillingContext, bill_intervals  # noqa: E402
from therapy_timer.core.live import LiveTally  # noqa: E402
from therapy_timer.core.model import Interval, Performer  # noqa: E402

CODES = ["97110", "97112", "97140", "97530", "97116", "97535"]
TARGET_US = 100.0


def visit(n: int = 50) -> list[Interval]:
    """n back-to-back intervals (the last one running), plus realistic code churn."""
    start = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
    out = []
    for i in range(n):
        end = start + timedelta(seconds=70 + 13 * (i % 7))
        performer = Performer.PTA if i % 5 == 0 else Performer.PT
        out.append(Interval(CODES[i % len(CODES)], start, None if i == n - 1 else end, performer))
        start = end
    return out


def main() -> int:
    intervals = visit()
    now = intervals[-1].start + timedelta(minutes=3)
    tally = LiveTally(intervals)
    closed = [(i.start, i.end_or(now)) for i in intervals]

    def baseline() -> int:  # the least any recompute must do: sum 50 durations
        return sum(int((e - s).total_seconds()) for s, e in closed)

    base = per_call_seconds(baseline)
    live = per_call_seconds(lambda: tally.facts(now))
    full = per_call_seconds(lambda: bill_intervals(intervals, BillingContext(), now=now),
                            number=50)
    rebuild = per_call_seconds(lambda: LiveTally(intervals).facts(now), number=100)
    print(f"machine: {platform.machine()} {platform.processor() or ''} python "
          f"{platform.python_version()}")
    print("50-interval visit          per call     x baseline")
    print(f"baseline (sum durations)  {fmt_us(base)}     1.0")
    verdict = "OK" if live * 1e6 < TARGET_US else "OVER"
    print(f"live recompute (1 Hz)     {fmt_us(live)}  {live / base:6.1f}   "
          f"target < {TARGET_US:.0f} us  {verdict}")
    print(f"tally rebuild + recompute {fmt_us(rebuild)}  {rebuild / base:6.1f}")
    print(f"full bill (modifiers)     {fmt_us(full)}  {full / base:6.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
