"""Modifier rules: GP/GO/GN, CQ/CO per unit, NCCI 59/XU, KX, order and the four-modifier cap."""

from __future__ import annotations

from datetime import date

import pytest

from therapy_timer.core.billing import BillingContext, bill_intervals, bill_services
from therapy_timer.core.model import BillingError, Discipline, Service
from therapy_timer.core.modifiers import assistant_units, order_modifiers
from therapy_timer.core.rules_data import NcciPair

from .helpers import iv

DAY = date(2026, 11, 20)


@pytest.mark.parametrize(("discipline", "mod"), [("PT", "GP"), ("OT", "GO"), ("SLP", "GN")])
def test_therapy_modifier_from_discipline(discipline, mod):
    billing = bill_services([Service("97530", 30)],
                            BillingContext(discipline=Discipline(discipline)), day=DAY)
    assert billing.lines[0].modifiers == (mod,)
    assert billing.claim_lines()[0].modifiers == (mod,)


def test_therapy_modifiers_can_be_off_for_a_payer():
    billing = bill_services([Service("97530", 30)], BillingContext(therapy_modifiers=False))
    assert billing.lines[0].modifiers == ()


@pytest.mark.parametrize(
    ("units", "assistant", "therapist", "expected"),
    [
        (1, 10, 5, 1),  # PTA 10 + PT 5 -> 1 unit with CQ
        (2, 23, 13, 1),  # CMS scenario: PTA's full 15 -> CQ; leftover PTA 8 vs PT 13 -> PT
        (1, 5, 10, 0),  # therapist furnished more of the only unit
        (2, 12, 12, 1),  # two units left, each 9-14 min: one each
        (3, 45, 0, 3),  # all by the assistant
        (2, 0, 30, 0),
        (1, 7, 7, 1),  # equal shares: the assistant's is over 10%
    ],
)
def test_assistant_units(units, assistant, therapist, expected):
    assert assistant_units(units, assistant, therapist)[0] == expected


def test_cq_splits_the_claim_line_and_explains():
    intervals = [iv("97110", 0, 23, "PTA"), iv("97110", 23, 36, "PT"), iv("97140", 36, 66, "PT")]
    billing = bill_intervals(intervals, BillingContext(), day=DAY)
    (cq,) = billing.lines[0].suggestions
    assert (cq.modifier, cq.units) == ("CQ", 1)
    assert "85%" in cq.reason
    claims = [(c.code, c.modifiers, c.units) for c in billing.claim_lines()]
    assert claims == [("97110", ("GP", "CQ"), 1), ("97110", ("GP",), 1),
                      ("97140", ("GP",), 2)]
    # not confirmed -> no CQ, one line
    unconfirmed = billing.claim_lines(confirmed=set())
    assert [(c.code, c.modifiers, c.units) for c in unconfirmed][0] == ("97110", ("GP",), 2)


def test_co_for_occupational_therapy_assistant():
    billing = bill_intervals([iv("97535", 0, 30, "OTA")],
                             BillingContext(discipline=Discipline.OT), day=DAY)
    assert [(s.modifier, s.units) for s in billing.suggestions] == [("CO", 2)]


def test_untimed_service_by_assistant_uses_ten_percent_de_minimis():
    billing = bill_intervals([iv("97150", 0, 30, "PTA")], BillingContext(), day=DAY)
    assert [s.modifier for s in billing.suggestions] == ["CQ"]


def test_ncci_indicator_1_with_distinct_intervals_suggests_xu_on_column_2():
    billing = bill_intervals([iv("97140", 0, 10), iv("97530", 10, 35)], BillingContext(),
                             day=DAY)
    suggestion = next(s for s in billing.suggestions if s.modifier == "XU")
    assert suggestion.code == "97530"
    assert suggestion.evidence == ("97140: 14:00-14:10", "97530: 14:10-14:35")
    assert billing.claim_lines()[1].modifiers == ("XU", "GP")


def test_ncci_without_timer_evidence_warns_instead():
    billing = bill_services([Service("97140", 10), Service("97530", 25)], BillingContext(),
                            day=DAY)
    assert not [s for s in billing.suggestions if s.modifier in ("59", "XU")]
    assert any("97140/97530" in w and "no 59/XU" in w for w in billing.warnings)


def test_ncci_indicator_0_warns():
    pair = NcciPair("97140", "97530", "0", date(2020, 1, 1), None, "U", "a test's own pair")
    billing = bill_services([Service("97140", 30), Service("97530", 20)], BillingContext(),
                            day=DAY, ncci=[pair])
    assert any("modifier indicator 0" in w and "97530" in w for w in billing.warnings)


def test_evaluation_with_97750_is_indicator_1_for_a_different_specialty_only():
    # NCCI ch. XI s. P: not with an evaluation by the same practitioner or specialty; a
    # different specialty may use the modifier (indicator 1), so distinct time is no bypass.
    billing = bill_intervals([iv("97161", 0, 30), iv("97750", 30, 50)], BillingContext(),
                             day=DAY)
    assert not [s for s in billing.suggestions if s.modifier in ("59", "XU")]
    (warning,) = [w for w in billing.warnings if "97161/97750" in w]
    assert "modifier indicator 0" not in warning
    assert "only a different specialty (PT vs OT) may report it with a modifier" in warning


