"""The front-desk page: a date range, its finalized visits, a PDF preview, print and save.

Pick a day (or a range); the finalized visits are listed with patient, provider, units,
charges, what was paid, the balance (after payments, adjustments and write-offs) and a
"printed" mark; the money columns stay in view at the 1024 x 700 minimum (the names give way).
Selecting a visit previews its superbill (QtPdf); "All superbills" builds every superbill of
the range as one document and "Day sheet" the charge sheet; Print sends the previewed document
to the system print dialog as one job, "Save as PDF" writes it; both set the Printed mark.
What a payer would reject a superbill for (``core/superbill_check.py``) shows above the
preview (``gaps``), and Print or Save asks first (``Ask.confirm``). Listing, PDF builds,
printing and saving run on the background worker with their own database connection; the UI
thread only shows results. Dates and times use ``core/formats.py`` (US, 12-hour).

Public API:

* ``FrontDeskPage(repo, worker=None, parent=None, *, clock=None, icd_cache_dir=None,
  user=None)``: ``repo`` is the UI thread's repository (jobs open their own
  connection to ``repo.target``: the file, or the server address as given).
  ``set_range(start, end)``, ``refresh()``, ``show_visit(id)``,
  ``record_payment()`` (the selected visit), ``void_payment()`` (the payment selected in
  ``payments``, a ``ui/payments.PaymentsPanel`` listing the selected visit's payments),
  ``show_all_superbills()``, ``show_daysheet()``, ``print_current()``, ``save_current()``.
  Signals ``document_ready(str)`` (the kind: "superbill", "superbills", "daysheet"),
  ``printed(list)`` (visit ids), ``saved(str)`` (path), ``failed(str)``, ``listed()``.
* "Open visits (N)..." lists the open visits of every day (``ui/visit_history.py``); the one
  picked is handed to the main window by ``visit_requested(visit_id)`` to finish and finalize.
  ``open_superbill(visit_id)`` shows a finalized visit's day with its superbill previewed.
* Hooks tests replace: ``FrontDeskPage.ask_printer(parent) -> QPrinter | None`` (the system
  print dialog) and ``FrontDeskPage.ask_save_path(parent, suggested) -> str | None``.
* ``frontdesk_jobs.PrintedMarks(repo)``: which visits were printed (kept in the database).
"""

from __future__ import annotations

import html
from datetime import UTC, date, datetime
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QDate, QEvent, QIODevice, QObject, Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.formats import (
    format_date,
    format_date_time,
    format_period,
    format_time,
)
from therapy_timer.core.superbill_check import describe_gaps
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import frontdesk_jobs as jobs
from therapy_timer.ui import pyside_guard  # noqa: F401
from therapy_timer.ui.clock import on_screen
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.models import CENTER, RIGHT, Column, RowsModel, money, records_table
from therapy_timer.ui.payments import PaymentsPanel, record_for_selected, void_selected
from therapy_timer.ui.workers import Worker

MEMORY = ":memory:"


