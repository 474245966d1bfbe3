"""Unit rules: CMS total-time (the 8-minute rule) and per-code, with ties and explanations.

CMS (Pub 100-04 ch. 5 s. 20.2): T = the day's timed minutes; N = (T + 7) // 15 units (0 below
8 minutes). Each timed code gets m // 15 full units; the N - sum(full) leftover units go one each
to the codes with the largest leftover minutes (m mod 15). Where equal leftovers compete for a unit
the code started first that day gets it, and every other allowed allocation is reported.

Per-code: each timed code alone, u = (m + 7) // 15. Untimed codes bill 1 unit under both rules
and never enter the timed total; one timed for less than a minute (an evaluation left at 0:20,
a tapped-by-mistake hot pack) bills only once the clinician confirms it was really furnished
(``untimed_ok``): a unit the timers cannot support is not claimed on its own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from itertools import combinations

from therapy_timer.core.codes import Catalog, CodeInfo, CodeKind, default_catalog
from therapy_timer.core.model import BillingError, Rule, Service

#: Enumerating tie alternatives stops here (a day with this many tied codes is not realistic).
MAX_ALTERNATIVES = 64
COGNITIVE_FIRST, COGNITIVE_ADDON = "97129", "97130"


def cms_units(total_minutes: int) -> int:
    """Units the CMS chart allows for a day's total timed minutes."""
    return (total_minutes + 7) // 15 if total_minutes >= 8 else 0


def per_code_units(minutes: int) -> int:
    """Units one code earns on its own minutes (8 -> 1, 23 -> 2, ...)."""
    return (minutes + 7) // 15 if minutes >= 8 else 0


@dataclass(frozen=True, slots=True)
class CodeUnits:
    """One code's minutes and units for the day."""

    code: str
    minutes: int
    units: int
    timed: bool
    order: int = 0
    assistant_minutes: int = 0
    #: The therapist's own whole minutes (None: the rest of ``minutes``).
    therapist_minutes: int | None = None

    @property
    def therapist(self) -> int:
        if self.therapist_minutes is None:
            return self.minutes - self.assistant_minutes
        return self.therapist_minutes


@dataclass(frozen=True, slots=True)
class Tie:
    """Codes with equal leftover minutes competing for fewer units than there are codes.

    ``alternatives`` lists every allowed allocation of the whole day (code -> units); the first
    is the one the engine picked (codes started first win).
    """

    codes: tuple[str, ...]
    leftover_minutes: int
    units: int
    alternatives: tuple[dict[str, int], ...]
    truncated: bool = False

    def describe(self) -> str:
        who = ", ".join(self.codes)
        return (
            f"Tie: {who} each have {self.leftover_minutes} leftover minutes for {self.units} "
            f"unit{'s' if self.units != 1 else ''}; the code started first was picked and the "
            "clinician may choose another."
        )