def test_ncci_pair_outside_its_dates_is_ignored():
    ended = NcciPair("97110", "97750", "1", date(2020, 1, 1), date(2025, 12, 31), "U",
                     "a test's own pair that ended 2025-12-31")
    billing = bill_intervals([iv("97110", 0, 15), iv("97750", 15, 30)], BillingContext(),
                             day=DAY, ncci=[ended])
    assert not any("97110/97750" in w for w in billing.warnings)
    old = bill_services([Service("97110", 15), Service("97750", 15)], BillingContext(),
                        day=date(2025, 6, 1), ncci=[ended])
    assert any("97110/97750" in w for w in old.warnings)


def test_pair_needs_both_codes_billed():
    # 97140 earns no unit (7 min against 33 of 97110 it does; here 97530 gets 0)
    billing = bill_services([Service("97140", 30), Service("97530", 3)], BillingContext(),
                            day=DAY)
    assert billing.allocation.units("97530") == 0
    assert not any("97140/97530" in w for w in billing.warnings)


def _kx_context(prior: int) -> BillingContext:
    return BillingContext(kx_applies=True, prior_kx_cents=prior,
                          allowed_cents={"97110": 3000, "97140": 3000})


def test_kx_on_every_line_of_the_visit_that_crosses_the_threshold():
    # 2,420 + 2 x 30 = 2,480 (not past) ; + 2 x 30 = 2,540: the visit crosses, so both lines
    # carry KX (it used to be only the line started later: the order codes were started in).
    billing = bill_services([Service("97110", 30), Service("97140", 30)], _kx_context(242000),
                            day=DAY)
    kx = [s for s in billing.suggestions if s.modifier == "KX"]
    assert [(s.code, s.units) for s in kx] == [("97110", 2), ("97140", 2)]
    assert "from $2,420.00 to $2,540.00" in kx[0].reason
    assert "$2,480.00" in kx[0].reason


def test_kx_not_suggested_below_threshold_and_warns_at_review_level():
    assert not [s for s in bill_services([Service("97110", 30)], _kx_context(0),
                                         day=DAY).suggestions if s.modifier == "KX"]
    over = bill_services([Service("97110", 30)], _kx_context(299000), day=DAY)
    assert any("$3,000.00 targeted medical review" in w for w in over.warnings)
    assert any("secondary sources" in w for w in over.warnings)


def test_kx_only_when_the_payer_applies_it():
    billing = bill_services([Service("97110", 30)], BillingContext(prior_kx_cents=900000,
                            allowed_cents={"97110": 3000}), day=DAY)
    assert not billing.suggestions


def test_medicare_substitutes_g0283_and_flags_bundled_packs():
    billing = bill_services([Service("97014", 15), Service("97010", 10), Service("97110", 15)],
                            BillingContext(medicare=True), day=DAY)
    codes = [line.code for line in billing.lines]
    assert codes == ["G0283", "97010", "97110"]
    assert any("G0283" in w for w in billing.warnings)
    assert any("bundles" in w for w in billing.warnings)


def test_stable_order_and_cap_of_four():
    assert order_modifiers(["KX", "CQ", "GP", "XU"]) == ("XU", "GP", "CQ", "KX")
    assert order_modifiers(["gp", "GP"]) == ("GP",)
    intervals = [iv("97140", 0, 10), iv("97530", 10, 35, "PTA")]
    context = BillingContext(kx_applies=True, prior_kx_cents=250000,
                             allowed_cents={"97530": 3000, "97140": 3000})
    billing = bill_intervals(intervals, context, day=DAY)
    claim = billing.claim_lines()
    assert claim[1].modifiers == ("XU", "GP", "CQ", "KX")
    assert all(len(c.modifiers) <= 4 for c in claim)


def test_more_than_four_modifiers_is_an_error():
    from dataclasses import replace

    from therapy_timer.core.modifiers import Suggestion

    billing = bill_services([Service("97110", 15)], BillingContext(), day=DAY)
    extra = tuple(Suggestion("97110", m, 1, "test") for m in ("XU", "CQ", "KX", "GA"))
    line = replace(billing.lines[0], suggestions=extra)
    with pytest.raises(BillingError, match="at most 4"):
        replace(billing, lines=(line,)).claim_lines()


def test_two_pt_evaluations_warn():
    billing = bill_services([Service("97161", 20), Service("97164", 20)], BillingContext(),
                            day=DAY)
    assert any("Only one PT evaluation" in w for w in billing.warnings)


def test_charges_are_units_times_fee_in_cents():
    billing = bill_services([Service("97110", 38)], BillingContext(fees_cents={"97110": 4500}))
    assert billing.lines[0].charge_cents == 13500
    assert billing.claim_lines()[0].charge_cents == 13500


def test_choosing_another_tie_allocation_reworks_the_modifiers():
    # 20 + 20 min -> 3 units; the tie decides which code gets 2. The PTA ran 97110.
    intervals = [iv("97112", 0, 20, "PT"), iv("97110", 20, 40, "PTA")]
    billing = bill_intervals(intervals, BillingContext(), day=DAY)
    assert billing.allocation.as_dict() == {"97112": 2, "97110": 1}
    assert [(s.code, s.units) for s in billing.suggestions] == [("97110", 1)]
    chosen = billing.with_choice({"97112": 1, "97110": 2})
    assert [(line.code, line.units) for line in chosen.lines] == [("97112", 1), ("97110", 2)]
    assert [(s.code, s.modifier, s.units) for s in chosen.suggestions] == [("97110", "CQ", 2)]
    with pytest.raises(BillingError, match="not allowed"):
        billing.with_choice({"97112": 3, "97110": 0})
