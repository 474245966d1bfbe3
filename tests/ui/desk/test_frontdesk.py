"""Front desk: pick dates, list finalized visits, preview, save, print to a PDF printer."""

from __future__ import annotations

import io
import threading
from datetime import date

import pypdf
import pytest
from PySide6.QtCore import QDate, QSettings, Qt
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtPrintSupport import QPrinter

from therapy_timer.core.records import VisitStatus
from therapy_timer.storage.repository import open_repository
from therapy_timer.ui import frontdesk_jobs
from therapy_timer.ui.frontdesk import FrontDeskPage

from .conftest import END, TIMEOUT, open_desk

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")
PRINTED = 8  # list column (after Paid and Balance, which must always show)


@pytest.fixture
def qsettings(tmp_path):
    return QSettings(str(tmp_path / "app.ini"), QSettings.Format.IniFormat)


def _page(qtbot, repo, worker, clock, qsettings, icd_cache):
    return open_desk(qtbot, repo, worker, clock, icd_cache_dir=icd_cache)


@pytest.fixture
def page(qtbot, repo, worker, clock, qsettings, icd_cache):
    return _page(qtbot, repo, worker, clock, qsettings, icd_cache)


def _finalized(repo, day):
    return [s for s in repo.visits_on(day) if s.status is VisitStatus.FINALIZED]


def _cells(page, column):
    return [page.model.cell_text(r, column) for r in range(page.model.rowCount())]


def _pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)


