"""Issue 10, items 1-4: CQ/CO per billed unit (CMS CY2022 counting order), each performer's own
whole minutes, cognitive function codes, same-day pooling, and the assistant time the engine
refuses (another discipline's performer, an assistant on an evaluation).

Expected values are written out by hand from the rule (billing-rules.md d; README rules).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from therapy_timer.core.billing import BillingContext, bill_intervals, bill_services, visit_share
from therapy_timer.core.model import BillingError, Discipline, Interval, Performer, Service
from therapy_timer.core.modifiers import assistant_units, cognitive_assistant_units

from .helpers import T0, iv

DAY = date(2026, 11, 20)
OT = BillingContext(discipline=Discipline.OT)


def seconds_iv(code: str, start: int, end: int, performer: str = "PT") -> Interval:
    return Interval(code, T0 + timedelta(seconds=start), T0 + timedelta(seconds=end),
                    Performer(performer))


def claims(billing, confirmed=None):
    return [(c.code, c.modifiers, c.units) for c in billing.claim_lines(confirmed)]


# --- item 1: each performer's minutes are whole minutes of their own seconds ---------------

@pytest.mark.parametrize(("therapist_s", "assistant_s", "expected"), [
    # PT 7:30 + PTA 7:30 = 15:00, one unit: the PT furnished 7 whole minutes, not 8 -> CQ
    (450, 450, [("97110", ("GP", "CQ"), 1)]),
    # PT 8:00 + PTA 7:00: the PT met the unit alone (8 > 7) -> no CQ
    (480, 420, [("97110", ("GP",), 1)]),
    # PT 7:59 + PTA 8:01: the PT has 7 whole minutes -> CQ
    (479, 481, [("97110", ("GP", "CQ"), 1)]),
    # PT 8:59 + PTA 8:59 (17:58 = 17 min): 8 each; the assistant furnished as many -> CQ
    (539, 539, [("97110", ("GP", "CQ"), 1)]),
    # PT 9:00 + PTA 8:59: the PT 9 whole minutes, the PTA 8 -> no CQ
    (540, 539, [("97110", ("GP",), 1)]),
    # PTA 0:59: no whole assistant minute -> nothing to mark
    (600, 59, [("97110", ("GP",), 1)]),
])
def test_each_performer_counts_whole_minutes_of_their_own_seconds(therapist_s, assistant_s,
                                                                  expected):
    billing = bill_intervals([seconds_iv("97110", 0, therapist_s, "PT"),
                              seconds_iv("97110", therapist_s, therapist_s + assistant_s,
                                         "PTA")], BillingContext(), day=DAY)
    assert claims(billing) == expected


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 3000), st.integers(60, 3000), st.booleans())
def test_the_therapist_is_never_credited_with_the_assistants_seconds(therapist_s, assistant_s,
                                                                     therapist_first):
    """Units without CQ: at most the therapist's full 15 minutes (900 s) of own seconds, plus
    one unit when the rest of the therapist's own seconds reach 8 minutes (480 s)."""
    spans = [("PT", therapist_s), ("PTA", assistant_s)]
    if not therapist_first:
        spans.reverse()
    intervals, start = [], 0
    for who, seconds in spans:
        if seconds:
            intervals.append(seconds_iv("97110", start, start + seconds, who))
        start += seconds
    billing = bill_intervals(intervals, BillingContext(), day=DAY)
    units = billing.allocation.units("97110")
    with_cq = sum(s.units for s in billing.suggestions if s.modifier == "CQ")
    alone = therapist_s // 900 + (1 if therapist_s % 900 >= 480 else 0)
    assert units - with_cq <= alone


def test_untimed_de_minimis_uses_each_performers_own_minutes():
    # 97150 (group, untimed): PT 26:30 + PTA 3:30 = 30 min; the PTA's 3 whole minutes are
    # 3 of 29 counted minutes (over 10%) -> CQ
    billing = bill_intervals([seconds_iv("97150", 0, 1590, "PT"),
                              seconds_iv("97150", 1590, 1800, "PTA")], BillingContext(),
                             day=DAY)
    assert claims(billing) == [("97150", ("GP", "CQ"), 1)]


