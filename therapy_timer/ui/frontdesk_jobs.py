"""The front desk's background jobs: list the range's visits, build PDFs, print, save.

Every function here runs on the worker thread (``ui/workers.py``) and takes its own
repository (opened for the job) or plain data; none touches a widget. PDF bytes travel back to
the UI thread for the preview; printing paints those bytes onto a ``QPrinter`` page by page.

Public names: ``DeskRow``, ``DeskList``, ``load_desk_list(repo, start, end, now)``,
``superbill_pdf(repo, visit_id, describe)`` and ``superbills_pdf(repo, start, end, describe)``
(each a ``Built``: bytes, visit ids, what the superbills lack),
``daysheet_pdf(repo, start, end, now)``, ``print_pdf(pdf_bytes, printer) -> pages``,
``save_pdf(pdf_bytes, path) -> Path``, ``icd_describer(cache_dir=None)``; and, for the UI
thread, ``PrintedMarks(repo)``: when each visit was printed (the repository's
``mark_printed``/``printed_marks``, so every workstation sees the same marks).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from therapy_timer.core.records import VisitStatus
from therapy_timer.core.superbill_build import (
    billable_visit_ids,
    credits_by_visit,
    days,
    daysheet_for_range,
    superbill_for_visit,
)

MEMORY = ":memory:"
PRINT_DPI = 300


@dataclass(frozen=True, slots=True)
class DeskRow:
    """One finalized visit as the front desk lists it."""

    visit_id: int
    day: date
    start: datetime | None  # session start in the clinic's zone
    patient: str
    chart_number: str
    provider: str
    discipline: str
    units: int
    charges_cents: int
    printed_at: datetime | None = None
    paid_cents: int = 0  # money received (patient and insurance payments)
    adjusted_cents: int = 0  # adjustments and write-offs

    @property
    def balance_cents(self) -> int:
        """Charges less payments, adjustments and write-offs (negative: a credit from an
        overpayment)."""
        return self.charges_cents - self.paid_cents - self.adjusted_cents


@dataclass(frozen=True, slots=True)
class DeskList:
    """The range's finalized visits, and how many are still open (not billable yet)."""

    start: date
    end: date
    rows: tuple[DeskRow, ...]
    open_visits: int


def load_desk_list(repo, start: date, end: date, now: datetime | None = None) -> DeskList:
    """Finalized visits from ``start`` to ``end`` with their totals and payments (a few indexed
    queries)."""
    zone = repo.clinic_zone()
    rows = []
    open_count = 0
    for day in days(start, end):
        for summary in repo.visits_on(day, now):
            if summary.status is VisitStatus.OPEN:
                open_count += 1
                continue
            if summary.status is not VisitStatus.FINALIZED:
                continue
            visit = summary.visit
            lines = repo.charge_lines(visit.id)
            begin = visit.session_start.astimezone(zone) if visit.session_start else None
            rows.append(DeskRow(
                visit.id, visit.day, begin, summary.patient_name, summary.chart_number,
                summary.provider_name, summary.discipline.value,
                sum(line.units for line in lines), sum(line.charge_cents for line in lines)))
    credits = credits_by_visit(repo, [row.visit_id for row in rows])
    rows = [replace(row, paid_cents=credits[row.visit_id].received,
                    adjusted_cents=credits[row.visit_id].adjusted) for row in rows]
    return DeskList(start, end, tuple(rows), open_count)


def icd_describer(cache_dir: str | Path | None = None) -> Callable[[str], str]:
    """ICD-10-CM descriptions (``storage.icd_index.describer``); call on the worker thread."""
    from therapy_timer.storage.icd_index import describer

    return describer(cache_dir)


def _render(writer: Callable[[io.BytesIO], None]) -> bytes:
    stream = io.BytesIO()
    writer(stream)
    return stream.getvalue()


@dataclass(frozen=True, slots=True)
class Built:
    """A built document: its bytes, the visits it holds, and what its superbills lack
    (``core.superbill_check.Gap``, once each)."""

    pdf: bytes
    visit_ids: tuple[int, ...]
    gaps: tuple = ()


def _distinct_gaps(items) -> tuple:
    return tuple(dict.fromkeys(gap for item in items for gap in item.gaps))


