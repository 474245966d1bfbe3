"""The engine's payer context (issue 10, items 5, 7 and 9).

- Medicare is always the CMS total-time rule: a context with Medicare and the per-code rule
  cannot be made (Pub 100-04 ch. 5 s. 20.2 is not a choice for Medicare).
- Without a date of service the engine says which dated checks it could not run.
- A self-pay context carries no insurer modifiers unless the clinic turns them on.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from therapy_timer.core.billing import (
    BillingContext,
    bill_intervals,
    bill_services,
    self_pay_context,
)
from therapy_timer.core.model import BillingError, Discipline, Rule, Service, check_medicare_rule

from .helpers import iv


@pytest.mark.parametrize(
    ("medicare", "rule", "refused"),
    [(True, Rule.PER_CODE, True), (True, Rule.CMS, False), (False, Rule.PER_CODE, False),
     (False, Rule.CMS, False)],
)
def test_medicare_is_always_the_cms_rule(medicare, rule, refused):
    if refused:
        with pytest.raises(BillingError) as exc:
            BillingContext(rule=rule, medicare=medicare)
        assert str(exc.value) == ("Medicare must use the CMS total-time rule (the 8-minute rule "
                                  "of Pub 100-04 ch. 5 s. 20.2), not the per-code rule")
    else:
        assert BillingContext(rule=rule, medicare=medicare).rule is rule
        check_medicare_rule(medicare, rule)


@given(st.sampled_from(list(Rule)), st.booleans(), st.sampled_from(list(Discipline)))
def test_no_medicare_context_is_ever_per_code(rule, medicare, discipline):
    try:
        context = BillingContext(rule=rule, medicare=medicare, discipline=discipline)
    except BillingError:
        assert medicare and rule is Rule.PER_CODE
    else:
        assert not (context.medicare and context.rule is Rule.PER_CODE)


def test_without_a_date_the_skipped_checks_are_named():
    context = BillingContext(kx_applies=True, prior_kx_cents=900000,
                             allowed_cents={"97140": 3000, "97530": 3000})
    billing = bill_services([Service("97140", 10), Service("97530", 25)], context)
    assert "No date of service: NCCI pair edits were not checked" in billing.warnings
    assert "No date of service: the KX threshold was not checked" in billing.warnings
    one = bill_services([Service("97110", 30)], BillingContext())
    assert one.warnings == ()  # one code, no KX: nothing dated was skipped


@pytest.mark.parametrize(
    ("clinic", "modifiers"),
    [({}, [("97140", ()), ("97530", ())]),
     ({"therapy_modifiers": True}, [("97140", ("GP",)), ("97530", ("GP",))]),
     ({"assistant_modifiers": True}, [("97140", ()), ("97530", ("CQ",))]),
     ({"ncci_edits": True}, [("97140", ()), ("97530", ("XU",))])],
)
def test_self_pay_context(clinic, modifiers):
    billing = bill_intervals([iv("97140", 0, 15), iv("97530", 15, 30, "PTA")],
                             self_pay_context(Discipline.PT, **clinic))
    assert [(c.code, c.modifiers) for c in billing.claim_lines()] == modifiers
    assert not billing.context.kx_applies