class FrontDeskPage(QWidget):
    """Finalized visits of a date range, their superbills and the day sheet."""

    document_ready = Signal(str)
    printed = Signal(list)
    saved = Signal(str)
    failed = Signal(str)
    listed = Signal()
    visit_requested = Signal(int)

    def __init__(self, repo, worker: Worker | None = None, parent: QWidget | None = None, *,
                 clock=None,
                 icd_cache_dir: str | Path | None = None, user: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("frontDesk")
        self.repo = repo
        self.worker = worker or Worker(self)
        self.clock = clock
        self.user = user
        self.icd_cache_dir = icd_cache_dir
        self.marks = jobs.PrintedMarks(repo)
        # What the worker opens for its own connection: the file, or the server's whole
        # address (repo.path leaves a server's password out; a second connection needs it).
        self._db_path = str(getattr(repo, "target", None) or repo.path)
        self._request = 0
        self._pdf: bytes | None = None
        self._kind = ""
        self._doc_visits: tuple[int, ...] = ()
        self._title = ""
        self._buffer: QBuffer | None = None
        self.desk: jobs.DeskList | None = None
        self._reselecting = False

        today = self.today()
        self.start_edit = QDateEdit(QDate(today))
        self.end_edit = QDateEdit(QDate(today))
        for edit, name in ((self.start_edit, "From date"), (self.end_edit, "To date")):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("ddd MM/dd/yyyy")
            edit.setAccessibleName(name)
        self.today_button = QPushButton("Today")
        self.model = RowsModel([
            Column("Date", lambda r: format_date(r.day)),
            Column("Time", lambda r: format_time(r.start) if r.start else ""),
            Column("Patient", lambda r: r.patient,
                   tooltip=lambda r: f"{r.patient}, chart {r.chart_number}"),
            Column("Provider", lambda r: r.provider, tooltip=lambda r: r.provider),
            Column("Units", lambda r: r.units, RIGHT),
            Column("Charges", lambda r: money(r.charges_cents), RIGHT),
            Column("Paid", lambda r: money(r.paid_cents), RIGHT,
                   tooltip=_paid_tip),
            Column("Balance", lambda r: money(r.balance_cents), RIGHT),
            Column("Printed", lambda r: "✓ " + f"{on_screen(r.printed_at):%m/%d}"
                   if r.printed_at else "", CENTER,
                   tooltip=lambda r: "Printed or saved " + format_date_time(
                       on_screen(r.printed_at)) if r.printed_at else "Not printed yet"),
        ], parent=self)
        # The patient's name matters most at the desk: it gets the width it needs first, the
        # provider takes what is left (both elided when short of room), and the money columns
        # always show: at the 1024 x 700 minimum Paid and Balance stay in view.
        self.table = records_table(self.model, "Finalized visits")
        self.table.setAlternatingRowColors(True)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setWordWrap(False)  # a long name elides (its tooltip has it whole)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self._columns = _NameColumns(self.table, PATIENT_COLUMN, PROVIDER_COLUMN)
        self.gaps_label = QLabel()
        self.gaps_label.setObjectName("superbillGaps")
        self.gaps_label.setWordWrap(True)
        self.gaps_label.setAccessibleName("What the superbill lacks")
        self.gaps_label.setStyleSheet("background: #fff4e5; color: #7a4100; border-radius: 6px;"
                                      " padding: 6px 10px; font-weight: 600;")
        self.gaps_label.hide()
        self._gaps: tuple = ()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.all_button = QPushButton("All superbills")
        self.all_button.setToolTip("Every finalized visit of the dates above in one document")
        self.daysheet_button = QPushButton("Day sheet")
        self.daysheet_button.setToolTip("The charge sheet of the dates above, per provider")
        self.print_button = QPushButton("Print…")
        self.save_button = QPushButton("Save as PDF…")
        self.print_button.setShortcut(QKeySequence.StandardKey.Print)
        self.print_button.setToolTip("Print the document shown (Ctrl+P): one print job")
        self.save_button.setShortcut(QKeySequence.StandardKey.Save)
        self.save_button.setToolTip("Save the document shown as a PDF file (Ctrl+S)")
        for button in (self.print_button, self.save_button):
            button.setEnabled(False)
        self.status = QLabel()
        self.status.setObjectName("frontDeskStatus")
        self.status.setWordWrap(True)
        self.preview_title = QLabel("<b>Preview</b>")
        self.preview_title.setWordWrap(True)
        self.document = QPdfDocument(self)
        self.preview = QPdfView()
        self.preview.setAccessibleName("Document preview")
        self.preview.setDocument(self.document)
        self.preview.setPageMode(QPdfView.PageMode.MultiPage)
        self.preview.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.preview.setStyleSheet("background: #6b7280;")
        self.zoom = QComboBox()
        self.zoom.setAccessibleName("Preview zoom")
        for text in ("Fit width", "Whole page", "100%", "150%"):
            self.zoom.addItem(text)
        self.zoom.currentTextChanged.connect(self._zoom_changed)

        self.payments = PaymentsPanel(self)  # the selected visit's payments, record and void
        self.payment_button = self.payments.record_button

        dates = QHBoxLayout()
        dates.addWidget(QLabel("From"))
        dates.addWidget(self.start_edit)
        dates.addWidget(QLabel("to"))
        dates.addWidget(self.end_edit)
        dates.addWidget(self.today_button)
        dates.addStretch(1)
        documents = QHBoxLayout()
        documents.addWidget(self.all_button)
        documents.addWidget(self.daysheet_button)
        documents.addStretch(1)
        # Open visits of any day are not billable yet: one click lists them to finish.
        self.open_visits_button = QPushButton("Open visits\u2026")
        self.open_visits_button.setAccessibleName("Open visits of every day")
        self.open_visits_button.setToolTip("Visits not finalized yet, of any day, oldest "
                                           "first: open one to finish and finalize it")
        self.open_visits_button.clicked.connect(self.show_open_visits)
        documents.addWidget(self.open_visits_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(dates)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(self.summary)
        left_layout.addLayout(documents)
        left_layout.addWidget(self.payments)
        actions = QHBoxLayout()
        actions.addStretch(1)
        actions.addWidget(self.zoom)
        actions.addWidget(self.print_button)
        actions.addWidget(self.save_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(actions)
        right_layout.addWidget(self.preview_title)  # its own line: long names fit (wrapped)
        right_layout.addWidget(self.gaps_label)
        right_layout.addWidget(self.preview, 1)
        right_layout.addWidget(self.status)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)  # the list gets a little more: its money columns
        splitter.setStretchFactor(1, 2)  # must show in a 1024-wide window
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([600, 400])
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self.start_edit.dateChanged.connect(self._start_changed)
        self.end_edit.dateChanged.connect(self._end_changed)
        self.today_button.clicked.connect(lambda: self.set_range(self.today(), self.today()))
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.all_button.clicked.connect(self.show_all_superbills)
        self.daysheet_button.clicked.connect(self.show_daysheet)
        self.print_button.clicked.connect(self.print_current)
        self.save_button.clicked.connect(self.save_current)
        self.refresh()

    # -- hooks tests replace ------------------------------------------------------------------

    @classmethod
    def ask_printer(cls, parent: QWidget | None) -> QPrinter | None:
        """The system print dialog; returns the configured printer or None if cancelled."""
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        dialog = QPrintDialog(printer, parent)
        dialog.setWindowTitle("Print")
        if dialog.exec() != QPrintDialog.DialogCode.Accepted:
            return None
        return printer

    @classmethod
    def ask_save_path(cls, parent: QWidget | None, suggested: str) -> str | None:
        path, _filter = QFileDialog.getSaveFileName(parent, "Save as PDF", suggested,
                                                    "PDF documents (*.pdf)")
        if not path:
            return None
        return path if path.lower().endswith(".pdf") else path + ".pdf"

    # -- range and list -----------------------------------------------------------------------

    def today(self) -> date:
        now = self.clock.now() if self.clock is not None else datetime.now(UTC)
        try:
            return self.repo.service_day(now)
        except (StorageError, LookupError, ValueError):  # a bad zone must not break the desk
            return on_screen(now).date()

    def date_range(self) -> tuple[date, date]:
        return self.start_edit.date().toPython(), self.end_edit.date().toPython()

    def set_range(self, start: date, end: date | None = None) -> None:
        end = end or start
        for edit in (self.start_edit, self.end_edit):
            edit.blockSignals(True)
        self.start_edit.setDate(QDate(start))
        self.end_edit.setDate(QDate(max(start, end)))
        for edit in (self.start_edit, self.end_edit):
            edit.blockSignals(False)
        self.refresh()

    def _start_changed(self, value: QDate) -> None:
        if self.end_edit.date() < value:
            self.end_edit.blockSignals(True)
            self.end_edit.setDate(value)
            self.end_edit.blockSignals(False)
        self.refresh()

    def _end_changed(self, value: QDate) -> None:
        if self.start_edit.date() > value:
            self.start_edit.blockSignals(True)
            self.start_edit.setDate(value)
            self.start_edit.blockSignals(False)
        self.refresh()

    def refresh(self, quiet: bool = False) -> None:
        """Reloads the list for the chosen dates (on the worker); ``quiet`` keeps the status."""
        start, end = self.date_range()
        now = self.clock.now() if self.clock is not None else None
        if not quiet:
            self._busy(f"Loading visits {format_date(start)}…")
        self._run(jobs.load_desk_list, start, end, now, done=self._listed,
                  label="front desk list")

    def refresh_live(self, visit_ids=(), everything: bool = False) -> None:
        """Another station changed visits, payments or patients (``ui/station/live.py``):
        the list again (the selected visit kept, its payments reloaded with it), and the
        previewed superbill rebuilt when it is of a changed visit."""
        self.refresh(quiet=True)
        if self._kind == "superbill" and self._doc_visits and (
                everything or self._doc_visits[0] in set(visit_ids)):
            self.show_visit(self._doc_visits[0])

    def _listed(self, desk: jobs.DeskList) -> None:
        marks = self.marks.printed_marks([row.visit_id for row in desk.rows])
        rows = [_with_mark(row, marks.get(row.visit_id)) for row in desk.rows]
        self.desk = jobs.DeskList(desk.start, desk.end, tuple(rows), desk.open_visits)
        selected = self.selected_visit()
        self.model.set_rows(rows)
        # One day: its date is in the picker, so the column only takes room from the names.
        self.table.setColumnHidden(0, desk.start == desk.end)
        self._columns.fit()
        total = sum(r.charges_cents for r in rows)
        paid = sum(r.paid_cents for r in rows)
        period = format_period(desk.start, desk.end)
        adjusted = sum(r.adjusted_cents for r in rows)
        text = (f"{len(rows)} finalized visit{'s' if len(rows) != 1 else ''} on {period}, "
                f"{sum(r.units for r in rows)} units, {money(total)} charged, {money(paid)} paid"
                + (f", {money(adjusted)} adjusted or written off" if adjusted else "") + ".")
        if desk.open_visits:
            text += (f" {desk.open_visits} visit{'s are' if desk.open_visits != 1 else ' is'}"
                     " still open (not billable yet).")
        self.summary.setText(text)
        self._show_open_count()
        self.all_button.setEnabled(bool(rows))
        self.all_button.setText(f"All superbills ({len(rows)})" if rows else "All superbills")
        if self.status.text().startswith("Loading"):
            self._idle("")
        if selected is not None:
            for i, row in enumerate(rows):
                if row.visit_id == selected:
                    self._reselecting = True  # the same visit again: no rebuild of its PDF
                    try:
                        self.table.selectRow(i)
                    finally:
                        self._reselecting = False
        self.listed.emit()

    # -- open visits of every day -------------------------------------------------------------

    def _show_open_count(self) -> None:
        try:
            count = len(self.repo.open_visit_list())
        except StorageError:
            return
        self.open_visits_button.setText(f"Open visits ({count})\u2026")

    def show_open_visits(self) -> None:
        """Every open visit of any day; the one picked opens in the main window."""
        from therapy_timer.ui.visit_history import SUPERBILL, VisitHistoryDialog

        chosen = VisitHistoryDialog.ask(self.repo, self.today(), None, self)
        if chosen is None:
            return
        action, visit_id = chosen
        if action == SUPERBILL:
            self.open_superbill(visit_id)
        else:
            self.visit_requested.emit(visit_id)

    def open_superbill(self, visit_id: int) -> None:
        """Lists the visit's day and selects it: its superbill is previewed to print."""
        try:
            day = self.repo.get_visit(visit_id).day
        except StorageError as exc:
            self._idle(f"Visit not shown: {exc}")
            return

        def select() -> None:
            if self.desk is None or (self.desk.start, self.desk.end) != (day, day):
                return  # an earlier listing (another range) came back first
            self.listed.disconnect(select)
            for i, row in enumerate(self.model.rows()):
                if row.visit_id == visit_id:
                    self.table.selectRow(i)

        self.listed.connect(select)
        self.set_range(day, day)

    def selected_visit(self) -> int | None:
        index = self.table.currentIndex()
        if not index.isValid() or index.row() >= self.model.rowCount():
            return None
        return self.model.row(index.row()).visit_id

    def _row_changed(self, current, _previous) -> None:
        if not current.isValid():
            return
        visit_id = self.model.row(current.row()).visit_id
        if self._reselecting and self._kind == "superbill" \
                and self._doc_visits == (visit_id,):
            return  # the list was reloaded (a mark, a payment): the preview already shows it
        self.show_visit(visit_id)

    def record_payment(self) -> bool:
        """Asks for a payment for the selected visit (``PaymentDialog.ask``), saves it, then
        refreshes the list and the preview. True when one was saved."""
        return record_for_selected(self)

    def void_payment(self) -> bool:
        """Voids the payment selected in ``payments`` after a reason and a confirmation
        (``payments.void_selected``). True when one was voided."""
        return void_selected(self)

    # -- documents ----------------------------------------------------------------------------

    def show_visit(self, visit_id: int) -> None:
        """Builds and previews one visit's superbill."""
        row = next((r for r in self.model.rows() if r.visit_id == visit_id), None)
        title = f"Superbill: {row.patient}, {format_date(row.day)}" if row else "Superbill"
        self._build("superbill", title, (visit_id,), jobs.superbill_pdf, visit_id,
                    self._describer_arg())

    def show_all_superbills(self) -> None:
        start, end = self.date_range()
        self._build("superbills", "All superbills", (), jobs.superbills_pdf, start, end,
                    self._describer_arg())

    def show_daysheet(self) -> None:
        start, end = self.date_range()
        now = self.clock.now() if self.clock is not None else None
        self._build("daysheet", "Day sheet", (), jobs.daysheet_pdf, start, end, now)

    def _describer_arg(self):
        return _Describer(self.icd_cache_dir)

    def _build(self, kind: str, title: str, visit_ids: tuple[int, ...], fn, *args) -> None:
        self._request += 1
        token = self._request
        self._busy(f"Building {title.lower()}…")
        self.print_button.setEnabled(False)
        self.save_button.setEnabled(False)

        def done(result) -> None:
            if token != self._request:
                return  # a newer request replaced this one
            if isinstance(result, jobs.Built):
                self._show_pdf(kind, title, result.pdf, tuple(result.visit_ids), result.gaps)
                return
            pdf, ids = result if isinstance(result, tuple) else (result, visit_ids)
            self._show_pdf(kind, title, pdf, tuple(ids))

        self._run(fn, *args, done=done, label=title)

    def _show_pdf(self, kind: str, title: str, pdf: bytes, visit_ids: tuple[int, ...],
                  gaps: tuple = ()) -> None:
        self.document.close()
        buffer = QBuffer(self)
        buffer.setData(QByteArray(pdf))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self.document.load(buffer)
        if self._buffer is not None:
            self._buffer.deleteLater()
        self._buffer = buffer
        self._pdf, self._kind, self._title, self._doc_visits = pdf, kind, title, visit_ids
        pages = self.document.pageCount()
        self.preview_title.setText(f"<b>{html.escape(title)}</b> ({pages} page"
                                   f"{'s' if pages != 1 else ''})")
        self.print_button.setEnabled(True)
        self.save_button.setEnabled(True)
        self._show_gaps(gaps)
        self._idle("")
        self.document_ready.emit(kind)

    def _show_gaps(self, gaps: tuple) -> None:
        """Says above the preview what a payer would reject the superbill for, and where to
        set each (``core/superbill_check.py``); hidden when nothing is missing."""
        self._gaps = tuple(gaps)
        self.gaps_label.setVisible(bool(self._gaps))
        self.gaps_label.setText(
            "Not usable by a payer yet:<br>" + "<br>".join(
                f"• {html.escape(str(gap))}" for gap in self._gaps) if self._gaps else "")

    @property
    def gaps(self) -> tuple:
        """What the shown superbill(s) lack (empty for a day sheet or a usable superbill)."""
        return self._gaps

    def _go_ahead_with_gaps(self, action: str) -> bool:
        """Asks before printing or saving a superbill a payer cannot use; True to go on."""
        if not self._gaps:
            return True
        if Ask.confirm(self, f"{action} anyway?",
                       "This superbill is not usable by a payer yet:\n\n"
                       + "\n".join(f"• {gap}" for gap in self._gaps)
                       + f"\n\n{action} it anyway?", yes=f"{action} anyway", no="Cancel"):
            return True
        self._idle(f"Not {'printed' if action == 'Print' else 'saved'}: "
                   + describe_gaps(self._gaps[:1]) + ".")
        return False

    def _zoom_changed(self, text: str) -> None:
        if text == "Fit width":
            self.preview.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        elif text == "Whole page":
            self.preview.setZoomMode(QPdfView.ZoomMode.FitInView)
        else:
            self.preview.setZoomMode(QPdfView.ZoomMode.Custom)
            self.preview.setZoomFactor(int(text.rstrip("%")) / 100)

    @property
    def current_kind(self) -> str:
        return self._kind

    @property
    def current_pdf(self) -> bytes | None:
        return self._pdf

    # -- print and save -----------------------------------------------------------------------

    def print_current(self) -> None:
        """Asks for a printer, then prints the previewed document as one job (on the worker)."""
        if self._pdf is None:
            return
        if not self._go_ahead_with_gaps("Print"):
            return
        printer = type(self).ask_printer(self)
        if printer is None:
            self._idle("Printing cancelled.")
            return
        printer.setDocName(self._title)
        pdf, ids, title = self._pdf, self._doc_visits, self._title
        self._busy(f"Printing {title.lower()}…")

        def done(pages: int) -> None:
            now = self.clock.now() if self.clock is not None else datetime.now(UTC)
            if ids:
                self.marks.mark(ids, now, self.user)
            self._idle(f"Sent {title.lower()} to the printer ({pages} page"
                       f"{'s' if pages != 1 else ''}).")
            self.printed.emit(list(ids))
            if ids:
                self.refresh(quiet=True)

        self.worker.submit(jobs.print_pdf, pdf, printer, on_success=done,
                           on_failure=self._failed, owner=self, label=f"print {title}")
        self._printer = printer  # kept alive until the job ends

    def save_current(self) -> None:
        """Asks for a file name, then writes the previewed document there."""
        if self._pdf is None:
            return
        if not self._go_ahead_with_gaps("Save"):
            return
        path = type(self).ask_save_path(self, self._suggested_name())
        if not path:
            return
        self._busy(f"Saving {Path(path).name}…")
        ids = self._doc_visits

        def done(written: Path) -> None:
            # A saved superbill goes out like a printed one (e-mailed, uploaded to a portal):
            # it gets the same Printed mark.
            if ids:
                now = self.clock.now() if self.clock is not None else datetime.now(UTC)
                self.marks.mark(ids, now, self.user)
            self._idle(f"Saved {written}.")
            self.saved.emit(str(written))
            if ids:
                self.refresh(quiet=True)

        self.worker.submit(jobs.save_pdf, self._pdf, path, on_success=done,
                           on_failure=self._failed, owner=self, label="save PDF")

    def _suggested_name(self) -> str:
        start, end = self.date_range()
        period = start.isoformat() if start == end else f"{start.isoformat()}_{end.isoformat()}"
        if self._kind == "superbill" and self._doc_visits:
            row = next((r for r in self.model.rows() if r.visit_id == self._doc_visits[0]), None)
            who = row.patient.replace(",", "").replace(" ", "-") if row else "visit"
            return f"superbill-{who}-{row.day.isoformat() if row else period}.pdf"
        return f"{'superbills' if self._kind == 'superbills' else 'daysheet'}-{period}.pdf"

    # -- plumbing -----------------------------------------------------------------------------

    def _run(self, fn, *args, done, label: str) -> None:
        """Runs ``fn(repo, *args)`` on the worker with its own connection (a file database),
        or reads on this thread and renders on the worker (an in-memory database)."""
        if self._db_path != MEMORY:
            self.worker.submit_with_repo(self._db_path, fn, *args, on_success=done,
                                         on_failure=self._failed, owner=self, label=label)
            return
        try:
            result = fn(self.repo, *args)  # in-memory (tests): one connection, this thread
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)
            return
        self.worker.submit(lambda: result, on_success=done, on_failure=self._failed,
                           owner=self, label=label)

    def _failed(self, exc: BaseException) -> None:
        text = str(exc) or type(exc).__name__
        self.status.setStyleSheet("color: #a40000; font-weight: 700;")
        self.status.setText(f"Could not finish: {text}")
        self.failed.emit(text)
        if self._pdf is not None:
            self.print_button.setEnabled(True)
            self.save_button.setEnabled(True)

    def _busy(self, text: str) -> None:
        self.status.setStyleSheet("color: #374151;")
        self.status.setText(text)

    def _idle(self, text: str) -> None:
        self.status.setStyleSheet("color: #065f46; font-weight: 600;")
        self.status.setText(text)


PATIENT_COLUMN, PROVIDER_COLUMN = 2, 3


def _paid_tip(row) -> str:
    parts = [f"{money(row.paid_cents)} received"]
    if row.adjusted_cents:
        parts.append(f"{money(row.adjusted_cents)} adjusted or written off")
    return ", ".join(parts)


class _OnResize(QObject):
    """Calls ``callback`` whenever the widget it filters is resized."""

    def __init__(self, parent: QObject, callback) -> None:
        super().__init__(parent)
        self._callback = callback

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Resize:
            self._callback()
        return False


class _NameColumns:
    """Sizes the patient and provider columns to what the money columns leave: the patient's
    name first (as wide as it needs), the provider the rest; both elide when short of room.
    Every other column keeps the width of its contents, so Paid and Balance stay in view."""

    MIN_WIDTH = 48

    def __init__(self, table, patient: int, provider: int) -> None:
        self.table = table
        self.patient, self.provider = patient, provider
        header = table.horizontalHeader()
        for column in (patient, provider):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
        header.setStretchLastSection(False)
        self._watcher = _OnResize(table, self.fit)
        table.viewport().installEventFilter(self._watcher)

    def fit(self) -> None:
        table = self.table
        header = table.horizontalHeader()
        model = table.model()
        others = sum(header.sectionSize(c) for c in range(model.columnCount())
                     if c not in (self.patient, self.provider) and not table.isColumnHidden(c))
        room = max(0, table.viewport().width() - others)
        want_patient = max(self.MIN_WIDTH, table.sizeHintForColumn(self.patient),
                           header.sectionSizeHint(self.patient))
        # Short of room the patient keeps what it can and the provider elides first.
        patient = min(want_patient, max(self.MIN_WIDTH, room - self.MIN_WIDTH))
        provider = max(self.MIN_WIDTH, room - patient)
        header.resizeSection(self.patient, patient)
        header.resizeSection(self.provider, provider)


class _Describer:
    """Picklable-free lazy ICD describer: built on the worker thread on first use."""

    def __init__(self, cache_dir) -> None:
        self.cache_dir = cache_dir
        self._fn = None

    def __call__(self, code: str) -> str:
        if self._fn is None:
            self._fn = jobs.icd_describer(self.cache_dir)
        return self._fn(code)


def _with_mark(row: jobs.DeskRow, printed_at: datetime | None) -> jobs.DeskRow:
    from dataclasses import replace

    return replace(row, printed_at=printed_at)
