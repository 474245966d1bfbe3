"""Medicare bundles hot/cold packs (97010): documented with its minutes, never a unit of its own,
never charged; listed at $0.00 only when the clinic asks. Other payers bill it as before."""

from __future__ import annotations

from datetime import date

from therapy_timer.core.billing import BillingContext, bill_intervals, bundled_note
from therapy_timer.core.live import LiveTally, live_facts
from therapy_timer.core.model import Rule
from therapy_timer.core.rules_data import kx_for_year

from .helpers import at, iv

DAY = date(2026, 11, 20)
FEES = {"97110": 4500, "97010": 1500}
DAY_INTERVALS = [iv("97010", 0, 15), iv("97110", 0, 23)]  # a hot pack alongside ther-ex


def medicare(**kw) -> BillingContext:
    return BillingContext(rule=Rule.CMS, medicare=True, fees_cents=FEES,
                          allowed_cents={"97110": 3000, "97010": 500}, **kw)


def test_medicare_documents_97010_but_bills_no_unit_and_no_charge():
    billing = bill_intervals(DAY_INTERVALS, medicare(), day=DAY)
    lines = {line.code: line for line in billing.lines}
    hot = lines["97010"]
    assert (hot.minutes, hot.units, hot.charge_cents, hot.bundled) == (15, 0, 0, True)
    assert bundled_note("97010") in hot.notes
    assert billing.total_units == 2  # 97110 23 min: 2 units; the hot pack none
    claim = billing.claim_lines()
    assert [(c.code, c.units, c.charge_cents) for c in claim] == [("97110", 2, 9000)]
    assert any("97010" in w and "documented, not billed" in w for w in billing.warnings)
    assert billing.total_treatment_minutes == 23  # its minutes still count as treatment


def test_the_clinic_may_list_97010_at_zero():
    billing = bill_intervals(DAY_INTERVALS, medicare(list_bundled=True), day=DAY)
    claim = {c.code: c for c in billing.claim_lines()}
    assert (claim["97010"].units, claim["97010"].charge_cents) == (1, 0)
    assert claim["97010"].modifiers == ("GP",) and claim["97010"].minutes == 15
    assert billing.total_units == 2  # listing it at $0 bills nothing more
    assert sum(c.charge_cents for c in claim.values()) == 9000


def test_bundled_97010_earns_no_assistant_modifier_and_no_kx_amount():
    prior = kx_for_year(2026).threshold_cents - 6200  # 97110's 2 x $30 stays $2 under
    intervals = [iv("97010", 0, 15, "PTA"), iv("97110", 0, 23)]
    billing = bill_intervals(intervals, medicare(kx_applies=True, prior_kx_cents=prior),
                             day=DAY)
    assert not [s for s in billing.suggestions if s.code == "97010"]
    # 97010's $5 allowed amount would have crossed the threshold: it is not paid, so no KX.
    assert not [s for s in billing.suggestions if s.modifier == "KX"]
    other = bill_intervals(intervals, BillingContext(
        rule=Rule.CMS, kx_applies=True, prior_kx_cents=prior,
        allowed_cents={"97110": 3000, "97010": 500}), day=DAY)
    assert [s.code for s in other.suggestions if s.modifier == "KX"]  # counted elsewhere


def test_other_payers_still_bill_97010():
    billing = bill_intervals(DAY_INTERVALS, BillingContext(rule=Rule.CMS, fees_cents=FEES),
                             day=DAY)
    assert {c.code: (c.units, c.charge_cents) for c in billing.claim_lines()} == {
        "97010": (1, 1500), "97110": (2, 9000)}
    assert billing.total_units == 3 and not any(line.bundled for line in billing.lines)


def test_live_total_leaves_bundled_97010_out_for_medicare():
    running = [iv("97010", 0, None), iv("97110", 0, None)]
    facts = live_facts(running, at(23), medicare=True)
    assert (facts.units_now, facts.untimed_units, facts.total_units) == (2, 0, 2)
    assert facts.units("97010") == 0 and facts.bundled == {"97010"}
    assert facts.seconds_by_code["97010"] == 23 * 60  # its minutes still show
    other = LiveTally(running).facts(at(23))
    assert (other.untimed_units, other.total_units) == (1, 3)


def test_the_explanation_says_a_bundled_code_is_not_billed():
    billing = bill_intervals([iv("97110", 0, 20), iv("97010", 0, 10)],
                             BillingContext(medicare=True), day=DAY)
    [said] = [t for t in billing.explanation if t.startswith("97010")]
    assert said == ("97010 is bundled by Medicare: documented, not billed; its 10 min count in "
                    "total treatment time, not the timed total")
    commercial = bill_intervals([iv("97110", 0, 20), iv("97010", 0, 10)], BillingContext(),
                                day=DAY)
    assert any(t.startswith("97010 is untimed") and ": 1 unit;" in t
               for t in commercial.explanation)
