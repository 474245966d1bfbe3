"""Diagnosis pointers chosen per line at finalize: stored in order, checked, kept by amendments."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from therapy_timer.core.records import VisitStatus
from therapy_timer.storage.errors import InvalidDataError

from .conftest import T0


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def timed_visit(clinic, diagnoses=("M54.50", "R26.89")):
    """24 min of 97110 then 23 min of 97140 (2 + 1 units), with the given diagnoses."""
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", "PT", T0)
    repo.start_interval(visit.id, "97140", "PT", T0 + minutes(24))
    repo.pause_visit(visit.id, T0 + minutes(47))
    repo.set_diagnoses(visit.id, list(diagnoses), validate=False)
    return visit


def pointers_of(repo, visit_id):
    return {ln.code: "".join(ln.diagnosis_pointers) for ln in repo.charge_lines(visit_id)}


def test_chosen_pointers_are_stored_in_the_order_given(clinic):
    repo = clinic.repo
    visit = timed_visit(clinic)
    lines = repo.finalize_visit(visit.id, None, "avery", T0 + minutes(50),
                                pointers={"97140": "B", "97110": "BA"})
    assert {ln.code: ln.diagnosis_pointers for ln in lines} == {
        "97110": ("B", "A"), "97140": ("B",)}
    assert repo.billing_record(visit.id)["pointers"] == {"97110": "BA", "97140": "B"}
    entry = repo.audit_entries("visit", visit.id)[0]
    assert entry.action == "finalize"
    assert json.loads(entry.detail)["pointers"] == {"97110": "BA", "97140": "B"}
    assert repo.audit_verify() is None


def test_codes_left_out_keep_the_first_four_diagnoses(clinic):
    repo = clinic.repo
    visit = timed_visit(clinic, ["M54.50", "R26.89", "M25.561", "M62.81", "Z96.651"])
    repo.finalize_visit(visit.id, None, "avery", T0 + minutes(50), pointers={"97140": "E"})
    assert pointers_of(repo, visit.id) == {"97110": "ABCD", "97140": "E"}


@pytest.mark.parametrize("pointers", [None, {}])
def test_no_pointers_means_the_default(clinic, pointers):
    repo = clinic.repo
    visit = timed_visit(clinic)
    repo.finalize_visit(visit.id, None, "avery", T0 + minutes(50), pointers=pointers)
    assert pointers_of(repo, visit.id) == {"97110": "AB", "97140": "AB"}
    assert repo.billing_record(visit.id)["pointers"] is None


def test_lowercase_spaces_commas_and_letter_lists_are_normalised(clinic):
    repo = clinic.repo
    visit = timed_visit(clinic)
    repo.finalize_visit(visit.id, None, "avery", T0 + minutes(50),
                        pointers={"97110": "b, a", "97140": ["b"]})
    assert pointers_of(repo, visit.id) == {"97110": "BA", "97140": "B"}


@pytest.mark.parametrize(("pointers", "match"), [
    ({"97140": "C"}, r"97140: diagnosis pointer C points at no diagnosis .*AB"),
    ({"97140": "AC"}, r"97140: diagnosis pointer C points at no"),
    ({"97110": "M"}, r"97110: diagnosis pointer 'M' is not a letter A-L"),
    ({"97110": "A1"}, r"97110: diagnosis pointer '1' is not a letter A-L"),
    ({"97110": ""}, r"97110: give 1 to 4 diagnosis pointers \(none given\)"),
    ({"97110": "  "}, r"97110: give 1 to 4"),
    ({"97110": "ABAB"}, r"97110: diagnosis pointer A is given twice"),
    ({"97110": "ABCDE"}, r"97110: a line points at most at 4 diagnoses \('ABCDE' has 5\)"),
    ({"97110": 7}, r"97110: diagnosis pointers must be letters A-L, not 7"),
    ({"97530": "A"}, r"diagnosis pointers for '97530': the visit has no line"),
])
def test_bad_pointers_are_refused_by_name_and_nothing_is_frozen(clinic, pointers, match):
    repo = clinic.repo
    visit = timed_visit(clinic)
    with pytest.raises(InvalidDataError, match=match):
        repo.finalize_visit(visit.id, None, "avery", T0 + minutes(50), pointers=pointers)
    assert repo.get_visit(visit.id).status is VisitStatus.OPEN
    assert repo.charge_lines(visit.id) == []
    # the clinician fixes it and finalizes
    repo.finalize_visit(visit.id, None, "avery", T0 + minutes(50), pointers={"97110": "B"})
    assert pointers_of(repo, visit.id) == {"97110": "B", "97140": "AB"}


def test_twelve_diagnoses_allow_pointers_up_to_l(clinic):
    repo = clinic.repo
    codes = ["M54.50", "R26.89", "M25.561", "M62.81", "Z96.651", "M17.11", "M25.562",
             "R26.2", "M54.2", "M79.604", "S83.511A", "Z47.1"]
    visit = timed_visit(clinic, codes)
    repo.finalize_visit(visit.id, None, "avery", T0 + minutes(50),
                        pointers={"97110": "LKJI", "97140": "F"})
    assert pointers_of(repo, visit.id) == {"97110": "LKJI", "97140": "F"}


def test_a_code_split_in_two_lines_gives_both_its_pointers(clinic):
    """Assistant minutes split 97110 into a CQ line and a plain one: both carry the choice."""
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", "PT", T0)
    repo.start_interval(visit.id, "97110", "PTA", T0 + minutes(30))
    repo.pause_visit(visit.id, T0 + minutes(53))
    repo.set_diagnoses(visit.id, ["M54.50", "R26.89"], validate=False)
    lines = repo.finalize_visit(visit.id, None, "avery", T0 + minutes(55),
                                pointers={"97110": "BA"})
    assert len(lines) == 2 and {ln.code for ln in lines} == {"97110"}
    assert any("CQ" in ln.modifiers for ln in lines)
    assert all(ln.diagnosis_pointers == ("B", "A") for ln in lines)


def test_an_amendment_keeps_the_original_pointers_and_takes_new_ones(clinic):
    repo = clinic.repo
    visit = timed_visit(clinic)
    repo.finalize_visit(visit.id, None, "avery", T0 + minutes(50), pointers={"97140": "B"})
    amended = repo.amend_visit(visit.id, "97110 treated the knee (B)", "avery",
                               T0 + minutes(60))
    assert amended.diagnoses == ("M54.50", "R26.89")
    repo.finalize_visit(amended.id, None, "avery", T0 + minutes(61),
                        pointers={"97110": "B", "97140": "BA"})
    assert pointers_of(repo, visit.id) == {"97110": "AB", "97140": "B"}
    assert pointers_of(repo, amended.id) == {"97110": "B", "97140": "BA"}
    assert repo.get_visit(visit.id).status is VisitStatus.AMENDED


def test_a_pooled_visit_may_name_a_code_the_earlier_visit_already_carries(clinic):
    """The second visit of the day bills what the pooled day adds; pointers for a code whose
    units the first visit already carries are accepted (the review shows the pooled lines)."""
    repo = clinic.repo
    first = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(first.id, "97110", "PT", T0)
    repo.pause_visit(first.id, T0 + minutes(30))
    repo.set_diagnoses(first.id, ["M54.50"], validate=False)
    repo.finalize_visit(first.id, None, "avery", T0 + minutes(31))
    second = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id,
                              T0 + minutes(120))
    repo.start_interval(second.id, "97140", "PT", T0 + minutes(120))
    repo.pause_visit(second.id, T0 + minutes(135))
    repo.set_diagnoses(second.id, ["M54.50", "R26.89"], validate=False)
    repo.finalize_visit(second.id, None, "avery", T0 + minutes(136),
                        pointers={"97110": "A", "97140": "B"})
    assert pointers_of(repo, first.id) == {"97110": "A"}
    assert pointers_of(repo, second.id) == {"97140": "B"}
