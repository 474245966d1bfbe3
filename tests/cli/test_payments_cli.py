"""``therapy-timer superbill`` and ``daysheet`` print the payments recorded in the store: the
amount paid and the balance due (voided payments left out)."""

from __future__ import annotations

import pytest

from tests.pdf.clinic import build, t
from tests.pdf.conftest import pages_text
from therapy_timer.cli import main
from therapy_timer.storage.repository import open_repository


@pytest.fixture
def paid_db(cli_target):
    """On both databases (a file, a clinic server: tests/cli/conftest.py)."""
    path = cli_target
    repo = open_repository(path)
    clinic = build(repo)
    repo.record_payment(clinic.main_visit, 3000, "card", "slip 12", t(120), user="desk")
    wrong = repo.record_payment(clinic.main_visit, 99900, "cash", "", t(121), user="desk")
    repo.void_payment(wrong.id, "wrong visit", user="desk", at=t(122))
    repo.record_payment(clinic.self_pay_visit, 1250, "check", "#5", t(123), user="desk")
    charges = {v: sum(c.charge_cents for c in repo.charge_lines(v))
               for v in (clinic.main_visit, clinic.self_pay_visit)}
    repo.close()
    return path, clinic, charges


@pytest.fixture(autouse=True)
def _no_icd_package(monkeypatch):
    import therapy_timer.commands.documents as documents

    monkeypatch.setattr(documents, "icd_describer", lambda: {}.get)


def text_of(path) -> str:
    return " ".join(" ".join(pages_text(path.read_bytes())).split())


def test_superbill_prints_the_amount_paid_and_the_balance(paid_db, tmp_path):
    db, clinic, charges = paid_db
    out = tmp_path / "bill.pdf"
    assert main(["superbill", "--db", str(db), "--visit", str(clinic.main_visit),
                 "--out", str(out)]) == 0
    text = text_of(out)
    assert "Amount paid $30.00" in text
    assert charges[clinic.main_visit] == 19200  # $50 + $52 + $45 + $45
    assert "Balance due $162.00" in text  # the voided $999 left out


def test_split_superbills_each_print_their_own_payments(paid_db, tmp_path):
    db, clinic, charges = paid_db
    folder = tmp_path / "bills"
    folder.mkdir()
    assert main(["superbill", "--db", str(db), "--date", "2026-11-20",
                 "--split", str(folder)]) == 0
    other = text_of(folder / f"superbill-2026-11-20-visit-{clinic.self_pay_visit}.pdf")
    assert "Amount paid $12.50" in other
    assert charges[clinic.self_pay_visit] == 21400  # 97165 $120 + 97535 2 x $47
    assert "Balance due $201.50" in other


def test_daysheet_prints_the_payments_recorded(paid_db, tmp_path):
    db, _clinic, _charges = paid_db
    out = tmp_path / "sheet.pdf"
    assert main(["daysheet", "--db", str(db), "--date", "2026-11-20", "--out", str(out)]) == 0
    assert "Payments received $42.50" in text_of(out)
