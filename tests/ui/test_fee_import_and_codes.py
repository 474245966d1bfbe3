"""Settings > Fee schedule > Import (the preview of what changes, then the store from a date)
and Settings > Codes (a clinic code that bills by the 8-minute rule and gets a tile from
"Any other code"), driven through the real widgets (issue 12, items 4 and 6)."""

from __future__ import annotations

from datetime import date

import pytest
from PySide6.QtCore import QDate, Qt

from therapy_timer.ui.settings_rates import CodesPage, FeeImportDialog

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def priced(clinic):
    repo = clinic.repo
    repo.save_fee("97110", 4500, date(2026, 1, 1))
    repo.save_fee("97140", 5000, date(2026, 1, 1))
    return clinic


def rows(model):
    return [tuple(model.cell_text(r, c) for c in range(model.columnCount()))
            for r in range(model.rowCount())]


def open_dialog(qtbot, repo, monkeypatch, path, **kwargs):
    monkeypatch.setattr(FeeImportDialog, "choose_file", classmethod(lambda cls, parent: path))
    dialog = FeeImportDialog(repo, "Front Desk", today=date(2026, 12, 1), **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_import_previews_every_change_then_stores_from_1_january(qtbot, priced, tmp_path,
                                                                 monkeypatch):
    repo = priced.repo
    csv = tmp_path / "fees-2027.csv"
    csv.write_text("code,amount\n97110,48.00\n97140,50.00\n97161,120\n", encoding="utf-8")
    dialog = open_dialog(qtbot, repo, monkeypatch, str(csv))
    # In December the dialog offers the new year's first day.
    assert dialog.start.date() == QDate(2027, 1, 1)
    assert not dialog.import_button.isEnabled()
    qtbot.mouseClick(dialog.browse, LEFT)  # choosing the file previews it
    assert dialog.path.text() == str(csv)
    assert rows(dialog.model) == [
        ("97110", "Therapeutic exercise", "$45.00", "$48.00", "changes"),
        ("97140", "Manual therapy", "$50.00", "$50.00", "no change"),
        ("97161", "PT evaluation, low complexity", "—", "$120.00", "new code")]
    assert dialog.message.text() == ("3 row(s) from 01/01/2027: 1 changed, 1 new, 1 "
                                     "unchanged. Import stores them as the clinic's charges "
                                     "(fee schedule).")
    assert repo.fee_schedule(date(2027, 1, 1)) == {"97110": 4500, "97140": 5000}
    # Another date needs another preview before Import.
    dialog.start.setDate(QDate(2027, 2, 1))
    assert not dialog.import_button.isEnabled()
    dialog.start.setDate(QDate(2027, 1, 1))
    qtbot.mouseClick(dialog.preview_button, LEFT)
    assert dialog.import_button.isEnabled()
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        qtbot.mouseClick(dialog.import_button, LEFT)
    assert dialog.result_text == ("Imported fees-2027.csv: 1 changed, 1 new, 1 unchanged, in "
                                  "force from 01/01/2027.")
    assert repo.fee_schedule(date(2026, 12, 31)) == {"97110": 4500, "97140": 5000}
    assert repo.fee_schedule(date(2027, 1, 1)) == {"97110": 4800, "97140": 5000,
                                                   "97161": 12000}
    [entry] = [e for e in repo.audit_entries("fee_schedule") if e.action == "import_fees"]
    assert entry.user == "Front Desk"


def test_a_bad_file_shows_file_line_and_problem_and_stores_nothing(qtbot, priced, tmp_path,
                                                                   monkeypatch):
    repo = priced.repo
    csv = tmp_path / "dupes.csv"
    csv.write_text("97110,48.00\n97140,52\n97110,49\n", encoding="utf-8")
    dialog = open_dialog(qtbot, repo, monkeypatch, str(csv))
    qtbot.mouseClick(dialog.browse, LEFT)
    assert dialog.message.text() == (f"Not imported: {csv}, line 3: 97110 is listed twice "
                                     "(first on line 1); keep one row per code.")
    assert rows(dialog.model) == []
    assert not dialog.import_button.isEnabled()
    csv.write_text("97110,forty-eight\n", encoding="utf-8")
    qtbot.mouseClick(dialog.preview_button, LEFT)
    assert dialog.message.text() == (f"Not imported: {csv}, line 1: amount for 97110: "
                                     "'forty-eight' is not an amount in dollars (for example "
                                     "45.00).")
    csv.write_text("", encoding="utf-8")
    qtbot.mouseClick(dialog.preview_button, LEFT)
    assert dialog.message.text() == (f"Not imported: {csv}: no fee rows (expected lines of "
                                     "code,amount such as 97110,45.00).")
    assert repo.fee_schedule(date(2027, 1, 1)) == {"97110": 4500, "97140": 5000}


def test_a_payers_allowed_amounts_from_the_payer_page(qtbot, priced, tmp_path, monkeypatch):
    """The payer page's Import opens the dialog on that payer; the page then shows the
    amounts in force on its "In force from" date."""
    from dataclasses import replace

    from PySide6.QtWidgets import QDialog

    from therapy_timer.ui.settings_payers import PayersPage

    repo = priced.repo
    payer = repo.list_payers()[0]
    repo.save_payer(replace(payer, allowed_cents={"97110": 3000}))
    csv = tmp_path / "medicare-2027.csv"
    csv.write_text("97110,31.00\n", encoding="utf-8")
    seen = []

    def run_it(self):  # what the user does in the modal dialog: the file, Preview, Import
        seen.append(self.schedule.currentText())
        self.path.setText(str(csv))
        qtbot.mouseClick(self.preview_button, LEFT)
        seen.append(rows(self.model))
        qtbot.mouseClick(self.import_button, LEFT)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(FeeImportDialog, "exec", run_it)
    page = PayersPage(repo, "Front Desk", today=date(2027, 1, 5))
    qtbot.addWidget(page)
    page.show()
    qtbot.mouseClick(page.import_allowed, LEFT)
    assert seen == ["Medicare (test): allowed amounts",
                    [("97110", "Therapeutic exercise", "$30.00", "$31.00", "changes")]]
    assert page.allowed.item(0, 1).text() == "31.00"
    page.allowed_from.setDate(QDate(2026, 12, 31))
    assert page.allowed.item(0, 1).text() == "30.00"
    assert repo.allowed_on(payer.id, date(2026, 12, 31)) == {"97110": 3000}
    assert repo.allowed_on(payer.id, date(2027, 1, 1)) == {"97110": 3100}


def test_a_clinic_timed_code_gets_a_tile_from_any_other_code(qtbot, clinic, panel, clock):
    page = CodesPage(clinic.repo, "Front Desk")
    qtbot.addWidget(page)
    page.show()
    qtbot.keyClicks(page.code, "97110")
    qtbot.keyClicks(page.label, "Mine")
    page.disciplines[next(iter(page.disciplines))].setChecked(True)
    qtbot.mouseClick(page.save_button, LEFT)
    assert "may not reuse a shipped code's number" in page.message.text()
    page.code.clear()
    page.label.clear()
    qtbot.keyClicks(page.code, "97799")
    qtbot.keyClicks(page.label, "Unlisted rehab service (ours)")
    page.kind.setCurrentIndex(page.kind.findData("timed"))
    qtbot.mouseClick(page.save_button, LEFT)
    assert page.message.text() == ("97799 Unlisted rehab service (ours) added: it bills as "
                                   "timed, one-on-one, each 15 minutes (the 8-minute rule).")
    assert rows(page.model) == [("97799", "Unlisted rehab service (ours)", "timed", "PT",
                                 "yes")]
    # The visit screen's "Any other code" box finds it and gives it a tile of its own.
    panel.search.setFocus()
    qtbot.keyClicks(panel.search, "97799")
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.keyClick(panel.search, Qt.Key.Key_Return)
    assert [i.code for i in clinic.repo.running_intervals()] == ["97799"]
    tile = panel.tiles.tiles["97799"]
    for minutes, units in ((7, 0), (1, 1), (14, 1), (1, 2)):  # 7, 8, 22, 23 minutes
        clock.advance(minutes=minutes)
        panel.controller.tick()
        assert tile.units == units
    assert panel.totals.units.value.text() == "2"
