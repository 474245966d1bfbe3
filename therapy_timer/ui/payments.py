"""Payments at the front desk: the selected visit's payments, recording one, voiding one.

``PaymentDialog.ask(parent, title, charges_cents, paid_cents) -> PaymentEntry | None`` asks for
the kind (a patient or an insurance payment, an adjustment or a write-off), the amount
(dollars, read by ``settings.parse_dollars``), the method (money only) and a reference; tests
replace ``ask``. ``paid_cents`` is everything already off the balance.
``record_for_selected(page)`` runs the whole step for the front-desk page's
selected visit: ask, save through the page's repository (audited there), then refresh the list
and the superbill preview.

``PaymentsPanel(page)`` lists the selected visit's payments (a voided one stays, struck
through, marked "void: reason") with the "Record payment…" and "Void payment…" buttons.
``void_selected(page)`` voids the panel's selected payment: a reason (``Ask.text``; an empty
one is refused with a message), a confirmation naming the amount, method and patient
(``Ask.confirm``), then ``repo.void_payment`` (audited there). A void payment leaves the paid
total and the balance, in the list and in the superbill and day sheet built from the store.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.formats import format_date, format_date_time, format_short_date_time
from therapy_timer.core.model import BillingError
from therapy_timer.core.superbill import PAYMENT_KINDS
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import (
    pyside_guard,  # noqa: F401
    style,
)
from therapy_timer.ui.clock import on_screen
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.models import RIGHT, Column, RowsModel, money, records_table
from therapy_timer.ui.settings import dollars, parse_dollars

#: (stored value, label) of each payment method, in the order offered.
METHODS = (("card", "Card"), ("cash", "Cash"), ("check", "Check"), ("other", "Other"))
#: (stored value, label) of each payment kind, in the order offered.
KINDS = tuple(PAYMENT_KINDS.items())
#: Kinds that move no money: no method is asked (stored as "other").
NO_MONEY = ("adjustment", "write-off")


@dataclass(frozen=True, slots=True)
class PaymentEntry:
    """What the desk entered: cents above zero, a stored method, a reference (may be empty)
    and the kind (patient, insurance, adjustment, write-off)."""

    cents: int
    method: str
    reference: str = ""
    kind: str = "patient"


class PaymentDialog(QDialog):
    """Amount, method and reference of one payment; OK only with an amount above $0.00."""

    def __init__(self, title: str, charges_cents: int, paid_cents: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Record payment")
        self.setMinimumWidth(400)
        balance = charges_cents - paid_cents
        self.heading = QLabel(f"<b>{html.escape(title)}</b><br>Charges {money(charges_cents)}, "
                              f"paid {money(paid_cents)}, balance {money(balance)}")
        self.heading.setWordWrap(True)
        self.kind = QComboBox()
        self.kind.setAccessibleName("Payment kind")
        for value, label in KINDS:
            self.kind.addItem(label, value)
        self.kind.setToolTip("Patient or insurance payment: money received. Adjustment (for "
                             "example the payer's contractual reduction) or write-off: no "
                             "money, but it lowers the balance.")
        self.amount = QLineEdit(dollars(balance) if balance > 0 else "")
        self.amount.setAccessibleName("Amount in dollars")
        self.amount.setPlaceholderText("for example 45.00")
        self.method = QComboBox()
        self.method.setAccessibleName("Payment method")
        for value, label in METHODS:
            self.method.addItem(label, value)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.reference = QLineEdit()
        self.reference.setAccessibleName("Reference")
        self.reference.setPlaceholderText("check number, card slip… (optional)")
        self.reference.setMaxLength(200)
        self.error = QLabel()
        self.error.setStyleSheet("color: #a40000; font-weight: 600;")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Record")
        form = QFormLayout()
        self.form = form
        form.addRow("Kind", self.kind)
        form.addRow("Amount ($)", self.amount)
        form.addRow("Method", self.method)
        form.addRow("Reference", self.reference)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.amount.textEdited.connect(lambda _text: self.error.clear())
        self.amount.selectAll()

    def entry(self) -> PaymentEntry:
        """The entered payment.

        Raises:
            ValueError: the amount is not dollars above $0.00 (the message names the text).
        """
        text = self.amount.text()
        cents = parse_dollars(text)
        if cents <= 0:
            raise ValueError(f"{text.strip()!r}: a payment must be more than $0.00")
        kind = str(self.kind.currentData())
        method = "other" if kind in NO_MONEY else str(self.method.currentData())
        return PaymentEntry(cents, method, self.reference.text().strip(), kind)

    def _kind_changed(self, *_args) -> None:
        """An adjustment or a write-off moves no money: the method does not apply."""
        money_moves = self.kind.currentData() not in NO_MONEY
        self.method.setEnabled(money_moves)
        self.form.setRowVisible(self.method, money_moves)  # no method without money
        self.reference.setPlaceholderText(
            "check number, card slip… (optional)" if money_moves
            else "why, e.g. “contractual, EOB 03/12”")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(
            "Record" if money_moves else f"Record {self.kind.currentText().lower()}")

    def accept(self) -> None:
        try:
            self.entry()
        except ValueError as exc:
            self.error.setText(str(exc))
            self.amount.setFocus()
            return
        super().accept()

    @classmethod
    def ask(cls, parent: QWidget | None, title: str, charges_cents: int,
            paid_cents: int) -> PaymentEntry | None:
        """Shows the dialog; the entry, or None when cancelled."""
        dialog = cls(title, charges_cents, paid_cents, parent)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.entry()
        finally:
            dialog.deleteLater()


def record_for_selected(page) -> bool:
    """Asks for and saves a payment for the front-desk page's selected visit.

    Returns:
        True when a payment was saved (the list and the preview then refresh).
    """
    visit_id = page.selected_visit()
    row = next((r for r in page.model.rows() if r.visit_id == visit_id), None)
    if row is None:
        return False
    title = f"{row.patient}, {format_date(row.day)} (visit {row.visit_id})"
    entry = PaymentDialog.ask(page, title, row.charges_cents,
                              row.charges_cents - row.balance_cents)
    if entry is None:
        page._idle("No payment recorded.")
        return False
    now = page.clock.now() if page.clock is not None else datetime.now(UTC)
    try:
        page.repo.record_payment(visit_id, entry.cents, entry.method, entry.reference, now,
                                 user=page.user, kind=entry.kind)
    except (StorageError, BillingError) as exc:  # shown to the desk; nothing was saved
        page._failed(exc)
        return False
    if entry.kind == "patient":
        what = f"{money(entry.cents)} ({entry.method})"
    elif entry.kind == "insurance":
        what = f"an insurance payment of {money(entry.cents)} ({entry.method})"
    else:
        what = f"a {entry.kind} of {money(entry.cents)}"
    _changed(page, visit_id, f"Recorded {what} for {row.patient}.")
    return True


def _changed(page, visit_id: int, message: str) -> None:
    """After a payment changed: say so, reload the list (and the payments shown with it) and
    rebuild the visit's superbill, then say it again once that superbill shows."""
    page._idle(message)
    page.refresh(quiet=True)
    page.show_visit(visit_id)

    def confirm(kind: str) -> None:
        # The first document shown afterwards is this visit's rebuilt superbill (the list's
        # refresh may rebuild it again when it reselects the row; older requests never show).
        page.document_ready.disconnect(confirm)
        if kind == "superbill" and page._doc_visits == (visit_id,):
            page._idle(message)

    page.document_ready.connect(confirm)


