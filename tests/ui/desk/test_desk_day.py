"""The front desk's day (issue 16, item 16): Save as PDF marks the visit printed, insurance
payments, adjustments and write-offs lower the balance, the day sheet totals payments by kind and
by method, Export CSV and Backup from the File menu, the money columns at 1024 x 700, and US
dates and 12-hour times on the screen."""

from __future__ import annotations

import csv
import io
import sqlite3

import pypdf
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog, QToolBar

from therapy_timer.ui.clock import on_screen
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.file_actions import ExportRangeDialog
from therapy_timer.ui.frontdesk import FrontDeskPage
from therapy_timer.ui.models import money
from therapy_timer.ui.payments import PaymentDialog

from .conftest import END, TIMEOUT, open_desk

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")
LEFT = Qt.MouseButton.LeftButton
TIME, PATIENT, PAID, BALANCE, PRINTED = 1, 2, 6, 7, 8


def _select(qtbot, page, row):
    rect = page.table.visualRect(page.model.index(row, PATIENT))
    with qtbot.waitSignal(page.document_ready, timeout=TIMEOUT):
        qtbot.mouseClick(page.table.viewport(), LEFT, pos=rect.center())


def _pdf_text(data: bytes) -> str:
    pages = pypdf.PdfReader(io.BytesIO(data)).pages
    return " ".join(" ".join(p.extract_text() for p in pages).split())


def _row_of(page, visit_id):
    return next(i for i in range(page.model.rowCount())
                if page.model.row(i).visit_id == visit_id)


# -- Save as PDF sets the Printed mark ------------------------------------------------------


def test_save_as_pdf_sets_the_printed_mark(qtbot, page, repo, clock, tmp_path, monkeypatch):
    _select(qtbot, page, 0)
    visit_id = page.model.row(0).visit_id
    assert page.model.cell_text(0, PRINTED) == ""
    target = tmp_path / "bill.pdf"
    monkeypatch.setattr(FrontDeskPage, "ask_save_path", classmethod(lambda c, p, n: str(target)))
    with qtbot.waitSignal(page.listed, timeout=TIMEOUT), \
            qtbot.waitSignal(page.saved, timeout=TIMEOUT):
        qtbot.mouseClick(page.save_button, LEFT)
    assert target.read_bytes().startswith(b"%PDF")
    assert repo.printed_at(visit_id) == clock.now()  # stored, not only shown
    row = _row_of(page, visit_id)
    shown = on_screen(clock.now())  # the clinic's zone in the app (this computer's here)
    assert page.model.cell_text(row, PRINTED) == f"✓ {shown:%m/%d}"
    tip = page.model.data(page.model.index(row, PRINTED), Qt.ItemDataRole.ToolTipRole)
    hour = shown.hour % 12 or 12
    assert tip == (f"Printed or saved {shown:%m/%d/%Y} {hour}:{shown:%M} "
                   f"{'AM' if shown.hour < 12 else 'PM'}")
    assert repo.audit_entries("visit", visit_id)[0].action == "printed"


def test_saving_a_day_sheet_marks_no_visit(qtbot, page, repo, tmp_path, monkeypatch):
    with qtbot.waitSignal(page.document_ready, timeout=TIMEOUT):
        qtbot.mouseClick(page.daysheet_button, LEFT)
    target = tmp_path / "sheet.pdf"
    monkeypatch.setattr(FrontDeskPage, "ask_save_path", classmethod(lambda c, p, n: str(target)))
    with qtbot.waitSignal(page.saved, timeout=TIMEOUT):
        qtbot.mouseClick(page.save_button, LEFT)
    assert all(repo.printed_at(r.visit_id) is None for r in page.model.rows())


# -- payment kinds ----------------------------------------------------------------------------