@dataclass(frozen=True, slots=True)
class Allocation:
    """The units for one patient-day-discipline under one rule."""

    rule: Rule
    lines: tuple[CodeUnits, ...]
    total_timed_minutes: int
    ties: tuple[Tie, ...] = ()
    explanation: tuple[str, ...] = ()
    #: Untimed codes timed for less than a minute (billed only when the clinician confirmed).
    under_a_minute: tuple[str, ...] = ()

    @property
    def timed_units(self) -> int:
        return sum(line.units for line in self.lines if line.timed)

    @property
    def total_units(self) -> int:
        return sum(line.units for line in self.lines)

    def units(self, code: str) -> int:
        return sum(line.units for line in self.lines if line.code == code)

    def as_dict(self) -> dict[str, int]:
        return {line.code: line.units for line in self.lines}

    def allowed_allocations(self) -> list[dict[str, int]]:
        """Every allocation the rule allows (one unless there is a tie)."""
        if not self.ties:
            return [self.as_dict()]
        return [dict(alt) for alt in self.ties[0].alternatives]

    def with_choice(self, chosen: Mapping[str, int]) -> Allocation:
        """The same day with the clinician's choice among tied allocations.

        A choice is about the timed codes: untimed codes in ``chosen`` are ignored (their lines
        keep their units), so a choice may be given with or without them. Choosing the rule's
        own pick again is allowed too.

        Raises:
            BillingError: the choice is not one the rule allows.
        """
        untimed = {line.code for line in self.lines if not line.timed}
        wanted: dict[str, int] = {}
        for code, units in chosen.items():
            key = str(code).strip().upper()
            if isinstance(units, bool) or not isinstance(units, int):
                raise BillingError(f"{key}: a chosen unit count must be a whole number, "
                                   f"not {units!r}")
            if key not in untimed:
                wanted[key] = units
        for allowed in self.allowed_allocations():
            timed = {c: u for c, u in allowed.items() if c not in untimed}
            same = all(timed.get(c, 0) == u for c, u in wanted.items()) and all(
                wanted.get(c, 0) == u for c, u in timed.items()
            )
            if same:
                # A tie may move a cognitive unit between 97129 and its add-on 97130: the
                # choice names the lines the day bills (_split_alt), so a 97130 it leaves out
                # has no line, and one the rule's own pick had no line for gets one (beside
                # 97129, as _split_cognitive makes it): never a lost or a phantom unit.
                lines = [replace(line, units=timed.get(line.code, 0)) if line.timed else line
                         for line in self.lines
                         if line.code != COGNITIVE_ADDON or line.code in timed]
                have = {line.code for line in lines}
                first = next((ln for ln in lines if ln.code == COGNITIVE_FIRST), None)
                if timed.get(COGNITIVE_ADDON) and COGNITIVE_ADDON not in have and first:
                    lines.insert(lines.index(first) + 1, CodeUnits(
                        COGNITIVE_ADDON, 0, timed[COGNITIVE_ADDON], True, first.order, 0, 0))
                missing = {c for c, u in timed.items() if u and c not in
                           {line.code for line in lines}}
                if missing:
                    raise BillingError("that allocation names codes this day does not bill: "
                                       + ", ".join(sorted(missing)))
                lines = tuple(lines)
                note = "Clinician chose: " + _fmt_alloc(timed)
                return replace(self, lines=lines, explanation=self.explanation + (note,))
        raise BillingError(
            "that allocation is not allowed by the rule: choose one of "
            + "; ".join(_fmt_alloc({c: u for c, u in a.items() if c not in untimed})
                        for a in self.allowed_allocations())
        )


def _fmt_alloc(alloc: Mapping[str, int]) -> str:
    return ", ".join(f"{code} x{units}" for code, units in alloc.items())


def merge_services(services: Iterable[Service]) -> list[Service]:
    """Adds up repeated codes, keeping the order each was first started.

    Raises:
        BillingError: a negative or non-whole minute count.
    """
    merged: dict[str, Service] = {}
    for position, service in enumerate(services):
        code = str(service.code).strip().upper()
        minutes = service.minutes
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise BillingError(f"{code}: minutes must be a whole number, got {minutes!r}")
        if minutes < 0:
            raise BillingError(f"{code}: minutes cannot be negative ({minutes})")
        if service.assistant_minutes < 0 or service.assistant_minutes > minutes:
            raise BillingError(
                f"{code}: assistant minutes ({service.assistant_minutes}) must be between 0 and "
                f"the code's minutes ({minutes})"
            )
        therapist = service.therapist
        if therapist < 0 or therapist + service.assistant_minutes > minutes:
            raise BillingError(
                f"{code}: therapist minutes ({therapist}) and assistant minutes "
                f"({service.assistant_minutes}) add up to more than the code's minutes "
                f"({minutes})"
            )
        order = position if service.order is None else service.order
        if code in merged:
            old = merged[code]
            merged[code] = Service(
                code,
                old.minutes + minutes,
                min(old.order, order),
                old.assistant_minutes + service.assistant_minutes,
                old.therapist + therapist,
            )
        else:
            merged[code] = Service(code, minutes, order, service.assistant_minutes, therapist)
    return sorted(merged.values(), key=lambda s: s.order)


