"""One patient-day-discipline billed end to end: units, modifiers, charges, warnings.

This is the engine's front door. ``bill_intervals`` takes timer intervals (the app's normal path);
``bill_services`` takes minutes per code (manual entry and the ``units`` command). Both return a
``DayBilling``: per-code lines with applied modifiers, suggestions to confirm, warnings and the
explanation, and ``claim_lines()`` turns it into the lines a claim or superbill carries.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from therapy_timer.core.assistant_rules import (
    assistant_suggestions,
    check_assistant_time,
    check_performers,
    first_cognitive_split,
)
from therapy_timer.core.codes import Catalog, default_catalog
from therapy_timer.core.day_warnings import addon_warnings, evaluation_warnings, mue_warnings
from therapy_timer.core.minutes import DayTime, day_time
from therapy_timer.core.model import (
    BillingError,
    Discipline,
    Interval,
    Rule,
    Service,
    check_medicare_rule,
)
from therapy_timer.core.modifiers import (
    MAX_MODIFIERS,
    Suggestion,
    assistant_modifier,
    kx_findings,
    ncci_findings,
    order_modifiers,
)
from therapy_timer.core.pooling import BilledLine, ClaimLine, visit_share
from therapy_timer.core.rules_data import (
    KxLookup,
    KxYear,
    MueLimit,
    NcciPair,
    default_ncci,
    kx_lookup,
)
from therapy_timer.core.units import (
    COGNITIVE_CODES,
    Allocation,
    allocate,
    merge_services,
)

#: What a line says when an untimed code ran less than a minute and nobody confirmed it.
UNDER_A_MINUTE_NOTE = "timed under a minute: not billed unless the clinician confirms it"


@dataclass(frozen=True)
class BillingContext:
    """What the payer and the clinic's data say about one patient-day.

    Money is integer cents. ``allowed_cents`` (per unit) feeds the KX year-to-date amount;
    ``prior_kx_cents`` is the bucket's allowed amount earlier this year (including spend at
    other providers that staff entered). ``ncci_edits`` False skips NCCI pair edits (a self-pay
    patient: no claim goes to an insurer that applies them; see ``self_pay_context``).

    Raises:
        BillingError: Medicare with the per-code rule (``core.model.check_medicare_rule``).
    """

    rule: Rule = Rule.CMS
    discipline: Discipline = Discipline.PT
    medicare: bool = False
    therapy_modifiers: bool = True
    assistant_modifiers: bool = True
    kx_applies: bool = False
    prior_kx_cents: int = 0
    fees_cents: Mapping[str, int] = field(default_factory=dict)
    allowed_cents: Mapping[str, int] = field(default_factory=dict)
    distinct_modifier: str = "XU"
    #: The clinic lists Medicare-bundled codes (97010) on the claim at $0 (its billing service
    #: wants every service listed); otherwise they are documented, not billed.
    list_bundled: bool = False
    ncci_edits: bool = True
    #: KX thresholds by year (the clinic's, from its database); None: the shipped seed. A year
    #: with none on file uses the latest year before it and says so (``rules_data.kx_lookup``).
    kx_thresholds: Mapping[int, KxYear] | None = None
    #: The clinic's NCCI pairs (CMS's PTP release it imported); None: the shipped seed
    #: (``resources/ncci_pairs.csv``).
    ncci_pairs: tuple[NcciPair, ...] | None = field(default=None, repr=False)
    #: CMS's MUEs the clinic imported, code -> limit (none: units are not checked).
    mue_limits: Mapping[str, MueLimit] = field(default_factory=dict, repr=False)
    #: Which MUE table ``mue_limits`` is, for the warning ("CMS practitioner MUE table ...").
    mue_source: str = ""

    def __post_init__(self) -> None:
        check_medicare_rule(self.medicare, self.rule)


def self_pay_context(discipline: Discipline = Discipline.PT, **clinic: object) -> BillingContext:
    """A patient with no insurer: no therapy (GP/GO/GN), assistant (CQ/CO), KX or NCCI
    (59/XU) modifiers, which are insurers' claim rules, unless the clinic turns them on
    (``clinic``: any BillingContext field, e.g. ``therapy_modifiers=True``)."""
    fields: dict[str, object] = {"therapy_modifiers": False, "assistant_modifiers": False,
                                 "kx_applies": False, "ncci_edits": False}
    fields.update(clinic)
    return BillingContext(discipline=discipline, **fields)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class BillLine:
    """One code for the day with its units, applied modifiers and suggestions."""

    code: str
    label: str
    minutes: int
    units: int
    timed: bool
    modifiers: tuple[str, ...]
    suggestions: tuple[Suggestion, ...]
    fee_cents: int
    assistant_minutes: int = 0
    notes: tuple[str, ...] = ()
    #: Medicare bundles this code into the day's other services (no separate payment): it is
    #: documented with its minutes but bills 0 units (listed at $0 if the clinic asks).
    bundled: bool = False

    @property
    def charge_cents(self) -> int:
        return self.units * self.fee_cents


def bundled_note(code: str) -> str:
    """How the review and the superbill name a Medicare-bundled code."""
    return f"documented, not billed (Medicare bundles {code})"


@dataclass(frozen=True)
class DayBilling:
    """The result for one patient-day-discipline.

    ``earlier``: the lines the day's earlier finalized visits (pooled with this one) already
    carry; ``own_lines`` is what this visit adds to them.
    """

    day: date | None
    context: BillingContext
    allocation: Allocation
    lines: tuple[BillLine, ...]
    warnings: tuple[str, ...]
    total_timed_minutes: int
    total_treatment_minutes: int
    session_start: datetime | None = None
    session_end: datetime | None = None
    earlier: tuple[BilledLine, ...] = ()
    #: The KX threshold the day was checked against (None: KX does not apply, or no date).
    kx: KxLookup | None = None
    # Re-runs the modifier rules for another allocation of the same day (see with_choice).
    _rebill: Callable[[Allocation], DayBilling] | None = field(default=None, repr=False,
                                                                compare=False)

    def with_choice(self, choice: Mapping[str, int]) -> DayBilling:
        """The same day billed with the clinician's choice among tied allocations.

        CQ/CO, KX and NCCI findings are worked out again for the chosen units.

        Raises:
            BillingError: the choice is not one the rule allows.
        """
        allocation = self.allocation.with_choice(choice)
        if self._rebill is None:  # pragma: no cover - every builder sets it
            raise BillingError("this billing cannot be re-allocated")
        return self._rebill(allocation)

    @property
    def under_a_minute(self) -> tuple[str, ...]:
        """Untimed codes timed for less than a minute (billed only once confirmed)."""
        return self.allocation.under_a_minute

    @property
    def suggestions(self) -> tuple[Suggestion, ...]:
        return tuple(s for line in self.lines for s in line.suggestions)

    @property
    def total_units(self) -> int:
        return sum(line.units for line in self.lines)

    @property
    def explanation(self) -> tuple[str, ...]:
        """The allocation's words, with a payer-bundled code said as billed: "97010 is
        untimed ...: 1 unit" would contradict its 0 units on a Medicare claim."""
        bundled = {line.code for line in self.lines if line.bundled}
        if not bundled:
            return self.allocation.explanation
        listed = self.context.list_bundled
        out = []
        for text in self.allocation.explanation:
            code = text.split(" ", 1)[0]
            if code in bundled and " is " in text and ": 1 unit" in text:
                text = (f"{code} is bundled by Medicare: "
                        + ("listed at $0.00" if listed else "documented, not billed")
                        + text[text.index(": 1 unit") + len(": 1 unit"):])
            out.append(text)
        return tuple(out)

    def claim_lines(self, confirmed: Collection[tuple[str, str]] | None = None) -> list[ClaimLine]:
        """Claim lines with the confirmed suggestions applied.

        Args:
            confirmed: ``(code, modifier)`` pairs the clinician confirmed; None confirms every
                suggestion (the engine's proposal). Lines with 0 units are left out, except
                a Medicare-bundled code when the clinic lists those: 1 unit at $0.00.

        Raises:
            BillingError: a line would carry more than four modifiers.
        """
        out: list[ClaimLine] = []
        for line in self.lines:
            if line.bundled and self.context.list_bundled:
                out.append(ClaimLine(line.code, line.label, order_modifiers(line.modifiers), 1,
                                     line.minutes, 0))
                continue
            if line.units <= 0:
                continue
            accepted = [
                s for s in line.suggestions
                if confirmed is None or (s.code, s.modifier) in confirmed
            ]
            whole = [s.modifier for s in accepted if s.units >= line.units]
            partial = [s for s in accepted if s.units < line.units]
            # A suggestion for only some units (CQ/CO) splits the line in two.
            groups = [(line.units, whole)]
            for s in partial:
                rest, mods = groups.pop()
                groups += [(s.units, [*mods, s.modifier]), (rest - s.units, mods)]
            # The code's minutes ride on its first claim line so they are never counted twice.
            for index, (units, mods) in enumerate(g for g in groups if g[0] > 0):
                modifiers = order_modifiers([*line.modifiers, *mods])
                if len(modifiers) > MAX_MODIFIERS:
                    raise BillingError(
                        f"{line.code} would carry {len(modifiers)} modifiers "
                        f"({' '.join(modifiers)}); a claim line holds at most {MAX_MODIFIERS}"
                    )
                out.append(ClaimLine(line.code, line.label, modifiers, units,
                                     0 if index else line.minutes, line.fee_cents))
        return out

    def own_lines(self, confirmed: Collection[tuple[str, str]] | None = None
                  ) -> tuple[list[ClaimLine], list[str]]:
        """This visit's claim lines: the pooled day's (``claim_lines``) less what the earlier
        visits carry, matched by code and modifiers (see ``visit_share``), and the notes."""
        timed = {line.code for line in self.lines if line.timed}
        return visit_share(self.claim_lines(confirmed), self.earlier, timed)


