"""Hypothesis properties that reach the unit rule's hard cases (issue 17, item 4): assistant
minutes, 97129/97130, an explicit start order given out of list order, ties with untimed codes
in the day. The properties check the documented tie-break (the code started first wins, CMS
Pub 100-04 ch. 5 s. 20.2 as the engine documents it) against an oracle written here from the
rule's text, not "one of the allowed alternatives"."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from therapy_timer.core.billing import BillingContext, bill_services
from therapy_timer.core.model import Rule, Service
from therapy_timer.core.units import allocate

TIMED = ["97110", "97112", "97116", "97140", "97530", "97535", "97129", "97130"]
UNTIMED = ["97161", "97010", "97012", "97014", "92526"]


@st.composite
def hard_days(draw):
    """A day's services: shared leftovers (ties), assistant minutes, cognitive codes, untimed
    codes, and start orders that are a permutation unrelated to the list order."""
    codes = draw(st.lists(st.sampled_from(TIMED), min_size=1, max_size=6, unique=True))
    untimed = draw(st.lists(st.sampled_from(UNTIMED), max_size=2, unique=True))
    leftover = draw(st.integers(min_value=1, max_value=14))
    everything = codes + untimed
    orders = draw(st.permutations(range(len(everything))))
    services = []
    for code, order in zip(everything, orders, strict=True):
        if code in UNTIMED:
            minutes = draw(st.integers(min_value=1, max_value=40))
        else:
            rest = leftover if draw(st.booleans()) else draw(st.integers(0, 14))
            minutes = 15 * draw(st.integers(min_value=0, max_value=3)) + rest
        # assistants never evaluate (Pub 100-02 ch. 15 s. 230.1-230.2): refused, tested apart
        assistant = 0 if code == "97161" else draw(st.integers(min_value=0, max_value=minutes))
        services.append(Service(code, minutes, order * 10, assistant))
    return draw(st.permutations(services))  # list order means nothing: order is explicit


def oracle(services):
    """The CMS rule from its text: N = (T + 7) // 15 (0 below 8); m // 15 full units each; the
    leftover units to the largest m mod 15, equal ones to the code started first. 97129 and
    97130 are one service started when the first of them was; it bills 97129 at most once,
    97130 for the rest (a 97130 line, maybe of 0 units, whenever 97130 was timed)."""
    cognitive = [s for s in services if s.code in ("97129", "97130")]
    timed = {s.code: (s.minutes, s.order) for s in services
             if s.code in TIMED and s.code not in ("97129", "97130")}
    if cognitive:
        timed["97129"] = (sum(s.minutes for s in cognitive), min(s.order for s in cognitive))
    total = sum(m for m, _ in timed.values())
    n = (total + 7) // 15 if total >= 8 else 0
    units = {code: m // 15 for code, (m, _) in timed.items()}
    ranked = sorted((c for c, (m, _) in timed.items() if m % 15),
                    key=lambda c: (-(timed[c][0] % 15), timed[c][1]))
    for code in ranked[:n - sum(units.values())]:
        units[code] += 1
    if "97129" in units and (units["97129"] > 1 or any(s.code == "97130" for s in cognitive)):
        units["97130"] = max(units["97129"] - 1, 0)
        units["97129"] = min(units["97129"], 1)
    return units


@settings(max_examples=300, deadline=None)
@given(hard_days())
def test_the_cms_pick_is_the_rules_own_started_first_wins(services):
    result = allocate(services, Rule.CMS)
    assert {ln.code: ln.units for ln in result.lines if ln.timed} == oracle(services)
    # untimed codes: one unit each, whatever the order
    assert {ln.code: ln.units for ln in result.lines if not ln.timed} == {
        s.code: 1 for s in services if s.code in UNTIMED}


@settings(max_examples=200, deadline=None)
@given(hard_days())
def test_a_tie_lists_its_codes_in_start_order_and_the_first_alternative_is_the_pick(services):
    result = allocate(services, Rule.CMS)
    order = {s.code: s.order for s in services}
    if "97130" in order:
        order["97129"] = min(order["97130"], order.get("97129", order["97130"]))
    for tie in result.ties:
        assert list(tie.codes) == sorted(tie.codes, key=lambda c: order[c])
        pooled = [_pooled(a) for a in tie.alternatives]  # 97129 + 97130: one service
        winners = [c for c in tie.codes if pooled[0].get(c, 0)
                   > min(a.get(c, 0) for a in pooled)]
        assert winners == list(tie.codes[:tie.units])  # the ones started first
        timed = {ln.code: ln.units for ln in result.lines if ln.timed}
        assert {c: u for c, u in tie.alternatives[0].items()} == timed


@settings(max_examples=200, deadline=None)
@given(hard_days())
def test_assistant_minutes_never_change_the_units(services):
    alone = allocate([Service(s.code, s.minutes, s.order) for s in services], Rule.CMS)
    assert allocate(services, Rule.CMS).as_dict() == alone.as_dict()
    assert {ln.code: ln.assistant_minutes for ln in allocate(services).lines
            if ln.code != "97130"} == _assistant_by_line(services)


def _pooled(alt):
    out = dict(alt)
    if "97130" in out:
        out["97129"] = out.get("97129", 0) + out.pop("97130")
    return out


def _assistant_by_line(services):
    out = {s.code: s.assistant_minutes for s in services if s.code not in ("97129", "97130")}
    cognitive = [s for s in services if s.code in ("97129", "97130")]
    if cognitive:
        out["97129"] = sum(s.assistant_minutes for s in cognitive)
    return out


@settings(max_examples=150, deadline=None)
@given(hard_days(), st.data())
def test_a_choice_bills_its_units_and_the_untimed_lines_are_untouched(services, data):
    billing = bill_services(services, BillingContext())
    allowed = billing.allocation.allowed_allocations()
    alt = data.draw(st.sampled_from(allowed))
    chosen = billing.with_choice(alt)
    untimed = {s.code for s in services if s.code in UNTIMED}
    assert {ln.code: ln.units for ln in chosen.allocation.lines if ln.code not in untimed} == {
        c: u for c, u in alt.items() if c not in untimed}
    assert {ln.code: ln.units for ln in chosen.allocation.lines if ln.code in untimed} == {
        c: 1 for c in untimed}
    if alt != allowed[0]:
        assert chosen.allocation.explanation[-1].startswith("Clinician chose: ")
