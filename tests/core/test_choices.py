"""``core.choices``: the stored shape, and each choice reset only when its reason is gone."""

from __future__ import annotations

import pytest

from tests.core.helpers import iv
from therapy_timer.core.billing import BillingContext, bill_intervals
from therapy_timer.core.choices import (
    Choices,
    choices_from_record,
    choices_from_text,
    choices_text,
    parse_choices,
    reconcile,
)
from therapy_timer.core.model import BillingError

DX = ("M54.50", "R26.89", "M25.561")


def distinct_pair():
    """97140 then 97530 by the assistant, in distinct time: XU and CQ on 97530."""
    return bill_intervals([iv("97140", 0, 15), iv("97530", 15, 45, "PTA")], BillingContext())


def test_the_json_shape_round_trips():
    choices = (Choices().with_tie({"97112": 1, "97110": 2})
               .with_modifier("97530", "xu", True).with_modifier("97530", "CQ", False)
               .with_pointers("97530", "ba", DX).with_untimed("97161", True))
    assert choices_from_text(choices_text(choices)) == choices
    assert choices.confirmed() == {("97530", "XU")}
    assert choices.ticked("97530", "XU") and not choices.ticked("97530", "CQ")
    assert choices_text(Choices()) is None and choices_from_text(None) == Choices()
    assert choices.with_untimed("97161", False).untimed_ok == ()


def test_bad_json_text_is_named():
    with pytest.raises(BillingError, match="not JSON"):
        choices_from_text("{tie")
    with pytest.raises(BillingError, match="given twice"):
        parse_choices({"pointers": {"97110": "AA"}})


def test_ticks_stay_while_suggested_and_go_with_a_note_when_the_pair_is_gone():
    choices = Choices().with_modifier("97530", "XU", True).with_modifier("97530", "CQ", True)
    kept = reconcile(choices, distinct_pair(), DX)
    assert not kept.changed and kept.notes == ()
    assert kept.confirmed() == {("97530", "XU"), ("97530", "CQ")}
    # 97140 deleted: the NCCI pair is gone, the assistant's minutes are not.
    alone = bill_intervals([iv("97530", 15, 45, "PTA")], BillingContext())
    after = reconcile(choices, alone, DX)
    assert after.changed and after.confirmed() == {("97530", "CQ")}
    assert after.notes == ("XU on 97530 unticked: 97530 no longer bills beside its NCCI pair "
                           "in time the timers show as distinct.",)


def test_an_untick_whose_question_is_gone_goes_silently():
    choices = Choices().with_modifier("97530", "XU", False)
    after = reconcile(choices, bill_intervals([iv("97530", 0, 30)], BillingContext()), DX)
    assert after.changed and after.notes == () and after.choices.modifiers == {}


def test_pointers_follow_their_diagnoses_through_a_reorder():
    choices = Choices().with_pointers("97530", "C", DX)
    after = reconcile(choices, distinct_pair(), ("M25.561", "M54.50"))
    assert after.choices.pointers == {"97530": "A"} and after.notes == ()
    gone = reconcile(choices, distinct_pair(), ("M54.50",))
    assert gone.choices.pointers == {}
    assert gone.notes == ("Diagnosis pointers of 97530 reset to the first diagnoses: M25.561 "
                          "removed from the diagnoses.",)


def test_an_amendment_starts_from_the_locked_record():
    record = {"confirmed": [["97530", "XU"]], "choice": {"97112": 1, "97110": 2},
              "pointers": {"97530": "B"}, "untimed_ok": ["97010"],
              "suggestions": [{"code": "97530", "modifier": "CQ"}]}
    carried = choices_from_record(record, DX)
    assert carried.confirmed() == {("97530", "XU")}
    assert (carried.tie, carried.pointers, carried.pointer_diagnoses, carried.untimed_ok) == (
        {"97112": 1, "97110": 2}, {"97530": "B"}, DX, ("97010",))
    everything = choices_from_record({**record, "confirmed": None}, DX)
    assert everything.confirmed() == {("97530", "CQ")}