def bill_services(
    services: Sequence[Service],
    context: BillingContext = BillingContext(),
    *,
    day: date | None = None,
    catalog: Catalog | None = None,
    ncci: Sequence[NcciPair] | None = None,
    untimed_ok: Collection[str] = (),
    earlier: Sequence[BilledLine] = (),
) -> DayBilling:
    """Bills minutes per code (no timer evidence, so 59/XU is never suggested).

    ``untimed_ok``: untimed codes under a minute the clinician confirmed (see ``allocate``).
    ``earlier``: lines earlier visits of the pooled day already carry (see ``own_lines``).

    Raises:
        BillingError: bad minutes, or assistant minutes the rules refuse (see
            ``check_assistant_time``).
    """
    allocation = allocate(services, context.rule, day=day, catalog=catalog,
                          untimed_ok=untimed_ok)
    check_assistant_time(allocation, context.discipline, catalog or default_catalog(), day)
    total_treatment = sum(s.minutes for s in services)
    # Without timers, 97129's own entry stands for the service's first 15 minutes.
    merged = {s.code: s for s in merge_services(services)}
    first = next((merged[c] for c in COGNITIVE_CODES if c in merged and merged[c].minutes), None)
    first_split = (first.assistant_minutes, first.therapist) if first else None

    def finish(chosen: Allocation) -> DayBilling:
        return _finish(chosen, context, day, catalog, ncci, None, None, total_treatment, None,
                       finish, first_split, tuple(earlier))

    return finish(allocation)


