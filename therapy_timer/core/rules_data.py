"""Dated rule data from ``resources/``: NCCI procedure-to-procedure pairs and KX thresholds.

Both files are data a clinic may replace (for example with CMS's quarterly PTP file); rows carry
effective dates and a confidence mark, and anything not marked V should be confirmed.
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from therapy_timer.core.model import BillingError
from therapy_timer.resources import resource_path


@dataclass(frozen=True, slots=True)
class NcciPair:
    column1: str
    column2: str
    modifier_indicator: str  # "0" never bypass, "1" bypass with 59/X when distinct, "9" n/a
    valid_from: date
    valid_to: date | None
    confidence: str
    source: str
    #: What may bypass an indicator-1 edit: "time" (services in distinct time intervals, NCCI
    #: ch. XI s. P #2: 59/XU) or "specialty" (only a different specialty, ch. XI s. P: an
    #: evaluation with 97750/97755/97763), which one discipline's visit never is.
    bypass: str = "time"
    #: CMS's "*" column: the edit was in existence before 1996 (kept as published).
    prior_1996: bool = False

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


#: NCCI Policy Manual ch. XI s. P: 97750, 97755 and 97763 are not separately reportable with an
#: evaluation or re-evaluation (97161-97168), nor 97760/97761 with a re-evaluation
#: (97164/97168), by the same practitioner or specialty; only a different specialty may use the
#: modifier. CMS's PTP file carries no such column, so imported pairs get it from here.
_SPECIALTY_ONLY = {
    **{(evaluation, code): "specialty" for evaluation in map(str, range(97161, 97169))
       for code in ("97750", "97755", "97763")},
    **{(first, second): "specialty" for a, b in (("97164", "97760"), ("97164", "97761"),
                                                  ("97168", "97760"), ("97168", "97761"))
       for first, second in ((a, b), (b, a))},
}


def ptp_bypass(column1: str, column2: str) -> str:
    """What may bypass an indicator-1 edit between these codes: "specialty" for the ch. XI
    s. P pairs above, otherwise "time" (distinct time intervals, ch. XI s. P #2: 59/XU)."""
    return _SPECIALTY_ONLY.get((column1, column2), "time")


@dataclass(frozen=True, slots=True)
class MueLimit:
    """CMS's Medically Unlikely Edit for a code: the most units one practitioner reports for
    one patient, per claim line (MAI 1) or per date of service (MAI 2 policy, 3 clinical)."""

    code: str
    units: int
    mai: str
    mai_text: str = ""
    rationale: str = ""

    @property
    def per(self) -> str:
        return "claim line" if self.mai == "1" else "day"


@dataclass(frozen=True, slots=True)
class KxYear:
    year: int
    threshold_cents: int
    review_cents: int
    confidence: str
    source: str


def load_ncci(path: Path) -> tuple[NcciPair, ...]:
    """Reads a PTP pair file (CSV with column1, column2, modifier_indicator, dates; optional
    confidence, source and bypass)."""
    pairs = []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            for line_no, row in enumerate(csv.DictReader(handle), start=2):
                try:
                    indicator = row["modifier_indicator"].strip()
                    if indicator not in ("0", "1", "9"):
                        raise ValueError(f"modifier_indicator {indicator!r} is not 0, 1 or 9")
                    bypass = (row.get("bypass") or "time").strip().lower()
                    if bypass not in ("time", "specialty"):
                        raise ValueError(f"bypass {bypass!r} is not 'time' or 'specialty'")
                    column1 = row["column1"].strip().upper()
                    column2 = row["column2"].strip().upper()
                    if ptp_bypass(column1, column2) == "specialty":
                        bypass = "specialty"  # ch. XI s. P, whatever the row says
                    pairs.append(
                        NcciPair(
                            column1,
                            column2,
                            indicator,
                            date.fromisoformat(row["effective_from"].strip()),
                            date.fromisoformat(row["effective_to"].strip())
                            if (row.get("effective_to") or "").strip()
                            else None,
                            (row.get("confidence") or "U").strip(),
                            (row.get("source") or "").strip(),
                            bypass,
                        )
                    )
                except (KeyError, ValueError, AttributeError) as exc:
                    raise BillingError(f"NCCI pair file {path}, line {line_no}: {exc}") from exc
    except OSError as exc:
        raise BillingError(f"cannot read the NCCI pair file {path}: {exc}") from exc
    return tuple(pairs)


def load_kx(path: Path) -> dict[int, KxYear]:
    """Reads the KX thresholds by year."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return {
            int(row["year"]): KxYear(
                int(row["year"]),
                int(row["threshold_cents"]),
                int(row["review_cents"]),
                row.get("confidence", "U"),
                row.get("source", ""),
            )
            for row in data.get("year", [])
        }
    except (OSError, tomllib.TOMLDecodeError, KeyError, ValueError) as exc:
        raise BillingError(f"cannot read the KX threshold file {path}: {exc}") from exc


@cache
def default_ncci() -> tuple[NcciPair, ...]:
    return load_ncci(resource_path("ncci_pairs.csv"))


@cache
def default_kx() -> dict[int, KxYear]:
    return load_kx(resource_path("kx_thresholds.toml"))


def kx_for_year(year: int, table: dict[int, KxYear] | None = None) -> KxYear:
    """The threshold for ``year``; a year not in the data is an error naming the year."""
    table = default_kx() if table is None else table
    try:
        return table[year]
    except KeyError:
        raise BillingError(
            f"no KX threshold on file for {year}: add it to resources/kx_thresholds.toml"
        ) from None


@dataclass(frozen=True, slots=True)
class RuleRelease:
    """One import of CMS's NCCI files: the release the clinic's pairs or MUEs come from."""

    kind: str  # "ncci" (PTP edits) or "mue"
    version: str
    effective: date | None
    files: tuple[str, ...]
    rows_read: int
    rows_kept: int
    imported_at: object  # an aware datetime (storage's); not typed here to keep core plain
    imported_by: str
    id: int | None = None

    @property
    def rows_skipped(self) -> int:
        return self.rows_read - self.rows_kept

    def describe(self) -> str:
        """``CMS NCCI PTP release v321r0, effective 2026-04-01`` (what Settings shows)."""
        what = "CMS NCCI PTP release" if self.kind == "ncci" else "CMS practitioner MUE table"
        version = self.version if self.kind == "ncci" else ""
        when = f"effective {self.effective.isoformat()}" if self.effective else "date unknown"
        return " ".join(p for p in (what, version) if p) + f", {when}"
