"""Settings tabs for money: payers (unit rule, modifiers, KX, allowed amounts) and fees.

Used by ``ui/settings.py``'s ``SettingsDialog``. Public names: ``PayersPage(repo, user,
today=None)``, ``FeesPage(repo, user, today=None)``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.fee_import import fee_amount
from therapy_timer.core.formats import format_date
from therapy_timer.core.model import MEDICARE_RULE_REASON, BillingError, Rule
from therapy_timer.core.records import FeeEntry, Payer
from therapy_timer.core.rules_data import kx_lookup
from therapy_timer.core.validation import validate_code, validate_payer_code
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.models import RIGHT, Column, RowsModel, money, records_table
from therapy_timer.ui.settings import Page, RecordListPage, confirm_note, dollars

RULE_NAMES = {
    Rule.CMS: "CMS total time (the 8-minute rule)",
    Rule.PER_CODE: "Per code (rule of 8s, AMA midpoint)",
}
RULE_NOTE = (
    "Medicare must use the CMS total-time rule (Pub 100-04 ch. 5 §20.2). Which rule a "
    "commercial plan or a state Medicaid plan uses comes from secondary sources only and "
    "varies by plan: confirm it in the payer's provider manual before relying on it.")


def kx_note(year: int, table=None) -> str:
    """The KX threshold for ``year`` with how sure we are of it (``table``: the clinic's
    thresholds by year; None: the shipped ones)."""
    try:
        found = kx_lookup(year, table)
    except BillingError as exc:
        return f"KX threshold: {exc}."
    kx = found.kx
    if found.fallback:
        return (f"KX threshold: {found.notice}: {money(kx.threshold_cents)} per year for PT "
                f"and SLP combined and the same for OT; targeted medical review at "
                f"{money(kx.review_cents)}.")
    text = (f"KX threshold {year}: {money(kx.threshold_cents)} per year for PT and SLP "
            f"combined and the same for OT; targeted medical review at "
            f"{money(kx.review_cents)}.")
    if kx.confidence != "V":
        text += (" These amounts come from secondary sources (" + (kx.source or "not CMS") +
                 "): the clinic should confirm them with its Medicare contractor.")
    return text




class PayersPage(RecordListPage):
    """Payers: unit rule, Medicare, therapy and assistant modifiers, KX, allowed amounts."""

    def __init__(self, repo, user: str | None, parent: QWidget | None = None,
                 today: date | None = None) -> None:
        super().__init__(repo, user, parent, list_name="Payers", new_text="New payer")
        self.today = today or date.today()
        self._current: Payer | None = None
        self.name = QLineEdit(placeholderText="e.g. Medicare Part B")
        self.payer_code = QLineEdit(placeholderText="e.g. 04412 (the ID claims are filed under)")
        self.address = QPlainTextEdit()
        self.address.setPlaceholderText("Claims address\nCity, State ZIP")
        self.address.setTabChangesFocus(True)
        self.address.setFixedHeight(56)
        self.rule = QComboBox()
        for rule, text in RULE_NAMES.items():
            self.rule.addItem(text, rule.value)
        self.medicare = QCheckBox("Medicare (needs the CMS rule; G0283 for 97014)")
        self.therapy_modifiers = QCheckBox("Therapy modifiers GP / GO / GN on every line")
        self.assistant_modifiers = QCheckBox("Assistant modifiers CQ / CO")
        self.kx_applies = QCheckBox("Track the KX threshold")
        self.self_pay = QCheckBox("Self-pay (no insurer)")
        self.self_pay.setToolTip(
            "Patients with no insurance bill under this payer's rule and modifier switches. "
            "A self-pay payer gets no NCCI pair edits (no 59/XU): they are insurers' claim "
            "edits.")
        self.distinct = QComboBox()
        self.distinct.addItems(["XU", "59"])
        self.allowed = QTableWidget(0, 2)
        self.allowed.setHorizontalHeaderLabels(["Code", "Allowed per unit ($)"])
        self.allowed.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.allowed.verticalHeader().hide()
        self.allowed.setAccessibleName("Allowed amounts")
        self.add_allowed = QPushButton("Add code")
        self.remove_allowed = QPushButton("Remove code")
        self.import_allowed = QPushButton("Import allowed amounts…")
        self.allowed_from = QDateEdit(QDate(self.today))
        self.allowed_from.setCalendarPopup(True)
        self.allowed_from.setDisplayFormat("MM/dd/yyyy")
        self.allowed_from.setAccessibleName("Allowed amounts in force from")
        self.allowed_from.setToolTip("The table shows the amounts in force on this date; "
                                     "saving stores changes from this date on (visits before "
                                     "it keep their amounts)")
        self.rule_note = confirm_note(RULE_NOTE)
        self.kx_label = confirm_note(kx_note(self.today.year, repo.kx_thresholds()))

        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Payer ID", self.payer_code)
        form.addRow("Claims address", self.address)
        form.addRow("Unit rule", self.rule)
        form.addRow("", self.medicare)
        form.addRow("", self.therapy_modifiers)
        form.addRow("", self.assistant_modifiers)
        form.addRow("", self.kx_applies)
        form.addRow("", self.self_pay)
        form.addRow("Distinct-service modifier", self.distinct)
        for label, widget in (("Name", self.name), ("Unit rule", self.rule),
                              ("Payer ID", self.payer_code), ("Claims address", self.address),
                              ("Distinct-service modifier", self.distinct)):
            widget.setAccessibleName(label)
        allowed_buttons = QHBoxLayout()
        allowed_buttons.addWidget(self.add_allowed)
        allowed_buttons.addWidget(self.remove_allowed)
        allowed_buttons.addStretch(1)
        allowed_buttons.addWidget(self.import_allowed)
        dated = QHBoxLayout()
        dated.addWidget(QLabel("In force from"))
        dated.addWidget(self.allowed_from)
        dated.addStretch(1)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addWidget(self.rule_note)
        right.addWidget(self.kx_label)
        allowed_note = QLabel("Allowed amounts (what the payer pays per unit; they add up "
                              "toward the KX threshold and split a superbill's balance into "
                              "insurance's share and the patient's):")
        allowed_note.setWordWrap(True)
        right.addWidget(allowed_note)
        right.addLayout(dated)
        right.addWidget(self.allowed, 1)
        right.addLayout(allowed_buttons)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        left.addWidget(self.new_button)
        top = QHBoxLayout()
        top.addLayout(left, 2)
        top.addLayout(right, 5)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addLayout(self.footer())

        self.add_allowed.clicked.connect(lambda: self._add_allowed_row("", ""))
        self.add_allowed.clicked.connect(self._mark_dirty)
        self.remove_allowed.clicked.connect(self._remove_allowed_row)
        self.remove_allowed.clicked.connect(self._mark_dirty)
        self.kx_applies.toggled.connect(lambda on: self.kx_label.setVisible(on))
        self.allowed_from.dateChanged.connect(self._allowed_date_changed)
        self.import_allowed.clicked.connect(self.import_file)
        self.connect_list()
        self.watch(self.name, self.rule, self.medicare, self.therapy_modifiers,
                   self.assistant_modifiers, self.kx_applies, self.self_pay, self.distinct,
                   self.allowed)
        self.watch(self.payer_code, self.address)

    @property
    def title(self) -> str:
        return self._current.name if self._current else "the new payer"

    def records(self) -> list:
        return self.repo.list_payers()

    def record_label(self, record) -> str:
        return f"{record.name}  ·  {record.rule.value}"

    def get_record(self, record_id: int):
        return self.repo.get_payer(record_id)

    def show_record(self, record) -> None:
        self.show_payer(record)

    def show_payer(self, payer: Payer | None) -> None:
        self._current = payer
        p = payer or Payer("")
        self.name.setText(p.name)
        self.payer_code.setText(p.payer_code)
        self.address.setPlainText(p.address)
        self.rule.setCurrentIndex(self.rule.findData(p.rule.value))
        self.medicare.setChecked(p.medicare)
        self.therapy_modifiers.setChecked(p.therapy_modifiers)
        self.assistant_modifiers.setChecked(p.assistant_modifiers)
        self.kx_applies.setChecked(p.kx_applies)
        self.kx_label.setVisible(p.kx_applies)
        self.self_pay.setChecked(p.self_pay)
        self.distinct.setCurrentText(p.distinct_modifier or "XU")
        self._show_allowed()
        self.import_allowed.setEnabled(payer is not None)
        self.message.clear()
        self.dirty = False

    def _show_allowed(self) -> None:
        """The table: the amounts in force on the "In force from" date."""
        payer = self._current
        day = self.allowed_from.date().toPython()
        amounts = self.repo.allowed_on(payer.id, day) if payer and payer.id else (
            payer.allowed_cents if payer else {})
        self.allowed.setRowCount(0)
        for code, cents in sorted(amounts.items()):
            self._add_allowed_row(code, dollars(cents))

    def _allowed_date_changed(self, *_args) -> None:
        if not self.dirty:  # edits in the table stay; they will be saved from the new date
            self._show_allowed()

    def import_file(self) -> None:
        if self._current is None or not self.may_leave():
            return
        from therapy_timer.ui.settings_rates import FeeImportDialog

        done = FeeImportDialog.run(self.repo, self.user, self._current.id, parent=self)
        if done:
            self.show_payer(self.repo.get_payer(self._current.id))
            self.ok(done)

    def _add_allowed_row(self, code: str, amount: str) -> None:
        row = self.allowed.rowCount()
        self.allowed.insertRow(row)
        self.allowed.setItem(row, 0, QTableWidgetItem(code))
        cell = QTableWidgetItem(amount)
        cell.setTextAlignment(RIGHT)
        self.allowed.setItem(row, 1, cell)
        if not code:
            self.allowed.setCurrentCell(row, 0)
            self.allowed.editItem(self.allowed.item(row, 0))

    def _remove_allowed_row(self) -> None:
        row = self.allowed.currentRow()
        if row >= 0:
            self.allowed.removeRow(row)

    def _allowed_amounts(self) -> dict[str, int]:
        """Reads the table; raises ValueError naming the first bad cell."""
        out: dict[str, int] = {}
        for row in range(self.allowed.rowCount()):
            code_item, amount_item = self.allowed.item(row, 0), self.allowed.item(row, 1)
            code_text = code_item.text().strip() if code_item else ""
            amount_text = amount_item.text().strip() if amount_item else ""
            if not code_text and not amount_text:
                continue
            try:
                code = validate_code(code_text)
            except BillingError as exc:
                raise ValueError(f"Allowed amounts, row {row + 1}: {exc}") from None
            if code not in self.repo.code_catalog():  # the import's checks, row by row
                raise ValueError(f"Allowed amounts, row {row + 1}: {code} is not in the code "
                                 "catalog (add it on the Codes tab first)")
            if code in out:
                raise ValueError(f"Allowed amounts, row {row + 1}: {code} is listed twice")
            try:
                out[code] = fee_amount(amount_text)
            except ValueError as exc:
                raise ValueError(f"Allowed amount for {code}: {exc}") from None
        return out

    def save(self) -> bool:
        name = self.name.text().strip()
        if not name:
            self.error("A payer needs a name.")
            return False
        try:
            allowed = self._allowed_amounts()
        except ValueError as exc:
            self.error(f"{exc}.")
            return False
        code = self.payer_code.text().strip()
        if code:
            try:
                code = validate_payer_code(code)
            except BillingError as exc:
                self.error(f"Payer ID: {exc}.")
                return False
        medicare = self.medicare.isChecked()
        rule = Rule(self.rule.currentData())
        if medicare and rule is Rule.PER_CODE:
            # Refused, not switched behind the clinic's back: it chooses which was meant.
            self.error(f"Not saved: {MEDICARE_RULE_REASON}. Choose the CMS rule, or untick "
                       "Medicare if this payer is not Medicare.")
            self.rule.setFocus()
            return False
        base = self._current or Payer(name)
        payer = replace(
            base, name=name, rule=rule, medicare=medicare,
            therapy_modifiers=self.therapy_modifiers.isChecked(),
            assistant_modifiers=self.assistant_modifiers.isChecked(),
            kx_applies=self.kx_applies.isChecked(), self_pay=self.self_pay.isChecked(),
            distinct_modifier=self.distinct.currentText(), allowed_cents=allowed,
            payer_code=code, address=self.address.toPlainText().strip())
        try:
            saved = self.repo.save_payer(payer, user=self.user,
                                         allowed_from=self.allowed_from.date().toPython())
        except (StorageError, BillingError) as exc:  # each names the problem
            self.error(f"Not saved: {exc}")
            return False
        self.reload(select=saved.id)
        self.show_payer(saved)
        self.ok(f"{saved.name} saved.")
        return True


class FeesPage(Page):
    """The clinic's fee schedule: charge per unit by code, with effective dates."""

    def __init__(self, repo, user: str | None, parent: QWidget | None = None,
                 today: date | None = None) -> None:
        super().__init__(repo, user, parent)
        self.today = today or date.today()
        self.model = RowsModel([
            Column("Code", lambda e: e.code),
            Column("Service", lambda e: self._label(e.code),
                   tooltip=lambda e: self._note(e.code)),
            Column("Per unit", lambda e: money(e.cents), RIGHT),
            Column("From", lambda e: format_date(e.effective_from)),
            Column("To", lambda e: format_date(e.effective_to) if e.effective_to else "open"),
        ], parent=self)
        self.table = records_table(self.model, "Fee schedule", stretch=1)
        self.table.setAlternatingRowColors(True)
        self.code = QLineEdit(placeholderText="97110")
        self.code.setAccessibleName("Fee code")
        self.amount = QLineEdit(placeholderText="45.00")
        self.amount.setAccessibleName("Fee per unit")
        self.start = QDateEdit(QDate(self.today))
        self.start.setCalendarPopup(True)
        self.start.setDisplayFormat("MM/dd/yyyy")
        self.start.setAccessibleName("Fee effective from")
        self.save_button.setText("Save fee")
        self.import_button = QPushButton("Import fee file…")
        self.import_button.setToolTip("A CSV of code,amount: see what changes, then store it "
                                      "from a date (the new year's schedule, say)")
        self.import_button.clicked.connect(self.import_file)
        self.check_note = confirm_note("")
        add = QHBoxLayout()
        for label, widget in (("Code", self.code), ("Per unit $", self.amount),
                              ("From", self.start)):
            add.addWidget(QLabel(label))
            add.addWidget(widget)
        add.addStretch(1)
        add.addWidget(self.import_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.check_note)
        layout.addWidget(QLabel("A new fee for a code ends its earlier open-ended fee the day "
                                "before; past visits keep the fee of their date."))
        layout.addLayout(add)
        layout.addLayout(self.footer())
        self.amount.returnPressed.connect(self.save)
        self.reload()
        self.watch(self.code, self.amount)

    title = "the new fee"

    @property
    def catalog(self):
        """The shipped codes plus the clinic's own (Settings > Codes)."""
        return self.repo.code_catalog()

    def import_file(self) -> None:
        from therapy_timer.ui.settings_rates import FeeImportDialog

        done = FeeImportDialog.run(self.repo, self.user, parent=self)
        if done:
            self.reload()
            self.ok(done)

    def _label(self, code: str) -> str:
        try:
            info = self.catalog.get(code)
        except BillingError:
            return "(not in the catalog)"
        return info.label + ("  (confirm)" if info.needs_confirmation else "")

    def _note(self, code: str) -> str:
        try:
            return self.catalog.get(code).note
        except BillingError:
            return ""

    def reload(self) -> None:
        entries: list[FeeEntry] = self.repo.fee_entries()
        self.model.set_rows(entries)
        unsure = sorted({e.code for e in entries if self._needs_confirmation(e.code)})
        self.check_note.setVisible(bool(unsure))
        self.check_note.setText(
            "Catalog facts for " + ", ".join(unsure) + " (kind, Medicare handling) come from "
            "secondary or unverified sources: the clinic should confirm them.")

    def _needs_confirmation(self, code: str) -> bool:
        try:
            return self.catalog.get(code).needs_confirmation
        except BillingError:
            return False

    def save(self) -> bool:
        try:
            code = validate_code(self.code.text())
        except BillingError as exc:
            self.error(f"{exc}.")
            return False
        if code not in self.catalog:
            self.error(f"{code} is not in the Therapy Timer code catalog (a code the clinic "
                       "needs can be added on the Codes tab).")
            return False
        try:
            cents = fee_amount(self.amount.text())
        except ValueError as exc:
            self.error(f"Fee for {code}: {exc}.")
            return False
        start = self.start.date().toPython()
        try:
            self.repo.save_fee(code, cents, start, user=self.user)
        except (StorageError, BillingError) as exc:
            self.error(f"Not saved: {exc}")
            return False
        self.reload()
        self.code.clear()
        self.amount.clear()
        self.dirty = False
        self.ok(f"{code}: {money(cents)} per unit from {format_date(start)}.")
        return True
