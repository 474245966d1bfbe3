"""Money by date of service and the clinic's own codes: the fee schedule's and each payer's
allowed amounts as dated entries (a change from 1 January leaves last year's visits at last
year's amounts), fee-file imports, and codes the clinic adds to the shipped catalog.

A dated entry is in force from its ``effective_from`` through its ``effective_to`` (open:
until the next entry). Setting an amount from a date ends the entry in force then the day
before, and the new entry ends the day before the next later entry, if any: at most one
amount per code is in force on any day. ``0001-01-01`` means "from the start" (amounts
entered before amounts had dates, or without a date).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, timedelta

from therapy_timer.core.codes import Catalog, CodeInfo, clinic_code, default_catalog
from therapy_timer.core.fee_import import FeeChange, FeeRow, fee_changes
from therapy_timer.core.model import BillingError, Discipline
from therapy_timer.core.records import FeeEntry
from therapy_timer.storage.base import RepositoryBase
from therapy_timer.storage.db import day_from, day_text, to_text
from therapy_timer.storage.errors import InvalidDataError

#: The first day of every date of service: what undated amounts are in force from.
FROM_THE_START = date(1, 1, 1)


def put_dated(conn: sqlite3.Connection, table: str, key: dict, code: str, cents: int,
              start: date) -> None:
    """Sets ``code``'s amount from ``start`` in a dated table (``fees``, ``payer_allowed``),
    keeping one amount in force a day. ``key``: the other columns naming the schedule
    (``{"payer_id": 3}``; empty for the clinic's fees)."""
    where = " AND ".join([*(f"{k} = ?" for k in key), "code = ?"])
    args = [*key.values(), code]
    begin = day_text(start)
    same = conn.execute(f"UPDATE {table} SET cents = ? WHERE {where} AND effective_from = ?",
                        [cents, *args, begin])
    if same.rowcount:  # an amount from that very day: replaced
        return
    conn.execute(f"UPDATE {table} SET effective_to = ? WHERE {where} AND effective_from < ?"
                 " AND (effective_to IS NULL OR effective_to >= ?)",
                 [_day_before(start), *args, begin, begin])
    later = conn.execute(f"SELECT min(effective_from) FROM {table} WHERE {where} AND"
                         " effective_from > ?", [*args, begin]).fetchone()[0]
    end = None if later is None else day_text(day_from(later) - timedelta(days=1))
    columns = [*key, "code", "cents", "effective_from", "effective_to"]
    conn.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES"
                 f" ({', '.join('?' * len(columns))})",
                 [*key.values(), code, cents, begin, end])


def end_dated(conn: sqlite3.Connection, table: str, key: dict, code: str, start: date) -> None:
    """Stops ``code``'s amount from ``start`` on: the entry in force ends the day before and
    later entries go (from the start: every entry of the code goes)."""
    where = " AND ".join([*(f"{k} = ?" for k in key), "code = ?"])
    args = [*key.values(), code]
    begin = day_text(start)
    conn.execute(f"DELETE FROM {table} WHERE {where} AND effective_from >= ?", [*args, begin])
    conn.execute(f"UPDATE {table} SET effective_to = ? WHERE {where} AND"
                 " (effective_to IS NULL OR effective_to >= ?)",
                 [_day_before(start), *args, begin])


def _day_before(day: date) -> str:
    return day_text(day - timedelta(days=1)) if day > FROM_THE_START else day_text(day)


def _in_force(day: date) -> tuple[str, tuple[str, str]]:
    return ("effective_from <= ? AND (effective_to IS NULL OR effective_to >= ?)",
            (day_text(day), day_text(day)))


