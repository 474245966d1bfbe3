"""The code catalog: which codes exist, their kind, disciplines and payer notes, by date of service.

The catalog lives in ``resources/codes.toml`` and is data: a clinic can replace it without a code
change. Labels are our own plain words, never the AMA descriptor.
"""

from __future__ import annotations

import enum
import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

from therapy_timer.core.model import BillingError, Discipline
from therapy_timer.resources import resource_path


class CodeKind(enum.StrEnum):
    TIMED = "timed"  # one-on-one, each 15 minutes
    CONSTANT = "constant"  # constant attendance modality, each 15 minutes
    EVALUATION = "evaluation"  # untimed evaluation / re-evaluation
    SUPERVISED = "supervised"  # untimed supervised modality, may overlap timed work
    GROUP = "group"  # untimed group session
    UNTIMED = "untimed"  # other untimed service
    PERIODIC = "periodic"  # monthly / per episode; outside the per-visit engine

    @property
    def timed(self) -> bool:
        """True for codes whose minutes enter the 15-minute timed total."""
        return self in (CodeKind.TIMED, CodeKind.CONSTANT)

    @property
    def exclusive(self) -> bool:
        """True when the code needs the clinician's whole attention (it cannot overlap)."""
        return self not in (CodeKind.SUPERVISED, CodeKind.PERIODIC)

    @property
    def description(self) -> str:
        return {
            "timed": "timed, one-on-one",
            "constant": "timed, constant attendance",
            "evaluation": "untimed evaluation",
            "supervised": "untimed supervised modality",
            "group": "untimed group session",
            "untimed": "untimed service",
            "periodic": "billed monthly or per episode",
        }[self.value]


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """One catalog row."""

    code: str
    label: str
    kind: CodeKind
    disciplines: tuple[Discipline, ...]
    valid_from: date
    valid_to: date | None = None
    confidence: str = "V"
    note: str = ""
    medicare_substitute: str | None = None
    medicare_bundled: bool = False
    medicare_note: str = ""
    asks_technique: bool = False
    addon_of: str | None = None
    #: Added by the clinic (Settings > Codes, stored in its database), not shipped.
    clinic: bool = False
    timed: bool = field(init=False)  # cached: read every second by the live display

    def __post_init__(self) -> None:
        object.__setattr__(self, "timed", self.kind.timed)

    @property
    def needs_confirmation(self) -> bool:
        """True when the row rests on secondary or unverified sources."""
        return self.confidence != "V"

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class Catalog:
    """All codes, looked up by code and date of service."""

    def __init__(self, rows: list[CodeInfo], version: str = "") -> None:
        self.version = version
        self._rows: dict[str, list[CodeInfo]] = {}
        for row in rows:
            self._rows.setdefault(row.code, []).append(row)

    @classmethod
    def from_toml(cls, path: Path) -> Catalog:
        """Reads a catalog file; a malformed row is an error naming the row."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise BillingError(f"cannot read the code catalog {path}: {exc}") from exc
        rows = []
        for raw in data.get("code", []):
            try:
                rows.append(
                    CodeInfo(
                        code=str(raw["code"]).upper(),
                        label=raw["label"],
                        kind=CodeKind(raw["kind"]),
                        disciplines=tuple(Discipline(d) for d in raw["disciplines"]),
                        valid_from=raw["from"],
                        valid_to=raw.get("to"),
                        confidence=raw.get("confidence", "U"),
                        note=raw.get("note", ""),
                        medicare_substitute=raw.get("medicare_substitute"),
                        medicare_bundled=bool(raw.get("medicare_bundled", False)),
                        medicare_note=raw.get("medicare_note", ""),
                        asks_technique=bool(raw.get("asks_technique", False)),
                        addon_of=raw.get("addon_of"),
                    )
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise BillingError(f"code catalog {path}: bad row {raw!r}: {exc}") from exc
        return cls(rows, version=str(data.get("meta", {}).get("version", "")))

    def with_clinic_codes(self, rows: list[CodeInfo]) -> Catalog:
        """This catalog plus the clinic's own codes. A shipped code always wins: a clinic
        code whose number a newer release ships is kept in the database but not used (the
        shipped row rests on published sources; Settings says so)."""
        extra = [row for row in rows if row.code not in self._rows]
        if not extra:
            return self
        return Catalog([r for code in sorted(self._rows) for r in self._rows[code]] + extra,
                       version=self.version)

    def codes(self) -> list[str]:
        return sorted(self._rows)

    def all(self, day: date | None = None) -> list[CodeInfo]:
        """Every row valid on ``day`` (every row when ``day`` is None), sorted by code."""
        out = []
        for code in sorted(self._rows):
            rows = self._rows[code]
            if day is None:
                out.append(rows[-1])
            else:
                out.extend(r for r in rows if r.valid_on(day))
        return out

    def __contains__(self, code: str) -> bool:
        return code.upper() in self._rows

    def get(self, code: str, day: date | None = None) -> CodeInfo:
        """The row for ``code`` valid on ``day``.

        Raises:
            BillingError: the code is unknown, or not valid on that date.
        """
        rows = self._rows.get(str(code).strip().upper())
        if not rows:
            raise BillingError(f"unknown code {code!r}: it is not in the Therapy Timer catalog")
        if day is None:
            return rows[-1]
        for row in rows:
            if row.valid_on(day):
                return row
        raise BillingError(f"code {code} is not valid on {day.isoformat()} (see the code catalog)")

    def search(self, text: str, day: date | None = None) -> list[CodeInfo]:
        """Codes whose number starts with, or whose label contains, ``text``."""
        needle = text.strip().lower()
        return [
            row
            for row in self.all(day)
            if not needle or row.code.lower().startswith(needle) or needle in row.label.lower()
        ]


@cache
def default_catalog() -> Catalog:
    """The catalog shipped in ``resources/codes.toml`` (read once)."""
    return Catalog.from_toml(resource_path("codes.toml"))


#: The kinds a clinic may give a code of its own (Settings > Codes), with what each means.
CLINIC_KINDS = {
    "timed": "timed, one-on-one, each 15 minutes (the 8-minute rule)",
    "untimed": "untimed: 1 unit a day",
    "supervised": "untimed supervised modality: 1 unit, may run alongside timed work",
    "add-on": "add-on, each extra 15 minutes of a primary code (timed; billed only with it)",
}


def clinic_code(code: str, label: str, kind: str, disciplines, addon_of: str | None = None,
                shipped: Catalog | None = None) -> CodeInfo:
    """A code the clinic adds, checked: a CPT/HCPCS form, a label, one of ``CLINIC_KINDS``,
    at least one discipline, and for an add-on its primary code from the catalog.

    Raises:
        BillingError: naming the field; also when ``code`` is a shipped code's number.
    """
    from therapy_timer.core.validation import validate_code

    shipped = shipped or default_catalog()
    code = validate_code(code)
    if code in shipped:
        raise BillingError(f"{code} is already in the app's catalog ({shipped.get(code).label}):"
                           " a clinic code may not reuse a shipped code's number")
    label = " ".join(str(label or "").split())
    if not label:
        raise BillingError(f"{code} needs a label (our own plain words, not the AMA text)")
    if len(label) > 80:
        raise BillingError(f"{code}: the label is longer than 80 characters")
    kind = str(kind or "").strip().lower()
    if kind not in CLINIC_KINDS:
        raise BillingError(f"{code}: kind {kind!r} is not one of {', '.join(CLINIC_KINDS)}")
    if isinstance(disciplines, str):
        disciplines = [d for d in disciplines.replace(",", " ").split() if d]
    try:
        chosen = tuple(dict.fromkeys(Discipline(str(d).strip().upper()) for d in disciplines))
    except ValueError:
        raise BillingError(f"{code}: disciplines must be PT, OT or SLP") from None
    if not chosen:
        raise BillingError(f"{code}: tick at least one discipline (PT, OT, SLP)")
    primary = None
    if kind == "add-on":
        primary = validate_code(addon_of or "") if addon_of else ""
        if not primary:
            raise BillingError(f"{code}: an add-on code needs its primary code")
        if primary not in shipped:
            raise BillingError(f"{code}: primary code {primary} is not in the app's catalog")
        if not shipped.get(primary).timed:
            raise BillingError(f"{code}: primary code {primary} is not a timed code")
    elif addon_of:
        raise BillingError(f"{code}: only an add-on code has a primary code")
    kinds = {"timed": CodeKind.TIMED, "untimed": CodeKind.UNTIMED,
             "supervised": CodeKind.SUPERVISED, "add-on": CodeKind.TIMED}
    return CodeInfo(code=code, label=label, kind=kinds[kind], disciplines=chosen,
                    valid_from=date(1, 1, 1), confidence="C",
                    note="Added by the clinic: its kind and use are the clinic's reading.",
                    addon_of=primary, clinic=True)