def allocate(
    services: Sequence[Service],
    rule: Rule = Rule.CMS,
    *,
    day: date | None = None,
    catalog: Catalog | None = None,
    explain: bool = True,
    untimed_ok: Collection[str] = (),
) -> Allocation:
    """Units per code for one patient, one calendar day, one discipline.

    Args:
        services: codes with their minutes; list order (or ``order``) is the order started.
        rule: the payer's unit rule.
        day: date of service (picks catalog rows); None takes the newest rows.
        catalog: the code catalog; the shipped one by default.
        explain: build the plain-words explanation (the 1 Hz live display skips it).
        untimed_ok: untimed codes timed for less than a minute that the clinician confirmed
            were furnished: they bill their unit (any other such code bills none).

    Raises:
        BillingError: an unknown code, a periodic code, or bad minutes.
    """
    catalog = catalog or default_catalog()
    merged = merge_services(services)
    infos: dict[str, CodeInfo] = {}
    for service in merged:
        info = catalog.get(service.code, day)
        if info.kind is CodeKind.PERIODIC:
            raise BillingError(
                f"{info.code} ({info.label}) is billed monthly or per episode, not per visit"
            )
        infos[service.code] = info
    # Cognitive intervention is timed as one service and billed as 97129 x1 + 97130 for the rest.
    had_addon = any(s.code == COGNITIVE_ADDON for s in merged)
    pooled = _pool_cognitive(merged)
    if had_addon and COGNITIVE_FIRST not in infos:
        infos[COGNITIVE_FIRST] = catalog.get(COGNITIVE_FIRST, day)

    timed = [s for s in pooled if infos[s.code].timed]
    total = sum(s.minutes for s in timed)
    explanation: list[str] = []
    ties: tuple[Tie, ...] = ()
    if rule is Rule.CMS:
        units, ties, explanation = _cms(timed, total, explain)
    else:
        units = {s.code: per_code_units(s.minutes) for s in timed}
        if explain:
            explanation.append(f"Per-code rule: {sum(units.values())} timed unit(s)")
            explanation.extend(f"{s.code}: {s.minutes} min on its own -> {units[s.code]} unit(s)"
                               for s in timed)

    confirmed = {str(code).strip().upper() for code in untimed_ok}
    under: list[str] = []
    lines: list[CodeUnits] = []
    for s in pooled:
        info = infos[s.code]
        if info.timed:
            lines.extend(_split_cognitive(
                CodeUnits(s.code, s.minutes, units[s.code], True, s.order, s.assistant_minutes,
                          s.therapist),
                had_addon,
            ))
        elif s.minutes < 1:
            # Under a minute on the timers: nothing shows the service was furnished, so (to
            # protect the clinic in an audit) it bills only on the clinician's word.
            under.append(s.code)
            units_now = 1 if s.code in confirmed else 0
            lines.append(CodeUnits(s.code, s.minutes, units_now, False, s.order,
                                   s.assistant_minutes, s.therapist))
            if explain:
                explanation.append(
                    f"{s.code} is {info.kind.description} timed under a minute: "
                    + ("1 unit, as the clinician confirmed" if units_now
                       else "not billed unless the clinician confirms it")
                )
        else:
            lines.append(CodeUnits(s.code, s.minutes, 1, False, s.order, s.assistant_minutes,
                                   s.therapist))
            if explain:
                explanation.append(
                    f"{s.code} is {info.kind.description}: 1 unit; its {s.minutes} min count in "
                    "total treatment time, not the timed total"
                )
    if had_addon or any(s.code == COGNITIVE_FIRST for s in pooled):
        ties = tuple(
            replace(t, alternatives=tuple(_split_alt(a, had_addon) for a in t.alternatives))
            for t in ties
        )
    return Allocation(rule, tuple(lines), total, ties, tuple(explanation),
                      under_a_minute=tuple(under))


#: The cognitive function codes, billed as one service split over two codes.
COGNITIVE_CODES = (COGNITIVE_FIRST, COGNITIVE_ADDON)
_COGNITIVE = COGNITIVE_CODES


