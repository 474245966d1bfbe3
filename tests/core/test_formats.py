"""US dates and 12-hour times: the one helper the screens and the PDFs share (item 16)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from therapy_timer.core.formats import (
    format_date,
    format_date_time,
    format_period,
    format_short_date_time,
    format_time,
    format_time_span,
)

CHICAGO = ZoneInfo("America/Chicago")


def at(hour, minute):
    return datetime(2026, 3, 2, hour, minute, tzinfo=CHICAGO)


@pytest.mark.parametrize(("hour", "minute", "text"), [
    (0, 0, "12:00 AM"), (0, 5, "12:05 AM"), (9, 5, "9:05 AM"), (11, 59, "11:59 AM"),
    (12, 0, "12:00 PM"), (13, 30, "1:30 PM"), (23, 59, "11:59 PM"),
])
def test_12_hour_times(hour, minute, text):
    assert format_time(at(hour, minute)) == text


def test_dates_periods_and_spans():
    assert format_date(date(2026, 3, 2)) == "03/02/2026"
    assert format_date(None) == "" and format_time(None) == ""
    assert format_date_time(at(14, 20)) == "03/02/2026 2:20 PM"
    assert format_short_date_time(at(14, 20)) == "03/02 2:20 PM"
    assert format_period(date(2026, 3, 2), date(2026, 3, 2)) == "03/02/2026"
    assert format_period(date(2026, 3, 2), date(2026, 3, 6)) == "03/02/2026 to 03/06/2026"
    assert format_time_span(at(9, 0), at(9, 55)) == "9:00–9:55 AM"
    assert format_time_span(at(11, 50), at(12, 20)) == "11:50 AM–12:20 PM"
    assert format_time_span(at(9, 0), None) == "9:00 AM"
