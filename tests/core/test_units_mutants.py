"""The unit rule's edges that `make mutants` found unpinned (docs/testing.md): every field of a
tie and of the 97130 line, the tie list's cap, and the words a choice leaves behind."""

from __future__ import annotations

import pytest

from therapy_timer.core import units as units_module
from therapy_timer.core.model import BillingError, Service
from therapy_timer.core.units import CodeUnits, Tie, allocate

TIED = [Service("97110", 20, 0), Service("97112", 20, 1), Service("97010", 10, 2)]


def test_a_tie_reports_its_codes_leftover_units_alternatives_and_is_not_truncated():
    alloc = allocate(TIED)
    assert alloc.ties == (Tie(("97110", "97112"), 5, 1,
                              ({"97110": 2, "97112": 1}, {"97110": 1, "97112": 2}), False),)
    assert alloc.ties[0].truncated is False
    assert alloc.ties[0].describe() == (
        "Tie: 97110, 97112 each have 5 leftover minutes for 1 unit; the code started first "
        "was picked and the clinician may choose another.")
    assert alloc.as_dict() == {"97110": 2, "97112": 1, "97010": 1}  # started first wins


def test_a_tie_for_two_units_says_units():
    alloc = allocate([Service("97110", 5, 0), Service("97112", 5, 1), Service("97140", 5, 2)])
    assert alloc.ties[0].describe() == (
        "Tie: 97110, 97112, 97140 each have 5 leftover minutes for 1 unit; the code started "
        "first was picked and the clinician may choose another.")
    alloc = allocate([Service(c, 10, n) for n, c in enumerate(("97110", "97112", "97140"))])
    assert (alloc.ties[0].units, alloc.ties[0].leftover_minutes) == (2, 10)
    assert "for 2 units;" in alloc.ties[0].describe()
    assert alloc.as_dict() == {"97110": 1, "97112": 1, "97140": 0}


def test_the_tie_list_stops_at_exactly_max_alternatives(monkeypatch):
    monkeypatch.setattr(units_module, "MAX_ALTERNATIVES", 3)
    four = [Service(c, 10, n) for n, c in enumerate(("97110", "97112", "97140", "97530"))]
    tie = allocate(four).ties[0]  # 3 units among 4 tied codes: 4 alternatives, cut at 3
    assert (len(tie.alternatives), tie.truncated) == (3, True)
    assert tie.alternatives[0] == {"97110": 1, "97112": 1, "97140": 1, "97530": 0}
    monkeypatch.setattr(units_module, "MAX_ALTERNATIVES", 4)
    tie = allocate(four).ties[0]  # exactly at the cap: all four, nothing cut
    assert (len(tie.alternatives), tie.truncated) == (4, False)


def test_a_choice_is_noted_in_the_explanation_in_these_words():
    chosen = allocate(TIED).with_choice({"97112": 2, "97110": 1})
    assert chosen.as_dict() == {"97110": 1, "97112": 2, "97010": 1}
    assert chosen.explanation[-1] == "Clinician chose: 97110 x1, 97112 x2"
    assert chosen.explanation[:-1] == allocate(TIED).explanation


def test_a_refused_choice_lists_the_allowed_timed_allocations():
    with pytest.raises(BillingError) as refused:
        allocate(TIED).with_choice({"97110": 2, "97112": 2})
    assert str(refused.value) == ("that allocation is not allowed by the rule: choose one of "
                                  "97110 x2, 97112 x1; 97110 x1, 97112 x2")


def test_a_choice_must_name_every_tied_code_or_give_it_zero():
    alloc = allocate(TIED)
    with pytest.raises(BillingError):
        alloc.with_choice({"97110": 1})  # 97112 left out: not the allowed {1, 2}
    with pytest.raises(BillingError):
        alloc.with_choice({"97112": 1})  # 97110 left out: not {2, 1}
    # a code outside the day given 0 units changes nothing
    assert alloc.with_choice({"97110": 1, "97112": 2, "97530": 0}).as_dict() == {
        "97110": 1, "97112": 2, "97010": 1}
    with pytest.raises(BillingError):
        alloc.with_choice({"97110": 1, "97112": 2, "97530": 1})


def test_an_untimed_code_in_a_choice_is_ignored_in_any_letter_case():
    day = [Service("G0283", 10, 0), Service("97110", 20, 1), Service("97112", 20, 2)]
    chosen = allocate(day).with_choice({"g0283": 1, "97110": 1, "97112": 2})
    assert chosen.as_dict() == {"G0283": 1, "97110": 1, "97112": 2}


@pytest.mark.parametrize(("minutes", "addon", "expected"), [
    (10, False, {"97129": 1}),               # one unit, no 97130 timed: no 97130 line
    (23, False, {"97129": 1, "97130": 1}),   # two units: the second is 97130
    (30, False, {"97129": 1, "97130": 1}),
    (53, False, {"97129": 1, "97130": 3}),
])
def test_cognitive_units_split_into_97129_once_and_97130_for_the_rest(minutes, addon,
                                                                        expected):
    assert allocate([Service("97129", minutes, 0)]).as_dict() == expected


def test_the_97130_line_is_timed_with_no_minutes_of_its_own():
    lines = allocate([Service("97110", 8, 0), Service("97129", 30, 1)]).lines
    assert lines[-1] == CodeUnits("97130", 0, 1, True, 1, 0, 0)
    assert lines[-1].therapist_minutes == 0 and lines[-1].timed is True
    assert lines[-2] == CodeUnits("97129", 30, 1, True, 1, 0, 30)


def test_97129_timed_alongside_97130_keeps_a_97130_line():
    lines = allocate([Service("97129", 10, 0), Service("97130", 3, 1)]).lines
    assert [(ln.code, ln.units) for ln in lines] == [("97129", 1)] + [("97130", 0)]
