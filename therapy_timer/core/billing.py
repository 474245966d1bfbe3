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
from typing import Protocol

from therapy_timer.core.codes import Catalog, CodeKind, default_catalog
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
    assistant_units,
    cognitive_assistant_units,
    kx_findings,
    ncci_findings,
    order_modifiers,
    therapist_met_alone,
    untimed_assistant,
)
from therapy_timer.core.rules_data import (
    KxLookup,
    KxYear,
    MueLimit,
    NcciPair,
    default_ncci,
    kx_lookup,
)
from therapy_timer.core.units import (
    COGNITIVE_ADDON,
    COGNITIVE_FIRST,
    Allocation,
    allocate,
    merge_services,
)

_COGNITIVE = (COGNITIVE_FIRST, COGNITIVE_ADDON)

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


@dataclass(frozen=True, slots=True)
class ClaimLine:
    """A line as it goes on a claim: code, at most four modifiers, units, charge."""

    code: str
    label: str
    modifiers: tuple[str, ...]
    units: int
    minutes: int
    fee_cents: int

    @property
    def charge_cents(self) -> int:
        return self.units * self.fee_cents


class BilledLine(Protocol):
    """A line an earlier visit of the day already carries (a stored charge line)."""

    code: str
    modifiers: tuple[str, ...]
    units: int
    minutes: int


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


def _assistant_class(modifiers: Sequence[str]) -> bool:
    return any(m in ("CQ", "CO") for m in modifiers)


def _describe(code: str, modifiers: Sequence[str]) -> str:
    return " ".join([code, *order_modifiers(modifiers)])


def visit_share(claim: Sequence[ClaimLine], earlier: Sequence[BilledLine],
                timed: Collection[str]) -> tuple[list[ClaimLine], list[str]]:
    """The pooled day's claim lines less the units earlier visits that day already carry.

    Each visit keeps the units that are its own whatever the order the visits were finalized
    in: an earlier unit first takes off a day's line with its code and the same modifiers,
    then one of its code with the same CQ/CO standing, then any of its code; a timed unit the
    day no longer gives its code takes off another timed code's unit (the day never bills more
    timed units than its minutes allow). Every mismatch is a note asking for an amendment:
    never silent. A code's minutes ride on its first line (less the earlier visits' minutes).
    """
    if not earlier:
        return list(claim), []
    left = [line.units for line in claim]
    notes: list[str] = []

    def take(need: int, match: Callable[[ClaimLine], bool]) -> list[tuple[ClaimLine, int]]:
        taken = []
        for i, line in enumerate(claim):
            if need <= 0:
                break
            if left[i] > 0 and match(line):
                n = min(need, left[i])
                left[i] -= n
                need -= n
                taken.append((line, n))
        return taken

    pending: list[tuple[BilledLine, int]] = []
    for old in earlier:
        code, cls = old.code.upper(), _assistant_class(old.modifiers)
        need = old.units
        for match in (
            lambda ln, code=code, old=old: ln.code == code and set(ln.modifiers) == set(
                old.modifiers),
            lambda ln, code=code, cls=cls: ln.code == code and _assistant_class(
                ln.modifiers) == cls,
        ):
            need -= sum(n for _, n in take(need, match))
        for line, n in take(need, lambda ln, code=code: ln.code == code):
            need -= n
            notes.append(
                f"{code}: an earlier visit today carries {n} unit(s) as "
                f"{_describe(code, old.modifiers)} where the pooled day's minutes bill "
                f"{_describe(code, line.modifiers)}: amend that visit so the day carries the "
                "modifiers its minutes call for")
        if need > 0:
            pending.append((old, need))
    for old, need in pending:
        code, cls = old.code.upper(), _assistant_class(old.modifiers)
        if code in timed:
            for match in (lambda ln, cls=cls: ln.code in timed and _assistant_class(
                    ln.modifiers) == cls, lambda ln: ln.code in timed):
                for line, n in take(need, match):
                    need -= n
                    notes.append(
                        f"{code}: earlier visits today carry {n} more unit(s) than the pooled "
                        f"day gives {code}, so this visit leaves off {n} unit(s) of "
                        f"{_describe(line.code, line.modifiers)} (the day never bills more "
                        "timed units than its minutes allow): review and amend the earlier "
                        "visit")
        if need > 0:
            notes.append(f"{code}: earlier visits today already carry {need} more unit(s) "
                         "than the pooled day allows; review and amend them")
    minutes_left: dict[str, int] = {}
    for line in claim:
        minutes_left[line.code] = minutes_left.get(line.code, 0) + line.minutes
    for old in earlier:
        code = old.code.upper()
        minutes_left[code] = minutes_left.get(code, 0) - old.minutes
    out: list[ClaimLine] = []
    given: set[str] = set()
    for line, units in zip(claim, left, strict=True):
        if units <= 0:
            continue
        minutes = 0
        if line.code not in given:
            given.add(line.code)
            minutes = max(0, minutes_left.get(line.code, 0))
        out.append(replace(line, units=units, minutes=minutes))
    return out, notes


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
    first = next((merged[c] for c in _COGNITIVE if c in merged and merged[c].minutes), None)
    first_split = (first.assistant_minutes, first.therapist) if first else None

    def finish(chosen: Allocation) -> DayBilling:
        return _finish(chosen, context, day, catalog, ncci, None, None, total_treatment, None,
                       finish, first_split, tuple(earlier))

    return finish(allocation)