# --- item 2: CMS's counting order, the one-each split only under its condition ------------

@pytest.mark.parametrize(("units", "assistant", "therapist", "expected"), [
    (1, 10, 5, 1),    # CMS: PTA 10 + PT 5 -> 1 unit with CQ
    (2, 23, 13, 1),   # CMS scenario: the PTA's full 15 -> CQ; PT 13 > PTA 8 left -> no CQ
    (2, 14, 6, 2),    # two units left but the PT furnished 6 (not 9-14): both CQ
    (2, 12, 12, 1),   # two units left, each 9-14: one each
    (2, 9, 9, 1),     # the lower edge of 9-14
    (2, 14, 14, 1),   # the upper edge
    (2, 8, 8, 2),     # 8 each is not 9-14, and the PT's 8 are not more than the PTA's: both
    (2, 8, 14, 1),    # not 9-14 for the PTA, but the PT met one unit alone (14 > 8)
    (2, 15, 9, 1),    # the PTA's block -> CQ; the PT's 9 left meet the last unit alone
    (2, 15, 5, 2),    # the PTA's block; the PT's 5 alone do not reach 8 -> CQ too
    (2, 9, 15, 1),    # the PT's block -> none; the PTA's 9 left -> CQ
    (1, 7, 7, 1),     # the PT under 8 -> CQ
    (1, 7, 8, 0),     # the PT 8, more than the PTA's 7 -> no CQ
    (1, 8, 8, 1),     # decided: the PT's 8 but the PTA as many -> CQ (protects the clinic)
    (1, 12, 10, 1),   # the PT 10 but the PTA more -> CQ
    (1, 10, 12, 0),   # the PT 12, more than the PTA -> no CQ
    (3, 45, 0, 3),    # all by the assistant
    (3, 20, 20, 2),   # one block each; the last unit: PT 5 (under 8) -> CQ
    (4, 30, 30, 2),   # two blocks each
    (2, 0, 30, 0),    # no assistant
])
def test_assistant_units_follow_cms_counting_order(units, assistant, therapist, expected):
    assert assistant_units(units, assistant, therapist)[0] == expected


def test_issue_example_pooling_gives_two_units_both_with_cq():
    # PTA 14 + PT 6 of 97110 (20 min) beside 3 min of 97140: 23 min -> 2 units, both 97110.
    billing = bill_intervals([iv("97110", 0, 14, "PTA"), iv("97110", 14, 20, "PT"),
                              iv("97140", 20, 23, "PT")], BillingContext(), day=DAY)
    assert claims(billing) == [("97110", ("GP", "CQ"), 2)]
    (cq,) = billing.suggestions
    assert "the therapist furnished 6 min (under 8)" in cq.reason


def test_the_tie_decision_is_explained():
    billing = bill_intervals([iv("97110", 0, 8, "PT"), iv("97110", 8, 16, "PTA")],
                             BillingContext(), day=DAY)
    (cq,) = billing.suggestions
    assert "as many or more (8 min)" in cq.reason
    assert "protects the clinic in an audit" in cq.reason


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 90), st.integers(0, 90), st.integers(0, 2))
def test_a_unit_goes_without_cq_only_when_the_therapist_furnished_8_minutes_of_it(
        assistant, therapist, extra):
    """Units without CQ/CO are the therapist's full blocks plus at most one unit in which the
    therapist's leftover reached 8 minutes (or one each when both furnished 9-14 min)."""
    minutes = assistant + therapist
    units = min(minutes // 15 + extra, (minutes + 14) // 15 + 1)
    if units == 0:
        return
    n, _ = assistant_units(units, assistant, therapist)
    if assistant == 0:
        assert n == 0
        return
    t_full, t_left = divmod(therapist, 15)
    met_alone = t_full + (1 if t_left >= 8 else 0)
    assert 0 <= units - n <= met_alone
    assert n >= min(assistant // 15, units)  # the assistant's full blocks always carry it


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["97110", "97112", "97140"]),
                          st.sampled_from(["PT", "PTA"]), st.integers(1, 1500)),
                min_size=1, max_size=6),
       st.randoms(use_true_random=False))
