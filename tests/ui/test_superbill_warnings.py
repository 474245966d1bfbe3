"""A new clinic is told before it prints an unusable superbill (issue 16, item 15): the review
(before Finalize) and the front desk (before Print and Save) name what is missing and where to
set it, from the one check in core/superbill_check.py. The test clinic has no NPIs, no Tax ID
and no fees, as a clinic on its first day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from therapy_timer.core.model import Performer
from therapy_timer.core.records import Practice
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.finalize import FinalizePage
from therapy_timer.ui.frontdesk import FrontDeskPage

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")
LEFT = Qt.MouseButton.LeftButton
TIMEOUT = 30000
MISSING = [
    "No group NPI for the practice: set it in Settings > Practice",
    "No Tax ID (EIN) for the practice: set it in Settings > Practice",
    "No NPI for Dana Test, PT, the rendering provider: set it in Settings > Providers",
    "No fee for 97110: set it in Settings > Fee schedule",
]


def _visit(clinic, clock, finalize=False):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, clock.now())
    repo.start_interval(visit.id, "97110", Performer.PT, clock.now())
    clock.advance(minutes=30)
    repo.pause_visit(visit.id, clock.now())
    repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
    if finalize:
        repo.finalize_visit(visit.id, None, "Dana", clock.now() + timedelta(minutes=1))
    return visit


def _messages(page):
    layout = page.checks_layout
    return [w.text() for i in range(layout.count())
            if isinstance(w := layout.itemAt(i).widget(), QLabel)]


def test_the_review_names_what_the_superbill_lacks(qtbot, clinic, clock, monkeypatch):
    visit = _visit(clinic, clock)
    page = FinalizePage(clinic.repo, clock)
    qtbot.addWidget(page)
    page.user = "Dana Test, PT"
    page.load(visit.id)
    page.show()
    (shown,) = [m for m in _messages(page) if "superbill" in m]
    assert shown == ("This visit's superbill is not usable by a payer yet:\n"
                     + "\n".join(f"• {gap}" for gap in MISSING))
    asked = []
    monkeypatch.setattr(Ask, "confirm", classmethod(
        lambda cls, parent, title, text, **k: asked.append(text) or True))
    qtbot.mouseClick(page.finalize_button, LEFT)
    (question,) = asked
    assert "Its superbill is not usable by a payer yet:" in question
    assert all(gap in question for gap in MISSING)
    assert clinic.repo.get_visit(visit.id).status.value == "finalized"  # a warning, not a block


def test_the_review_says_nothing_once_settings_are_filled_in(qtbot, clinic, clock):
    from dataclasses import replace

    repo = clinic.repo
    repo.save_practice(Practice("Harbor Test Therapy", npi="1234567893", tax_id="12-3456789"))
    repo.save_provider(replace(clinic.pt, npi="1558598797"))
    repo.save_fee("97110", 4500, clock.now().date() - timedelta(days=30))
    visit = _visit(clinic, clock)
    page = FinalizePage(repo, clock)
    qtbot.addWidget(page)
    page.load(visit.id)
    assert not [m for m in _messages(page) if "superbill" in m]


@pytest.fixture
def desk(qtbot, clinic, clock):
    from therapy_timer.ui.workers import Worker

    worker = Worker()
    visit = _visit(clinic, clock, finalize=True)
    with qtbot.waitSignal(worker.idle, timeout=TIMEOUT):
        page = FrontDeskPage(clinic.repo, worker, clock=clock, user="Front Desk")
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()
    qtbot.waitExposed(page)
    rect = page.table.visualRect(page.model.index(0, 2))
    with qtbot.waitSignal(page.document_ready, timeout=TIMEOUT):
        qtbot.mouseClick(page.table.viewport(), LEFT, pos=rect.center())
    yield page, visit
    worker.shutdown()


def test_the_front_desk_warns_above_the_preview_and_before_print(qtbot, desk, clinic,
                                                                 monkeypatch):
    page, visit = desk
    assert page.gaps_label.isVisible()
    text = page.gaps_label.text()
    assert text.startswith("Not usable by a payer yet:")
    assert all(gap.replace(">", "&gt;") in text for gap in MISSING)
    asked = []
    monkeypatch.setattr(Ask, "confirm", classmethod(
        lambda cls, parent, title, text, **k: asked.append((title, text, k)) or False))
    printers = []
    monkeypatch.setattr(FrontDeskPage, "ask_printer",
                        classmethod(lambda c, p: printers.append(p)))
    qtbot.mouseClick(page.print_button, LEFT)
    ((title, question, buttons),) = asked
    assert title == "Print anyway?"
    assert all(gap in question for gap in MISSING)
    assert buttons == {"yes": "Print anyway", "no": "Cancel"}
    assert printers == []  # cancelled before the print dialog
    assert page.status.text() == ("Not printed: No group NPI for the practice: set it in "
                                  "Settings > Practice.")
    assert clinic.repo.printed_at(visit.id) is None


def test_save_anyway_writes_and_marks(qtbot, desk, clinic, clock, tmp_path, monkeypatch):
    page, visit = desk
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *a, **k: True))
    target = tmp_path / "bill.pdf"
    monkeypatch.setattr(FrontDeskPage, "ask_save_path", classmethod(lambda c, p, n: str(target)))
    with qtbot.waitSignal(page.listed, timeout=TIMEOUT), \
            qtbot.waitSignal(page.saved, timeout=TIMEOUT):
        qtbot.mouseClick(page.save_button, LEFT)
    assert target.read_bytes().startswith(b"%PDF")
    assert clinic.repo.printed_at(visit.id) == clock.now()
    assert page.model.cell_text(0, 8).startswith("✓")


def test_the_day_sheet_shows_no_superbill_warning(qtbot, desk):
    page, _visit_ = desk
    with qtbot.waitSignal(page.document_ready, timeout=TIMEOUT):
        qtbot.mouseClick(page.daysheet_button, LEFT)
    assert not page.gaps_label.isVisible() and page.gaps == ()
