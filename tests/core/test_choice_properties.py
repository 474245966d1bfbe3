"""Hypothesis properties of a clinician's tie choice (issue 16, item 1): any allowed allocation,
given with or without the day's untimed codes, is accepted and bills exactly those units; the
day's timed total never changes; untimed lines keep their own units."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from therapy_timer.core.billing import BillingContext, bill_services
from therapy_timer.core.model import BillingError, Rule, Service
from therapy_timer.core.units import allocate

TIMED = ["97110", "97112", "97116", "97140", "97530", "97535", "97035", "97032"]
UNTIMED = ["97161", "97150", "97010", "97012", "92526", "97014"]


@st.composite
def tied_timed(draw):
    """Timed codes, most of them sharing one leftover (so ties are common)."""
    codes = draw(st.lists(st.sampled_from(TIMED), min_size=2, max_size=6, unique=True))
    leftover = draw(st.integers(min_value=1, max_value=14))
    out = []
    for code in codes:
        full = draw(st.integers(min_value=0, max_value=3))
        rest = leftover if draw(st.booleans()) or len(out) < 2 else draw(
            st.integers(min_value=0, max_value=14))
        out.append((code, 15 * full + rest))
    return out


untimed_services = st.lists(
    st.tuples(st.sampled_from(UNTIMED), st.integers(min_value=0, max_value=60)),
    max_size=3, unique_by=lambda t: t[0])


def _services(timed, untimed):
    return [Service(c, m) for c, m in timed] + [Service(c, m) for c, m in untimed]


@settings(max_examples=400)
@given(tied_timed(), untimed_services, st.data())
def test_any_allowed_alternative_is_accepted_with_any_mix_of_untimed_codes(timed, untimed,
                                                                          data):
    confirmed = data.draw(st.lists(st.sampled_from(UNTIMED), unique=True), label="untimed_ok")
    result = allocate(_services(timed, untimed), Rule.CMS, untimed_ok=confirmed)
    untimed_units = {line.code: line.units for line in result.lines if not line.timed}
    for alt in result.allowed_allocations():
        # The UI may pass the whole day (with untimed codes and any units for them) or only
        # the tie's timed codes: both are the same choice.
        extra = {code: data.draw(st.integers(min_value=0, max_value=2), label=code)
                 for code, _ in untimed if data.draw(st.booleans(), label=f"with {code}")}
        for wanted in ({**alt, **extra}, {c: u for c, u in alt.items()
                                          if c not in untimed_units}):
            chosen = result.with_choice(wanted)
            assert {ln.code: ln.units for ln in chosen.lines if ln.timed} == {
                c: u for c, u in alt.items() if c not in untimed_units}
            assert {ln.code: ln.units for ln in chosen.lines if not ln.timed} == untimed_units
            assert chosen.timed_units == result.timed_units
            assert chosen.total_timed_minutes == result.total_timed_minutes
            # Choosing the rule's own pick again works too, after any other choice.
            again = chosen.with_choice(result.as_dict())
            assert again.as_dict() == result.as_dict()


@settings(max_examples=200)
@given(tied_timed(), untimed_services, st.data())
def test_a_choice_outside_the_rule_is_refused_and_never_adds_units(timed, untimed, data):
    result = allocate(_services(timed, untimed), Rule.CMS)
    allowed = [{c: u for c, u in a.items() if result_timed(result, c)}
               for a in result.allowed_allocations()]
    code = data.draw(st.sampled_from([c for c, _ in timed]))
    wanted = dict(allowed[0])
    wanted[code] = wanted.get(code, 0) + data.draw(st.integers(min_value=1, max_value=3))
    if wanted in allowed:  # pragma: no cover - adding units always leaves the rule
        return
    with pytest.raises(BillingError, match="not allowed"):
        result.with_choice(wanted)


def result_timed(result, code) -> bool:
    return any(line.code == code and line.timed for line in result.lines)


@settings(max_examples=200)
@given(tied_timed(), untimed_services, st.data())
def test_the_billed_day_follows_the_choice_with_untimed_codes(timed, untimed, data):
    """The crash of issue 16: Finish visit re-bills the day with the choice (``DayBilling``)."""
    billing = bill_services(_services(timed, untimed), BillingContext())
    alt = data.draw(st.sampled_from(billing.allocation.allowed_allocations()))
    chosen = billing.with_choice(alt)
    untimed_codes = {c for c, _ in untimed}
    assert {ln.code: ln.units for ln in chosen.lines if ln.code not in untimed_codes} == {
        c: u for c, u in alt.items() if c not in untimed_codes}
    assert sum(ln.units for ln in chosen.lines if ln.timed) == sum(
        ln.units for ln in billing.lines if ln.timed)
    chosen.claim_lines()  # the lines a claim carries are built without error