def test_the_cq_decision_is_the_same_whatever_order_the_intervals_are_given_in(steps, rnd):
    intervals, start = [], 0
    for code, performer, seconds in steps:
        intervals.append(seconds_iv(code, start, start + seconds, performer))
        start += seconds
    shuffled = list(intervals)
    rnd.shuffle(shuffled)
    one = bill_intervals(intervals, BillingContext(), day=DAY)
    other = bill_intervals(shuffled, BillingContext(), day=DAY)
    assert claims(one) == claims(other)
    assert [(s.code, s.units) for s in one.suggestions if s.modifier == "CQ"] == [
        (s.code, s.units) for s in other.suggestions if s.modifier == "CQ"]


# --- item 3: cognitive function codes, one service over 97129 and 97130 -------------------

@pytest.mark.parametrize(("steps", "expected"), [
    # The OTA furnished all 45 minutes: CO on 97129 and on both 97130 units.
    ([("97129", 0, 45, "OTA")],
     [("97129", ("GO", "CO"), 1), ("97130", ("GO", "CO"), 2)]),
    # The OT the first 15, the OTA the rest: CO on 97130 only.
    ([("97129", 0, 15, "OT"), ("97130", 15, 45, "OTA")],
     [("97129", ("GO",), 1), ("97130", ("GO", "CO"), 2)]),
    # The same with every minute on 97129's timer.
    ([("97129", 0, 15, "OT"), ("97129", 15, 45, "OTA")],
     [("97129", ("GO",), 1), ("97130", ("GO", "CO"), 2)]),
    # The OTA the first 30, the OT the last 15: 97129 (the first 15) is the OTA's.
    ([("97129", 0, 30, "OTA"), ("97130", 30, 45, "OT")],
     [("97129", ("GO", "CO"), 1), ("97130", ("GO", "CO"), 1), ("97130", ("GO",), 1)]),
    # OTA 10 then OT 35: one unit with CO (the last: OT 5 left) and it is 97129's.
    ([("97129", 0, 10, "OTA"), ("97130", 10, 45, "OT")],
     [("97129", ("GO", "CO"), 1), ("97130", ("GO",), 2)]),
    # OT 10 then OTA 35: two units with CO, both on 97130 (the OT met the first 15).
    ([("97129", 0, 10, "OT"), ("97130", 10, 45, "OTA")],
     [("97129", ("GO",), 1), ("97130", ("GO", "CO"), 2)]),
    # One unit: OT 8 + OTA 7, the OT met it alone.
    ([("97129", 0, 8, "OT"), ("97129", 8, 15, "OTA")], [("97129", ("GO",), 1)]),
])
def test_co_follows_the_assistants_units_onto_97130(steps, expected):
    billing = bill_intervals([iv(code, a, b, who) for code, a, b, who in steps], OT, day=DAY)
    assert claims(billing) == expected


def test_cognitive_minutes_typed_in_use_97129s_own_entry_as_the_first_15_minutes():
    billing = bill_services([Service("97129", 15), Service("97130", 30, None, 30)], OT,
                            day=DAY)
    assert claims(billing) == [("97129", ("GO",), 1), ("97130", ("GO", "CO"), 2)]
    all_ota = bill_services([Service("97129", 45, None, 45)], OT, day=DAY)
    assert claims(all_ota) == [("97129", ("GO", "CO"), 1), ("97130", ("GO", "CO"), 2)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["OT", "OTA"]), st.integers(1, 1200)),
                min_size=1, max_size=5))
