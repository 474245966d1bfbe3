"""The review shows every timed code, including those the day's total leaves without a unit."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from therapy_timer.core.model import Performer
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.finalize import FinalizePage


def test_review_lists_documented_codes_with_no_unit(qtbot, clinic, clock, monkeypatch):
    # CMS example 3 reversed: 33 min of 97110 then 3 min of 97140 -> 97140 bills nothing.
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, clock.now())
    repo.start_interval(visit.id, "97110", Performer.PT, clock.now())
    clock.advance(minutes=33)
    repo.start_interval(visit.id, "97116", Performer.PT, clock.now())
    clock.advance(minutes=3)
    repo.pause_visit(visit.id, clock.now())
    repo.set_diagnoses(visit.id, ["M25.561"], validate=False)
    page = FinalizePage(repo, clock)
    qtbot.addWidget(page)
    page.user = "Dana Test, PT"
    page.load(visit.id)
    rows = {(r.code, r.units, r.minutes): r for r in page.model.rows()}
    assert set(rows) == {("97110", 2, 33), ("97116", 0, 3)}
    unbilled = rows[("97116", 0, 3)]
    assert "documented, not billed" in unbilled.label
    assert unbilled.charge_cents == 0 and unbilled.modifiers == ()
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *a, **k: True))
    assert page.on_finalize()
    # the frozen claim carries only billed lines; the review still documents the rest
    assert [(c.code, c.units) for c in repo.charge_lines(visit.id)] == [("97110", 2)]
    page.load(visit.id)
    assert ("97116", 0) in {(r.code, r.units) for r in page.model.rows()}


def test_review_checks_the_span_by_the_payers_rule(qtbot, clinic, clock):
    """24 min of 97112 and 23 of 97110 in 47 minutes: 2 + 2 units for a per-code payer is the
    rule, not over-billing; the review says the time fits."""
    from therapy_timer.core.model import Rule
    from therapy_timer.core.records import InsurancePolicy, Payer

    repo = clinic.repo
    acme = repo.save_payer(Payer("Acme Health (test)", Rule.PER_CODE))
    [policy] = repo.policies_for(clinic.patient.id)
    repo.save_policy(InsurancePolicy(clinic.patient.id, acme.id, "ACM1", id=policy.id))
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, clock.now())
    repo.start_interval(visit.id, "97112", Performer.PT, clock.now())
    clock.advance(minutes=24)
    repo.start_interval(visit.id, "97110", Performer.PT, clock.now())
    clock.advance(minutes=23)
    repo.pause_visit(visit.id, clock.now())
    page = FinalizePage(repo, clock)
    qtbot.addWidget(page)
    page.load(visit.id)
    assert {(r.code, r.units) for r in page.model.rows()} == {("97112", 2), ("97110", 2)}
    layout = page.checks_layout
    texts = [w.text() for i in range(layout.count())
             if isinstance(w := layout.itemAt(i).widget(), QLabel)]
    assert "Billed time fits the 47-minute session." in texts
    assert not any("over-billing" in t for t in texts)
