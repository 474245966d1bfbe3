"""Payments received against finalized visits: record, list, total and void (never delete).

Amounts are integer cents above zero; an overpayment is allowed (the balance goes negative, a
credit). A payment entered by mistake is voided with a reason: the row stays, the audit log names
both steps, and totals leave it out. Each payment has a kind: a patient or an insurance payment
(money received), or an adjustment or write-off (no money; it still lowers the balance).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from therapy_timer.core.superbill import PAYMENT_KINDS, Credits
from therapy_timer.storage.base import SYSTEM_USER, RepositoryBase
from therapy_timer.storage.db import from_text, to_text
from therapy_timer.storage.errors import FrozenVisitError, InvalidDataError, NotFoundError

#: How a payment was received, as stored.
PAYMENT_METHODS = ("cash", "check", "card", "other")
#: An adjustment or write-off moves no money: it is stored with this method.
NO_MONEY_METHOD = "other"
#: The longest reference (check number, card slip, note) kept.
MAX_REFERENCE = 200


@dataclass(frozen=True, slots=True)
class Payment:
    """One payment as stored; ``voided_at`` is set once it was voided."""

    id: int
    visit_id: int
    cents: int
    method: str
    reference: str
    received_at: datetime
    user: str
    voided_at: datetime | None = None
    voided_by: str | None = None
    void_reason: str | None = None
    kind: str = "patient"

    @property
    def is_void(self) -> bool:
        return self.voided_at is not None

    @property
    def moves_money(self) -> bool:
        """A patient or insurance payment (not an adjustment or write-off)."""
        return self.kind in ("patient", "insurance")


def _payment_from(row) -> Payment:
    return Payment(row["id"], row["visit_id"], row["cents"], row["method"], row["reference"],
                   from_text(row["received_at"]), row["user"], from_text(row["voided_at"]),
                   row["voided_by"], row["void_reason"], row["kind"])


def _kind(kind: str) -> str:
    text = str(kind or "").strip().lower()
    if text not in PAYMENT_KINDS:
        raise InvalidDataError(f"payment kind {kind!r} is not one of "
                               f"{', '.join(PAYMENT_KINDS)}")
    return text


def _cents(cents) -> int:
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise InvalidDataError(f"a payment amount must be whole cents, got {cents!r}")
    if cents <= 0:
        raise InvalidDataError(f"a payment must be more than $0.00, got {cents} cents")
    return cents


def _method(method: str) -> str:
    text = str(method or "").strip().lower()
    if text not in PAYMENT_METHODS:
        raise InvalidDataError(f"payment method {method!r} is not one of "
                               f"{', '.join(PAYMENT_METHODS)}")
    return text


def _when(at: datetime, what: str) -> datetime:
    if not isinstance(at, datetime):
        raise InvalidDataError(f"{what} must be a date and time, got {at!r}")
    to_text(at)  # refuses a naive time with a clear message
    return at


#: Each asked visit (``root``) with the visits it amends, back to the first one.
# The step looks each visit up by its key in a subquery: written as a join, SQLite builds a
# Bloom filter over the whole visits table at every call (35 ms on a 10-year clinic, per
# visit of a day's superbills); the subquery costs microseconds whatever the history.
_CHAIN = ("WITH RECURSIVE chain(root, id) AS (SELECT id, id FROM visits WHERE id = ?"
          " UNION ALL SELECT chain.root, (SELECT v.amends_id FROM visits v WHERE v.id = chain.id)"
          " FROM chain WHERE (SELECT v.amends_id FROM visits v WHERE v.id = chain.id)"
          " IS NOT NULL)")


class PaymentsMixin(RepositoryBase):
    """Payments on finalized visits. Each change is one audited transaction."""

    def record_payment(self, visit_id: int, cents: int, method: str, reference: str = "",
                       at: datetime | None = None, user: str | None = None,
                       kind: str = "patient") -> Payment:
        """Records money received (or an adjustment or write-off) for a finalized visit.

        Args:
            cents: the amount, whole cents above zero (more than the balance is allowed).
            method: cash, check, card or other (an adjustment or write-off is stored as
                "other": no money moved).
            reference: a check number, card slip or note (may be empty).
            at: when it was received (aware; default the repository's clock).
            kind: patient, insurance, adjustment or write-off.

        Raises:
            NotFoundError: no such visit.
            FrozenVisitError: the visit is not finalized (open, amended or void).
            InvalidDataError: the amount, method, reference or time is not acceptable.
        """
        cents = _cents(cents)
        kind = _kind(kind)
        method = NO_MONEY_METHOD if kind in ("adjustment", "write-off") else _method(method)
        reference = str(reference or "").strip()
        if len(reference) > MAX_REFERENCE:
            raise InvalidDataError(f"a payment reference is at most {MAX_REFERENCE} "
                                   f"characters, got {len(reference)}")
        at = _when(self.clock() if at is None else at, "the time received")
        who = user or SYSTEM_USER
        with self._write() as conn:
            row = conn.execute("SELECT status FROM visits WHERE id = ?", (visit_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"visit {visit_id} not found; no payment recorded")
            if row[0] != "finalized":
                raise FrozenVisitError(f"visit {visit_id} is {row[0]}: payments are recorded "
                                       "only against a finalized visit")
            cursor = conn.execute(
                "INSERT INTO payments (visit_id, cents, method, reference, received_at, user,"
                " kind) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (visit_id, cents, method, reference, to_text(at), who, kind))
            payment_id = int(cursor.lastrowid)
            self._audit(at, user, "payment", "visit", visit_id,
                        {"payment": payment_id, "cents": cents, "method": method,
                         "reference": reference, "kind": kind})
        return self.get_payment(payment_id)

    def get_payment(self, payment_id: int) -> Payment:
        return _payment_from(self._one("SELECT * FROM payments WHERE id = ?", (payment_id,),
                                       f"payment {payment_id}"))

    def payments_for(self, visit_id: int, include_void: bool = True) -> list[Payment]:
        """The visit's payments in the order received, voided ones too unless asked not.

        A correction (amendment) carries the payments received for the visits it replaces.
        """
        sql = (_CHAIN + " SELECT p.* FROM chain JOIN payments p ON p.visit_id = chain.id")
        if not include_void:
            sql += " WHERE p.voided_at IS NULL"
        return [_payment_from(r) for r in self._rows(sql + " ORDER BY p.received_at, p.id",
                                                     (visit_id,))]

    def paid_cents(self, visit_ids: Collection[int]) -> dict[int, int]:
        """Money received per visit, voided payments left out: every asked id is a key.

        A correction (amendment) counts the payments received for the visits it replaces.
        """
        ids = list(dict.fromkeys(int(v) for v in visit_ids))
        paid = dict.fromkeys(ids, 0)
        for start in range(0, len(ids), 500):  # stay under SQLite's parameter limit
            chunk = ids[start:start + 500]
            sql = (_CHAIN.replace("id = ?", f"id IN ({','.join('?' * len(chunk))})")
                   + " SELECT chain.root, SUM(p.cents) AS cents FROM chain JOIN payments p"
                   " ON p.visit_id = chain.id WHERE p.voided_at IS NULL GROUP BY chain.root")
            paid.update({r["root"]: int(r["cents"]) for r in self._rows(sql, chunk)})
        return paid

    def payment_totals(self, visit_ids: Collection[int]) -> dict[int, Credits]:
        """What lowered each visit's balance, per kind (voided payments left out): every asked
        id is a key. A correction (amendment) counts those of the visits it replaces."""
        ids = list(dict.fromkeys(int(v) for v in visit_ids))
        by_kind: dict[int, dict[str, int]] = {v: {} for v in ids}
        for root, kind, _method, cents in self._payment_sums(ids):
            by_kind[root][kind] = by_kind[root].get(kind, 0) + cents
        return {v: Credits.of(kinds) for v, kinds in by_kind.items()}

    def payment_breakdown(self, visit_ids: Collection[int]) -> dict[tuple[str, str], int]:
        """(kind, method) -> cents over the asked visits, voided payments left out."""
        ids = list(dict.fromkeys(int(v) for v in visit_ids))
        out: dict[tuple[str, str], int] = {}
        for _root, kind, method, cents in self._payment_sums(ids):
            out[(kind, method)] = out.get((kind, method), 0) + cents
        return out

    def _payment_sums(self, ids: list[int]) -> list[tuple[int, str, str, int]]:
        rows: list[tuple[int, str, str, int]] = []
        for start in range(0, len(ids), 500):  # stay under SQLite's parameter limit
            chunk = ids[start:start + 500]
            sql = (_CHAIN.replace("id = ?", f"id IN ({','.join('?' * len(chunk))})")
                   + " SELECT chain.root, p.kind, p.method, SUM(p.cents) AS cents FROM chain"
                   " JOIN payments p ON p.visit_id = chain.id WHERE p.voided_at IS NULL"
                   " GROUP BY chain.root, p.kind, p.method")
            rows.extend((int(r["root"]), r["kind"], r["method"], int(r["cents"]))
                        for r in self._rows(sql, chunk))
        return rows

    def void_payment(self, payment_id: int, reason: str, user: str | None = None,
                     at: datetime | None = None) -> Payment:
        """Voids a payment entered by mistake: kept with the reason, left out of totals.

        Raises:
            NotFoundError: no such payment.
            InvalidDataError: no reason given, or the payment is already void.
        """
        reason = str(reason or "").strip()
        if not reason:
            raise InvalidDataError("say why the payment is voided (a reason is required)")
        at = _when(self.clock() if at is None else at, "the time voided")
        who = user or SYSTEM_USER
        with self._write() as conn:
            row = conn.execute("SELECT visit_id, cents, voided_at FROM payments WHERE id = ?",
                               (payment_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"payment {payment_id} not found; nothing voided")
            if row[2] is not None:
                raise InvalidDataError(f"payment {payment_id} is already void")
            conn.execute("UPDATE payments SET voided_at = ?, voided_by = ?, void_reason = ?"
                         " WHERE id = ?", (to_text(at), who, reason, payment_id))
            self._audit(at, user, "payment voided", "visit", row[0],
                        {"payment": payment_id, "cents": row[1], "reason": reason})
        return self.get_payment(payment_id)