def _answer_with_dialog(monkeypatch, qtbot, fill):
    """Replaces ``PaymentDialog.ask`` by the real dialog, filled in by ``fill(dialog)`` (which
    clicks its buttons as the desk would)."""
    def ask(cls, parent, title, charges, paid):
        dialog = cls(title, charges, paid, parent)
        qtbot.addWidget(dialog)
        dialog.show()
        fill(dialog)
        return dialog.entry() if dialog.result() == dialog.DialogCode.Accepted else None
    monkeypatch.setattr(PaymentDialog, "ask", classmethod(ask))


def _record(qtbot, page, monkeypatch, kind_label, amount, method_label=None, reference=""):
    def fill(dialog):
        dialog.kind.setCurrentIndex(dialog.kind.findText(kind_label))
        if method_label is not None:
            assert dialog.method.isEnabled()
            dialog.method.setCurrentIndex(dialog.method.findText(method_label))
        else:
            assert not dialog.method.isEnabled()  # no money moved: no method
        dialog.amount.selectAll()
        qtbot.keyClicks(dialog.amount, amount)
        if reference:
            qtbot.keyClicks(dialog.reference, reference)
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), LEFT)
    _answer_with_dialog(monkeypatch, qtbot, fill)
    with qtbot.waitSignal(page.listed, timeout=TIMEOUT), \
            qtbot.waitSignal(page.document_ready, timeout=TIMEOUT):
        qtbot.mouseClick(page.payment_button, LEFT)


def test_insurance_payment_adjustment_and_write_off_lower_the_balance(qtbot, page, repo,
                                                                      monkeypatch):
    _select(qtbot, page, 0)
    row = page.model.row(0)
    charges = row.charges_cents
    assert charges > 6000
    _record(qtbot, page, monkeypatch, "Insurance payment", "40.00", "Check", "EOB 1182")
    _record(qtbot, page, monkeypatch, "Adjustment", "15.00", reference="contractual")
    _record(qtbot, page, monkeypatch, "Patient payment", "5.00", "Cash")
    _record(qtbot, page, monkeypatch, "Write-off", "1.00", reference="small balance")
    stored = repo.payments_for(row.visit_id)
    assert [(p.kind, p.cents, p.method) for p in stored] == [
        ("insurance", 4000, "check"), ("adjustment", 1500, "other"),
        ("patient", 500, "cash"), ("write-off", 100, "other")]
    credits = repo.payment_totals([row.visit_id])[row.visit_id]
    assert (credits.received, credits.adjusted) == (4500, 1600)
    i = _row_of(page, row.visit_id)
    assert page.model.cell_text(i, PAID) == "$45.00"  # money received
    assert page.model.cell_text(i, BALANCE) == money(charges - 4500 - 1600)
    assert "$16.00 adjusted or written off" in page.payments.title.text()
    kinds = [page.payments.model.cell_text(r, 2) for r in range(4)]
    assert kinds == ["Insurance", "Adjustment", "Patient", "Write-off"]
    assert page.payments.model.cell_text(1, 3) == "—"  # an adjustment has no method
    assert page.status.text() == f"Recorded a write-off of $1.00 for {row.patient}."
    text = _pdf_text(page.current_pdf)
    assert "Paid by insurance $40.00" in text and "Paid by patient $5.00" in text
    assert "Adjustments, write-offs -$16.00" in text
    assert f"Balance due {money(charges - 6100)}" in text


def test_the_day_sheet_totals_payments_by_kind_and_by_method(qtbot, page, repo, clock):
    first, second = page.model.row(0), page.model.row(1)
    repo.record_payment(first.visit_id, 2500, "card", at=clock.now(), user="desk")
    repo.record_payment(second.visit_id, 1000, "cash", at=clock.now(), user="desk")
    repo.record_payment(first.visit_id, 6000, "check", at=clock.now(), user="desk",
                        kind="insurance")
    repo.record_payment(second.visit_id, 700, "card", at=clock.now(), user="desk",
                        kind="adjustment")
    with qtbot.waitSignal(page.document_ready, timeout=TIMEOUT):
        qtbot.mouseClick(page.daysheet_button, LEFT)
    text = _pdf_text(page.current_pdf)
    assert "Payments received $95.00" in text
    assert "Adjustments and write-offs $7.00" in text
    for item in ("Patient payment $35.00", "Insurance payment $60.00", "Adjustment $7.00",
                 "Card $25.00", "Cash $10.00", "Check $60.00"):
        assert item in text, item
    assert f"DAY SHEET {END:%m/%d/%Y}" in text.upper()