def bill_intervals(
    intervals: Sequence[Interval],
    context: BillingContext = BillingContext(),
    *,
    day: date | None = None,
    now: datetime | None = None,
    catalog: Catalog | None = None,
    ncci: Sequence[NcciPair] | None = None,
    untimed_ok: Collection[str] = (),
    earlier: Sequence[BilledLine] = (),
) -> DayBilling:
    """Bills a patient-day from its timer intervals (``now`` for running ones).

    ``untimed_ok``: untimed codes under a minute the clinician confirmed (see ``allocate``).
    ``earlier``: lines earlier visits of the pooled day already carry (see ``own_lines``).

    Raises:
        BillingError: overlapping or unknown intervals, a performer who does not furnish the
            plan's discipline, or assistant time the rules refuse.
    """
    catalog = catalog or default_catalog()
    check_performers(intervals, context.discipline)
    times = day_time(intervals, now, catalog)
    if day is None and times.session_start is not None:
        day = times.session_start.date()
    allocation = allocate(times.services(), context.rule, day=day, catalog=catalog,
                          untimed_ok=untimed_ok)
    check_assistant_time(allocation, context.discipline, catalog, day)
    first_split = first_cognitive_split(intervals, now or times.session_end)
    by_code: dict[str, list[Interval]] = {}
    for interval in intervals:
        by_code.setdefault(interval.code.upper(), []).append(interval)
    moment = now or times.session_end

    def finish(chosen: Allocation) -> DayBilling:
        return _finish(chosen, context, day, catalog, ncci, by_code, moment,
                       times.total_treatment_minutes, times, finish, first_split,
                       tuple(earlier))

    return finish(allocation)


