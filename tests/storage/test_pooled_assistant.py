"""Issue 10, item 4, against a real SQLite file: two visits of one patient, one discipline, one
day pool their minutes; the day's CQ/CO decision is made on the whole day's minutes per
performer and each visit is locked with the units (and modifiers) that are its own, whatever
the order they are finalized in."""

from __future__ import annotations

from datetime import timedelta

import pytest

from therapy_timer.core.model import Performer

from .conftest import T0, build_clinic


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@pytest.fixture
def clinic(repo):
    return build_clinic(repo)


def timed_visit(clinic, start, code, performer, length):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, start)
    repo.start_interval(visit.id, code, performer, start)
    repo.pause_visit(visit.id, start + minutes(length))
    repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
    return visit


def lines(repo, visit_id):
    return [(ln.code, ln.modifiers, ln.units) for ln in repo.charge_lines(visit_id)]


@pytest.mark.parametrize("pta_first", [False, True])
def test_each_visit_keeps_its_own_cq_unit_whatever_the_order(clinic, pta_first):
    """Visit A: PT 8 min of 97110; visit B: PTA 15 min. The day (23 min, 2 units) bills the
    PTA's full block with CQ and the PT's 8 minutes without: each visit carries its own."""
    repo = clinic.repo
    steps = [("PT", 8), ("PTA", 15)]
    if pta_first:
        steps.reverse()
    ids = {}
    for n, (who, length) in enumerate(steps):
        start = T0 + timedelta(hours=4 * n)
        visit = timed_visit(clinic, start, "97110", Performer(who), length)
        repo.finalize_visit(visit.id, None, "avery", start + minutes(length + 1))
        ids[who] = visit.id
    assert lines(repo, ids["PT"]) == [("97110", ("GP",), 1)]
    assert lines(repo, ids["PTA"]) == [("97110", ("GP", "CQ"), 1)]
    later = ids["PT"] if pta_first else ids["PTA"]
    assert repo.billing_record(later)["warnings"] == []


def test_an_earlier_visit_the_day_would_bill_with_cq_is_named_before_and_after_locking(clinic):
    """A: PT 8 min (alone: no CQ). B: PTA 8 min: the day's 16 minutes are one unit, and the PTA
    furnished as many minutes as the PT, so it takes CQ. B adds no unit; the review's warnings
    and B's billing record ask for A to be amended (never silent)."""
    repo = clinic.repo
    a = timed_visit(clinic, T0, "97110", Performer.PT, 8)
    repo.finalize_visit(a.id, None, "avery", T0 + minutes(9))
    later = T0 + timedelta(hours=4)
    b = timed_visit(clinic, later, "97110", Performer.PTA, 8)
    expected = ("97110: an earlier visit today carries 1 unit(s) as 97110 GP where the pooled "
                "day's minutes bill 97110 GP CQ: amend that visit so the day carries the "
                "modifiers its minutes call for")
    assert expected in repo.bill_visit(b.id, later + minutes(9)).warnings
    repo.finalize_visit(b.id, None, "avery", later + minutes(9))
    assert lines(repo, b.id) == []
    assert repo.billing_record(b.id)["warnings"].count(expected) == 1


def test_an_earlier_unit_of_another_code_keeps_the_day_to_its_units(clinic):
    """A: 97110 8 min (1 unit). B: 97140 14 min. The day's 22 minutes allow one timed unit;
    A carries it, so B is locked without one and says so."""
    repo = clinic.repo
    a = timed_visit(clinic, T0, "97110", Performer.PT, 8)
    repo.finalize_visit(a.id, None, "avery", T0 + minutes(9))
    later = T0 + timedelta(hours=4)
    b = timed_visit(clinic, later, "97140", Performer.PT, 14)
    repo.finalize_visit(b.id, None, "avery", later + minutes(15))
    assert lines(repo, a.id) == [("97110", ("GP",), 1)]
    assert lines(repo, b.id) == []
    assert any("leaves off 1 unit(s) of 97140" in w
               for w in repo.billing_record(b.id)["warnings"])
