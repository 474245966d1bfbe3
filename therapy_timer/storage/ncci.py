"""CMS's NCCI edits the clinic imported: PTP pairs and MUEs, with the release they came from.

An import reads the files first (``core.ncci_files``: streamed, every row checked, only the
rows whose codes are in the catalog kept, so what is held is bounded by the catalog, never by
the file), then replaces the pairs or limits in use in one transaction with the release's row
and an audit entry. A refused file, a failure or a killed process leaves the previous data
whole. With no import, billing uses the shipped seed (``resources/ncci_pairs.csv``) and no MUE.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from pathlib import Path

from therapy_timer.core.ncci_files import ReadSummary, read_mue, read_ptp
from therapy_timer.core.rules_data import MueLimit, NcciPair, RuleRelease
from therapy_timer.storage import dialect
from therapy_timer.storage.base import RepositoryBase
from therapy_timer.storage.db import day_from, day_text, from_text, to_text

#: Called with ("reading", rows read so far) and ("writing", rows kept) during an import.
Progress = Callable[[str, int], None]


class NcciMixin(RepositoryBase):
    """Imports and reads the clinic's NCCI PTP pairs and MUEs."""

    def _catalog_codes(self) -> list[str]:
        from therapy_timer.core.codes import default_catalog

        return default_catalog().codes()

    def import_ncci(self, paths: Sequence[Path | str], user: str | None = None,
                    now: datetime | None = None, progress: Progress | None = None,
                    codes: Collection[str] | None = None) -> ReadSummary:
        """Imports one practitioner PTP release (its zip files, or the text inside them).

        Raises:
            RuleFileError: a file is refused (named with its line and the problem); nothing
                stored changed.
        """
        release = read_ptp(paths, self._catalog_codes() if codes is None else codes,
                           _reading(progress))
        pairs = list(release)
        rows = [(p.column1, p.column2, p.modifier_indicator, day_text(p.valid_from),
                 day_text(p.valid_to) if p.valid_to else None, int(p.prior_1996), p.bypass,
                 p.source) for p in pairs]
        self._replace("ncci", release.summary, user, now, progress,
                      "INSERT INTO ncci_pairs (release_id, column1, column2, modifier_indicator,"
                      " effective_from, effective_to, prior_1996, bypass, source)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return release.summary

    def import_mue(self, paths: Sequence[Path | str], user: str | None = None,
                   now: datetime | None = None, progress: Progress | None = None,
                   codes: Collection[str] | None = None) -> ReadSummary:
        """Imports CMS's practitioner MUE table (its zip, or the CSV inside it).

        Raises:
            RuleFileError: the file is refused; nothing stored changed.
        """
        table = read_mue(paths, self._catalog_codes() if codes is None else codes,
                         _reading(progress))
        rows = [(m.code, m.units, m.mai, m.mai_text, m.rationale) for m in table]
        self._replace("mue", table.summary, user, now, progress,
                      "INSERT INTO mue_limits (release_id, code, units, mai, mai_text,"
                      " rationale) VALUES (?, ?, ?, ?, ?, ?)", rows)
        return table.summary

    def _replace(self, kind: str, summary: ReadSummary, user: str | None,
                 now: datetime | None, progress: Progress | None, insert: str,
                 rows: list[tuple]) -> None:
        table = "ncci_pairs" if kind == "ncci" else "mue_limits"
        now = now or self.clock()
        who = str(user or "").strip() or "system"
        with self._write() as conn:
            conn.execute(f"DELETE FROM {table}")
            release_id = conn.execute(
                "INSERT INTO rule_releases (kind, version, effective, files, rows_read,"
                " rows_kept, imported_at, imported_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, summary.version, day_text(summary.effective) if summary.effective
                 else None, json.dumps(summary.files), summary.rows_read, summary.rows_kept,
                 to_text(now), who)).lastrowid
            conn.executemany(insert, ((release_id, *row) for row in rows))
            if progress:
                progress("writing", len(rows))
            self._audit(now, who, f"import {kind}", "rule_release", release_id, {
                "version": summary.version, "files": summary.files,
                "effective": day_text(summary.effective) if summary.effective else None,
                "rows_read": summary.rows_read, "rows_kept": summary.rows_kept})
        self._rule_cache = {}

    def rule_release(self, kind: str) -> RuleRelease | None:
        """The release in use for ``kind`` ("ncci" or "mue"), or None (never imported)."""
        if not self._has_rule_tables():
            return None
        row = self._row("SELECT * FROM rule_releases WHERE kind = ? ORDER BY id DESC LIMIT 1",
                        (kind,))
        if row is None:
            return None
        return RuleRelease(row["kind"], row["version"], day_from(row["effective"]),
                           tuple(json.loads(row["files"])), row["rows_read"],
                           row["rows_kept"], from_text(row["imported_at"]),
                           row["imported_by"], row["id"])

    def _has_rule_tables(self) -> bool:
        if getattr(self, "_rule_tables", None) is None:
            self._rule_tables = dialect.has_table(self.conn, "rule_releases")
        return self._rule_tables

    def _cached(self, kind: str, load):
        """What ``load(release_id)`` returns for the release in use, read once per release
        (another process's import changes the release id, so it is read again)."""
        release = self.rule_release(kind)
        key = release.id if release else None
        cache = getattr(self, "_rule_cache", None)
        if cache is None:
            cache = self._rule_cache = {}
        if kind not in cache or cache[kind][0] != key:
            cache[kind] = (key, load(release) if release else None)
        return cache[kind][1]

    def ncci_pairs(self) -> tuple[NcciPair, ...] | None:
        """The imported PTP pairs in use; None when none was imported (the seed applies)."""
        def load(release: RuleRelease) -> tuple[NcciPair, ...]:
            rows = self._rows("SELECT * FROM ncci_pairs WHERE release_id = ? ORDER BY column1,"
                              " column2, effective_from", (release.id,))
            return tuple(NcciPair(r["column1"], r["column2"], r["modifier_indicator"],
                                  day_from(r["effective_from"]), day_from(r["effective_to"]),
                                  "V", r["source"], r["bypass"], bool(r["prior_1996"]))
                         for r in rows)
        return self._cached("ncci", load)

    def mue_limits(self) -> dict[str, MueLimit]:
        """The imported MUEs in use, code -> limit (empty when none was imported)."""
        def load(release: RuleRelease) -> dict[str, MueLimit]:
            rows = self._rows("SELECT * FROM mue_limits WHERE release_id = ?", (release.id,))
            return {r["code"]: MueLimit(r["code"], r["units"], r["mai"], r["mai_text"],
                                        r["rationale"]) for r in rows}
        return dict(self._cached("mue", load) or {})

    def rule_context(self) -> dict:
        """The ``BillingContext`` fields the clinic's imported NCCI data sets."""
        mue = self.rule_release("mue")
        return {"ncci_pairs": self.ncci_pairs(), "mue_limits": self.mue_limits(),
                "mue_source": mue.describe() if mue else ""}


def _reading(progress: Progress | None) -> Callable[[int], None] | None:
    return None if progress is None else (lambda rows: progress("reading", rows))