def test_cognitive_codes_carry_as_many_co_units_as_one_timed_code_would(steps):
    """97129 + 97130 are one service: over the two codes CO lands on as many units as the same
    time on one timed code (97530), and 97129 carries CO only when the OTA shares its first
    15 minutes or every unit carries it."""
    intervals, start = [], 0
    for who, seconds in steps:
        intervals.append((who, start, start + seconds))
        start += seconds

    def co(code):
        billing = bill_intervals([seconds_iv(code, a, b, who) for who, a, b in intervals], OT,
                                 day=DAY)
        return billing, {s.code: s.units for s in billing.suggestions if s.modifier == "CO"}

    cognitive, on = co("97129")
    plain, on_plain = co("97530")
    units = cognitive.allocation.units("97129") + cognitive.allocation.units("97130")
    assert units == plain.allocation.units("97530")
    assert sum(on.values()) == on_plain.get("97530", 0)
    ota_first = sum(min(b, 900) - a for who, a, b in intervals if who == "OTA" and a < 900)
    if on.get("97129") and sum(on.values()) < units:
        assert ota_first >= 60


@pytest.mark.parametrize(("n", "units", "first", "expected"), [
    (3, 3, False, (1, 2)),  # every unit: 97129 too
    (2, 3, False, (0, 2)),
    (2, 3, True, (1, 1)),
    (1, 3, True, (1, 0)),
    (1, 1, False, (1, 0)),  # a single unit is 97129's
    (0, 3, True, (0, 0)),
])
def test_cognitive_assistant_units_table(n, units, first, expected):
    assert cognitive_assistant_units(n, units, first) == expected


# --- item 4: same-day pooling keeps each visit's own units and modifiers ------------------

def _share(first, second):
    """Finalizes ``first`` alone, then ``second`` pooled with it: (first's, second's) lines
    and the notes, the way the store does (stored lines are the confirmed claim lines)."""
    alone = bill_intervals(first, BillingContext(), day=DAY)
    earlier = alone.claim_lines()
    day = bill_intervals([*first, *second], BillingContext(), day=DAY, earlier=earlier)
    mine, notes = day.own_lines()
    return earlier, mine, notes, day


@pytest.mark.parametrize("swap", [False, True])
def test_pooled_visits_each_keep_their_own_cq_unit_whatever_the_order(swap):
    """Visit A: PT 8 min of 97110; visit B later: PTA 15 min. Whichever is finalized first,
    the PTA's unit carries CQ and the PT's does not."""
    pt, pta = [iv("97110", 0, 8, "PT")], [iv("97110", 240, 255, "PTA")]
    first, second = (pta, pt) if swap else (pt, pta)
    earlier, mine, notes, _ = _share(first, second)
    if swap:
        assert [(c.code, c.modifiers, c.units) for c in earlier] == [("97110", ("GP", "CQ"), 1)]
        assert [(c.code, c.modifiers, c.units) for c in mine] == [("97110", ("GP",), 1)]
    else:
        assert [(c.code, c.modifiers, c.units) for c in earlier] == [("97110", ("GP",), 1)]
        assert [(c.code, c.modifiers, c.units) for c in mine] == [("97110", ("GP", "CQ"), 1)]
    assert notes == []


def test_an_earlier_visit_without_cq_that_the_day_needs_is_named_never_silent():
    # A: PT 8 (alone: no CQ). B: PTA 8 -> the day's 16 min are one unit with CQ (the PTA
    # furnished as many minutes): A's line must be amended; B adds nothing.
    earlier, mine, notes, day = _share([iv("97110", 0, 8, "PT")], [iv("97110", 240, 248, "PTA")])
    assert mine == []
    assert notes == ["97110: an earlier visit today carries 1 unit(s) as 97110 GP where the "
                     "pooled day's minutes bill 97110 GP CQ: amend that visit so the day "
                     "carries the modifiers its minutes call for"]
    assert notes[0] in day.warnings  # the review shows it before the visit is locked


