"""Dated rule data from ``resources/``: NCCI procedure-to-procedure pairs and KX thresholds.

Both files are data a clinic may replace (for example with CMS's quarterly PTP file); rows carry
effective dates and a confidence mark, and anything not marked V should be confirmed.
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
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


#: Years a KX threshold may be entered for: the therapy cap's amounts go back to 1999, and a
#: year far ahead is a typing mistake.
KX_YEARS = (1999, 2100)
#: No KX threshold has come near this; a larger amount is a typing mistake (cents).
MAX_KX_CENTS = 100_000_00
CONFIDENCE_MARKS = {"V": "official text (CMS, a MAC)", "S": "secondary sources only",
                    "U": "unverified"}


def check_kx_year(year: object, threshold_cents: object, review_cents: object,
                  confidence: object, source: object) -> KxYear:
    """One year's KX threshold, checked; the same checks for the shipped file and Settings.

    Raises:
        BillingError: a field is missing, of the wrong type or out of range (named).
    """
    def whole(value: object, name: str, unit: str = " of cents") -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BillingError(f"{name} must be a whole number{unit}, not {value!r}")
        return value

    year = whole(year, "year", "")
    if not KX_YEARS[0] <= year <= KX_YEARS[1]:
        raise BillingError(f"year {year} is outside {KX_YEARS[0]}-{KX_YEARS[1]}")
    threshold = whole(threshold_cents, "threshold_cents")
    review = whole(review_cents, "review_cents")
    for name, cents in (("the KX threshold", threshold), ("the review level", review)):
        if not 0 < cents <= MAX_KX_CENTS:
            raise BillingError(f"{year}: {name} must be more than $0 and at most "
                               f"${MAX_KX_CENTS // 100:,} (got {cents} cents)")
    if review <= threshold:
        raise BillingError(f"{year}: the targeted medical review level (${review / 100:,.2f}) "
                           f"must be above the KX threshold (${threshold / 100:,.2f})")
    mark = str(confidence or "").strip().upper()
    if mark not in CONFIDENCE_MARKS:
        raise BillingError(f"{year}: confidence must be V (official), S (secondary) or U "
                           f"(unverified), not {confidence!r}")
    text = " ".join(str(source or "").split())
    if not text:
        raise BillingError(f"{year}: say where the amount comes from (the source)")
    return KxYear(year, threshold, review, mark, text)


def load_kx(path: Path) -> dict[int, KxYear]:
    """Reads the KX thresholds by year (each row checked by ``check_kx_year``)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        out: dict[int, KxYear] = {}
        for n, row in enumerate(data.get("year", []), start=1):
            try:
                kx = check_kx_year(row.get("year"), row.get("threshold_cents"),
                                   row.get("review_cents"), row.get("confidence", "U"),
                                   row.get("source", ""))
            except BillingError as exc:
                raise BillingError(f"entry {n}: {exc}") from None
            if kx.year in out:
                raise BillingError(f"entry {n}: year {kx.year} is listed twice")
            out[kx.year] = kx
        return out
    except (OSError, tomllib.TOMLDecodeError, BillingError, AttributeError) as exc:
        raise BillingError(f"cannot read the KX threshold file {path}: {exc}") from exc


@cache
def default_ncci() -> tuple[NcciPair, ...]:
    return load_ncci(resource_path("ncci_pairs.csv"))


@cache
def default_kx() -> dict[int, KxYear]:
    return load_kx(resource_path("kx_thresholds.toml"))


@cache
def default_kx_as_of() -> date:
    """When the shipped thresholds were compiled (the file's ``as_of``)."""
    path = resource_path("kx_thresholds.toml")
    try:
        value = tomllib.loads(path.read_text(encoding="utf-8")).get("as_of")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BillingError(f"cannot read the KX threshold file {path}: {exc}") from exc
    if not isinstance(value, date):
        raise BillingError(f"the KX threshold file {path} has no as_of date")
    return value


def kx_fallback_notice(used_year: int, wanted_year: int) -> str:
    """What the visit screen, the review, the superbill and the CLI say when a date of service's
    year has no threshold on file and another year's stands in for it."""
    return (f"{used_year}'s threshold used: enter {wanted_year}'s in Settings (Rule data). "
            f"No KX threshold is on file for {wanted_year}, so the KX and targeted-review "
            f"checks of this visit use {used_year}'s amounts")


@dataclass(frozen=True, slots=True)
class KxLookup:
    """The threshold a date of service bills with: its own year's, or the stand-in's."""

    year: int  # the date of service's calendar year
    kx: KxYear  # the threshold used (``kx.year`` differs from ``year`` on a fallback)

    @property
    def fallback(self) -> bool:
        return self.kx.year != self.year

    @property
    def notice(self) -> str | None:
        return kx_fallback_notice(self.kx.year, self.year) if self.fallback else None


def kx_lookup(year: int, table: Mapping[int, KxYear] | None = None) -> KxLookup:
    """The threshold for ``year``; a year not on file uses the latest year on file before it.

    KX thresholds rise every year (CMS indexes them by the MEI), so last year's amount is at or
    below this year's: checked against it, the app asks for the KX attestation no later than
    Medicare needs it, which is the reading that protects the clinic (a line past the real
    threshold without KX is denied). A year before every year on file uses the earliest one
    (the nearest known amount). Either way the lookup says it is a fallback.

    Args:
        table: year -> threshold (the clinic's database, or the shipped seed when None).

    Raises:
        BillingError: the table holds no year at all.
    """
    table = default_kx() if table is None else table
    if year in table:
        return KxLookup(year, table[year])
    if not table:
        raise BillingError(f"no KX threshold on file for {year} (nor for any year): enter "
                           f"{year}'s in Settings (Rule data)")
    earlier = [y for y in table if y < year]
    return KxLookup(year, table[max(earlier) if earlier else min(table)])


def kx_for_year(year: int, table: Mapping[int, KxYear] | None = None) -> KxYear:
    """The threshold a date of service in ``year`` bills with (``kx_lookup``'s fallback
    included)."""
    return kx_lookup(year, table).kx


@dataclass(frozen=True, slots=True)
class KxEntry:
    """One year's threshold as the clinic's database holds it.

    ``origin`` is "shipped" (from ``resources/kx_thresholds.toml``; a newer release updates it)
    or "clinic" (entered in Settings: never overwritten). ``offer`` is a newer shipped value
    for a year the clinic entered, shown in Settings until accepted or declined.
    """

    kx: KxYear
    origin: str
    entered_by: str
    entered_at: datetime
    offer: KxYear | None = None


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
