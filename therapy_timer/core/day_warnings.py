"""The day's warnings beside the units: CMS's Medically Unlikely Edits, a clinic's add-on code
without its primary, and NCCI's one-evaluation-per-date rule. Used by ``billing``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from therapy_timer.core.codes import Catalog, CodeKind
from therapy_timer.core.model import Discipline
from therapy_timer.core.rules_data import MueLimit
from therapy_timer.core.units import Allocation


def mue_warnings(billed: Mapping[str, int], limits: Mapping[str, MueLimit],
                 source: str = "") -> list[str]:
    """A warning for each code billed today above CMS's Medically Unlikely Edit for it.

    The units compared are the day's for the code (a line split for CQ/CO is still one
    service); for a line edit (MAI 1) that is the most a single line could carry.
    """
    out = []
    for code, units in billed.items():
        limit = limits.get(code)
        if limit is None or units <= limit.units:
            continue
        kind = {"1": "line edit", "2": "date of service edit: policy",
                "3": "date of service edit: clinical"}.get(limit.mai, f"MAI {limit.mai}")
        out.append(
            f"{code}: {units} units billed, more than CMS's Medically Unlikely Edit of "
            f"{limit.units} per {limit.per} (MAI {limit.mai}, {kind}"
            + (f"; {source}" if source else "") + f"): the units above {limit.units} are "
            "likely denied; check the minutes and the documentation")
    return out


def addon_warnings(billed: Mapping[str, int], catalog: Catalog, day: date | None
                    ) -> list[str]:
    """An add-on code the clinic added (``addon_of``) billed without its primary code that
    day: an add-on is reported only in addition to its primary service (CPT's definition of
    an add-on code), so a claim with it alone is denied. 97130 has its own rule (units.py)."""
    out = []
    for code in billed:
        info = catalog.get(code, day)
        if info.clinic and info.addon_of and not billed.get(info.addon_of):
            out.append(f"{code} is an add-on of {info.addon_of}: bill it only on a day "
                       f"{info.addon_of} is billed too (no {info.addon_of} unit today)")
    return out


def evaluation_warnings(allocation: Allocation, catalog: Catalog, day: date | None) -> list[str]:
    """NCCI ch. XI s. P: one PT and one OT evaluation or re-evaluation per date."""
    evals: dict[str, list[str]] = {}
    for line in allocation.lines:
        if not line.units:  # an evaluation not billed (timed under a minute) is no second one
            continue
        info = catalog.get(line.code, day)
        if info.kind is CodeKind.EVALUATION and info.disciplines[0] in (Discipline.PT,
                                                                          Discipline.OT):
            evals.setdefault(info.disciplines[0].value, []).append(line.code)
    out = [
        f"Only one {d} evaluation or re-evaluation may be billed per date ({', '.join(codes)})"
        for d, codes in evals.items() if len(codes) > 1
    ]
    if len(evals) > 1:
        out.append("A PT and an OT evaluation on one date must not be billed by the same "
                   "practitioner")
    return out
