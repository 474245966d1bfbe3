"""An untimed code timed for less than a minute bills only once the clinician confirms it
(issue 16, item 3): the evaluation left at 0:20, the hot pack tapped by mistake."""

from __future__ import annotations

import pytest

from tests.core.helpers import iv
from therapy_timer.core.billing import UNDER_A_MINUTE_NOTE, BillingContext, bill_intervals
from therapy_timer.core.model import BillingError, Rule, Service
from therapy_timer.core.units import allocate


@pytest.mark.parametrize("rule", list(Rule))
def test_an_untimed_code_under_a_minute_bills_nothing_until_confirmed(rule):
    services = [Service("97161", 0), Service("97010", 1), Service("97110", 15)]
    result = allocate(services, rule)
    assert result.as_dict() == {"97161": 0, "97010": 1, "97110": 1}
    assert result.under_a_minute == ("97161",)
    assert any("97161" in e and "not billed unless the clinician confirms" in e
               for e in result.explanation)
    confirmed = allocate(services, rule, untimed_ok=["97161"])
    assert confirmed.as_dict() == {"97161": 1, "97010": 1, "97110": 1}
    assert confirmed.under_a_minute == ("97161",)  # still shown, now as confirmed
    assert confirmed.timed_units == result.timed_units == 1


def test_seconds_below_a_minute_are_under_a_minute_from_the_timers():
    # 50 seconds of a hot pack beside 20 minutes of exercise.
    billing = bill_intervals([iv("97110", 0, 20), iv("97010", 20, 20 + 50 / 60)],
                             BillingContext())
    lines = {line.code: line for line in billing.lines}
    assert (lines["97010"].minutes, lines["97010"].units) == (0, 0)
    assert UNDER_A_MINUTE_NOTE in lines["97010"].notes
    assert billing.under_a_minute == ("97010",)
    assert [c.code for c in billing.claim_lines()] == ["97110"]
    ok = bill_intervals([iv("97110", 0, 20), iv("97010", 20, 20 + 50 / 60)], BillingContext(),
                        untimed_ok={"97010"})
    assert [(c.code, c.units) for c in ok.claim_lines()] == [("97110", 1), ("97010", 1)]
    # A tie choice later keeps the confirmed untimed unit.
    assert ok.with_choice({"97110": 1, "97010": 0}).total_units == 2


def test_the_tie_crash_of_issue_16_with_an_untimed_code():
    """Choose... with a hot pack in the visit raised KeyError('97010'); choosing the default
    again did too."""
    billing = bill_intervals([iv("97112", 0, 20), iv("97110", 20, 40), iv("97010", 40, 50)],
                             BillingContext())
    default = billing.allocation.as_dict()
    assert default == {"97112": 2, "97110": 1, "97010": 1}
    other = billing.allocation.allowed_allocations()[1]
    assert "97010" not in other  # the tie's alternatives hold timed codes only
    chosen = billing.with_choice(other)
    assert {ln.code: ln.units for ln in chosen.lines} == {"97112": 1, "97110": 2, "97010": 1}
    back = chosen.with_choice(default)  # the whole day, untimed code included
    assert {ln.code: ln.units for ln in back.lines} == default
    with pytest.raises(BillingError, match="whole number"):
        billing.with_choice({"97112": "two"})


def test_the_live_tally_shows_the_chosen_tie_and_the_confirmed_untimed_unit():
    from tests.core.helpers import at
    from therapy_timer.core.live import LiveTally

    intervals = [iv("97010", 0, 0.5), iv("97112", 0, 20), iv("97110", 20, 40)]
    plain = LiveTally(intervals).facts(at(41))
    assert (plain.units("97112"), plain.units("97110"), plain.units("97010")) == (2, 1, 0)
    chosen = LiveTally(intervals, tie={"97112": 1, "97110": 2}, untimed_ok=["97010"]).facts(
        at(41))
    assert (chosen.units("97112"), chosen.units("97110"), chosen.units("97010")) == (1, 2, 1)
    assert chosen.units_now == plain.units_now == 3
    # A choice the times no longer allow shows the rule's pick (the review resets it).
    stale = LiveTally([*intervals, iv("97116", 40, 60)], tie={"97112": 1, "97110": 2})
    assert stale.facts(at(61)).allocation.as_dict() == {"97010": 0, "97112": 2, "97110": 1,
                                                        "97116": 1}


def test_an_evaluation_tapped_by_mistake_is_no_second_evaluation():
    from therapy_timer.core.billing import bill_services

    slip = bill_services([Service("97161", 0), Service("97162", 30)], BillingContext())
    assert not any("one PT evaluation" in w for w in slip.warnings)
    both = bill_services([Service("97161", 0), Service("97162", 30)], BillingContext(),
                         untimed_ok=["97161"])
    assert any("Only one PT evaluation" in w for w in both.warnings)
