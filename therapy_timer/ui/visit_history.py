"""Visits of every day: a patient's visit history, or the clinic's open visits of any day.

A visit left open yesterday, or finalized last week, is found here and opened the way Today
opens one: an open visit to its timers (finish it with its recorded time, then the review
finalizes it), a finalized one to its review (Amend...); "Superbill..." previews a finalized
visit's superbill at the front desk, to print or save.

Public API: ``VisitHistoryDialog(repo, today, patient_id=None, parent=None)`` (``patient_id``
None lists every open visit, oldest first); ``chosen`` is ``(OPEN | SUPERBILL, visit_id)`` once
the user picked a visit. ``VisitHistoryDialog.ask(repo, today, patient_id=None, parent=None)``
shows it modally and returns ``chosen`` or None (tests replace it).
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.history import HistoryEntry, days_old_text
from therapy_timer.core.records import VisitStatus
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import (
    pyside_guard,  # noqa: F401  (before any Qt call)
    style,
)
from therapy_timer.ui.models import RIGHT, Column, RowsModel, money, records_table

OPEN, SUPERBILL = "open", "superbill"


def _date(entry: HistoryEntry) -> str:
    return f"{entry.day:%m/%d/%Y}"


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


class VisitHistoryDialog(QDialog):
    """One patient's visits of every day, newest first; or every open visit, oldest first."""

    def __init__(self, repo, today: date, patient_id: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.repo = repo
        self.today = today
        self.patient_id = patient_id
        self.chosen: tuple[str, int] | None = None
        self.resize(860, 520)
        layout = QVBoxLayout(self)
        self.heading = QLabel()
        self.heading.setProperty("role", "title")
        self.heading.setWordWrap(True)
        layout.addWidget(self.heading)
        self.hint = QLabel()
        self.hint.setProperty("role", "caption")
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        if patient_id is None:
            columns = [
                Column("Date", _date),
                Column("Days old", lambda e: days_old_text(e.days_old(self.today)), RIGHT),
                Column("Patient", lambda e: e.patient_name,
                       tooltip=lambda e: f"Chart {e.chart_number}" if e.chart_number else ""),
                Column("Discipline", lambda e: e.visit.discipline.value),
                Column("Provider", lambda e: e.provider_name),
                Column("Status", lambda e: e.status_text()),
            ]
        else:
            columns = [
                Column("Date", _date),
                Column("Discipline", lambda e: e.visit.discipline.value),
                Column("Provider", lambda e: e.provider_name),
                Column("Status", lambda e: e.status_text()),
                Column("Units", lambda e: _count(e.units), RIGHT),
                Column("Charges", lambda e: money(e.charges_cents), RIGHT),
            ]
        self.model = RowsModel(columns, parent=self)
        self.table = records_table(self.model, "Visits", stretch=2)  # patient / provider
        self.table.verticalHeader().setDefaultSectionSize(40)
        self.table.doubleClicked.connect(lambda _index: self.choose(OPEN))
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):  # the table would swallow Enter
            enter = QShortcut(QKeySequence(key), self.table)
            enter.setContext(Qt.ShortcutContext.WidgetShortcut)
            enter.activated.connect(lambda: self.choose(OPEN))
        layout.addWidget(self.table, 1)
        self.empty = QLabel("")
        self.empty.setProperty("role", "subtitle")
        self.empty.setWordWrap(True)
        layout.addWidget(self.empty)

        self.open_button = QPushButton("Open visit")
        self.open_button.setAccessibleName("Open the selected visit")
        self.open_button.setToolTip("An open visit: its timers, to finish and finalize it. "
                                    "A finalized one: its review, to amend it.")
        style.polish(self.open_button, primary=True)
        self.open_button.setDefault(True)
        self.open_button.clicked.connect(lambda: self.choose(OPEN))
        self.superbill_button = QPushButton("Superbill\u2026")
        self.superbill_button.setAccessibleName("Show the selected visit's superbill")
        self.superbill_button.setToolTip("Preview the finalized visit's superbill at the front "
                                         "desk, to print or save it")
        self.superbill_button.clicked.connect(lambda: self.choose(SUPERBILL))
        self.superbill_button.setVisible(patient_id is not None)  # open visits bill nothing yet
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.superbill_button, self.open_button, self.close_button):
            button.setMinimumHeight(style.TOUCH - 8)
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.table.selectionModel().selectionChanged.connect(lambda *_a: self._update())
        self.refresh()

    # -- data ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        try:
            if self.patient_id is None:
                entries = self.repo.open_visit_list()
            else:
                entries = self.repo.visit_history(self.patient_id)
                name = self.repo.get_patient(self.patient_id).display_name
        except StorageError as exc:
            entries, name = [], ""
            self.empty.setText(f"The visits could not be read: {exc}")
        self.model.set_rows(entries)
        if self.patient_id is None:
            earlier = sum(1 for e in entries if e.day < self.today)
            self.setWindowTitle("Open visits")
            self.heading.setText(f"Open visits ({len(entries)})")
            self.hint.setText(
                "Visits not finalized yet, of any day, oldest first"
                + ("; 1 from an earlier day" if earlier == 1 else
                   f"; {earlier} from earlier days" if earlier else "")
                + ". Open one to finish it with the time it recorded and finalize it; "
                "treatment today goes on a new visit of today.")
            empty = "No open visits: every visit is finalized."
        else:
            self.setWindowTitle(f"Visit history \u00b7 {name}")
            self.heading.setText(f"Visit history: {name}")
            self.hint.setText(
                "Every visit of this patient, newest first. Open one to finish and finalize "
                "it (open) or to review and amend it (finalized); Superbill\u2026 shows a "
                "finalized visit's superbill to print.")
            empty = "No visits yet for this patient."
        if not self.empty.text().startswith("The visits could not"):
            self.empty.setText("" if entries else empty)
        self.empty.setVisible(bool(self.empty.text()))
        if entries:
            self.table.selectRow(0)
        self._update()

    def selected(self) -> HistoryEntry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row(rows[0].row()) if rows else None

    def _update(self) -> None:
        entry = self.selected()
        self.open_button.setEnabled(entry is not None)
        self.superbill_button.setEnabled(
            entry is not None and entry.status is VisitStatus.FINALIZED)

    # -- intent -------------------------------------------------------------------------------

    def choose(self, action: str) -> None:
        """Picks the selected visit for ``action`` and closes the list."""
        entry = self.selected()
        if entry is None:
            return
        if action == SUPERBILL and entry.status is not VisitStatus.FINALIZED:
            return
        self.chosen = (action, entry.visit.id)
        self.accept()

    @classmethod
    def ask(cls, repo, today: date, patient_id: int | None = None,
            parent: QWidget | None = None) -> tuple[str, int] | None:
        """Shows the list modally; the ``(action, visit_id)`` chosen, or None."""
        dialog = cls(repo, today, patient_id, parent)
        dialog.exec()
        return dialog.chosen
