"""Live boundary facts for the visit screen."""

from __future__ import annotations

from therapy_timer.core.live import LiveTally, live_facts
from therapy_timer.core.model import Rule

from .helpers import at, iv


def test_units_and_time_to_next_unit_as_a_timer_runs():
    tally = LiveTally([iv("97112", 0, 24), iv("97110", 24, None)])
    start = tally.facts(at(24))
    assert (start.units_now, start.total_timed_minutes) == (2, 24)
    assert start.seconds_to_next_unit == (38 - 24) * 60  # the third unit starts at 38 min
    later = tally.facts(at(24 + 23))
    assert later.units_now == 3
    assert later.allocation.as_dict() == {"97112": 2, "97110": 1}
    assert later.total_timed_minutes == 47
    half = tally.facts(at(24 + 13.5))  # 37.5 min in: 30 s to go
    assert half.seconds_to_next_unit == 30


def test_unbilled_minutes_are_neutral_facts():
    assert live_facts([iv("97110", 0, None)], at(7)).unbilled_minutes == 7
    assert live_facts([iv("97110", 0, None)], at(8)).unbilled_minutes == 0
    assert live_facts([iv("97110", 0, None)], at(20)).unbilled_minutes == 5


def test_per_code_rule_counts_next_unit_on_the_running_code():
    facts = live_facts([iv("97112", 0, 10), iv("97110", 10, None)], at(13), Rule.PER_CODE)
    assert facts.units_now == 1  # 97112 10 min; 97110 3 min
    assert facts.seconds_to_next_unit == 5 * 60  # 97110 reaches 8 min
    assert facts.unbilled_minutes == 3


def test_nothing_timed_running_has_no_next_unit():
    facts = live_facts([iv("97110", 0, 10), iv("97010", 10, None)], at(20))
    assert facts.running_code is None
    assert facts.seconds_to_next_unit is None
    assert facts.seconds_by_code["97010"] == 600


def test_recompute_never_drifts_over_hours():
    tally = LiveTally([iv("97110", 0, None)])
    assert tally.facts(at(6 * 60)).total_timed_minutes == 360
    assert tally.facts(at(6 * 60)).units_now == 24
