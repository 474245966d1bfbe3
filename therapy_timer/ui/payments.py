"""Recording a payment at the front desk: the small dialog and the step that saves it.

``PaymentDialog.ask(parent, title, charges_cents, paid_cents) -> PaymentEntry | None`` asks for
the amount (dollars, read by ``settings.parse_dollars``), the method and a reference; tests
replace ``ask``. ``record_for_selected(page)`` runs the whole step for the front-desk page's
selected visit: ask, save through the page's repository (audited there), then refresh the list
and the superbill preview.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.ui import pyside_guard  # noqa: F401
from therapy_timer.ui.models import money
from therapy_timer.ui.settings import dollars, parse_dollars

#: (stored value, label) of each payment method, in the order offered.
METHODS = (("card", "Card"), ("cash", "Cash"), ("check", "Check"), ("other", "Other"))


@dataclass(frozen=True, slots=True)
class PaymentEntry:
    """What the desk entered: cents above zero, a stored method, a reference (may be empty)."""

    cents: int
    method: str
    reference: str = ""


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
        self.amount = QLineEdit(dollars(balance) if balance > 0 else "")
        self.amount.setAccessibleName("Amount in dollars")
        self.amount.setPlaceholderText("for example 45.00")
        self.method = QComboBox()
        self.method.setAccessibleName("Payment method")
        for value, label in METHODS:
            self.method.addItem(label, value)
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
        return PaymentEntry(cents, str(self.method.currentData()), self.reference.text().strip())

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
    title = f"{row.patient}, {row.day.isoformat()} (visit {row.visit_id})"
    entry = PaymentDialog.ask(page, title, row.charges_cents, row.paid_cents)
    if entry is None:
        page._idle("No payment recorded.")
        return False
    now = page.clock.now() if page.clock is not None else datetime.now(UTC)
    try:
        page.repo.record_payment(visit_id, entry.cents, entry.method, entry.reference, now,
                                 user=page.user)
    except Exception as exc:  # noqa: BLE001 - shown to the desk; nothing was saved
        page._failed(exc)
        return False
    message = f"Recorded {money(entry.cents)} ({entry.method}) for {row.patient}."
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
    return True