def _finish(
    allocation: Allocation,
    context: BillingContext,
    day: date | None,
    catalog: Catalog | None,
    ncci: Sequence[NcciPair] | None,
    by_code: Mapping[str, Sequence[Interval]] | None,
    now: datetime | None,
    total_treatment: int,
    times: DayTime | None,
    rebill: Callable[[Allocation], DayBilling],
    first_split: tuple[int, int] | None = None,
    earlier: tuple[BilledLine, ...] = (),
) -> DayBilling:
    catalog = catalog or default_catalog()
    warnings: list[str] = []
    suggestions: dict[str, list[Suggestion]] = {}
    notes: dict[str, list[str]] = {}
    discipline = context.discipline
    cq = assistant_modifier(discipline) if context.assistant_modifiers else None
    # Medicare pays no separate amount for a bundled code (97010, billing-rules.md rule 12):
    # it stays documented with its minutes, bills 0 units and earns no modifier or KX amount.
    bundled = {line.code for line in allocation.lines
               if context.medicare and catalog.get(line.code, day).medicare_bundled}

    for line in allocation.lines:
        info = catalog.get(line.code, day)
        if discipline not in info.disciplines:
            warnings.append(
                f"{line.code} ({info.label}) is not usually a {discipline} service; check the "
                "plan of care"
            )
        if info.needs_confirmation and info.note:
            notes.setdefault(line.code, []).append(info.note)
        if line.code in allocation.under_a_minute:
            notes.setdefault(line.code, []).append(UNDER_A_MINUTE_NOTE if not line.units else
                                                   "timed under a minute: billed, as confirmed")
    if cq:
        for s in assistant_suggestions(allocation, cq, bundled, first_split):
            suggestions.setdefault(s.code, []).append(s)

    billed = {line.code: line.units for line in allocation.lines
              if line.units > 0 and line.code not in bundled}
    if day is None:
        # Never skip a dated check silently (the units command always passes a date).
        if context.ncci_edits and len(billed) > 1:
            warnings.append("No date of service: NCCI pair edits were not checked")
        if context.kx_applies:
            warnings.append("No date of service: the KX threshold was not checked")
    elif context.ncci_edits:
        pairs = ncci if ncci is not None else (
            default_ncci() if context.ncci_pairs is None else context.ncci_pairs)
        for finding in ncci_findings(billed, pairs, day, by_code, now, context.distinct_modifier):
            if finding.suggestion:
                suggestions.setdefault(finding.suggestion.code, []).append(finding.suggestion)
            if finding.warning:
                warnings.append(finding.warning)
    warnings.extend(evaluation_warnings(allocation, catalog, day))
    if context.ncci_edits:  # MUEs are NCCI edits too: none for a self-pay patient
        warnings.extend(mue_warnings(billed, context.mue_limits, context.mue_source))
    warnings.extend(addon_warnings(billed, catalog, day))

    codes_out: dict[str, str] = {}
    if context.medicare:
        for line in allocation.lines:
            info = catalog.get(line.code, day)
            if info.medicare_substitute:
                codes_out[line.code] = info.medicare_substitute
                warnings.append(f"{info.medicare_note} ({line.code} -> {info.medicare_substitute})")
            elif info.medicare_bundled:
                listed = ("listed at $0.00 as the clinic asks" if context.list_bundled
                          else "documented, not billed")
                warnings.append(f"{line.code}: {info.medicare_note} It is {listed}.")

    kx = None
    if context.kx_applies and day is not None:
        kx_lines = [
            (codes_out.get(line.code, line.code), line.units,
             context.allowed_cents.get(codes_out.get(line.code, line.code), 0))
            for line in allocation.lines if line.code not in bundled
        ]
        kx = kx_lookup(day.year, context.kx_thresholds)
        if kx.notice:
            warnings.append(kx.notice)
        finding = kx_findings(kx_lines, context.prior_kx_cents, kx.kx, discipline.kx_bucket,
                              year=day.year)
        for s in finding.suggestions:
            original = next((k for k, v in codes_out.items() if v == s.code), s.code)
            suggestions.setdefault(original, []).append(s)
        warnings.extend(finding.warnings)

    therapy = (discipline.therapy_modifier,) if context.therapy_modifiers else ()
    lines = []
    for line in allocation.lines:
        code = codes_out.get(line.code, line.code)
        info = catalog.get(code, day)
        is_bundled = line.code in bundled
        lines.append(BillLine(
            code=code,
            label=info.label,
            minutes=line.minutes,
            units=0 if is_bundled else line.units,
            timed=line.timed,
            modifiers=therapy,
            suggestions=() if is_bundled else tuple(
                Suggestion(code, s.modifier, s.units, s.reason, s.evidence)
                for s in suggestions.get(line.code, [])
            ),
            fee_cents=0 if is_bundled else int(context.fees_cents.get(code, 0)),
            assistant_minutes=line.assistant_minutes,
            notes=tuple(notes.get(line.code, [])) + ((bundled_note(code),) if is_bundled
                                                     else ()),
            bundled=is_bundled,
        ))
    billing = DayBilling(
        day=day,
        context=context,
        allocation=allocation,
        lines=tuple(lines),
        warnings=tuple(warnings),
        total_timed_minutes=allocation.total_timed_minutes,
        total_treatment_minutes=total_treatment,
        session_start=times.session_start if times else None,
        session_end=times.session_end if times else None,
        earlier=earlier,
        kx=kx,
        _rebill=rebill,
    )
    if earlier:  # what the day's proposal would leave this visit: mismatches shown before
        shared = billing.own_lines()[1]  # the clinician locks it
        billing = replace(billing, warnings=billing.warnings + tuple(shared))
    return billing


