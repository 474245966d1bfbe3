"""Minutes from intervals: floor of summed seconds, overlaps, treatment time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from therapy_timer.core.billing import bill_intervals
from therapy_timer.core.minutes import day_time
from therapy_timer.core.model import BillingError, Interval

from .helpers import T0, at, iv


def test_minutes_are_floor_of_summed_seconds_per_code():
    # 7.5 + 7.5 minutes of 97110 = 15 minutes, not 7 + 7
    times = day_time([iv("97110", 0, 7.5), iv("97140", 7.5, 10), iv("97110", 10, 17.5)])
    by_code = {c.code: c.minutes for c in times.codes}
    assert by_code == {"97110": 15, "97140": 2}
    assert times.total_timed_minutes == 17


def test_59_seconds_never_round_up():
    times = day_time([Interval("97110", T0, T0 + timedelta(minutes=7, seconds=59))])
    assert times.codes[0].minutes == 7
    assert bill_intervals([Interval("97110", T0, T0 + timedelta(minutes=7, seconds=59))]
                          ).total_units == 0


def test_overlapping_one_on_one_intervals_are_an_error():
    with pytest.raises(BillingError, match="97110 .* and 97140 .* overlap"):
        day_time([iv("97110", 0, 10), iv("97140", 9, 20)])


def test_constant_attendance_cannot_overlap_one_on_one():
    with pytest.raises(BillingError, match="overlap"):
        day_time([iv("97110", 0, 10), iv("97035", 5, 12)])


def test_supervised_modalities_may_overlap_and_count_once_in_treatment_time():
    times = day_time([iv("97110", 0, 20), iv("97010", 10, 25), iv("97140", 20, 30)])
    assert times.total_timed_minutes == 30
    assert times.total_treatment_minutes == 30  # union of 0-30, overlaps counted once
    assert times.session_start == at(0) and times.session_end == at(30)


def test_pauses_are_not_treatment_time():
    times = day_time([iv("97110", 0, 10), iv("97110", 15, 25)])  # 5-minute rest between
    assert times.total_treatment_minutes == 20


def test_running_interval_counts_to_now_and_needs_now():
    intervals = [iv("97110", 0, 10), iv("97112", 10, None)]
    assert day_time(intervals, now=at(22)).total_timed_minutes == 22
    with pytest.raises(BillingError, match="still running"):
        day_time(intervals)


def test_end_before_start_and_naive_times_rejected():
    with pytest.raises(BillingError, match="before it starts"):
        iv("97110", 10, 5)
    with pytest.raises(BillingError, match="time zone"):
        Interval("97110", datetime(2026, 1, 1), datetime(2026, 1, 1, 0, 10))


def test_offsets_are_respected():
    est = timezone(timedelta(hours=-5))
    start = datetime(2026, 11, 20, 9, 0, tzinfo=est)
    end = datetime(2026, 11, 20, 14, 23, tzinfo=UTC)
    assert day_time([Interval("97110", start, end)]).codes[0].minutes == 23