def _pool_cognitive(merged: list[Service]) -> list[Service]:
    cognitive = [s for s in merged if s.code in _COGNITIVE]
    if not cognitive:
        return merged
    rest = [s for s in merged if s.code not in _COGNITIVE]
    pooled = Service(
        COGNITIVE_FIRST,
        sum(s.minutes for s in cognitive),
        min(s.order for s in cognitive),
        sum(s.assistant_minutes for s in cognitive),
        sum(s.therapist for s in cognitive),
    )
    return sorted([*rest, pooled], key=lambda s: s.order)


def _split_cognitive(line: CodeUnits, had_addon: bool) -> list[CodeUnits]:
    """97129 bills once a day; the rest of the cognitive units bill as 97130."""
    if line.code != COGNITIVE_FIRST or (line.units <= 1 and not had_addon):
        return [line]
    first = replace(line, units=min(line.units, 1))
    # The performers' minutes stay on 97129's line (the service's); the modifier rules spread
    # the assistant's units over both codes (core.modifiers.cognitive_assistant_units).
    return [first, CodeUnits(COGNITIVE_ADDON, 0, max(line.units - 1, 0), True, line.order, 0,
                             0)]


def _split_alt(alt: dict[str, int], had_addon: bool) -> dict[str, int]:
    out: dict[str, int] = {}
    for code, units in alt.items():
        if code == COGNITIVE_FIRST and (units > 1 or had_addon):
            out[COGNITIVE_FIRST], out[COGNITIVE_ADDON] = min(units, 1), units - min(units, 1)
        else:
            out[code] = units
    return out


def _cms(timed: list[Service], total: int, explain: bool = True):
    """CMS allocation: full units per code, leftover units to the largest leftovers."""
    n_units = cms_units(total)
    units = {s.code: s.minutes // 15 for s in timed}
    left = n_units - sum(units.values())
    ties: list[Tie] = []
    winners: list[Service] = []
    if left > 0:
        candidates = sorted((s for s in timed if s.minutes % 15),
                            key=lambda s: (-(s.minutes % 15), s.order))
        cutoff = candidates[left - 1].minutes % 15
        sure = [s for s in candidates if s.minutes % 15 > cutoff]
        tied = [s for s in candidates if s.minutes % 15 == cutoff]
        need = left - len(sure)
        winners = sure + tied[:need]
        for s in winners:
            units[s.code] += 1
        if need < len(tied):
            ties.append(_tie(units, tied, need, cutoff))
    explanation = _cms_explanation(timed, total, n_units, units, left, winners, ties) \
        if explain else []
    return units, tuple(ties), explanation


def _tie(units: dict[str, int], tied: list[Service], need: int, cutoff: int) -> Tie:
    """Every allocation of ``need`` leftover units among equally tied codes."""
    base = dict(units)
    for s in tied[:need]:
        base[s.code] -= 1
    alternatives = []
    truncated = False
    for chosen in combinations([s.code for s in tied], need):
        if len(alternatives) >= MAX_ALTERNATIVES:
            truncated = True
            break
        alt = dict(base)
        for code in chosen:
            alt[code] += 1
        alternatives.append(alt)
    return Tie(tuple(s.code for s in tied), cutoff, need, tuple(alternatives), truncated)


def _cms_explanation(timed, total, n_units, units, left, winners, ties) -> list[str]:
    explanation = [f"{total} timed minutes -> {n_units} unit{'s' if n_units != 1 else ''}"]
    if total and n_units == 0:
        explanation.append("Under 8 timed minutes in the day: no timed unit bills")
    for s in timed:
        full = s.minutes // 15
        if full:
            explanation.append(
                f"{s.code}: {s.minutes} min = {full} full unit(s) + {s.minutes % 15} min left over"
            )
    if left > 0:
        explanation.append(
            f"{left} leftover unit(s) go to the largest leftover minutes: "
            + ", ".join(f"{s.code} ({s.minutes % 15} min)" for s in winners)
        )
    explanation.extend(tie.describe() for tie in ties)
    unbilled = [s.code for s in timed if units[s.code] == 0 and s.minutes]
    if unbilled and n_units:
        explanation.append(
            "No unit left for " + ", ".join(unbilled)
            + f": the day's total allows only {n_units} (document the time anyway)"
        )
    return explanation
