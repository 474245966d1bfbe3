"""Small builders shared by the core tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from therapy_timer.core.model import Interval, Performer

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """A moment ``minutes`` after 14:00 UTC on 2026-11-20."""
    return T0 + timedelta(minutes=minutes)


def iv(code: str, start: float, end: float | None, performer: str = "PT") -> Interval:
    """An interval from ``start`` to ``end`` minutes after T0 (``None``: running)."""
    return Interval(code, at(start), None if end is None else at(end), Performer(performer))