# -- 1024 x 700: Paid and Balance in view ------------------------------------------------------


def _assert_money_columns_visible(page):
    table = page.table
    header = table.horizontalHeader()
    width = table.viewport().width()
    for column in (PAID, BALANCE):
        left = header.sectionViewportPosition(column)
        assert not table.isColumnHidden(column)
        assert left >= 0 and left + header.sectionSize(column) <= width, (
            column, left, header.sectionSize(column), width)
        # The whole amount fits: the section is at least as wide as its widest cell.
        assert header.sectionSize(column) >= table.sizeHintForColumn(column) - 1


def test_paid_and_balance_stay_visible_at_1024_by_700(qtbot, repo, worker, clock, tmp_path):
    from therapy_timer.ui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(repo, clock, db_path=str(repo.path), worker=worker, settings=settings,
                     remember_size=False)
    qtbot.addWidget(win)
    win.resize(1024, 700)
    win.show()
    qtbot.waitExposed(win)
    bar = win.findChild(QToolBar, "navigate")
    with qtbot.waitSignal(win.frontdesk.listed, timeout=TIMEOUT):
        qtbot.mouseClick(bar.widgetForAction(win.frontdesk_action), LEFT)
    page = win.frontdesk
    assert win.width() == 1024 and page.isVisible()
    # The worst case: a week (the Date column shows), printed marks, payments, long names.
    visit_id = None
    with qtbot.waitSignal(page.listed, timeout=TIMEOUT):
        page.set_range(END.replace(day=2), END)
    visit_id = page.model.row(0).visit_id
    patient = repo.get_patient(repo.get_visit(visit_id).patient_id)
    from dataclasses import replace
    repo.save_patient(replace(patient, last_name="Vandenberghe-Montgomery-Castellanos",
                              first_name="Maximiliana"))
    repo.record_payment(visit_id, 123456, "check", at=clock.now(), user="desk")
    repo.mark_printed([r.visit_id for r in page.model.rows()], clock.now(), user="desk")
    with qtbot.waitSignal(page.listed, timeout=TIMEOUT):
        page.refresh()
    assert not page.table.isColumnHidden(0)
    qtbot.wait(20)
    _assert_money_columns_visible(page)
    i = _row_of(page, visit_id)
    assert page.model.cell_text(i, PAID) == "$1,234.56"
    # The long name is elided in the cell, whole in its tooltip.
    tip = page.model.data(page.model.index(i, PATIENT), Qt.ItemDataRole.ToolTipRole)
    assert "Vandenberghe-Montgomery-Castellanos, Maximiliana" in tip
    # One day (Date hidden) at the minimum too.
    with qtbot.waitSignal(page.listed, timeout=TIMEOUT):
        page.set_range(END, END)
    qtbot.wait(20)
    _assert_money_columns_visible(page)
    win.close()


# -- US dates and 12-hour times on the screen ------------------------------------------------


def test_the_desk_shows_us_dates_and_12_hour_times(qtbot, page, repo):
    assert page.start_edit.displayFormat() == "ddd MM/dd/yyyy"
    assert page.start_edit.text().endswith(f"{END:%m/%d/%Y}")
    times = [page.model.cell_text(r, TIME) for r in range(page.model.rowCount())]
    assert times and all(t.endswith((" AM", " PM")) for t in times), times
    assert times[0] == "8:00 AM"
    assert f"on {END:%m/%d/%Y}," in page.summary.text()
    _select(qtbot, page, 0)
    assert f"{END:%m/%d/%Y}" in page.preview_title.text()
    text = _pdf_text(page.current_pdf)
    assert "Session 8:00–" in text and " AM CST" in text or " PM CST" in text


# -- File menu: Export CSV and Backup ----------------------------------------------------------