def _click_row(qtbot, page, row):
    rect = page.table.visualRect(page.model.index(row, 2))
    with qtbot.waitSignal(page.document_ready, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    return blocker.args[0]


def _pdf_printer(path) -> QPrinter:
    printer = QPrinter(QPrinter.PrinterMode.ScreenResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(path))
    return printer


def test_lists_todays_finalized_visits(qtbot, page, repo):
    expected = _finalized(repo, END)
    assert expected, "the demo clinic has visits on its last day"
    assert page.date_range() == (END, END)
    assert page.model.rowCount() == len(expected)
    assert sorted(_cells(page, 2)) == sorted(s.patient_name for s in expected)
    assert set(_cells(page, 0)) == {f"{END:%m/%d/%Y}"}
    assert page.table.isColumnHidden(0)  # one day: the date is in the picker
    assert all(c.startswith("$") for c in _cells(page, 5))
    assert set(_cells(page, PRINTED)) == {""}  # nothing printed yet
    assert f"{len(expected)} finalized visits on {END:%m/%d/%Y}" in page.summary.text()


def test_pick_a_date_and_a_range(qtbot, page, repo):
    earlier = date(2026, 3, 4)
    with qtbot.waitSignal(page.listed, timeout=TIMEOUT):
        page.start_edit.setDate(QDate(2026, 3, 4))
    # Moving the start keeps the end: the range is 4 to 6 March.
    assert page.date_range() == (earlier, END)
    total = sum(len(_finalized(repo, date(2026, 3, d))) for d in (4, 5, 6))
    assert page.model.rowCount() == total
    assert "03/04/2026 to 03/06/2026" in page.summary.text()
    assert not page.table.isColumnHidden(0)  # a range: each row says its day
    with qtbot.waitSignal(page.listed, timeout=TIMEOUT):
        page.end_edit.setDate(QDate(2026, 3, 4))
    assert page.model.rowCount() == len(_finalized(repo, earlier))
    with qtbot.waitSignal(page.listed, timeout=TIMEOUT):
        qtbot.mouseClick(page.today_button, Qt.MouseButton.LeftButton)
    assert page.date_range() == (END, END)


def test_open_visits_are_counted_not_listed(qtbot, repo, worker, clock, qsettings, icd_cache):
    patient = repo.search_patients("", limit=1)[0]
    provider = repo.list_providers()[0]
    repo.start_visit(patient.id, provider.id, None, clock.now())
    page = _page(qtbot, repo, worker, clock, qsettings, icd_cache)
    assert "1 visit is still open (not billable yet)" in page.summary.text()
    assert page.model.rowCount() == len(_finalized(repo, END))


def test_select_a_visit_previews_its_superbill(qtbot, page, repo):
    kind = _click_row(qtbot, page, 0)
    assert kind == "superbill"
    row = page.model.row(0)
    assert page.document.pageCount() >= 1
    assert row.patient in page.preview_title.text()
    text = _pdf_text(page.current_pdf)
    assert "Maple Grove Therapy" in text
    last, first = row.patient.split(", ")
    assert first in text and last in text
    assert page.print_button.isEnabled() and page.save_button.isEnabled()


def test_pdf_build_runs_on_the_worker(qtbot, page, monkeypatch):
    threads = []
    real = frontdesk_jobs.superbill_pdf

    def spy(repo, visit_id, describe):
        threads.append(threading.get_ident())
        return real(repo, visit_id, describe)

    monkeypatch.setattr(frontdesk_jobs, "superbill_pdf", spy)
    _click_row(qtbot, page, 1)
    assert threads and threads[0] != threading.get_ident()


def test_save_as_pdf(qtbot, page, tmp_path, monkeypatch):
    _click_row(qtbot, page, 0)
    target = tmp_path / "out" / "bill.pdf"
    target.parent.mkdir()
    suggested = []

    def ask(parent, name):
        suggested.append(name)
        return str(target)

    monkeypatch.setattr(FrontDeskPage, "ask_save_path", classmethod(lambda cls, p, n: ask(p, n)))
    with qtbot.waitSignal(page.listed, timeout=TIMEOUT), \
            qtbot.waitSignal(page.saved, timeout=TIMEOUT) as blocker:  # the list shows the mark
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [str(target)]
    assert suggested[0].startswith("superbill-") and suggested[0].endswith(".pdf")
    assert target.read_bytes() == page.current_pdf
    assert f"Saved {target}" in page.status.text()
    assert [p.name for p in target.parent.iterdir()] == ["bill.pdf"]  # no temp file left


def test_save_to_a_missing_folder_is_refused(qtbot, page, tmp_path, monkeypatch):
    _click_row(qtbot, page, 0)
    target = tmp_path / "nowhere" / "bill.pdf"
    monkeypatch.setattr(FrontDeskPage, "ask_save_path", classmethod(lambda c, p, n: str(target)))
    with qtbot.waitSignal(page.failed, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert "does not exist" in blocker.args[0]
    assert str(target.parent) in page.status.text()
    assert not target.parent.exists()


def test_print_one_superbill_to_a_pdf_printer(qtbot, page, tmp_path, monkeypatch, qsettings,
                                              repo, worker, clock, icd_cache):
    _click_row(qtbot, page, 0)
    visit_id = page.model.row(0).visit_id
    out = tmp_path / "printed.pdf"
    monkeypatch.setattr(FrontDeskPage, "ask_printer", classmethod(lambda c, p: _pdf_printer(out)))
    with qtbot.waitSignal(page.printed, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(page.print_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [[visit_id]]
    printed = pypdf.PdfReader(out)
    assert len(printed.pages) == page.document.pageCount()
    assert "1 page" in page.status.text() or "pages" in page.status.text()
    with qtbot.waitSignal(page.listed, timeout=TIMEOUT):
        pass
    marks = _cells(page, PRINTED)
    assert marks[0].startswith("✓") and set(marks[1:]) == {""}
    # The mark is in the database (not this computer's settings), with who and when.
    assert repo.printed_at(visit_id) == clock.now()
    assert not [key for key in qsettings.allKeys() if "printed" in key]
    entry = repo.audit_entries("visit", visit_id)[0]
    assert (entry.action, entry.user) == ("printed", "Front Desk")
    # It survives reopening the database: a new page on a new connection shows it.
    reopened = open_repository(repo.path)
    try:
        assert reopened.printed_at(visit_id) == clock.now()
        again = _page(qtbot, reopened, worker, clock, qsettings, icd_cache)
        assert _cells(again, PRINTED)[0].startswith("✓")
        assert set(_cells(again, PRINTED)[1:]) == {""}
        again.close()
    finally:
        reopened.close()


def test_print_cancelled(qtbot, page, monkeypatch):
    _click_row(qtbot, page, 0)
    monkeypatch.setattr(FrontDeskPage, "ask_printer", classmethod(lambda c, p: None))
    assert page.print_button.shortcut().toString() == "Ctrl+P"
    assert "Ctrl+P" in page.print_button.toolTip()
    qtbot.mouseClick(page.print_button, Qt.MouseButton.LeftButton)
    assert page.status.text() == "Printing cancelled."
    assert set(_cells(page, PRINTED)) == {""}


def test_print_all_superbills_as_one_job(qtbot, page, tmp_path, monkeypatch):
    count = page.model.rowCount()
    assert page.all_button.text() == f"All superbills ({count})"
    with qtbot.waitSignal(page.document_ready, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(page.all_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["superbills"]
    assert page.document.pageCount() >= count
    text = _pdf_text(page.current_pdf)
    for patient in _cells(page, 2):
        assert patient.split(", ")[0] in text
    out = tmp_path / "all.pdf"
    monkeypatch.setattr(FrontDeskPage, "ask_printer", classmethod(lambda c, p: _pdf_printer(out)))
    with qtbot.waitSignal(page.printed, timeout=TIMEOUT) as printed:
        qtbot.mouseClick(page.print_button, Qt.MouseButton.LeftButton)
    assert sorted(printed.args[0]) == sorted(r.visit_id for r in page.model.rows())
    assert len(pypdf.PdfReader(out).pages) == page.document.pageCount()
    with qtbot.waitSignal(page.listed, timeout=TIMEOUT):
        pass
    assert all(mark.startswith("✓") for mark in _cells(page, PRINTED))


def test_day_sheet_preview_and_save(qtbot, page, tmp_path, monkeypatch, repo):
    with qtbot.waitSignal(page.document_ready, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(page.daysheet_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["daysheet"]
    text = _pdf_text(page.current_pdf)
    assert "Day sheet" in text or "DAY SHEET" in text.upper()
    for summary in _finalized(repo, END):
        assert summary.provider_name.split(",")[0] in text
    target = tmp_path / "sheet.pdf"
    monkeypatch.setattr(FrontDeskPage, "ask_save_path", classmethod(lambda c, p, n: str(target)))
    with qtbot.waitSignal(page.saved, timeout=TIMEOUT):
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert target.read_bytes().startswith(b"%PDF")


def test_a_day_without_visits(qtbot, page):
    with qtbot.waitSignal(page.listed, timeout=TIMEOUT):
        page.set_range(date(2026, 6, 1))
    assert page.model.rowCount() == 0
    assert not page.all_button.isEnabled()
    assert "0 finalized visits on 06/01/2026" in page.summary.text()


def test_model_passes_qtmodeltester(qtmodeltester, page):
    qtmodeltester.check(page.model)


def test_screenshot_preview_on_white(qtbot, page, shots):
    _click_row(qtbot, page, 0)
    qtbot.wait(50)
    image = page.grab().toImage()
    assert page.grab().save(str(shots / "frontdesk.png"))
    view = page.preview.viewport()
    corner = view.mapTo(page, view.rect().center())
    colour = image.pixelColor(corner.x(), min(corner.y(), image.height() - 1))
    assert colour.lightness() > 200  # the page is painted on white, not transparent
    page.zoom.setCurrentText("Whole page")
    assert page.preview.zoomMode() == QPdfView.ZoomMode.FitInView
    page.zoom.setCurrentText("150%")
    assert page.preview.zoomFactor() == pytest.approx(1.5)
