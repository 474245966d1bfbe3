"""Voiding a payment at the front desk: the selected visit's payments are listed, "Void
payment…" asks a reason (required) and confirms naming the amount, method and patient; the
void payment stays listed, struck through and marked, and leaves the paid total, the balance,
the superbill and the day sheet. Real widgets; the questions (``Ask``) are answered by tests."""

from __future__ import annotations

import io

import pypdf
import pytest
from PySide6.QtCore import Qt

from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.models import money
from therapy_timer.ui.payments import PaymentsModel

from .conftest import TIMEOUT

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")
PAID, BALANCE = 6, 7  # visit list columns
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def paid(qtbot, page, repo, clock):
    """The first listed visit with $25.00 by check and $10.00 cash, selected on the desk."""
    row = page.model.row(0)
    check = repo.record_payment(row.visit_id, 2500, "check", "#1042", clock.now(),
                                user="Front Desk")
    cash = repo.record_payment(row.visit_id, 1000, "cash", "", clock.now(), user="Front Desk")
    with qtbot.waitSignal(page.listed, timeout=TIMEOUT):
        page.refresh()
    rect = page.table.visualRect(page.model.index(0, 2))
    with qtbot.waitSignal(page.document_ready, timeout=TIMEOUT):
        qtbot.mouseClick(page.table.viewport(), LEFT, pos=rect.center())
    return row, check, cash


def _pick(qtbot, page, payment_id):
    """Clicks the payment's row in the payments panel."""
    panel = page.payments
    [i] = [i for i in range(panel.model.rowCount()) if panel.model.row(i).id == payment_id]
    rect = panel.table.visualRect(panel.model.index(i, 1))
    qtbot.mouseClick(panel.table.viewport(), LEFT, pos=rect.center())
    assert panel.selected_payment().id == payment_id
    return i


def _answers(monkeypatch, reason, confirm=True):
    """Answers the reason and the confirmation; returns what was asked."""
    asked = []

    def text(cls, parent, title, label, **kwargs):
        asked.append(("text", title, label))
        return reason

    def yes_no(cls, parent, title, text, **kwargs):
        asked.append(("confirm", title, text, kwargs.get("yes")))
        return confirm

    monkeypatch.setattr(Ask, "text", classmethod(text))
    monkeypatch.setattr(Ask, "confirm", classmethod(yes_no))
    return asked


def _pdf_text(data: bytes) -> str:
    pages = pypdf.PdfReader(io.BytesIO(data)).pages
    return " ".join(" ".join(p.extract_text() for p in pages).split())


def _visit_row(page, visit_id) -> int:
    return next(i for i in range(page.model.rowCount())
                if page.model.row(i).visit_id == visit_id)


def test_the_selected_visits_payments_are_listed(qtbot, page, paid):
    row, check, cash = paid
    panel = page.payments
    assert panel.visit_id == row.visit_id
    assert panel.model.rowCount() == 2
    assert [panel.model.cell_text(i, 1) for i in range(2)] == ["$25.00", "$10.00"]
    assert [panel.model.cell_text(i, 3) for i in range(2)] == ["Check", "Cash"]
    assert panel.model.cell_text(0, 4) == "#1042"
    assert panel.title.text() == f"Payments of {row.patient}: $35.00 paid"
    assert page.payment_button.isEnabled()
    assert not panel.void_button.isEnabled()  # no payment selected yet
    _pick(qtbot, page, check.id)
    assert panel.void_button.isEnabled()


