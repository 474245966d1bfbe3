"""Front desk payments: the Record payment button asks (dialog replaced), saves through the
repository, the list shows paid and balance, and the refreshed preview prints the amount paid.
The dialog itself is driven with real widgets."""

from __future__ import annotations

import io

import pypdf
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from therapy_timer.ui.models import money
from therapy_timer.ui.payments import PaymentDialog, PaymentEntry

from .conftest import END, TIMEOUT

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")
PAID, BALANCE = 6, 7  # list columns


def _select(qtbot, page, row):
    rect = page.table.visualRect(page.model.index(row, 2))
    with qtbot.waitSignal(page.document_ready, timeout=TIMEOUT):
        qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def _pdf_text(data: bytes) -> str:
    pages = pypdf.PdfReader(io.BytesIO(data)).pages
    return " ".join(" ".join(p.extract_text() for p in pages).split())


def _answer(monkeypatch, entry, seen=None):
    def ask(cls, parent, title, charges, paid):
        if seen is not None:
            seen.append((title, charges, paid))
        return entry
    monkeypatch.setattr(PaymentDialog, "ask", classmethod(ask))


def test_record_a_payment_for_the_selected_visit(qtbot, page, repo, clock, monkeypatch):
    assert not page.payment_button.isEnabled()  # nothing selected yet
    row = page.model.row(0)
    assert page.model.cell_text(0, PAID) == "$0.00"
    assert page.model.cell_text(0, BALANCE) == money(row.charges_cents)
    _select(qtbot, page, 0)
    assert page.payment_button.isEnabled()
    seen = []
    _answer(monkeypatch, PaymentEntry(2500, "check", "#1042"), seen)
    with qtbot.waitSignal(page.listed, timeout=TIMEOUT), \
            qtbot.waitSignal(page.document_ready, timeout=TIMEOUT):
        qtbot.mouseClick(page.payment_button, Qt.MouseButton.LeftButton)
    assert seen == [(f"{row.patient}, {END:%m/%d/%Y} (visit {row.visit_id})",
                     row.charges_cents, 0)]
    (payment,) = repo.payments_for(row.visit_id)
    assert (payment.cents, payment.method, payment.reference, payment.user) == (
        2500, "check", "#1042", "Front Desk")
    assert payment.received_at == clock.now()
    assert repo.audit_entries("visit", row.visit_id)[0].action == "payment"
    # The list shows it, the selection stays, and the preview was rebuilt with it.
    index = next(i for i in range(page.model.rowCount())
                 if page.model.row(i).visit_id == row.visit_id)
    assert page.model.cell_text(index, PAID) == "$25.00"
    assert page.model.cell_text(index, BALANCE) == money(row.charges_cents - 2500)
    assert page.selected_visit() == row.visit_id
    text = _pdf_text(page.current_pdf)
    assert "Amount paid $25.00" in text
    assert f"Balance due {money(row.charges_cents - 2500)}" in text
    assert page.status.text() == f"Recorded $25.00 (check) for {row.patient}."
    assert "$25.00 paid" in page.summary.text()


def test_cancelling_records_nothing(qtbot, page, repo, monkeypatch):
    _select(qtbot, page, 0)
    _answer(monkeypatch, None)
    assert page.record_payment() is False
    assert repo.payments_for(page.model.row(0).visit_id) == []
    assert page.status.text() == "No payment recorded."


def test_a_refused_payment_is_shown_and_nothing_saved(qtbot, page, repo, monkeypatch):
    _select(qtbot, page, 0)
    visit_id = page.selected_visit()
    _answer(monkeypatch, PaymentEntry(500, "barter"))
    with qtbot.waitSignal(page.failed, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(page.payment_button, Qt.MouseButton.LeftButton)
    assert "'barter' is not one of cash, check, card, other" in blocker.args[0]
    assert "barter" in page.status.text()
    assert repo.payments_for(visit_id) == []


def test_the_dialog_reads_dollars_method_and_reference(qtbot):
    dialog = PaymentDialog("Testa, Ann, 2026-03-06", 9000, 2500)
    qtbot.addWidget(dialog)
    assert "balance $65.00" in dialog.heading.text()
    assert dialog.amount.text() == "65.00"  # the balance is offered
    dialog.amount.setText("$1,234.5")
    dialog.method.setCurrentIndex(dialog.method.findData("cash"))
    dialog.reference.setText("  receipt 7  ")
    assert dialog.entry() == PaymentEntry(123450, "cash", "receipt 7")
    with qtbot.waitSignal(dialog.accepted, timeout=1000):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


@pytest.mark.parametrize(("text", "message"), [
    ("0", "more than \\$0.00"),
    ("0.00", "more than \\$0.00"),
    ("ten", "'ten' is not an amount in dollars"),
    ("-5", "is not an amount in dollars"),
    ("", "is not an amount in dollars"),
])
def test_the_dialog_refuses_a_bad_amount_and_stays_open(qtbot, text, message):
    dialog = PaymentDialog("Visit", 9000, 0)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.amount.setText(text)
    with pytest.raises(ValueError, match=message):
        dialog.entry()
    accepted = []
    dialog.accepted.connect(lambda: accepted.append(True))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert accepted == [] and dialog.isVisible()
    assert dialog.error.text()
    qtbot.keyClicks(dialog.amount, "1")
    assert dialog.error.text() == ""  # typing clears the message
    dialog.close()


def test_no_balance_offers_an_empty_amount(qtbot):
    dialog = PaymentDialog("Visit", 9000, 9500)
    qtbot.addWidget(dialog)
    assert dialog.amount.text() == ""
    assert "balance -$5.00" in dialog.heading.text()
