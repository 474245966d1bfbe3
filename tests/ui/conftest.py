"""Fixtures for the treatment-room UI tests: an in-memory store with a small synthetic clinic,
a FakeClock, and a controller plus panels wired to them. No real patient data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from therapy_timer.core.model import Discipline, Performer, Rule
from therapy_timer.core.records import (
    InsurancePolicy,
    Patient,
    Payer,
    PlanOfCare,
    Practice,
    Provider,
)
from therapy_timer.ui.clock import FakeClock

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def pytest_collection_modifyitems(items):
    """The offscreen platform warns that it cannot size, raise or grab windows (popups);
    that is the platform, not our code."""
    for item in items:
        if "tests/ui/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.qt_log_ignore(
                "propagateSizeHints", "does not support raise", "grabbing the keyboard",
                "grabbing the mouse"))


@dataclass
class Clinic:
    repo: object
    pt: Provider
    pta: Provider
    pt2: Provider
    patient: Patient
    patient2: Patient
    plan: PlanOfCare


@pytest.fixture(autouse=True)
def _no_unexpected_dialogs(monkeypatch):
    """A modal question a test did not expect fails the test instead of hanging it."""
    from therapy_timer.ui.dialogs import Ask

    def unexpected(name):
        def ask(cls, parent, *args, **kwargs):
            raise AssertionError(f"unexpected Ask.{name}: {args!r}")
        return classmethod(ask)

    for name in ("confirm", "text", "choice", "warn", "inform", "buttons"):
        monkeypatch.setattr(Ask, name, unexpected(name))


@pytest.fixture(autouse=True)
def _assistant_question_answered(monkeypatch):
    """The PT | PTA switch asks which assistant: unless a test answers the real dialog itself,
    it takes the assistant the dialog highlights (what Enter does)."""
    from PySide6.QtWidgets import QDialog

    from therapy_timer.ui.assistant import AssistantDialog

    monkeypatch.setattr(AssistantDialog, "exec", lambda self: QDialog.DialogCode.Accepted)


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def repo():
    from therapy_timer.storage.repository import open_repository

    repository = open_repository(":memory:")
    yield repository
    repository.close()


@pytest.fixture
def clinic(repo):
    return seed_clinic(repo)


def seed_clinic(repo) -> Clinic:
    """A practice, two PTs and a PTA, a Medicare payer, two patients with PT plans."""
    repo.save_practice(Practice("Harbor Test Therapy"))
    pt = repo.save_provider(Provider("Dana Test, PT", Discipline.PT, Performer.PT))
    pta = repo.save_provider(Provider("Lee Test, PTA", Discipline.PT, Performer.PTA,
                                      supervisor_id=pt.id))
    pt2 = repo.save_provider(Provider("Robin Test, PT", Discipline.PT, Performer.PT))
    payer = repo.save_payer(Payer("Medicare (test)", Rule.CMS, medicare=True,
                                  assistant_modifiers=True, kx_applies=True))
    patient = repo.save_patient(Patient("Ada", "Sample", date(1950, 5, 1), chart_number="T1"))
    patient2 = repo.save_patient(Patient("Ben", "Example", date(1948, 2, 9), chart_number="T2"))
    for p in (patient, patient2):
        repo.save_policy(InsurancePolicy(p.id, payer.id, member_id="TEST"))
    plan = repo.save_plan(PlanOfCare(patient.id, Discipline.PT, pt.id, date(2026, 1, 5)))
    repo.save_plan(PlanOfCare(patient2.id, Discipline.PT, pt.id, date(2026, 1, 5)))
    return Clinic(repo, pt, pta, pt2, patient, patient2, plan)


@pytest.fixture
def controller(qtbot, clinic, clock):
    from therapy_timer.ui.session_controller import SessionController

    ctl = SessionController(clinic.repo, clock)
    yield ctl
    ctl.timer.stop()


@pytest.fixture
def visit(clinic, clock):
    return clinic.repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, clock.now())


@pytest.fixture
def panel(qtbot, controller, visit):
    """The visit screen on an open visit, shown at a realistic size, questions answered yes."""
    from therapy_timer.ui.visit_panel import VisitPanel

    widget = VisitPanel(controller)
    qtbot.addWidget(widget)
    controller.open_visit(visit.id)
    controller.timer.stop()  # tests repaint by hand after advancing the FakeClock
    widget.load()
    widget.resize(1280, 760)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture(autouse=True)
def _screens_show_the_computers_zone():
    """A main window sets the clinic's zone for every screen: no test leaks it to the next."""
    from therapy_timer.ui.clock import set_display_zone

    yield
    set_display_zone(None)
