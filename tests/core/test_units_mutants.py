"""The unit rule's edges that `make mutants` found unpinned (docs/testing.md): every field of a
tie and of the 97130 line, the tie list's cap, and the words a choice leaves behind."""

from __future__ import annotations

import pytest

from therapy_timer.core import units as units_module
from therapy_timer.core.model import BillingError, Rule, Service
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


def test_97130_timed_alone_still_bills_97129_first():
    alloc = allocate([Service("97130", 30, 0)])
    assert alloc.lines == (CodeUnits("97129", 30, 1, True, 0, 0, 30),
                           CodeUnits("97130", 0, 1, True, 0, 0, 0))
    assert alloc.rule is Rule.CMS


def test_cognitive_codes_pool_at_the_first_ones_start_and_sort_in_start_order():
    lines = allocate([Service("97129", 10, 5), Service("97130", 10, 3),
                      Service("97110", 10, 4)]).lines
    assert lines == (CodeUnits("97129", 20, 1, True, 3, 0, 20),
                     CodeUnits("97130", 0, 0, True, 3, 0, 0),
                     CodeUnits("97110", 10, 1, True, 4, 0, 10))


def test_a_tie_with_cognitive_codes_lists_97129_and_97130_apart():
    (tie,) = allocate([Service("97129", 20, 1), Service("97130", 20, 0),
                       Service("97110", 10, 2)]).ties
    assert tie == Tie(("97129", "97110"), 10, 1,
                      ({"97129": 1, "97130": 2, "97110": 0},
                       {"97129": 1, "97130": 1, "97110": 1}), False)
    (tie,) = allocate([Service("97129", 20, 0), Service("97110", 20, 1)]).ties
    assert tie.alternatives == ({"97129": 1, "97130": 1, "97110": 1}, {"97129": 1, "97110": 2})


def test_a_repeated_code_adds_up_its_performers_minutes():
    (line,) = allocate([Service("97110", 10, 0, 4), Service("97110", 10, 1, 3)]).lines
    assert line == CodeUnits("97110", 20, 1, True, 0, 7, 13)


def test_untimed_lines_carry_their_order_and_minutes_and_the_words_for_under_a_minute():
    alloc = allocate([Service("97110", 8, 0), Service("97010", 0, 1), Service("G0283", 0, 2),
                      Service("97012", 5, 3, 0, 4)], untimed_ok=["g0283"])
    assert alloc.lines[1:] == (CodeUnits("97010", 0, 0, False, 1, 0, 0),
                               CodeUnits("G0283", 0, 1, False, 2, 0, 0),
                               CodeUnits("97012", 5, 1, False, 3, 0, 4))
    assert alloc.under_a_minute == ("97010", "G0283")
    assert alloc.explanation == (
        "8 timed minutes -> 1 unit",
        "1 leftover unit(s) go to the largest leftover minutes: 97110 (8 min)",
        "97010 is untimed supervised modality timed under a minute: not billed unless the "
        "clinician confirms it",
        "G0283 is untimed supervised modality timed under a minute: 1 unit, as the clinician "
        "confirmed",
        "97012 is untimed supervised modality: 1 unit; its 5 min count in total treatment "
        "time, not the timed total")


def test_the_explanation_says_unit_or_units():
    assert allocate([Service("97110", 8, 0)]).explanation[0] == "8 timed minutes -> 1 unit"
    assert allocate([Service("97110", 23, 0)]).explanation[0] == "23 timed minutes -> 2 units"
    assert allocate([Service("97110", 7, 0)]).explanation[:2] == (
        "7 timed minutes -> 0 units", "Under 8 timed minutes in the day: no timed unit bills")


@pytest.mark.parametrize(("service", "message"), [
    (Service("97110", 12.5, 0), "97110: minutes must be a whole number, got 12.5"),
    (Service("97110", True, 0), "97110: minutes must be a whole number, got True"),
    (Service("97110", 10, 0, 11), "97110: assistant minutes (11) must be between 0 and the "
                                  "code's minutes (10)"),
    (Service("97110", 10, 0, -1), "97110: assistant minutes (-1) must be between 0 and the "
                                  "code's minutes (10)"),
    (Service("97110", 10, 0, 4, 7), "97110: therapist minutes (7) and assistant minutes (4) add "
                                    "up to more than the code's minutes (10)"),
    (Service("97110", 10, 0, 0, -1), "97110: therapist minutes (-1) and assistant minutes (0) "
                                     "add up to more than the code's minutes (10)"),
])
def test_bad_minutes_are_refused_with_the_field_named(service, message):
    with pytest.raises(BillingError) as refused:
        allocate([service])
    assert str(refused.value) == message


def test_minutes_that_fit_exactly_are_accepted():
    (line,) = allocate([Service("97110", 10, 0, 4, 6)]).lines
    assert (line.assistant_minutes, line.therapist_minutes) == (4, 6)
    (line,) = allocate([Service("97110", 10, 0, 0, 8), Service("97110", 10, 1, 2, 7)]).lines
    assert (line.minutes, line.assistant_minutes, line.therapist_minutes) == (20, 2, 15)


def test_the_explanation_of_full_and_leftover_units_in_these_words():
    alloc = allocate([Service("97110", 23, 0), Service("97112", 38, 1), Service("97140", 7, 2),
                      Service("97530", 4, 3)])
    assert alloc.explanation == (
        "72 timed minutes -> 5 units",
        "97110: 23 min = 1 full unit(s) + 8 min left over",
        "97112: 38 min = 2 full unit(s) + 8 min left over",
        "2 leftover unit(s) go to the largest leftover minutes: 97110 (8 min), 97112 (8 min)",
        "No unit left for 97140, 97530: the day's total allows only 5 (document the time "
        "anyway)",
    )
    assert allocate([Service("97110", 30, 0)]).explanation == (
        "30 timed minutes -> 2 units", "97110: 30 min = 2 full unit(s) + 0 min left over")


def test_a_choice_may_leave_out_a_tied_code_that_gets_no_unit():
    alloc = allocate([Service(c, 10, n) for n, c in enumerate(("97110", "97112", "97140"))])
    chosen = alloc.with_choice({"97110": 1, "97140": 1})  # 97112: 0, left out
    assert chosen.as_dict() == {"97110": 1, "97112": 0, "97140": 1}


def test_no_explanation_is_built_when_none_is_asked_for():
    assert allocate([Service("97110", 23, 0)], explain=False).explanation == ()


def test_pooled_cognitive_minutes_keep_each_performers_own_minutes():
    (first, _addon) = allocate([Service("97129", 10, 0, 2, 7),
                                Service("97130", 10, 1, 0, 9)]).lines
    assert (first.minutes, first.assistant_minutes, first.therapist_minutes) == (20, 2, 16)


def test_a_choice_that_gives_97130_a_unit_adds_its_line_right_after_97129():
    alloc = allocate([Service("97110", 20, 0), Service("97129", 20, 1), Service("97010", 9, 2)])
    chosen = alloc.with_choice({"97110": 1, "97129": 1, "97130": 1})
    assert chosen.lines == (CodeUnits("97110", 20, 1, True, 0, 0, 20),
                            CodeUnits("97129", 20, 1, True, 1, 0, 20),
                            CodeUnits("97130", 0, 1, True, 1, 0, 0),
                            CodeUnits("97010", 9, 1, False, 2, 0, 9))
    back = chosen.with_choice({"97110": 2, "97129": 1})  # and away again: no 97130 line
    assert back.lines == alloc.lines