def test_an_earlier_timed_unit_the_day_gives_another_code_is_taken_off_this_visit():
    # A: 97110 8 min (1 unit). B: 97140 14 min. The day's 22 min allow one unit (97140's):
    # B adds none, so the day never bills 2 units for 22 minutes, and says why.
    earlier, mine, notes, _ = _share([iv("97110", 0, 8)], [iv("97140", 240, 254)])
    assert [(c.code, c.units) for c in earlier] == [("97110", 1)]
    assert mine == []
    assert len(notes) == 1 and "leaves off 1 unit(s) of 97140 GP" in notes[0]


def _units(lines, assistant=None):
    return sum(c.units for c in lines
               if assistant is None or (("CQ" in c.modifiers) is assistant))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["97110", "97112"]), st.sampled_from(["PT", "PTA"]),
                          st.integers(60, 1500), st.booleans()), min_size=2, max_size=6),
       st.booleans())
def test_pooling_two_visits_gives_the_day_total_and_modifiers_of_one_visit(steps, swap):
    """Two visits of one day (each interval in the morning or the afternoon visit): the two
    visits' lines add up to the units of one visit with all the time, and carry the same
    number of CQ units, or a note names the difference (never silent)."""
    morning, afternoon, start = [], [], 0
    for code, performer, seconds, later in steps:
        (afternoon if later else morning).append(
            seconds_iv(code, start + (14400 if later else 0),
                       start + (14400 if later else 0) + seconds, performer))
        start += seconds
    if not morning or not afternoon:
        return
    first, second = (afternoon, morning) if swap else (morning, afternoon)
    earlier, mine, notes, _ = _share(first, second)
    one = bill_intervals([*morning, *afternoon], BillingContext(), day=DAY).claim_lines()
    both = [*earlier, *mine]
    assert _units(both) == _units(one)
    if _units(both, True) != _units(one, True):
        assert any("amend" in n for n in notes)


def test_visit_share_without_earlier_visits_is_the_day():
    billing = bill_intervals([iv("97110", 0, 23, "PTA")], BillingContext(), day=DAY)
    assert visit_share(billing.claim_lines(), [], {"97110"}) == (billing.claim_lines(), [])


# --- decided: assistant time the rules cannot bill is refused, never billed silently -------

@pytest.mark.parametrize(("discipline", "performer"), [
    (Discipline.OT, "PTA"), (Discipline.PT, "OTA"), (Discipline.SLP, "PTA"),
    (Discipline.OT, "PT"),
])
def test_a_performer_of_another_discipline_is_refused(discipline, performer):
    with pytest.raises(BillingError, match=f"a {performer} cannot furnish services under a "
                                           f"{discipline} plan of care"):
        bill_intervals([iv("97530", 0, 20, performer)], BillingContext(discipline=discipline),
                       day=DAY)


def test_assistant_minutes_under_an_slp_plan_are_refused():
    with pytest.raises(BillingError, match="92507: 10 min furnished by an assistant under a "
                                           "SLP plan of care"):
        bill_services([Service("92507", 30, None, 10)],
                      BillingContext(discipline=Discipline.SLP), day=DAY)


@pytest.mark.parametrize("code", ["97161", "97164", "97165"])
def test_assistant_minutes_on_an_evaluation_are_refused(code):
    discipline = Discipline.OT if code == "97165" else Discipline.PT
    who = "OTA" if discipline is Discipline.OT else "PTA"
    with pytest.raises(BillingError, match="assistants do not evaluate or re-evaluate"):
        bill_intervals([iv(code, 0, 30, discipline.value), iv(code, 30, 31, who)],
                       BillingContext(discipline=discipline), day=DAY)


def test_seconds_of_assistant_time_on_an_evaluation_are_no_whole_minute():
    billing = bill_intervals([iv("97161", 0, 30), seconds_iv("97161", 1800, 1830, "PTA")],
                             BillingContext(), day=DAY)
    assert claims(billing) == [("97161", ("GP",), 1)]

