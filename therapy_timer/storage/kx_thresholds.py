"""KX thresholds by year in the clinic's database: seeded from the shipped file, entered in
Settings, every clinic change in the audit log.

A newer release's value for a year that came from the shipped file replaces it (audited as the
system); for a year the clinic entered it is only offered (``KxEntry.offer``), never written over
the clinic's amount. Nothing deletes a year (a trigger refuses it).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime, time

from therapy_timer.core.model import BillingError
from therapy_timer.core.rules_data import (
    KxEntry,
    KxYear,
    check_kx_year,
    default_kx,
    default_kx_as_of,
)
from therapy_timer.storage.base import SYSTEM_USER, RepositoryBase
from therapy_timer.storage.db import from_text, to_text
from therapy_timer.storage.errors import InvalidDataError, NotFoundError

log = logging.getLogger(__name__)

#: Who a shipped row names as having entered it.
SHIPPED_BY = "Therapy Timer (resources/kx_thresholds.toml)"


def _values(kx: KxYear) -> dict:
    return {"threshold_cents": kx.threshold_cents, "review_cents": kx.review_cents,
            "confidence": kx.confidence, "source": kx.source}


def _kx(row: sqlite3.Row) -> KxYear:
    return KxYear(int(row["year"]), int(row["threshold_cents"]), int(row["review_cents"]),
                  row["confidence"], row["source"])


def _offer(row: sqlite3.Row) -> KxYear | None:
    if row["offer_threshold_cents"] is None:
        return None
    return KxYear(int(row["year"]), int(row["offer_threshold_cents"]),
                  int(row["offer_review_cents"]), row["offer_confidence"], row["offer_source"])


def _offer_text(kx: KxYear) -> str:
    return json.dumps(_values(kx), sort_keys=True)


class KxThresholdsMixin(RepositoryBase):
    """KX thresholds by year (table ``kx_thresholds``, schema 10)."""

    def kx_entries(self) -> list[KxEntry]:
        """Every year on file, oldest first."""
        rows = self._rows("SELECT * FROM kx_thresholds ORDER BY year")
        return [KxEntry(_kx(r), r["origin"], r["entered_by"], from_text(r["entered_at"]),
                        _offer(r)) for r in rows]

    def kx_thresholds(self) -> dict[int, KxYear]:
        """Year -> threshold, as billing uses them. A database that holds none (an older
        schema opened as it is) bills with the shipped seed."""
        try:
            rows = self._rows("SELECT * FROM kx_thresholds ORDER BY year")
        except Exception as exc:  # no table: a database read without migrating it
            if "no such table" not in str(exc) and "does not exist" not in str(exc):
                raise
            rows = []
        return {int(r["year"]): _kx(r) for r in rows} or dict(default_kx())

    def seed_kx_thresholds(self, shipped: Mapping[int, KxYear] | None = None,
                           now: datetime | None = None) -> list[str]:
        """Brings the shipped thresholds in: years not on file are added; a year that came
        from the shipped file takes the newer shipped value (audited as the system); a year
        the clinic entered keeps its amount and gets the shipped one as an offer (unless that
        very value was declined). Writes nothing when nothing differs.

        Returns:
            What changed, one line per year (for the log).
        """
        stamp = to_text(datetime.combine(default_kx_as_of(), time(0), UTC))
        if shipped is None:
            shipped = default_kx()
        rows = {int(r["year"]): r for r in self._rows("SELECT * FROM kx_thresholds")}
        todo = []
        for year, kx in sorted(shipped.items()):
            row = rows.get(year)
            if row is None:
                todo.append(("add", kx, row))
            elif row["origin"] == "shipped":
                if _kx(row) != kx:
                    todo.append(("update", kx, row))
            elif _kx(row) == kx:
                if _offer(row) is not None:
                    todo.append(("clear", kx, row))
            elif _offer(row) != kx and row["declined_offer"] != _offer_text(kx):
                todo.append(("offer", kx, row))
        if not todo:
            return []
        now = now or self.clock()
        done = []
        with self._write() as conn:
            for what, kx, row in todo:
                if what == "add":
                    conn.execute(
                        "INSERT INTO kx_thresholds (year, threshold_cents, review_cents,"
                        " confidence, source, origin, entered_by, entered_at)"
                        " VALUES (?, ?, ?, ?, ?, 'shipped', ?, ?)",
                        (kx.year, kx.threshold_cents, kx.review_cents, kx.confidence,
                         kx.source, SHIPPED_BY, stamp))
                    done.append(f"{kx.year}: added from the shipped file")
                elif what == "update":
                    conn.execute(
                        "UPDATE kx_thresholds SET threshold_cents = ?, review_cents = ?,"
                        " confidence = ?, source = ?, entered_by = ?, entered_at = ?"
                        " WHERE year = ?",
                        (kx.threshold_cents, kx.review_cents, kx.confidence, kx.source,
                         SHIPPED_BY, stamp, kx.year))
                    self._audit(now, SYSTEM_USER, "update_shipped", "kx_threshold", kx.year,
                                {"old": _values(_kx(row)), "new": _values(kx)})
                    done.append(f"{kx.year}: the shipped value changed, updated")
                elif what == "clear":
                    conn.execute(
                        "UPDATE kx_thresholds SET offer_threshold_cents = NULL,"
                        " offer_review_cents = NULL, offer_confidence = NULL,"
                        " offer_source = NULL WHERE year = ?", (kx.year,))
                    done.append(f"{kx.year}: the shipped value now matches the clinic's")
                else:
                    conn.execute(
                        "UPDATE kx_thresholds SET offer_threshold_cents = ?,"
                        " offer_review_cents = ?, offer_confidence = ?, offer_source = ?"
                        " WHERE year = ?",
                        (kx.threshold_cents, kx.review_cents, kx.confidence, kx.source,
                         kx.year))
                    done.append(f"{kx.year}: a newer shipped value is offered beside the "
                                "clinic's")
        for line in done:
            log.info("KX thresholds: %s", line)
        return done

    def set_kx_threshold(self, year: int, threshold_cents: int, review_cents: int,
                         confidence: str, source: str, user: str,
                         now: datetime | None = None) -> KxEntry:
        """Enters (or corrects) a year's threshold as the clinic's own; audited with who
        entered it and the amounts before and after. Visits already finalized keep the lines
        they were frozen with.

        Raises:
            InvalidDataError: no user, or a value ``check_kx_year`` refuses (named).
        """
        if not user or not str(user).strip():
            raise InvalidDataError("entering a KX threshold needs the name of the user")
        try:
            kx = check_kx_year(year, threshold_cents, review_cents, confidence, source)
        except BillingError as exc:
            raise InvalidDataError(f"KX threshold: {exc}") from None
        now = now or self.clock()
        user = str(user).strip()
        with self._write() as conn:
            row = conn.execute("SELECT * FROM kx_thresholds WHERE year = ?",
                               (kx.year,)).fetchone()
            old = None
            if row is not None:
                names = [d[0] for d in conn.execute("SELECT * FROM kx_thresholds LIMIT 0"
                                                    ).description]
                old = dict(zip(names, row, strict=True))
            keep_offer = (old is not None and old["offer_threshold_cents"] is not None
                          and (old["offer_threshold_cents"], old["offer_review_cents"],
                               old["offer_confidence"], old["offer_source"])
                          != (kx.threshold_cents, kx.review_cents, kx.confidence, kx.source))
            conn.execute(
                "INSERT INTO kx_thresholds (year, threshold_cents, review_cents, confidence,"
                " source, origin, entered_by, entered_at) VALUES (?, ?, ?, ?, ?, 'clinic', ?, ?)"
                " ON CONFLICT (year) DO UPDATE SET threshold_cents = excluded.threshold_cents,"
                " review_cents = excluded.review_cents, confidence = excluded.confidence,"
                " source = excluded.source, origin = 'clinic',"
                " entered_by = excluded.entered_by, entered_at = excluded.entered_at",
                (kx.year, kx.threshold_cents, kx.review_cents, kx.confidence, kx.source, user,
                 to_text(now)))
            if old is not None and not keep_offer:
                conn.execute(
                    "UPDATE kx_thresholds SET offer_threshold_cents = NULL,"
                    " offer_review_cents = NULL, offer_confidence = NULL, offer_source = NULL"
                    " WHERE year = ?", (kx.year,))
            self._audit(now, user, "set", "kx_threshold", kx.year, {
                "old": None if old is None else {
                    **{k: old[k] for k in ("threshold_cents", "review_cents", "confidence",
                                           "source")}, "origin": old["origin"]},
                "new": _values(kx)})
        return self._kx_entry(kx.year)

    def accept_kx_offer(self, year: int, user: str, now: datetime | None = None) -> KxEntry:
        """Takes the shipped value offered for ``year`` in place of the clinic's (audited);
        the year then follows the shipped file again."""
        entry = self._kx_entry(year)
        if entry.offer is None:
            raise InvalidDataError(f"no newer shipped KX threshold is offered for {year}")
        if not user or not str(user).strip():
            raise InvalidDataError("accepting a KX threshold needs the name of the user")
        now = now or self.clock()
        offer = entry.offer
        with self._write() as conn:
            conn.execute(
                "UPDATE kx_thresholds SET threshold_cents = ?, review_cents = ?, confidence = ?,"
                " source = ?, origin = 'shipped', entered_by = ?, entered_at = ?,"
                " offer_threshold_cents = NULL, offer_review_cents = NULL,"
                " offer_confidence = NULL, offer_source = NULL WHERE year = ?",
                (offer.threshold_cents, offer.review_cents, offer.confidence, offer.source,
                 str(user).strip(), to_text(now), year))
            self._audit(now, str(user).strip(), "accept_shipped", "kx_threshold", year,
                        {"old": _values(entry.kx), "new": _values(offer)})
        return self._kx_entry(year)

    def decline_kx_offer(self, year: int, user: str, now: datetime | None = None) -> KxEntry:
        """Keeps the clinic's amount for ``year`` and stops offering that shipped value
        (a later, different shipped value is offered again); audited."""
        entry = self._kx_entry(year)
        if entry.offer is None:
            raise InvalidDataError(f"no newer shipped KX threshold is offered for {year}")
        if not user or not str(user).strip():
            raise InvalidDataError("declining a KX threshold needs the name of the user")
        now = now or self.clock()
        with self._write() as conn:
            conn.execute(
                "UPDATE kx_thresholds SET declined_offer = ?, offer_threshold_cents = NULL,"
                " offer_review_cents = NULL, offer_confidence = NULL, offer_source = NULL"
                " WHERE year = ?", (_offer_text(entry.offer), year))
            self._audit(now, str(user).strip(), "decline_shipped", "kx_threshold", year,
                        {"kept": _values(entry.kx), "declined": _values(entry.offer)})
        return self._kx_entry(year)

    def _kx_entry(self, year: int) -> KxEntry:
        for entry in self.kx_entries():
            if entry.kx.year == year:
                return entry
        raise NotFoundError(f"no KX threshold on file for {year}")
