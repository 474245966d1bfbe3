"""Behaviours a mutation run showed no test pinned (issue 17): the negative case or the boundary
beside the tested one. Each expected value is written out, not computed with the code's own
formula."""

from __future__ import annotations

from datetime import date

import pytest

from therapy_timer.core.billing import BillingContext, bill_intervals
from therapy_timer.core.validation import ValidationError, npi_check_digit, validate_npi

from .helpers import iv

DAY = date(2026, 11, 20)


def _xu(billing) -> list[tuple[str, str]]:
    return [(s.code, s.modifier) for s in billing.suggestions if s.modifier in ("59", "XU")]


def test_no_xu_when_a_supervised_modality_overlaps_the_manual_therapy():
    # 97012 (mechanical traction, supervised) may run alongside 97140; the pair 97012/97140 has
    # modifier indicator 1, but overlapping time is not a distinct interval.
    overlapping = bill_intervals([iv("97140", 0, 15), iv("97012", 5, 20)], BillingContext(),
                                 day=DAY)
    assert _xu(overlapping) == []
    assert any("97012/97140" in w and "no 59/XU" in w for w in overlapping.warnings)
    # Touching end to start is distinct: the same pair then gets XU on column 2.
    distinct = bill_intervals([iv("97012", 0, 15), iv("97140", 15, 30)], BillingContext(),
                              day=DAY)
    assert _xu(distinct) == [("97140", "XU")]


@pytest.mark.parametrize(("assistant_minutes", "modifiers"), [
    (3, []),       # exactly 10% of 30 minutes: not "more than 10%", no CQ
    (4, ["CQ"]),   # 13%: furnished in part by the assistant
])
def test_untimed_de_minimis_boundary_is_more_than_ten_percent(assistant_minutes, modifiers):
    therapist_end = 30 - assistant_minutes
    billing = bill_intervals([iv("97150", 0, therapist_end, "PT"),
                              iv("97150", therapist_end, 30, "PTA")], BillingContext(), day=DAY)
    assert [s.modifier for s in billing.suggestions if s.modifier in ("CQ", "CO")] == modifiers


# One valid NPI for each check digit (worked out by hand with the Luhn formula over 80840 + the
# first nine digits; 1234567893 is CMS's own example).
NPI_BY_CHECK_DIGIT = {
    0: "1234567810", 1: "1234567851", 2: "1234567802", 3: "1234567893", 4: "1234567844",
    5: "1234567885", 6: "1234567836", 7: "1234567877", 8: "1234567828", 9: "1234567869",
}


@pytest.mark.parametrize(("digit", "npi"), sorted(NPI_BY_CHECK_DIGIT.items()))
def test_npi_check_digit_for_every_digit(digit, npi):
    assert npi_check_digit(npi[:9]) == digit
    assert validate_npi(npi) == npi
    wrong = npi[:9] + str((digit + 1) % 10)
    with pytest.raises(ValidationError, match=f"last digit should be {digit}"):
        validate_npi(wrong)


def test_a_tie_choice_moves_a_cognitive_unit_without_losing_or_inventing_one():
    """97129 19 min + 97110 4 min: 2 units, a tie for the second between the cognitive service
    (its 97130) and 97110. Either choice bills exactly 2 units, on lines that exist."""
    from therapy_timer.core.billing import bill_services
    from therapy_timer.core.model import Service

    billing = bill_services([Service("97129", 19, 0), Service("97110", 4, 1)], BillingContext())
    pick = {ln.code: ln.units for ln in billing.allocation.lines}
    assert pick == {"97129": 1, "97130": 1, "97110": 0}
    other = billing.with_choice({"97129": 1, "97110": 1})
    assert {ln.code: ln.units for ln in other.allocation.lines} == {"97129": 1, "97110": 1}
    back = other.with_choice({"97129": 1, "97130": 1, "97110": 0})
    assert {ln.code: ln.units for ln in back.allocation.lines} == pick
    assert [(c.code, c.units) for c in back.claim_lines()] == [("97129", 1), ("97130", 1)]
