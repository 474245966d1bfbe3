"""Documentation prompts from practice, and the finalize check of billed time against the session.

- Manual therapy (97140) asks for technique and body region.
- The 10th visit of a plan of care (and every 10th after) reminds that a progress report is due.
- A manual lymphatic drainage note needs extra documentation.
- At finalize, billed units are checked against the session's span: more unit-time than the
  session could hold is flagged as over-billing; a long stretch of the session with no recorded
  intervention is flagged as possibly unrecorded (under-billed) time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from therapy_timer.core.codes import Catalog, default_catalog
from therapy_timer.core.model import Rule
from therapy_timer.core.units import cms_units

PROGRESS_REPORT_EVERY = 10
#: A gap this long between the session's span and its treatment time is worth a second look.
UNRECORDED_GAP_MINUTES = 15


def progress_report_due(visit_number: int) -> str | None:
    """The reminder for the ``visit_number``-th visit of a plan of care, if one is due."""
    if visit_number > 0 and visit_number % PROGRESS_REPORT_EVERY == 0:
        return (f"Visit {visit_number} of this plan of care: a progress report is due "
                f"(at least every {PROGRESS_REPORT_EVERY} treatment visits)")
    return None


def code_prompts(code: str, note: str = "", catalog: Catalog | None = None) -> list[str]:
    """What the clinician should document for ``code`` (and its note) before finalizing."""
    info = (catalog or default_catalog()).get(code)
    prompts = []
    if info.asks_technique:
        prompts.append(f"{info.code} {info.label}: record the technique and the body region")
    if "lymph" in note.lower():
        prompts.append(
            f"{info.code}: manual lymphatic drainage needs extra documentation (measurements, "
            "why skilled care is needed)"
        )
    return prompts


def missing_details(intervals: Iterable, catalog: Catalog | None = None
                    ) -> dict[str, tuple[str, ...]]:
    """Codes whose documentation still lacks a detail the catalog asks for, in the order they
    ran: code -> the missing details ("technique", "body region"). ``intervals`` are anything
    with ``code``, ``technique`` and ``body_region`` (the visit's stored intervals)."""
    catalog = catalog or default_catalog()
    out: dict[str, list[str]] = {}
    for interval in intervals:
        if not catalog.get(interval.code).asks_technique:
            continue
        for name, value in (("technique", interval.technique),
                            ("body region", interval.body_region)):
            if not (value or "").strip():
                wanted = out.setdefault(interval.code, [])
                if name not in wanted:
                    wanted.append(name)
    return {code: tuple(n for n in ("technique", "body region") if n in names)
            for code, names in out.items() if names}


@dataclass(frozen=True, slots=True)
class SpanCheck:
    """Billed time against the session span; ``flags`` are empty when all is consistent."""

    span_minutes: int
    treatment_minutes: int
    timed_minutes: int
    timed_units: int
    flags: tuple[str, ...]


def most_units(span_minutes: int, rule: Rule = Rule.CMS) -> int:
    """The most timed units honest one-on-one time within a session of ``span_minutes`` can
    earn. CMS: the chart for the total. Per-code: each code rounds on its own and its first
    unit needs 8 minutes, every later one 15 more, so no split beats one unit per 8 minutes."""
    return cms_units(span_minutes) if rule is Rule.CMS else span_minutes // 8


def check_span(span_minutes: int, treatment_minutes: int, timed_minutes: int,
               timed_units: int, rule: Rule = Rule.CMS) -> SpanCheck:
    """Flags over-billing (more units than the span allows under ``rule``) and unrecorded
    stretches."""
    flags = []
    if treatment_minutes > span_minutes:
        flags.append(f"Treatment time ({treatment_minutes} min) is longer than the session "
                     f"({span_minutes} min): check the interval times")
    most = most_units(span_minutes, rule)
    if timed_units > most:
        flags.append(f"{timed_units} timed units bill more than a {span_minutes}-minute session "
                     f"can hold under the {rule.label} ({most}): over-billing")
    if span_minutes - treatment_minutes >= UNRECORDED_GAP_MINUTES:
        flags.append(f"{span_minutes - treatment_minutes} min of the session have no recorded "
                     "intervention (rest is fine; was a timer missed?)")
    return SpanCheck(span_minutes, treatment_minutes, timed_minutes, timed_units, tuple(flags))