def test_void_with_a_reason_updates_the_list_balance_and_documents(
        qtbot, page, repo, clock, paid, monkeypatch):
    row, check, cash = paid
    panel = page.payments
    _pick(qtbot, page, check.id)
    asked = _answers(monkeypatch, "  entered twice  ")
    with qtbot.waitSignal(page.listed, timeout=TIMEOUT), \
            qtbot.waitSignal(page.document_ready, timeout=TIMEOUT):
        qtbot.mouseClick(panel.void_button, LEFT)
    # asked why, then confirmed naming the amount, method and patient
    (_, _, label), (_, title, text, yes) = asked
    assert "$25.00 by check (#1042)" in label and row.patient in label
    assert title == "Void this payment?" and yes == "Void payment"
    assert "$25.00 by check (#1042)" in text and row.patient in text
    assert "Reason: entered twice" in text
    # stored: void with the reason, the user and the time; the other payment untouched
    voided = repo.get_payment(check.id)
    assert (voided.void_reason, voided.voided_by, voided.voided_at) == (
        "entered twice", "Front Desk", clock.now())
    assert not repo.get_payment(cash.id).is_void
    assert repo.audit_entries("visit", row.visit_id)[0].action == "payment voided"
    # the visit list counts only the cash
    i = _visit_row(page, row.visit_id)
    assert page.model.cell_text(i, PAID) == "$10.00"
    assert page.model.cell_text(i, BALANCE) == money(row.charges_cents - 1000)
    assert "$10.00 paid" in page.summary.text()
    assert page.selected_visit() == row.visit_id
    # the void payment stays listed, struck through and marked with the reason
    assert panel.model.rowCount() == 2
    void_row = next(r for r in range(2) if panel.model.row(r).id == check.id)
    assert panel.model.cell_text(void_row, PaymentsModel.STATUS) == "void: entered twice"
    amount = panel.model.index(void_row, 1)
    assert panel.model.data(amount, Qt.ItemDataRole.FontRole).strikeOut()
    assert panel.model.data(panel.model.index(1 - void_row, 1), Qt.ItemDataRole.FontRole) is None
    assert "Front Desk" in panel.model.data(panel.model.index(void_row, PaymentsModel.STATUS),
                                            Qt.ItemDataRole.ToolTipRole)
    assert panel.title.text() == f"Payments of {row.patient}: $10.00 paid (1 void)"
    assert panel.selected_payment().id == check.id
    assert not panel.void_button.isEnabled()  # the selected payment is void now
    assert page.status.text() == f"Voided $25.00 (check) for {row.patient}: entered twice."
    # the rebuilt superbill and the day sheet leave it out
    text = _pdf_text(page.current_pdf)
    assert "Amount paid $10.00" in text
    assert f"Balance due {money(row.charges_cents - 1000)}" in text
    with qtbot.waitSignal(page.document_ready, timeout=TIMEOUT):
        page.show_daysheet()
    assert "Payments received $10.00" in _pdf_text(page.current_pdf)


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_empty_reason_is_refused_with_a_message(qtbot, page, repo, paid, monkeypatch,
                                                   reason):
    row, check, _cash = paid
    _pick(qtbot, page, check.id)
    asked = _answers(monkeypatch, reason)
    warned = []
    monkeypatch.setattr(Ask, "warn", classmethod(
        lambda cls, parent, title, text: warned.append((title, text))))
    qtbot.mouseClick(page.payments.void_button, LEFT)
    assert [a[0] for a in asked] == ["text"]  # no confirmation asked
    [(title, text)] = warned
    assert title == "Not voided" and "needs a reason" in text
    assert not repo.get_payment(check.id).is_void
    assert page.status.text() == "No payment voided: a reason is required."
    assert page.model.cell_text(_visit_row(page, row.visit_id), PAID) == "$35.00"


@pytest.mark.parametrize("where", ["reason", "confirmation"])
def test_cancel_leaves_the_payment_untouched(qtbot, page, repo, paid, monkeypatch, where):
    row, check, _cash = paid
    _pick(qtbot, page, check.id)
    asked = (_answers(monkeypatch, None) if where == "reason"
             else _answers(monkeypatch, "wrong visit", confirm=False))
    assert page.void_payment() is False
    assert len(asked) == (1 if where == "reason" else 2)
    assert repo.get_payment(check.id) == check
    assert page.status.text() == "No payment voided."
    panel = page.payments
    assert panel.model.cell_text(0, PaymentsModel.STATUS) == ""
    assert panel.void_button.isEnabled()
    assert page.model.cell_text(_visit_row(page, row.visit_id), PAID) == "$35.00"


def test_a_void_payment_cannot_be_voided_twice(qtbot, page, repo, paid, monkeypatch):
    row, check, cash = paid
    first = repo.void_payment(check.id, "entered twice", user="Front Desk")
    with qtbot.waitSignal(page.listed, timeout=TIMEOUT):
        page.refresh()
    panel = page.payments
    _pick(qtbot, page, check.id)
    assert not panel.void_button.isEnabled()
    warned = []
    monkeypatch.setattr(Ask, "warn", classmethod(
        lambda cls, parent, title, text: warned.append((title, text))))
    assert page.void_payment() is False  # Ask.text and Ask.confirm are never asked
    [(title, text)] = warned
    assert title == "Already void" and "entered twice" in text
    assert repo.get_payment(check.id) == first

    # voided elsewhere while the list still shows it payable: the store refuses, it shows
    _pick(qtbot, page, cash.id)
    assert panel.void_button.isEnabled()
    repo.void_payment(cash.id, "refunded", user="Other Desk")
    _answers(monkeypatch, "entered twice")
    with qtbot.waitSignal(page.failed, timeout=TIMEOUT) as failed:
        qtbot.mouseClick(panel.void_button, LEFT)
    assert "already void" in failed.args[0]
    assert "already void" in page.status.text()
    assert repo.get_payment(cash.id).void_reason == "refunded"
    assert panel.model.cell_text(_pick(qtbot, page, cash.id), PaymentsModel.STATUS) == \
        "void: refunded"
    assert not panel.void_button.isEnabled()


def test_no_visit_selected_offers_nothing(qtbot, page):
    panel = page.payments
    assert panel.visit_id is None and panel.model.rowCount() == 0
    assert panel.title.text() == "Payments: select a visit"
    assert not page.payment_button.isEnabled() and not panel.void_button.isEnabled()
    assert page.void_payment() is False
