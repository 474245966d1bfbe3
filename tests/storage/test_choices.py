"""A visit's billing choices in the store (issue 16, items 1-3): saved as made, audited, frozen
with the visit, used by finalize when the caller passes none, carried into an amendment, and
reset one by one only when their reason is gone."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from therapy_timer.core.choices import Choices
from therapy_timer.core.records import VisitStatus
from therapy_timer.storage.errors import FrozenVisitError, InvalidDataError

from .conftest import T0


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def tie_visit(clinic, untimed=True):
    """20 min 97112 then 20 min 97110 (a tie for the third unit), 10 min of mechanical
    traction beside (untimed, supervised; not bundled by Medicare as the hot pack is)."""
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97112", "PT", T0)
    if untimed:
        repo.start_interval(visit.id, "97012", "PT", T0)
    repo.start_interval(visit.id, "97110", "PT", T0 + minutes(20))
    if untimed:
        [traction] = [i for i in repo.intervals_for(visit.id) if i.code == "97012"]
        repo.stop_interval(traction.id, T0 + minutes(10))
    repo.pause_visit(visit.id, T0 + minutes(40))
    repo.set_diagnoses(visit.id, ["M54.50", "R26.89", "M25.561"], validate=False)
    return visit


def xu_cq_visit(clinic):
    """97140 by the PT, then 97530 by the PTA in distinct time: XU on 97530 and CQ."""
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97140", "PT", T0)
    repo.start_interval(visit.id, "97530", "PTA", T0 + minutes(15))
    repo.pause_visit(visit.id, T0 + minutes(45))
    repo.set_diagnoses(visit.id, ["M54.50", "R26.89"], validate=False)
    return visit


def test_choices_round_trip_normalised_and_audited(clinic):
    repo = clinic.repo
    visit = tie_visit(clinic)
    assert repo.visit_choices(visit.id) == Choices()
    saved = repo.save_choices(visit.id, {
        "tie": {"97112": 1, "97110": 2}, "modifiers": {"97110": {"cq": True}},
        "pointers": {"97110": "b a"}, "pointer_diagnoses": ["M54.50", "R26.89", "M25.561"],
        "untimed_ok": ["97161"]}, "avery", T0 + minutes(41))
    assert saved.pointers == {"97110": "BA"} and saved.modifiers == {"97110": {"CQ": True}}
    assert repo.visit_choices(visit.id) == saved
    [entry] = [e for e in repo.audit_entries("visit", visit.id) if e.action == "save_choices"]
    assert entry.user == "avery"
    assert json.loads(entry.detail)["choices"]["tie"] == {"97110": 2, "97112": 1}
    assert repo.audit_verify() is None


@pytest.mark.parametrize("bad, words", [
    ({"tie": {"97110": -1}}, "whole number"),
    ({"pointers": {"97110": "AZ"}}, "'Z' is not a letter A-L"),
    ({"modifiers": {"97110": {"CQ": "yes"}}}, "true or false"),
    ({"tie": {"9711": 1}}, "not a 5-character"),
    ({"colour": "blue"}, "unknown billing choice"),
    ("tie", "must be an object"),
])
def test_bad_choices_are_refused_with_a_message_naming_the_part(clinic, bad, words):
    visit = tie_visit(clinic)
    with pytest.raises(InvalidDataError, match=words):
        clinic.repo.save_choices(visit.id, bad, "avery", T0)
    assert clinic.repo.visit_choices(visit.id) == Choices()


def test_a_finalized_visit_refuses_new_choices_and_keeps_the_locked_ones(clinic):
    repo = clinic.repo
    visit = tie_visit(clinic)
    repo.save_choices(visit.id, {"tie": {"97112": 1, "97110": 2}}, "avery", T0)
    repo.finalize_visit(visit.id, None, "avery", T0 + minutes(41))
    with pytest.raises(FrozenVisitError, match="finalized: its billing choices cannot change"
                       r" \(amend it"):
        repo.save_choices(visit.id, {}, "avery", T0 + minutes(42))
    assert repo.visit_choices(visit.id).tie == {"97112": 1, "97110": 2}


def test_finalize_uses_the_stored_tie_with_an_untimed_code(clinic):
    """The crash of issue 16 at the store: an untimed code in the visit, a tie choice."""
    repo = clinic.repo
    visit = tie_visit(clinic)
    repo.save_choices(visit.id, {"tie": {"97112": 1, "97110": 2}}, "avery", T0)
    lines = repo.finalize_visit(visit.id, None, "avery", T0 + minutes(41))
    assert {ln.code: ln.units for ln in lines} == {"97112": 1, "97110": 2, "97012": 1}
    assert repo.billing_record(visit.id)["choice"] == {"97112": 1, "97110": 2}


def test_finalize_with_the_default_allocation_chosen_again(clinic):
    repo = clinic.repo
    visit = tie_visit(clinic)
    lines = repo.finalize_visit(visit.id, None, "avery", T0 + minutes(41),
                                choice={"97112": 2, "97110": 1, "97012": 1})
    assert {ln.code: ln.units for ln in lines} == {"97112": 2, "97110": 1, "97012": 1}


def test_finalize_takes_stored_ticks_and_pointers_when_given_none(clinic):
    repo = clinic.repo
    visit = xu_cq_visit(clinic)
    billing = repo.bill_visit(visit.id, T0 + minutes(46))
    assert {(s.code, s.modifier) for s in billing.suggestions} >= {("97530", "XU"),
                                                                  ("97530", "CQ")}
    repo.save_choices(visit.id, {"modifiers": {"97530": {"XU": True, "CQ": False}},
                                 "pointers": {"97530": "B"},
                                 "pointer_diagnoses": ["M54.50", "R26.89"]}, "avery", T0)
    repo.finalize_visit(visit.id, None, "avery", T0 + minutes(46))
    lines = {ln.code: ln for ln in repo.charge_lines(visit.id)}
    assert "XU" in lines["97530"].modifiers and "CQ" not in lines["97530"].modifiers
    assert lines["97530"].diagnosis_pointers == ("B",)
    assert lines["97140"].diagnosis_pointers == ("A", "B")


def test_an_amendment_starts_with_the_originals_ticks_pointers_and_tie(clinic):
    repo = clinic.repo
    visit = xu_cq_visit(clinic)
    repo.finalize_visit(visit.id, {("97530", "XU"), ("97530", "CQ")}, "avery",
                        T0 + minutes(46), pointers={"97530": "BA"})
    amended = repo.amend_visit(visit.id, "wrong region", "avery", T0 + minutes(60))
    carried = repo.visit_choices(amended.id)
    assert carried.confirmed() == {("97530", "XU"), ("97530", "CQ")}
    assert carried.pointers == {"97530": "BA"}
    entry = next(e for e in repo.audit_entries("visit", visit.id) if e.action == "amend")
    assert json.loads(entry.detail)["choices"]["pointers"] == {"97530": "BA"}
    # Finalizing the correction as it stands bills what the original billed.
    repo.finalize_visit(amended.id, None, "avery", T0 + minutes(61))
    assert [(ln.code, ln.modifiers, ln.diagnosis_pointers) for ln in
            repo.charge_lines(amended.id)] == [
        (ln.code, ln.modifiers, ln.diagnosis_pointers) for ln in repo.charge_lines(visit.id)]


def test_an_amendment_of_a_visit_finalized_with_all_suggestions_ticks_them_all(clinic):
    repo = clinic.repo
    visit = xu_cq_visit(clinic)
    repo.finalize_visit(visit.id, None, "avery", T0 + minutes(46),
                        choice=None)
    amended = repo.amend_visit(visit.id, "typo", "avery", T0 + minutes(60))
    assert repo.visit_choices(amended.id).confirmed() == {
        (s["code"], s["modifier"]) for s in repo.billing_record(visit.id)["suggestions"]}


def test_a_tie_choice_the_times_no_longer_allow_is_reset_with_a_note(clinic):
    repo = clinic.repo
    visit = tie_visit(clinic)
    repo.save_choices(visit.id, {"tie": {"97112": 1, "97110": 2},
                                 "modifiers": {"97112": {"CQ": False}}}, "avery", T0)
    # 97110 really stopped 2 minutes earlier: 97112 now wins the third unit, no tie.
    [later] = [i for i in repo.intervals_for(visit.id) if i.code == "97110"]
    repo.edit_interval(later.id, end=T0 + minutes(38), reason="stopped early", user="avery",
                       now=T0 + minutes(50))
    result = repo.billing_with_choices(visit.id, T0 + minutes(50), user="avery", save=True)
    assert result.changed and result.choices.tie == {}
    assert any("Tie choice reset (97112 × 1, 97110 × 2)" in n and "no tie any more" in n
               for n in result.notes)
    assert repo.visit_choices(visit.id).tie == {}
    reset = [json.loads(e.detail).get("reset") for e in repo.audit_entries("visit", visit.id)
             if e.action == "save_choices"]
    assert reset[0] and "Tie choice reset" in reset[0][0]
    # Said once: the next look finds nothing more to reset.
    assert repo.billing_with_choices(visit.id, T0 + minutes(50), save=True).notes == ()


def test_removing_a_diagnosis_keeps_pointers_on_the_same_diagnoses(clinic):
    repo = clinic.repo
    visit = tie_visit(clinic)
    repo.save_choices(visit.id, {"pointers": {"97110": "C", "97112": "BA"},
                                 "pointer_diagnoses": ["M54.50", "R26.89", "M25.561"],
                                 "modifiers": {}, "tie": {"97112": 1, "97110": 2}},
                      "avery", T0)
    repo.set_diagnoses(visit.id, ["M54.50", "M25.561"], validate=False)  # R26.89 removed
    result = repo.billing_with_choices(visit.id, T0 + minutes(41), save=True)
    # M25.561 is B now; 97112 keeps M54.50 only; the tie choice is untouched.
    assert result.choices.pointers == {"97110": "B", "97112": "A"}
    assert result.choices.tie == {"97112": 1, "97110": 2}
    assert result.notes == ("97112 no longer points at R26.89: removed from the diagnoses.",)
    repo.finalize_visit(visit.id, None, "avery", T0 + minutes(42))
    assert {ln.code: "".join(ln.diagnosis_pointers) for ln in repo.charge_lines(visit.id)} == {
        "97112": "A", "97110": "B", "97012": "AB"}


def test_an_untimed_code_under_a_minute_is_billed_only_once_confirmed(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97161", "PT", T0)
    repo.start_interval(visit.id, "97110", "PT", T0 + timedelta(seconds=40))
    repo.pause_visit(visit.id, T0 + minutes(16))
    repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
    billing = repo.bill_visit(visit.id, T0 + minutes(17))
    assert billing.under_a_minute == ("97161",)
    assert {ln.code: ln.units for ln in billing.lines} == {"97161": 0, "97110": 1}
    assert [v.units for v in repo.visits_on(visit.day, T0 + minutes(17))] == [1]
    repo.save_choices(visit.id, {"untimed_ok": ["97161"]}, "avery", T0 + minutes(17))
    assert repo.bill_visit(visit.id, T0 + minutes(17)).total_units == 2
    assert [v.units for v in repo.visits_on(visit.day, T0 + minutes(17))] == [2]
    repo.finalize_visit(visit.id, None, "avery", T0 + minutes(18))
    assert [(ln.code, ln.units) for ln in repo.charge_lines(visit.id)] == [("97161", 1),
                                                                           ("97110", 1)]
    assert repo.billing_record(visit.id)["untimed_ok"] == ["97161"]
    assert repo.get_visit(visit.id).status is VisitStatus.FINALIZED


def test_an_unconfirmed_untimed_code_under_a_minute_is_not_billed(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", "PT", T0)
    repo.start_interval(visit.id, "97010", "PT", T0 + minutes(15))
    repo.pause_visit(visit.id, T0 + minutes(15.5))
    repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
    repo.finalize_visit(visit.id, None, "avery", T0 + minutes(17))
    assert [(ln.code, ln.units) for ln in repo.charge_lines(visit.id)] == [("97110", 1)]
