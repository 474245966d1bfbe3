"""Settings > NCCI edits (issue 12, items 2-3): the release and the MUE table in use with their
dates; Import PTP... / Import MUE... run off the UI thread and say what they read or why the
file was refused (nothing stored changes)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from PySide6.QtCore import Qt

from tests.ncci_samples import mue_row, ptp_row, write_mue, write_ptp, zipped
from therapy_timer.storage.repository import open_repository
from therapy_timer.ui.settings_ncci import NcciEditsBox
from therapy_timer.ui.workers import Worker

ZIP = "medicare-ncci-2026q2-practitioner-ptp-edits-ccipra-v321r0-f1.zip"
MUE = "MCR_MUE_PractitionerServices_Eff_01-01-2026.csv"


@pytest.fixture
def repo(tmp_path):
    repository = open_repository(tmp_path / "clinic.db")
    repository.clock = lambda: datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    yield repository
    repository.close()


@pytest.fixture
def box(qtbot, repo):
    worker = Worker()
    widget = NcciEditsBox(repo, "Avery Stone", worker)
    qtbot.addWidget(widget)
    yield widget
    worker.shutdown()


def choose(monkeypatch, *paths):
    monkeypatch.setattr(NcciEditsBox, "ask_files",
                        classmethod(lambda cls, parent, kind: [str(p) for p in paths]))


def test_importing_a_ptp_release_shows_it_in_use_with_its_date(qtbot, box, repo, tmp_path,
                                                                monkeypatch):
    assert box.ptp_status.text().startswith("PTP edits in use: the shipped starting list")
    assert box.mue_status.text() == ("MUE table in use: none imported: units are not checked "
                                     "against CMS's Medically Unlikely Edits")
    release = zipped(tmp_path / ZIP, write_ptp(tmp_path / "ccipra-v321r0-f1.TXT", [
        ptp_row("97110", "97112"), ptp_row("99213", "36415")]))
    choose(monkeypatch, release)
    with qtbot.waitSignal(box.imported, timeout=10000) as blocker:
        qtbot.mouseClick(box.ptp_button, Qt.MouseButton.LeftButton)
        assert not box.ptp_button.isEnabled() and not box.mue_button.isEnabled()
        assert box.message.text().startswith("Importing the PTP edits (1 file(s))")
    assert blocker.args == ["ncci"]
    assert box.message.text() == ("Imported the NCCI PTP release v321r0, effective 2026-04-01: "
                                  "2 rows read, 1 kept, 1 skipped (a code not in the "
                                  "catalog).")
    assert box.ptp_status.text() == (
        "PTP edits in use: CMS NCCI PTP release v321r0, effective 2026-04-01 (imported "
        "2026-11-20 by Avery Stone: 2 rows read, 1 kept)")
    assert box.ptp_button.isEnabled()
    assert [(p.column1, p.column2) for p in repo.ncci_pairs()] == [("97110", "97112")]


def test_a_refused_file_says_why_and_changes_nothing(qtbot, box, repo, tmp_path, monkeypatch):
    choose(monkeypatch, write_mue(tmp_path / MUE, [mue_row("97110", 2)]))
    with qtbot.waitSignal(box.imported, timeout=10000):
        qtbot.mouseClick(box.mue_button, Qt.MouseButton.LeftButton)
    assert box.mue_status.text() == (
        "MUE table in use: CMS practitioner MUE table, effective 2026-01-01 (imported "
        "2026-11-20 by Avery Stone: 1 rows read, 1 kept)")
    bad = write_mue(tmp_path / "MCR_MUE_PractitionerServices_Eff_04-01-2026.csv",
                    [mue_row("97110", 2), mue_row("97110", 3)])
    choose(monkeypatch, bad)
    with qtbot.waitSignal(box.worker.job_failed, timeout=10000):
        qtbot.mouseClick(box.mue_button, Qt.MouseButton.LeftButton)
    assert box.message.text() == (f"Not imported (nothing changed): {bad}, line 6: duplicate "
                                  "row: 97110 is already at line 5")
    assert box.mue_button.isEnabled()
    assert "effective 2026-01-01" in box.mue_status.text()
    assert {code: m.units for code, m in repo.mue_limits().items()} == {"97110": 2}


def test_cancelling_the_file_dialog_imports_nothing(qtbot, box, repo, monkeypatch):
    choose(monkeypatch)
    qtbot.mouseClick(box.ptp_button, Qt.MouseButton.LeftButton)
    assert box.message.text() == "" and box.ptp_button.isEnabled()
    assert repo.rule_release("ncci") is None


def test_settings_shows_the_ncci_edits_on_the_rule_data_tab(qtbot, repo):
    from PySide6.QtWidgets import QGroupBox

    from therapy_timer.ui.settings import SettingsDialog

    dialog = SettingsDialog(repo, None, "Avery Stone")
    qtbot.addWidget(dialog)
    titles = [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())]
    rules = dialog.tabs.widget(titles.index("Rule data"))
    boxes = [b for b in rules.findChildren(QGroupBox) if isinstance(b, NcciEditsBox)]
    assert boxes == [dialog.ncci]
    dialog.ncci.worker.shutdown()


def test_the_review_warns_above_an_imported_mue_and_suggests_xu_for_an_imported_pair(
        qtbot, tmp_path):
    """The review (before Finalize) of a visit billed with the clinic's imported data."""
    from PySide6.QtWidgets import QLabel

    from tests.ui.conftest import seed_clinic
    from therapy_timer.core.model import Performer
    from therapy_timer.ui.clock import FakeClock
    from therapy_timer.ui.finalize import FinalizePage

    clock = FakeClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
    with open_repository(tmp_path / "review.db") as repo:
        clinic = seed_clinic(repo)
        repo.import_ncci([write_ptp(tmp_path / "ccipra-v321r0-f1.TXT",
                                    [ptp_row("97110", "97112")])], now=clock.now())
        repo.import_mue([write_mue(tmp_path / MUE, [mue_row("97110", 2)])], now=clock.now())
        visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, clock.now())
        repo.start_interval(visit.id, "97110", Performer.PT, clock.now())
        clock.advance(minutes=40)
        repo.start_interval(visit.id, "97112", Performer.PT, clock.now())
        clock.advance(minutes=15)
        repo.pause_visit(visit.id, clock.now())
        page = FinalizePage(repo, clock)
        qtbot.addWidget(page)
        page.user = "Dana Test, PT"
        page.load(visit.id)
        page.show()
        layout = page.checks_layout
        shown = [w.text() for i in range(layout.count())
                 if isinstance(w := layout.itemAt(i).widget(), QLabel)]
        assert ("97110: 3 units billed, more than CMS's Medically Unlikely Edit of 2 per day "
                "(MAI 3, date of service edit: clinical; CMS practitioner MUE table, effective "
                "2026-01-01): the units above 2 are likely denied; check the minutes and the "
                "documentation") in shown
        assert ("97112", "XU") in {(s.code, s.modifier) for s in page.billing.suggestions}
        page.close()