def _method_label(method: str) -> str:
    return dict(METHODS).get(method, method).lower()


def describe_payment(payment) -> str:
    """"$25.00 by check (#1042) received 03/06 2:20 PM", for questions and messages (an
    adjustment or write-off: "write-off of $20.00 (reason) recorded 03/06 2:20 PM")."""
    reference = f" ({payment.reference})" if payment.reference else ""
    when = format_short_date_time(on_screen(payment.received_at))
    kind = getattr(payment, "kind", "patient")
    if kind in NO_MONEY:
        return f"{kind} of {money(payment.cents)}{reference} recorded {when}"
    by = "insurance " if kind == "insurance" else ""
    return (f"{money(payment.cents)} {by}by {_method_label(payment.method)}{reference} "
            f"received {when}")


def void_selected(page) -> bool:
    """Voids the payment selected in the front-desk page's payments panel.

    Asks why (required), then confirms naming the amount, method and patient. A payment that
    is already void is refused with a message.

    Returns:
        True when the payment was voided (the list, the payments and the preview refresh).
    """
    panel = page.payments
    payment = panel.selected_payment()
    if payment is None:
        return False
    patient = panel.patient
    what = describe_payment(payment)
    if payment.is_void:
        Ask.warn(page, "Already void", f"The payment of {what} for {patient} was already "
                 f"voided ({payment.void_reason}). A payment is voided once; nothing changed.")
        return False
    reason = Ask.text(page, "Void payment", f"Why is the payment of {what} for {patient} "
                      "voided? (kept with the payment, for example “entered twice”)")
    if reason is None:
        page._idle("No payment voided.")
        return False
    reason = reason.strip()
    if not reason:
        Ask.warn(page, "Not voided", "A void needs a reason: say why the payment is voided "
                 "(for example “entered twice”). Nothing was voided.")
        page._idle("No payment voided: a reason is required.")
        return False
    if not Ask.confirm(page, "Void this payment?",
                       f"Void the payment of {what} for {patient}?\n\nReason: {reason}\n\n"
                       "It stays on record, marked void, and no longer counts as paid.",
                       yes="Void payment", no="Keep it"):
        page._idle("No payment voided.")
        return False
    now = page.clock.now() if page.clock is not None else datetime.now(UTC)
    try:
        page.repo.void_payment(payment.id, reason, user=page.user, at=now)
    except (StorageError, BillingError) as exc:  # shown to the desk; nothing was voided
        page._failed(exc)
        panel.reload()  # its payments as the store holds them; the message stays shown
        return False
    _changed(page, panel.visit_id, f"Voided {money(payment.cents)} "
             f"({payment.method}) for {patient}: {reason}.")
    return True


