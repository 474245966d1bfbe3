"""Settings for rates and codes the clinic keeps itself: importing a fee file with a preview
of what changes (the clinic's charges or a payer's allowed amounts, from a date), and the
Codes tab (codes the clinic adds to the shipped catalog).

Public names: ``FeeImportDialog(repo, user, payer_id=None, today=None)`` (``choose_file`` is
a classmethod tests replace), ``CodesPage(repo, user)``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.codes import CLINIC_KINDS
from therapy_timer.core.fee_import import FeeFileError, FeeRow, parse_fee_file, summary
from therapy_timer.core.formats import format_date
from therapy_timer.core.model import BillingError, Discipline
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.models import RIGHT, Column, RowsModel, money, records_table
from therapy_timer.ui.settings import Page, confirm_note

#: How the preview names each kind of change.
CHANGE_WORDS = {"changed": "changes", "new": "new code", "unchanged": "no change"}
MAX_FILE_BYTES = 4 * 1024 * 1024


def read_fee_file(path: str) -> str:
    """The text of a fee file; raises FeeFileError naming the file and the problem."""
    try:
        raw = Path(path).read_bytes()[: MAX_FILE_BYTES + 1]
    except OSError as exc:
        raise FeeFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise FeeFileError(f"{path} is larger than {MAX_FILE_BYTES:,} bytes: not a fee "
                           "schedule")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FeeFileError(f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                           f"{exc.start}): save it as UTF-8 CSV") from None


class FeeImportDialog(QDialog):
    """Import a CSV of code,amount: pick the file, whose amounts and the first date of
    service, press Preview to see every code's amount now and after, then Import. Nothing
    is stored before Import; a bad file shows the file, line and problem."""

    imported = Signal(int)  # rows stored

    def __init__(self, repo, user: str | None, payer_id: int | None = None,
                 today: date | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import a fee schedule")
        self.resize(720, 560)
        self.repo = repo
        self.user = user
        self.catalog = repo.code_catalog()
        self._rows: list[FeeRow] = []
        self._previewed: tuple | None = None
        self.path = QLineEdit(placeholderText="a .csv file of code,amount rows")
        self.path.setAccessibleName("Fee file")
        self.browse = QPushButton("Choose file…")
        self.schedule = QComboBox()
        self.schedule.setAccessibleName("Whose amounts")
        self.schedule.addItem("The clinic's charges (fee schedule)", None)
        for payer in repo.list_payers():
            self.schedule.addItem(f"{payer.name}: allowed amounts", payer.id)
        if payer_id is not None:
            self.schedule.setCurrentIndex(max(0, self.schedule.findData(payer_id)))
        today = today or date.today()
        # In December the new year's schedule is the one to load: 1 January is offered.
        first = date(today.year + 1, 1, 1) if today.month == 12 else today
        self.start = QDateEdit(QDate(first))
        self.start.setCalendarPopup(True)
        self.start.setDisplayFormat("MM/dd/yyyy")
        self.start.setAccessibleName("In force from")
        self.preview_button = QPushButton("Preview")
        self.import_button = QPushButton("Import")
        self.import_button.setEnabled(False)
        self.cancel_button = QPushButton("Cancel")
        self.model = RowsModel([
            Column("Code", lambda c: c.code),
            Column("Service", lambda c: self._label(c.code)),
            Column("Now", lambda c: money(c.old_cents) if c.old_cents is not None else "—",
                   RIGHT),
            Column("From the file", lambda c: money(c.new_cents), RIGHT),
            Column("", lambda c: CHANGE_WORDS[c.kind]),
        ], parent=self)
        self.table = records_table(self.model, "Fee changes", stretch=1)
        self.message = QLabel("Pick a file and press Preview: nothing is stored until Import.")
        self.message.setWordWrap(True)
        self.message.setObjectName("importMessage")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        explain = QLabel(
            "One row per code: code,amount (dollars per unit, e.g. 97110,48.00); a first "
            "line code,amount is a header. Visits before the date keep the amounts of their "
            "date; codes the file leaves out keep theirs.")
        explain.setWordWrap(True)
        pick = QHBoxLayout()
        pick.addWidget(self.path, 1)
        pick.addWidget(self.browse)
        form = QFormLayout()
        form.addRow("File", pick)
        form.addRow("Amounts for", self.schedule)
        form.addRow("In force from", self.start)
        buttons = QHBoxLayout()
        buttons.addWidget(self.preview_button)
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(explain)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.browse.clicked.connect(self._browse)
        self.preview_button.clicked.connect(self.preview)
        self.import_button.clicked.connect(self.store)
        self.cancel_button.clicked.connect(self.reject)
        # Changing what was previewed asks for a new preview before Import.
        self.path.textEdited.connect(self._stale)
        self.schedule.currentIndexChanged.connect(self._stale)
        self.start.dateChanged.connect(self._stale)

    @classmethod
    def choose_file(cls, parent: QWidget | None) -> str:
        """Asks for the file (tests replace this)."""
        path, _ = QFileDialog.getOpenFileName(parent, "Fee schedule file", "",
                                              "CSV files (*.csv *.txt);;All files (*)")
        return path

    def _browse(self) -> None:
        path = type(self).choose_file(self)
        if path:
            self.path.setText(path)
            self.preview()

    def _label(self, code: str) -> str:
        try:
            return self.catalog.get(code).label
        except BillingError:
            return ""

    def _key(self) -> tuple:
        return (self.path.text().strip(), self.schedule.currentData(),
                self.start.date().toPython())

    def _stale(self, *_args) -> None:
        self._previewed = None
        self.import_button.setEnabled(False)

    def _error(self, text: str) -> None:
        self.message.setStyleSheet("color: #a40000; font-weight: 700;")
        self.message.setText(text)
        self.model.set_rows([])
        self._stale()

    def preview(self) -> bool:
        path, payer_id, start = self._key()
        if not path:
            self._error("Choose the fee file first.")
            return False
        try:
            rows = parse_fee_file(read_fee_file(path), path, known=self.catalog.__contains__)
            changes = self.repo.preview_fees(rows, start, payer_id)
        except (FeeFileError, StorageError) as exc:
            self._error(f"Not imported: {exc}.")
            return False
        self._rows = rows
        self.model.set_rows(changes)
        self._previewed = (path, payer_id, start)
        self.import_button.setEnabled(True)
        self.message.setStyleSheet("")
        whose = self.schedule.currentText()
        self.message.setText(f"{len(rows)} row(s) from {format_date(start)}: {summary(changes)}"
                             f". Import stores them as {whose.lower()}.")
        return True

    def store(self) -> bool:
        if self._previewed is None or self._previewed != self._key():
            return self.preview() and False
        path, payer_id, start = self._previewed
        try:
            changes = self.repo.import_fees(self._rows, start, payer_id, source=path,
                                            user=self.user)
        except StorageError as exc:
            self._error(f"Not imported: {exc}")
            return False
        self.result_text = (f"Imported {Path(path).name}: {summary(changes)}, in force from "
                            f"{format_date(start)}.")
        self.imported.emit(len(changes))
        self.accept()
        return True

    @classmethod
    def run(cls, repo, user: str | None, payer_id: int | None = None,
            parent: QWidget | None = None) -> str:
        """Shows the dialog; returns what was imported ("" when cancelled)."""
        dialog = cls(repo, user, payer_id, parent=parent)
        return dialog.result_text if dialog.exec() == QDialog.DialogCode.Accepted else ""

    result_text = ""


class CodesPage(Page):
    """Codes the clinic adds to the shipped catalog: number, label, kind, disciplines (and
    an add-on's primary code). Stored in the database; billing, the tiles' "Any other code"
    box and the superbill use them. A shipped code's number is refused."""

    title = "the new code"
    saved = Signal()

    def __init__(self, repo, user: str | None, parent: QWidget | None = None) -> None:
        super().__init__(repo, user, parent)
        self.model = RowsModel([
            Column("Code", lambda c: c.code),
            Column("Label", lambda c: c.label),
            Column("Kind", lambda c: self._kind(c)),
            Column("Disciplines", lambda c: ", ".join(d.value for d in c.disciplines)),
            Column("In use", lambda c: self._status(c.code)),
        ], parent=self)
        self.table = records_table(self.model, "Clinic codes", stretch=1)
        self.code = QLineEdit(placeholderText="e.g. 97799")
        self.code.setAccessibleName("New code")
        self.label = QLineEdit(placeholderText="our own plain words")
        self.label.setAccessibleName("Code label")
        self.kind = QComboBox()
        self.kind.setAccessibleName("Code kind")
        for kind, text in CLINIC_KINDS.items():
            self.kind.addItem(text, kind)
        self.disciplines = {d: QCheckBox(d.value) for d in Discipline}
        self.primary = QLineEdit(placeholderText="the primary code, e.g. 97116")
        self.primary.setAccessibleName("Primary code")
        self.save_button.setText("Add code")
        boxes = QHBoxLayout()
        for box in self.disciplines.values():
            boxes.addWidget(box)
        boxes.addStretch(1)
        form = QFormLayout()
        form.addRow("Code", self.code)
        form.addRow("Label", self.label)
        form.addRow("Kind", self.kind)
        form.addRow("Disciplines", boxes)
        form.addRow("Add-on of", self.primary)
        self.shadow_note = confirm_note("")
        explain = QLabel(
            "The app's catalog is shipped with it and updated by new releases; codes added "
            "here are the clinic's own, kept in its database and never changed by an "
            "update. The kind decides the units: timed codes follow the 8-minute rule "
            "(or the payer's per-code rule), untimed and supervised codes bill 1 unit. "
            "Check the code, its kind and its label against the payer's rules before "
            "billing it.")
        explain.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.shadow_note)
        layout.addWidget(explain)
        layout.addLayout(form)
        layout.addLayout(self.footer())
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()
        self.reload()
        self.watch(self.code, self.label, self.primary)

    def _kind(self, info) -> str:
        kind = self.repo.clinic_code_kind(info.code) or info.kind.value
        return f"add-on of {info.addon_of}" if kind == "add-on" else kind

    def _status(self, code: str) -> str:
        return "shipped row used" if code in self._shadowed else "yes"

    def _kind_changed(self, *_args) -> None:
        addon = self.kind.currentData() == "add-on"
        self.primary.setEnabled(addon)
        if not addon:
            self.primary.clear()

    def reload(self) -> None:
        self._shadowed = set(self.repo.shadowed_clinic_codes())
        self.model.set_rows(self.repo.clinic_codes())
        self.shadow_note.setVisible(bool(self._shadowed))
        self.shadow_note.setText(
            "Now shipped with the app: " + ", ".join(sorted(self._shadowed)) + ". The app's "
            "row is used for billing; the clinic's own entry is kept unchanged.")

    def save(self) -> bool:
        chosen = [d for d, box in self.disciplines.items() if box.isChecked()]
        try:
            info = self.repo.save_clinic_code(
                self.code.text(), self.label.text(), self.kind.currentData(), chosen,
                self.primary.text().strip() or None, user=self.user)
        except StorageError as exc:
            self.error(f"Not saved: {exc}.")
            return False
        self.reload()
        for widget in (self.code, self.label, self.primary):
            widget.clear()
        self.dirty = False
        self.ok(f"{info.code} {info.label} added: it bills as {self.kind.currentText()}.")
        self.saved.emit()
        return True