def superbill_pdf(repo, visit_id: int, describe: Callable[[str], str] | None = None) -> Built:
    """One finalized visit's superbill as PDF bytes, with what it lacks."""
    from therapy_timer.pdf import render_superbill

    data = superbill_for_visit(repo, visit_id, describe or icd_describer())
    return Built(_render(lambda stream: render_superbill(data, stream)), (visit_id,),
                 _distinct_gaps([data]))


def superbills_pdf(repo, start: date, end: date,
                   describe: Callable[[str], str] | None = None) -> Built:
    """Every finalized visit's superbill in the range, in one PDF; also the visit ids and
    what the superbills lack.

    Raises:
        ValueError: no finalized visit in the range.
    """
    from therapy_timer.pdf import render_superbills

    ids = tuple(billable_visit_ids(repo, start, end))
    if not ids:
        raise ValueError(f"no finalized visits from {start} to {end}")
    describe = describe or icd_describer()
    items = [superbill_for_visit(repo, visit_id, describe) for visit_id in ids]
    return Built(_render(lambda stream: render_superbills(items, stream)), ids,
                 _distinct_gaps(items))


def daysheet_pdf(repo, start: date, end: date, now: datetime | None = None) -> bytes:
    """The day sheet for the range as PDF bytes."""
    from therapy_timer.pdf import render_daysheet

    data = daysheet_for_range(repo, start, end, now)
    return _render(lambda stream: render_daysheet(data, stream))


def save_pdf(pdf: bytes, path: str | Path) -> Path:
    """Writes the bytes atomically (temporary file, then rename); errors name the path."""
    from therapy_timer.pdf import write_atomically

    return write_atomically(path, lambda stream: stream.write(pdf))


def print_pdf(pdf: bytes, printer) -> int:
    """Paints every page of ``pdf`` onto ``printer`` (one job); returns the page count.

    Pages are rendered at the printer's resolution onto white and centred, keeping their
    aspect. Runs on the worker thread (QPainter on a QPrinter is allowed off the GUI thread).

    Raises:
        RuntimeError: the PDF cannot be read, or the printer cannot start the job.
    """
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRect, QSize, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtPdf import QPdfDocument
    from PySide6.QtPrintSupport import QPrinter

    from therapy_timer.ui import pyside_guard  # noqa: F401

    buffer = QBuffer()
    buffer.setData(QByteArray(pdf))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    document = QPdfDocument()
    try:
        document.load(buffer)
        if document.status() != QPdfDocument.Status.Ready or document.pageCount() == 0:
            raise RuntimeError(f"the PDF could not be read for printing ({document.error()})")
        painter = QPainter()
        if not painter.begin(printer):
            raise RuntimeError("the printer could not start the job (is it connected?)")
        try:
            dpi = printer.resolution()
            area = printer.pageLayout().paintRectPixels(dpi)
            target_area = QRect(0, 0, area.width(), area.height())
            for page in range(document.pageCount()):
                if page:
                    printer.newPage()
                points = document.pagePointSize(page)
                scale = min(target_area.width() / points.width(),
                            target_area.height() / points.height())
                target = QRect(0, 0, int(points.width() * scale), int(points.height() * scale))
                target.moveCenter(target_area.center())
                # Rasterise at no more than PRINT_DPI: a 1200 dpi page would need 500 MB.
                pixels = min(dpi, PRINT_DPI) / 72.0
                size = QSize(int(points.width() * pixels), int(points.height() * pixels))
                image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
                image.fill(Qt.GlobalColor.white)
                paint = QPainter(image)
                paint.drawImage(0, 0, document.render(page, size))
                paint.end()
                painter.drawImage(target, image)
        finally:
            painter.end()
        if printer.printerState() == QPrinter.PrinterState.Error:
            raise RuntimeError("the printer reported an error")
        return document.pageCount()
    finally:
        document.close()
        buffer.close()


class PrintedMarks:
    """When each visit's superbill was printed: the repository's marks, on the UI thread."""

    def __init__(self, repo) -> None:
        self.repo = repo

    def printed_at(self, visit_id: int) -> datetime | None:
        return self.repo.printed_at(visit_id)

    def printed_marks(self, visit_ids) -> dict[int, datetime]:
        """Visit id -> when printed, for the printed ones among ``visit_ids``."""
        return self.repo.printed_marks(visit_ids)

    def mark(self, visit_ids, at: datetime, user: str | None = None) -> None:
        self.repo.mark_printed(list(visit_ids), at, user=user)
