"""Pause then Resume keeps 97140's technique and body region; and where a code's details are
missing (time entered by hand), the review lets the clinician fill them in and stores them."""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import Qt

from therapy_timer.core.model import Performer
from therapy_timer.ui.finalize import FinalizePage
from therapy_timer.ui.visit_dialogs import TechniqueDialog

LEFT = Qt.MouseButton.LeftButton


def tap(qtbot, panel, code):
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.tiles.tiles[code], LEFT)


def review(qtbot, clinic, clock, visit_id):
    page = FinalizePage(clinic.repo, clock, describe=lambda code: code)
    qtbot.addWidget(page)
    page.user = "Dana Test, PT"
    page.load(visit_id)
    page.resize(1280, 760)
    page.show()
    return page


def messages(page) -> list[str]:
    from PySide6.QtWidgets import QLabel

    return [w.text() for w in page.findChildren(QLabel) if w.isVisibleTo(page)]


def test_resume_keeps_the_technique_and_region(qtbot, panel, clock, clinic, visit,
                                               monkeypatch):
    monkeypatch.setattr(TechniqueDialog, "ask",
                        classmethod(lambda cls, parent, code, last=None: ("Joint mobilization",
                                                                     "Knee")))
    tap(qtbot, panel, "97140")
    clock.advance(minutes=8)
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.pause_button, LEFT)
    assert panel.pause_button.text() == "Resume"
    clock.advance(minutes=4)
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.pause_button, LEFT)
    [running] = clinic.repo.running_intervals()
    assert (running.code, running.technique, running.body_region) == (
        "97140", "Joint mobilization", "Knee")
    clock.advance(minutes=7)
    tap(qtbot, panel, "97140")
    intervals = clinic.repo.intervals_for(visit.id)
    assert [(i.technique, i.body_region) for i in intervals] == [
        ("Joint mobilization", "Knee")] * 2
    # The table on the visit screen says so for both rows, and the review asks nothing.
    model = panel.interval_model
    assert [model.data(model.index(r, 2)) for r in range(model.rowCount())] == [
        "97140 (Joint mobilization, Knee)"] * 2
    clinic.repo.set_diagnoses(visit.id, ["M25.561"], validate=False)
    page = review(qtbot, clinic, clock, visit.id)
    assert page.detail_prompts == []
    assert not any("record the technique" in m for m in messages(page))


def test_review_fills_in_a_missing_region(qtbot, clock, clinic, visit):
    repo = clinic.repo
    start = clock.now() - timedelta(minutes=30)
    repo.add_interval(visit.id, "97140", Performer.PT, start, start + timedelta(minutes=12),
                      reason="timer not started", user="Dana Test, PT",
                      technique="Soft tissue mobilization", now=clock.now())
    repo.add_interval(visit.id, "97110", Performer.PT, start + timedelta(minutes=12),
                      start + timedelta(minutes=25), reason="timer not started",
                      user="Dana Test, PT", now=clock.now())
    repo.set_diagnoses(visit.id, ["M25.561"], validate=False)
    page = review(qtbot, clinic, clock, visit.id)
    [prompt] = page.detail_prompts
    assert prompt.code == "97140" and "record the body region" in prompt.message.text()
    assert prompt.technique is None  # what is recorded is not asked again
    assert prompt.region.currentText() == ""  # starts empty: nothing recorded by accident
    qtbot.mouseClick(prompt.save_button, LEFT)  # nothing chosen yet: refused, named
    assert "body region" in prompt.error.text()
    assert repo.intervals_for(visit.id)[0].body_region is None
    qtbot.keyClicks(prompt.region.lineEdit(), "Shoulder")
    qtbot.mouseClick(prompt.save_button, LEFT)
    # Stored on the interval, audited, and the review no longer asks.
    manual = repo.intervals_for(visit.id)[0]
    assert (manual.technique, manual.body_region) == ("Soft tissue mobilization", "Shoulder")
    entry = repo.audit_entries("interval", manual.id)[0]
    assert entry.action == "set_technique" and "Shoulder" in entry.detail
    assert entry.user == "Dana Test, PT"
    assert page.detail_prompts == []
    qtbot.waitUntil(lambda: not any("record the body region" in m for m in messages(page)),
                    timeout=2000)