class RatesMixin(RepositoryBase):
    """Dated allowed amounts, fee imports and the clinic's codes."""

    # --- allowed amounts ---

    def allowed_on(self, payer_id: int, day: date) -> dict[str, int]:
        """A payer's allowed amount per unit, code -> cents, in force on ``day``."""
        sql, args = _in_force(day)
        rows = self._rows(f"SELECT code, cents FROM payer_allowed WHERE payer_id = ? AND {sql}"
                          " ORDER BY code", (payer_id, *args))
        return {r["code"]: r["cents"] for r in rows}

    def allowed_entries(self, payer_id: int) -> list[FeeEntry]:
        """Every dated allowed amount of a payer (``FeeEntry`` rows), by code and date."""
        rows = self._rows("SELECT * FROM payer_allowed WHERE payer_id = ? ORDER BY code,"
                          " effective_from", (payer_id,))
        return [FeeEntry(r["code"], r["cents"], day_from(r["effective_from"]),
                         day_from(r["effective_to"])) for r in rows]

    def _write_allowed(self, conn, payer_id: int, allowed: dict[str, int],
                       start: date | None) -> None:
        """Makes ``allowed`` the payer's amounts in force from ``start`` (None: from the
        start): changed codes get an entry from that date, codes left out stop. A code's
        first amount ever counts from the start: there is no earlier amount to keep, and a
        visit already open before ``start`` should not add $0.00 toward KX."""
        start = start or FROM_THE_START
        sql, args = _in_force(start)
        current = {r[0]: r[1] for r in conn.execute(
            f"SELECT code, cents FROM payer_allowed WHERE payer_id = ? AND {sql}",
            (payer_id, *args))}
        known = {r[0] for r in conn.execute(
            "SELECT DISTINCT code FROM payer_allowed WHERE payer_id = ?", (payer_id,))}
        for code, cents in allowed.items():
            if current.get(code) != cents:
                put_dated(conn, "payer_allowed", {"payer_id": payer_id}, code, cents,
                          start if code in known else FROM_THE_START)
        for code in set(current) - set(allowed):
            end_dated(conn, "payer_allowed", {"payer_id": payer_id}, code, start)

    # --- fee files ---

    def preview_fees(self, rows: Sequence[FeeRow], start: date,
                     payer_id: int | None = None) -> list[FeeChange]:
        """What importing ``rows`` from ``start`` would change (nothing is written)."""
        current = (self.fee_schedule(start) if payer_id is None
                   else self.allowed_on(payer_id, start))
        return fee_changes(current, list(rows))

    def import_fees(self, rows: Sequence[FeeRow], start: date, payer_id: int | None = None,
                    source: str = "", user: str | None = None) -> list[FeeChange]:
        """Stores a fee file's amounts from ``start``: the clinic's charges, or with
        ``payer_id`` that payer's allowed amounts. One audited transaction; codes the file
        leaves out keep their amounts. Returns the changes (as ``preview_fees`` showed).

        Raises:
            InvalidDataError: no rows, or a code or amount the store refuses; nothing written.
            NotFoundError: no such payer.
        """
        if not rows:
            raise InvalidDataError("the fee file has no rows: nothing imported")
        if payer_id is not None:
            self.get_payer(payer_id)
        changes = self.preview_fees(rows, start, payer_id)
        table, key = ("fees", {}) if payer_id is None else ("payer_allowed",
                                                            {"payer_id": payer_id})
        with self._write() as conn:
            for change in changes:
                if change.kind != "unchanged":
                    put_dated(conn, table, key, change.code, change.new_cents, start)
            counts = {k: sum(1 for c in changes if c.kind == k)
                      for k in ("changed", "new", "unchanged")}
            self._audit(self.clock(), user, "import_fees",
                        "fee_schedule" if payer_id is None else "payer", payer_id,
                        {"from": day_text(start), "file": str(source), **counts,
                         "amounts": {c.code: c.new_cents for c in changes
                                     if c.kind != "unchanged"}})
        return changes

    # --- the clinic's codes ---

    def clinic_codes(self) -> list[CodeInfo]:
        """The codes the clinic added (Settings > Codes), by code."""
        rows = self._rows("SELECT * FROM clinic_codes ORDER BY code")
        out = []
        for r in rows:
            try:
                out.append(clinic_code(r["code"], r["label"], r["kind"],
                                       r["disciplines"].split(","), r["addon_of"],
                                       shipped=_shipped_without(r["code"])))
            except BillingError:  # a row the checks refuse now: left out of the catalog
                continue
        return out

    def shadowed_clinic_codes(self) -> list[str]:
        """Clinic codes a newer release now ships (kept, but the shipped row is used)."""
        shipped = default_catalog()
        return [r["code"] for r in self._rows("SELECT code FROM clinic_codes ORDER BY code")
                if r["code"] in shipped]

    def code_catalog(self) -> Catalog:
        """The shipped catalog plus the clinic's own codes: what billing, the tiles and the
        superbill use for this database."""
        stamp = self._row("SELECT count(*), group_concat(code || kind || label, '|')"
                          " FROM clinic_codes")
        key = tuple(stamp) if stamp else None
        cached = getattr(self, "_code_catalog", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        catalog = default_catalog().with_clinic_codes(self.clinic_codes()) if key and key[0] \
            else default_catalog()
        self._code_catalog = (key, catalog)
        return catalog

    def save_clinic_code(self, code: str, label: str, kind: str,
                         disciplines: Sequence[Discipline | str], addon_of: str | None = None,
                         user: str | None = None) -> CodeInfo:
        """Adds (or with the same number, updates) a code of the clinic's own.

        Raises:
            InvalidDataError: a shipped code's number, no label, an unknown kind, no
                discipline, or an add-on without a timed primary code; nothing written.
        """
        try:
            info = clinic_code(code, label, kind, disciplines, addon_of)
        except BillingError as exc:
            raise InvalidDataError(str(exc)) from exc
        kind = str(kind).strip().lower()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO clinic_codes (code, label, kind, disciplines, addon_of, created_at,"
                " created_by) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(code) DO UPDATE SET"
                " label = excluded.label, kind = excluded.kind,"
                " disciplines = excluded.disciplines, addon_of = excluded.addon_of",
                (info.code, info.label, kind, ",".join(d.value for d in info.disciplines),
                 info.addon_of, to_text(self.clock()), user or ""))
            self._audit(self.clock(), user, "save_code", "clinic_code", None,
                        {"code": info.code, "label": info.label, "kind": kind,
                         "disciplines": [d.value for d in info.disciplines],
                         "addon_of": info.addon_of})
        return info

    def clinic_code_kind(self, code: str) -> str:
        """The kind a clinic code was saved with (``timed``, ``add-on``, ...), or ""."""
        row = self._row("SELECT kind FROM clinic_codes WHERE code = ?", (code,))
        return row["kind"] if row else ""


def _shipped_without(code: str) -> Catalog:
    """The shipped catalog, for checking a stored clinic code (a code the release now ships
    is checked against the catalog without it, then shadowed by ``with_clinic_codes``)."""
    shipped = default_catalog()
    if code not in shipped:
        return shipped
    return Catalog([r for r in shipped.all() if r.code != code], version=shipped.version)

