"""97140's technique and body region outlive a pause, and the review's answers are stored on
every interval of the code that lacks them, audited; what was recorded is never overwritten."""

from __future__ import annotations

from datetime import timedelta

import pytest

from therapy_timer.storage.errors import FrozenVisitError, InvalidDataError

from .conftest import T0


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def test_resume_restarts_each_code_with_its_technique_and_region(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97140", "PT", T0, technique="Joint mobilization",
                        body_region="Knee")
    repo.start_interval(visit.id, "97010", "PT", T0)
    repo.pause_visit(visit.id, T0 + minutes(8))
    started = repo.resume_visit(visit.id, "PT", T0 + minutes(12))
    details = {i.code: (i.technique, i.body_region) for i in started}
    assert details == {"97140": ("Joint mobilization", "Knee"), "97010": (None, None)}


def test_fill_code_details_fills_only_what_is_missing(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    now = T0 + minutes(60)
    first = repo.add_interval(visit.id, "97140", "PT", T0, T0 + minutes(10), reason="by hand",
                              user="avery", technique="Myofascial release", now=now)
    second = repo.add_interval(visit.id, "97140", "PT", T0 + minutes(20), T0 + minutes(30),
                               reason="by hand", user="avery", now=now)
    with pytest.raises(InvalidDataError, match="technique"):
        repo.fill_code_details(visit.id, "97140", "", "Hip", user="avery", now=now)
    assert repo.get_interval(first.id).body_region is None  # one commit: nothing half-done
    with pytest.raises(InvalidDataError, match="no 97112"):
        repo.fill_code_details(visit.id, "97112", "x", "y", user="avery", now=now)
    changed = repo.fill_code_details(visit.id, "97140", "Soft tissue mobilization", "Hip",
                                     user="avery", now=now)
    assert [i.id for i in changed] == [first.id, second.id]
    assert (repo.get_interval(first.id).technique,
            repo.get_interval(first.id).body_region) == ("Myofascial release", "Hip")
    assert (repo.get_interval(second.id).technique,
            repo.get_interval(second.id).body_region) == ("Soft tissue mobilization", "Hip")
    entry = repo.audit_entries("interval", second.id)[0]
    assert entry.action == "set_technique" and entry.user == "avery" and "Hip" in entry.detail
    repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
    repo.finalize_visit(visit.id, None, "avery", now)
    with pytest.raises(FrozenVisitError):
        repo.fill_code_details(visit.id, "97140", "a", "b", user="avery", now=now)
