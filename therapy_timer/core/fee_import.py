"""A fee schedule file (CSV of code,amount) read and compared with the schedule in force.

Used by ``therapy-timer import fees`` and Settings > Fee schedule > Import: the same checks
and the same preview, so what the dialog shows is what the command would store. Pure Python.

File format: one ``code,amount`` row a line (amount in dollars: ``45.00``, ``$45``,
``"1,234.50"``); an optional first line ``code,amount`` (any case) is a header; blank lines
are skipped. A wrong number of columns, an amount that is not money, a code that is not a
CPT/HCPCS code or not in the catalog, a code listed twice or a file with no rows is refused
with ``FeeFileError``, naming the file, the line and the problem; nothing is stored.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from therapy_timer.core.model import BillingError
from therapy_timer.core.validation import validate_code

#: $100,000 a unit: above it an amount is a typing error, never a fee.
MAX_FEE_CENTS = 10_000_000
_MONEY = re.compile(r"^\$?\s*(\d{1,3}(,\d{3})+|\d+)?(\.\d{1,2})?$")


class FeeFileError(BillingError):
    """A fee file that cannot be imported; the message names the file, line and problem."""


@dataclass(frozen=True, slots=True)
class FeeRow:
    """One row of a fee file: the code, its amount per unit and the line it came from."""

    code: str
    cents: int
    line: int


@dataclass(frozen=True, slots=True)
class FeeChange:
    """What importing one row does: ``old_cents`` None for a code with no amount in force."""

    code: str
    old_cents: int | None
    new_cents: int

    @property
    def kind(self) -> str:
        if self.old_cents is None:
            return "new"
        return "unchanged" if self.old_cents == self.new_cents else "changed"


def parse_money(text: str) -> int:
    """``"$1,234.50"`` -> 123450 cents.

    Raises:
        ValueError: the text is not a non-negative dollar amount (the message names it).
    """
    raw = str(text).strip()
    if not raw or raw in ("$", ".") or not _MONEY.match(raw):
        raise ValueError(f"{text!r} is not an amount in dollars (for example 45.00)")
    try:
        amount = Decimal(raw.replace("$", "").replace(",", "").strip() or "0")
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(f"{text!r} is not an amount in dollars (for example 45.00)") from None
    return int((amount * 100).to_integral_value())


def fee_amount(text: str) -> int:
    """A fee or allowed amount per unit typed in dollars, in cents: what the import and the
    Settings tables both accept.

    Raises:
        ValueError: not dollars, or more than $100,000.00 a unit (the message names it).
    """
    cents = parse_money(text)
    if cents > MAX_FEE_CENTS:
        raise ValueError(f"{str(text).strip()!r} is more than $100,000.00 a unit")
    return cents


def parse_fee_file(text: str, name: str,
                   known: Callable[[str], bool] | None = None) -> list[FeeRow]:
    """The rows of a fee file, every one checked.

    Args:
        text: the file's text (already decoded).
        name: how messages name the file (its path).
        known: True for a code in the catalog (shipped or the clinic's); None accepts any
            well-formed code.

    Raises:
        FeeFileError: ``"NAME, line N: problem"``; the first problem found.
    """
    rows: list[FeeRow] = []
    seen: dict[str, int] = {}
    reader = csv.reader(text.splitlines())
    for number, cells in enumerate(reader, start=1):
        where = f"{name}, line {number}"
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if not rows and not seen and [c.lower() for c in cells] == ["code", "amount"]:
            continue
        if len(cells) != 2:
            raise FeeFileError(f"{where}: expected 2 columns (code,amount), found "
                               f"{len(cells)}: {','.join(cells)[:60]!r}")
        raw_code, raw_amount = cells
        try:
            code = validate_code(raw_code)
        except BillingError as exc:
            raise FeeFileError(f"{where}: {exc}") from None
        if known is not None and not known(code):
            raise FeeFileError(f"{where}: {code} is not in the code catalog (a code the "
                               "clinic needs can be added in Settings > Codes first)")
        try:
            cents = fee_amount(raw_amount)
        except ValueError as exc:
            raise FeeFileError(f"{where}: amount for {code}: {exc}") from None
        if code in seen:
            raise FeeFileError(f"{where}: {code} is listed twice (first on line "
                               f"{seen[code]}); keep one row per code")
        seen[code] = number
        rows.append(FeeRow(code, cents, number))
    if not rows:
        raise FeeFileError(f"{name}: no fee rows (expected lines of code,amount such as "
                           "97110,45.00)")
    return rows


def fee_changes(current: Mapping[str, int], rows: list[FeeRow]) -> list[FeeChange]:
    """What importing ``rows`` changes against the amounts in force on the start date,
    sorted by code. Codes in force but absent from the file are left as they are."""
    return [FeeChange(r.code, current.get(r.code), r.cents)
            for r in sorted(rows, key=lambda r: r.code)]


def summary(changes: list[FeeChange]) -> str:
    """``"3 changed, 1 new, 2 unchanged"``."""
    counts = {kind: sum(1 for c in changes if c.kind == kind)
              for kind in ("changed", "new", "unchanged")}
    return ", ".join(f"{n} {kind}" for kind, n in counts.items())
