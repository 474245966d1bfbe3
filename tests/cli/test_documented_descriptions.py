"""Issue 11, a 10-year clinic: a diagnosis's description is kept with the visit when it is
added, the superbill prints what was documented, and no command that prints or exports loads
the ICD-10-CM package (importing it parses a 10 MB XML file, about 2 s)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.pdf.conftest import pages_text
from therapy_timer.core.model import Discipline, Performer
from therapy_timer.core.records import Patient, PlanOfCare, Provider
from therapy_timer.storage.repository import open_repository

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.fixture
def repo(tmp_path):
    store = open_repository(tmp_path / "clinic.db")
    store.describe_diagnosis = {"R26.89": "Other abnormalities of gait and mobility",
                                "M54.50": "Low back pain, unspecified"}.get
    yield store
    store.close()


def _visit(repo, plan_dx=()):
    provider = repo.save_provider(Provider("Dana Cole", Discipline.PT, Performer.PT))
    patient = repo.save_patient(Patient("Ann", "Example", date(1950, 1, 1)))
    plan = repo.save_plan(PlanOfCare(patient.id, Discipline.PT, provider.id, date(2026, 11, 1),
                                     diagnoses=tuple(plan_dx)))
    return repo.start_visit(patient.id, provider.id, plan.id, T0)


def test_a_description_is_stored_with_the_diagnosis_when_it_is_added(repo):
    visit = _visit(repo)
    repo.set_diagnoses(visit.id, ["m5450", "R26.89"], validate=False,
                       descriptions={"M54.50": "Low back pain, unspecified (as picked)"})
    stored = repo.conn.execute("SELECT diagnosis_descriptions FROM visits WHERE id = ?",
                               (visit.id,)).fetchone()[0]
    assert json.loads(stored) == {"M54.50": "Low back pain, unspecified (as picked)",
                                  "R26.89": "Other abnormalities of gait and mobility"}
    assert repo.get_visit(visit.id).diagnosis_descriptions == (
        "Low back pain, unspecified (as picked)", "Other abnormalities of gait and mobility")


def test_a_new_release_never_rewrites_what_was_documented(repo):
    visit = _visit(repo)
    repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
    repo.describe_diagnosis = {"R26.89": "Renamed in a later release",
                               "M54.50": "Low back pain, unspecified"}.get
    repo.set_diagnoses(visit.id, ["M54.50", "R26.89"], validate=False)
    assert repo.get_visit(visit.id).diagnosis_descriptions == (
        "Low back pain, unspecified", "Other abnormalities of gait and mobility")


def test_a_visit_starts_with_its_plans_diagnoses_described(repo):
    visit = _visit(repo, plan_dx=("R26.89",))
    assert visit.diagnoses == ("R26.89",)
    assert visit.diagnosis_descriptions == ("Other abnormalities of gait and mobility",)


def test_an_amendment_carries_the_documented_descriptions(repo):
    visit = _visit(repo, plan_dx=("R26.89",))
    repo.start_interval(visit.id, "97110", Performer.PT, T0)
    repo.stop_interval(repo.intervals_for(visit.id)[0].id, T0.replace(minute=30))
    repo.finalize_visit(visit.id, None, "dana", T0.replace(minute=31))
    repo.describe_diagnosis = lambda code: "changed"
    amended = repo.amend_visit(visit.id, "wrong code", "dana", T0.replace(hour=16))
    assert amended.diagnosis_descriptions == ("Other abnormalities of gait and mobility",)


def test_the_superbill_prints_what_was_documented_not_todays_lookup(repo, tmp_path):
    from therapy_timer.core.superbill_build import superbill_for_visit

    visit = _visit(repo, plan_dx=("R26.89",))
    repo.start_interval(visit.id, "97110", Performer.PT, T0)
    repo.stop_interval(repo.intervals_for(visit.id)[0].id, T0.replace(minute=30))
    repo.finalize_visit(visit.id, None, "dana", T0.replace(minute=31))
    data = superbill_for_visit(repo, visit.id, lambda code: "today's wording")
    assert [(d.letter, d.code, d.description) for d in data.diagnoses] == [
        ("A", "R26.89", "Other abnormalities of gait and mobility")]


@pytest.fixture
def demo_db(demo_target):
    """The demo clinic, on both databases (tests/cli/conftest.py): the child process below
    reads a clinic server as it reads a file."""
    return demo_target


CHILD = """
import sys
from therapy_timer.cli import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("simple_icd_10_cm", "PySide6"))
print("LOADED", loaded, file=sys.stderr)
raise SystemExit(code)
"""


@pytest.mark.parametrize("command", [
    ["superbill", "--visit", "1"],
    ["superbill", "--date", "2026-11-20"],
    ["daysheet", "--date", "2026-11-20"],
    ["export", "--date", "2026-11-20", "--format", "csv"],
])
def test_no_printing_or_export_command_loads_the_icd_package(demo_db, tmp_path, command):
    out = tmp_path / ("out.csv" if command[0] == "export" else "out.pdf")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, command[0], "--db", str(demo_db), *command[1:],
         "--out", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
             "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    assert "LOADED []" in proc.stderr
    if command[0] == "superbill" and command[1] == "--visit":
        text = " ".join(pages_text(out.read_bytes()))
        repo = open_repository(demo_db)
        try:
            visit = repo.get_visit(1)
        finally:
            repo.close()
        descriptions = {"M54.50": "Low back pain, unspecified",
                        "M25.561": "Pain in right knee", "R26.89":
                        "Other abnormalities of gait and mobility"}
        for code in visit.diagnoses:
            if code in descriptions:
                assert f"{code} {descriptions[code]}" in text


def test_the_demos_descriptions_are_the_releases(demo_db):
    from therapy_timer.core.validation import icd10_description
    from therapy_timer.demo import DX_DESCRIPTIONS, OT_DX, PT_DX

    assert set(DX_DESCRIPTIONS) == set(PT_DX) | set(OT_DX)
    for code, text in DX_DESCRIPTIONS.items():
        assert icd10_description(code) == text
    repo = open_repository(demo_db)
    try:
        described = repo.get_visit(1).diagnosis_descriptions
    finally:
        repo.close()
    assert described and all(described)