def check_assistant_time(allocation: Allocation, discipline: Discipline, catalog: Catalog,
                         day: date | None) -> None:
    """Refuses assistant time the rules cannot bill, rather than bill it silently.

    Assistants do not evaluate or re-evaluate (Pub 100-02 ch. 15 s. 230.1 B and 230.2 B), and
    only a PTA or an OTA is an assistant Medicare knows: there is none for speech-language
    pathology (no CQ/CO pairs with GN).

    Raises:
        BillingError: naming the code, the minutes and what to correct.
    """
    for line in allocation.lines:
        if line.assistant_minutes <= 0:
            continue
        info = catalog.get(line.code, day)
        if assistant_modifier(discipline) is None:
            raise BillingError(
                f"{line.code}: {line.assistant_minutes} min furnished by an assistant under a "
                f"{discipline} plan of care: a PTA or OTA cannot furnish {discipline} services "
                "(record the time as the therapist's, or bill it under the assistant's own "
                "discipline)")
        if info.kind is CodeKind.EVALUATION:
            raise BillingError(
                f"{line.code} ({info.label}): {line.assistant_minutes} min recorded as furnished "
                "by an assistant, but assistants do not evaluate or re-evaluate (Pub 100-02 "
                "ch. 15 s. 230.1-230.2): record that time as the therapist's, or under the "
                "code the assistant furnished")


def check_performers(intervals: Sequence[Interval], discipline: Discipline) -> None:
    """Refuses an interval whose performer does not furnish the plan's discipline (a PTA
    under an OT plan, an OTA under a PT plan, ...): its minutes cannot bill under that plan.

    Raises:
        BillingError: naming the interval and the performer.
    """
    for interval in intervals:
        if not interval.performer.furnishes(discipline):
            end = interval.end.strftime("%H:%M") if interval.end else "running"
            raise BillingError(
                f"{interval.code} {interval.start.strftime('%H:%M')}-{end}: a "
                f"{interval.performer} cannot furnish services under a {discipline} plan of "
                "care (correct the performer or the plan)")


def _first_cognitive_split(intervals: Sequence[Interval], now: datetime | None
                           ) -> tuple[int, int] | None:
    """Who furnished the cognitive service's first 15 minutes (97129's unit), from the timers
    in time order: ``(assistant minutes, therapist minutes)``, each whole minutes of their own
    seconds; None when no cognitive code ran."""
    ordered = sorted((i for i in intervals if i.code.upper() in _COGNITIVE),
                     key=lambda i: i.start)
    if not ordered:
        return None
    budget, assistant, therapist = 15 * 60, 0, 0
    for interval in ordered:
        seconds = min(interval.seconds(now), budget)
        budget -= seconds
        if interval.performer.is_assistant:
            assistant += seconds
        else:
            therapist += seconds
        if budget <= 0:
            break
    return assistant // 60, therapist // 60


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
    first_split = _first_cognitive_split(intervals, now or times.session_end)
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
        for s in _assistant_suggestions(allocation, cq, bundled, first_split):
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
    warnings.extend(_evaluation_warnings(allocation, catalog, day))
    if context.ncci_edits:  # MUEs are NCCI edits too: none for a self-pay patient
        warnings.extend(mue_warnings(billed, context.mue_limits, context.mue_source))
    warnings.extend(_addon_warnings(billed, catalog, day))

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


def _assistant_suggestions(allocation: Allocation, modifier: str, skip: Collection[str],
                           first_split: tuple[int, int] | None) -> list[Suggestion]:
    """CQ/CO per billed unit, from each performer's own whole minutes (CMS CY2022 order).

    97129 and 97130 are one cognitive service: its units are counted together and the
    assistant's units follow onto 97130 (``cognitive_assistant_units``).
    """
    out: list[Suggestion] = []
    lines = [line for line in allocation.lines if line.code not in skip]
    addon = next((line for line in lines if line.code == COGNITIVE_ADDON), None)
    for line in lines:
        if line.code == COGNITIVE_ADDON or not line.assistant_minutes:
            continue
        therapist = line.therapist
        if not line.timed:
            if line.units and untimed_assistant(line.assistant_minutes + therapist,
                                                line.assistant_minutes):
                out.append(_assistant_suggestion(
                    line.code, modifier, line.units,
                    f"assistant furnished {line.assistant_minutes} of "
                    f"{line.assistant_minutes + therapist} min, over the 10% de minimis"))
            continue
        units = line.units + (addon.units if line.code == COGNITIVE_FIRST and addon else 0)
        n, why = assistant_units(units, line.assistant_minutes, therapist, modifier)
        if line.code != COGNITIVE_FIRST or addon is None or not addon.units:
            if n:
                out.append(_assistant_suggestion(line.code, modifier, n, why))
            continue
        a_first, t_first = first_split if first_split else (line.assistant_minutes, therapist)
        by_assistant = a_first > 0 and not therapist_met_alone(t_first, a_first)
        on_first, on_addon = cognitive_assistant_units(n, units, by_assistant)
        who = ("the assistant" if by_assistant else "the therapist")
        why += (f"; {COGNITIVE_FIRST} is the service's first 15 minutes (furnished by {who}: "
                f"assistant {a_first}, therapist {t_first} min) and {COGNITIVE_ADDON} the "
                f"rest, so {on_addon} of the {n} unit(s) with {modifier} are "
                f"{COGNITIVE_ADDON}")
        if on_first:
            out.append(_assistant_suggestion(COGNITIVE_FIRST, modifier, on_first, why))
        if on_addon:
            out.append(_assistant_suggestion(COGNITIVE_ADDON, modifier, on_addon, why))
    return out


def _assistant_suggestion(code: str, modifier: str, units: int, why: str) -> Suggestion:
    return Suggestion(code, modifier, units,
                      f"{units} unit(s) furnished in whole or in part by an assistant ({why}); "
                      "Medicare pays these units at 85%")


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


def _addon_warnings(billed: Mapping[str, int], catalog: Catalog, day: date | None
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


def _evaluation_warnings(allocation: Allocation, catalog: Catalog, day: date | None) -> list[str]:
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
