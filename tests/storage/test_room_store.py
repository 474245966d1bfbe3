"""The store behind the treatment room (issue 16, items 12-13): who performed an interval is a
provider of that role, Resume keeps the assistant, the superbill names the assistant and the
supervising therapist, and the patient's last 97140 technique and region are found again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from therapy_timer.core.model import Performer
from therapy_timer.core.superbill_build import superbill_for_visit
from therapy_timer.storage.errors import InvalidDataError

from .conftest import T0


def test_an_assistant_interval_must_name_an_assistant_of_that_discipline(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    for wrong in (clinic.pt, clinic.ota):  # a therapist; an assistant of another discipline
        with pytest.raises(InvalidDataError, match="must name a PTA"):
            repo.start_interval(visit.id, "97110", Performer.PTA, T0, provider_id=wrong.id)
    assert repo.intervals_for(visit.id) == []
    interval = repo.start_interval(visit.id, "97110", Performer.PTA, T0,
                                   provider_id=clinic.pta.id)
    assert (interval.performer, interval.provider_id) == (Performer.PTA, clinic.pta.id)


def test_resume_keeps_the_assistant(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", Performer.PTA, T0, provider_id=clinic.pta.id)
    repo.pause_visit(visit.id, T0 + timedelta(minutes=10))
    [resumed] = repo.resume_visit(visit.id, Performer.PTA, T0 + timedelta(minutes=12),
                                  provider_id=clinic.pta.id)
    assert (resumed.performer, resumed.provider_id) == (Performer.PTA, clinic.pta.id)


def _finalized_with_assistant(clinic, provider_id):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", Performer.PTA, T0, provider_id=provider_id)
    repo.pause_visit(visit.id, T0 + timedelta(minutes=30))
    repo.set_diagnoses(visit.id, ["M25.561"], validate=False)
    repo.finalize_visit(visit.id, None, "Avery Stone", T0 + timedelta(minutes=31))
    return visit


def test_the_superbill_names_the_assistant_and_the_supervising_therapist(clinic):
    visit = _finalized_with_assistant(clinic, clinic.pta.id)
    assert any("CQ" in line.modifiers for line in clinic.repo.charge_lines(visit.id))
    data = superbill_for_visit(clinic.repo, visit.id)
    [reason] = data.documentation.assistant
    assert (reason.code, reason.modifier) == ("97110", "CQ")
    assert reason.furnished_by == "Assistant: Blake Reed, PTA — supervised by Avery Stone, PT, DPT"


def test_assistant_time_recorded_without_a_name_says_so(clinic):
    visit = _finalized_with_assistant(clinic, None)  # recorded before the app asked who
    [reason] = superbill_for_visit(clinic.repo, visit.id).documentation.assistant
    assert reason.furnished_by == "Assistant: not named in the timer record"


def test_the_patients_last_technique_and_region(clinic):
    repo = clinic.repo
    assert repo.last_technique(clinic.patient.id, "97140") is None
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97140", Performer.PT, T0, technique="Joint mobilization",
                        body_region="Knee")
    repo.start_interval(visit.id, "97140", Performer.PT, T0 + timedelta(minutes=5),
                        technique="Myofascial release", body_region="Lumbar spine")
    repo.start_interval(visit.id, "97140", Performer.PT, T0 + timedelta(minutes=8))  # none
    assert repo.last_technique(clinic.patient.id, "97140") == ("Myofascial release",
                                                               "Lumbar spine")
    assert repo.last_technique(clinic.other.id, "97140") is None  # another patient's own