@pytest.fixture
def window(qtbot, repo, worker, clock, tmp_path):
    from therapy_timer.ui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(repo, clock, db_path=str(repo.path), worker=worker, settings=settings,
                     remember_size=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def _file_menu_action(win, text):
    menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&File")
    return next(a for a in menu.actions() if a.text().replace("&", "").startswith(text))


def _save_as(monkeypatch, path, seen=None):
    def dialog(parent, caption, suggested, filters):
        if seen is not None:
            seen.append((caption, suggested, filters))
        return (str(path) if path else "", "")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))


def _informs(monkeypatch):
    said = []
    monkeypatch.setattr(Ask, "inform", classmethod(lambda c, p, t, x: said.append((t, x))))
    return said


def _warns(monkeypatch):
    said = []
    monkeypatch.setattr(Ask, "warn", classmethod(lambda c, p, t, x: said.append((t, x))))
    return said


def _choose_range(monkeypatch, qtbot, start, end):
    """The export's date dialog (modal) replaced by the real dialog, shown without blocking,
    its dates set and its OK button clicked as the desk would."""
    def ask(cls, parent, first, last):
        dialog = cls(first, last, parent)
        qtbot.addWidget(dialog)
        dialog.show()
        dialog.start_edit.setDate(start)
        dialog.end_edit.setDate(end)
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), LEFT)
        assert dialog.result() == dialog.DialogCode.Accepted, dialog.error.text()
        return dialog.dates()
    monkeypatch.setattr(ExportRangeDialog, "ask", classmethod(ask))


def test_export_csv_from_the_file_menu(qtbot, window, repo, tmp_path, monkeypatch):
    target = tmp_path / "march.csv"
    seen = []
    _save_as(monkeypatch, tmp_path / "march", seen)  # ".csv" is added
    said = _informs(monkeypatch)
    _choose_range(monkeypatch, qtbot, END.replace(day=2), END)
    with qtbot.waitSignal(window.file_actions.exported, timeout=TIMEOUT) as done:
        _file_menu_action(window, "Export charge lines (CSV)").trigger()
    assert seen[0][0] == "Export charge lines"
    assert seen[0][1].endswith("charges-2026-03-02_2026-03-06.csv")
    assert done.args[0] == str(target)
    with target.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == done.args[1] > 0
    assert {r["service_date"] for r in rows} <= {f"2026-03-0{d}" for d in range(2, 7)}
    assert said == [("Export finished", f"Exported {len(rows)} charge lines of 03/02/2026 to "
                                        f"03/06/2026 to {target}.")]
    assert str(target) in window.statusBar().currentMessage()


def test_export_csv_cancelled_at_the_file_dialog_writes_nothing(qtbot, window, tmp_path,
                                                                 monkeypatch):
    _save_as(monkeypatch, None)
    _choose_range(monkeypatch, qtbot, END, END)
    assert window.file_actions.export_csv() is False
    assert list(tmp_path.glob("*.csv")) == []


def test_export_csv_to_a_missing_folder_says_so(qtbot, window, tmp_path, monkeypatch):
    target = tmp_path / "nowhere" / "out.csv"
    _save_as(monkeypatch, target)
    warned = _warns(monkeypatch)
    _choose_range(monkeypatch, qtbot, END, END)
    with qtbot.waitSignal(window.file_actions.failed, timeout=TIMEOUT):
        window.file_actions.export_csv()
    (title, text), = warned
    assert title == "Export failed"
    assert str(target.parent) in text and "Nothing was written." in text
    assert not target.parent.exists()


def test_the_export_dialog_refuses_a_backwards_range(qtbot):
    dialog = ExportRangeDialog(END, END)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.start_edit.setDate(END)
    dialog.end_edit.setDate(END.replace(day=1))
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), LEFT)
    assert dialog.isVisible()
    assert "ends" in dialog.error.text() and "before it starts" in dialog.error.text()