def _status(payment) -> str:
    return f"void: {payment.void_reason}" if payment.is_void else ""


def _status_tip(payment) -> str:
    if not payment.is_void:
        return f"Received by {payment.user}"
    return (f"Voided {format_date_time(on_screen(payment.voided_at))} by {payment.voided_by}: "
            f"{payment.void_reason}")


_KIND_SHORT = {"patient": "Patient", "insurance": "Insurance", "adjustment": "Adjustment",
               "write-off": "Write-off"}


class PaymentsModel(RowsModel):
    """Payments (storage ``Payment`` rows); a void one is greyed and struck through."""

    STATUS = 5

    def __init__(self, parent=None) -> None:
        super().__init__([
            Column("Received", lambda p: format_short_date_time(on_screen(p.received_at))),
            Column("Amount", lambda p: money(p.cents), RIGHT),
            Column("Kind", lambda p: _KIND_SHORT.get(p.kind, p.kind),
                   tooltip=lambda p: PAYMENT_KINDS.get(p.kind, p.kind)),
            Column("Method", lambda p: "—" if p.kind in NO_MONEY
                   else dict(METHODS).get(p.method, p.method)),
            Column("Reference", lambda p: p.reference, tooltip=lambda p: p.reference),
            Column("Status", _status, tooltip=_status_tip),
        ], parent=parent)

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if index.isValid() and 0 <= index.row() < self.rowCount() \
                and self.row(index.row()).is_void:
            if role == Qt.ItemDataRole.FontRole and index.column() != self.STATUS:
                font = QFont()  # only the strike-out is set: the view's font gives the rest
                font.setStrikeOut(True)
                return font
            if role == Qt.ItemDataRole.ForegroundRole:
                return QColor(style.ERROR_INK if index.column() == self.STATUS
                              else style.MUTED)
        return super().data(index, role)


class PaymentsPanel(QWidget):
    """The payments of the front-desk page's selected visit, with Record and Void buttons.

    Follows the page: reloads when its list is reloaded or another visit is selected.
    """

    ROWS = 3  # payment rows shown without scrolling

    def __init__(self, page) -> None:
        super().__init__(page)
        self.page = page
        self.visit_id: int | None = None
        self.patient = ""
        self.setAccessibleName("Payments of the selected visit")
        self.title = QLabel()
        self.title.setProperty("role", "caption")
        self.title.setWordWrap(True)  # the patient's name stays whole in a narrow window
        self.record_button = QPushButton("Record payment…")
        self.record_button.setToolTip("Record money received for the selected visit")
        self.void_button = QPushButton("Void payment…")
        self.void_button.setToolTip("Void the selected payment (entered by mistake): it stays "
                                    "on record with the reason and no longer counts as paid")
        self.model = PaymentsModel(self)
        self.table = records_table(self.model, "Payments", stretch=PaymentsModel.STATUS)
        header = self.table.horizontalHeader()
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        row = self.table.verticalHeader().defaultSectionSize()
        self.table.setFixedHeight(header.sizeHint().height() + self.ROWS * row + 4)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.record_button)
        top.addWidget(self.void_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table)
        self.record_button.clicked.connect(page.record_payment)
        self.void_button.clicked.connect(page.void_payment)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._enable())
        page.listed.connect(self.reload)
        page.table.selectionModel().currentRowChanged.connect(lambda *_: self.reload())
        self.reload()

    def reload(self) -> None:
        """Shows the payments of the page's selected visit (keeps the selected payment)."""
        visit_id = self.page.selected_visit()
        row = next((r for r in self.page.model.rows() if r.visit_id == visit_id), None)
        kept = self.selected_payment()
        self.visit_id = visit_id if row is not None else None
        self.patient = row.patient if row is not None else ""
        payments = self.page.repo.payments_for(visit_id) if row is not None else []
        self.model.set_rows(payments)
        if row is None:
            self.title.setText("Payments: select a visit")
        elif not payments:
            self.title.setText(f"Payments of {row.patient}: none recorded")
        else:
            void = sum(1 for p in payments if p.is_void)
            adjusted = getattr(row, "adjusted_cents", 0)
            self.title.setText(f"Payments of {row.patient}: {money(row.paid_cents)} paid"
                               + (f", {money(adjusted)} adjusted or written off"
                                  if adjusted else "")
                               + (f" ({void} void)" if void else ""))
        for i, payment in enumerate(payments):
            if kept is not None and payment.id == kept.id:
                self.table.selectRow(i)
        self._enable()

    def selected_payment(self):
        """The selected storage ``Payment``, or None."""
        index = self.table.currentIndex()
        if not index.isValid() or index.row() >= self.model.rowCount():
            return None
        return self.model.row(index.row())

    def _enable(self) -> None:
        self.record_button.setEnabled(self.visit_id is not None)
        payment = self.selected_payment()
        self.void_button.setEnabled(payment is not None and not payment.is_void)
