"""Dates and times as the clinic reads them, on every screen and every paper: US formats.

One place decides: ``MM/DD/YYYY`` dates and 12-hour times (``9:05 AM``). The PDFs
(``therapy_timer.pdf``) and the screens (``therapy_timer.ui``) both call these, so a date
never reads one way on the desk and another on the superbill. Times are printed in the zone
of the datetime given (callers convert to the clinic's zone first). Pure Python.
"""

from __future__ import annotations

from datetime import date, datetime


def format_date(day: date | None) -> str:
    """US date as a superbill prints it: ``03/02/2026`` ("" for None)."""
    return day.strftime("%m/%d/%Y") if day else ""


def format_time(moment: datetime | None, seconds: bool = False) -> str:
    """Local clock time, 12-hour: ``9:05 AM`` (``9:05:07 AM`` with ``seconds``; "" for None)."""
    if not moment:
        return ""
    hour = moment.hour % 12 or 12
    second = f":{moment.second:02d}" if seconds else ""
    return f"{hour}:{moment.minute:02d}{second} {'AM' if moment.hour < 12 else 'PM'}"


def format_weekday_date(day: date | None, long: bool = False) -> str:
    """The day with its weekday: ``Mon 03/02/2026`` (``Monday 03/02/2026`` when ``long``)."""
    if not day:
        return ""
    weekday = day.strftime("%A" if long else "%a")
    return f"{weekday} {format_date(day)}"


def format_date_time(moment: datetime | None) -> str:
    """US date and 12-hour time: ``03/02/2026 9:05 AM`` ("" for None)."""
    return f"{format_date(moment.date())} {format_time(moment)}" if moment else ""


def format_period(start: date, end: date) -> str:
    """``03/02/2026`` for one day, ``03/02/2026 to 03/06/2026`` for a range."""
    if start == end:
        return format_date(start)
    return f"{format_date(start)} to {format_date(end)}"


def format_short_date_time(moment: datetime | None) -> str:
    """Month, day and 12-hour time for a list cell: ``03/02 9:05 AM`` ("" for None)."""
    return f"{moment:%m/%d} {format_time(moment)}" if moment else ""


def format_time_span(start: datetime | None, end: datetime | None) -> str:
    """``9:05–9:50 AM`` (one AM/PM when both share it), ``11:50 AM–12:20 PM`` otherwise."""
    if not start or not end:
        return format_time(start or end)
    first, last = format_time(start), format_time(end)
    if first[-2:] == last[-2:]:
        first = first[:-3]
    return f"{first}–{last}"