def test_backup_from_the_file_menu(qtbot, window, repo, tmp_path, monkeypatch):
    target = tmp_path / "copy.sqlite"
    seen = []
    _save_as(monkeypatch, target, seen)
    said = _informs(monkeypatch)
    with qtbot.waitSignal(window.file_actions.backed_up, timeout=TIMEOUT):
        _file_menu_action(window, "Backup").trigger()
    assert seen[0][0] == "Back up the database"
    assert "backup-2026-03-06" in seen[0][1]
    copy = sqlite3.connect(target)
    try:
        visits = copy.execute("SELECT count(*) FROM visits").fetchone()[0]
    finally:
        copy.close()
    assert visits == repo.conn.execute("SELECT count(*) FROM visits").fetchone()[0]
    (title, text), = said
    assert title == "Backup finished" and str(target) in text
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_backup_over_the_database_itself_is_refused(qtbot, window, repo, monkeypatch):
    _save_as(monkeypatch, repo.path)
    warned = _warns(monkeypatch)
    assert window.file_actions.backup() is False
    (title, text), = warned
    assert title == "Backup failed" and "another file than the database" in text


def test_backup_into_a_missing_folder_says_so(qtbot, window, tmp_path, monkeypatch):
    target = tmp_path / "gone" / "copy.sqlite"
    _save_as(monkeypatch, target)
    warned = _warns(monkeypatch)
    with qtbot.waitSignal(window.file_actions.failed, timeout=TIMEOUT):
        window.file_actions.backup()
    (title, text), = warned
    assert title == "Backup failed" and str(target.parent) in text


def test_open_desk_is_shared(qtbot, repo, worker, clock):
    page = open_desk(qtbot, repo, worker, clock)
    assert page.splitter.sizes()[0] >= page.splitter.sizes()[1]


def test_backup_over_the_databases_wal_or_a_folder_is_refused_from_the_menu(
        qtbot, window, repo, tmp_path, monkeypatch):
    """The menu item runs the backup command's own checks (issue 11, item 1)."""
    import hashlib
    from pathlib import Path

    repo.save_fee("97530", 6100, END)  # a recent commit, in the -wal
    wal = Path(f"{repo.path}-wal")

    def digests():
        return [hashlib.sha256(p.read_bytes()).hexdigest() for p in (Path(repo.path), wal)]

    before = digests()
    for target, words in ((wal, "write-ahead log"), (tmp_path, "is a folder")):
        _save_as(monkeypatch, target)
        warned = _warns(monkeypatch)
        _file_menu_action(window, "Backup").trigger()
        (title, text), = warned
        assert title == "Backup failed" and words in text, text
        assert text.endswith("Nothing was written.")
        assert digests() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
def test_backup_from_the_file_menu_copies_the_audit_anchor_beside_it(
        qtbot, window, repo, tmp_path, monkeypatch, _isolated_session_dirs, _isolated_user_dirs):
    """Issue 11, item 8: the backup's companion file carries the anchor key and checkpoints
    (owner-only), and the message says to keep it apart."""
    import shutil
    import stat

    from therapy_timer.cli import main

    key_id = repo.anchor.key_id
    mine = _isolated_user_dirs / "xdg_config_home" / "therapy-timer" / "audit-anchors"
    mine.mkdir(parents=True, exist_ok=True)
    shutil.copy(_isolated_session_dirs / "xdg_config_home" / "therapy-timer" / "audit-anchors"
                / f"{key_id}.key", mine / f"{key_id}.key")  # this computer holds the key
    target = tmp_path / "copy.sqlite"
    _save_as(monkeypatch, target, [])
    said = _informs(monkeypatch)
    with qtbot.waitSignal(window.file_actions.backed_up, timeout=TIMEOUT):
        _file_menu_action(window, "Backup").trigger()
    companion = tmp_path / "copy.sqlite.anchor"
    (title, text), = said
    assert f"Its audit anchor key and checkpoints are in {companion}: keep that file apart" \
           " from the backup" in text
    assert stat.S_IMODE(companion.stat().st_mode) == 0o600
    assert main(["verify", "--db", str(target), "--key", str(companion)]) == 0
