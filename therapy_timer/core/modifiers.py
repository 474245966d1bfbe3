"""Modifier rules: GP/GO/GN, CQ/CO per billed unit, NCCI 59/XU and KX.

Only GP/GO/GN are applied outright. CQ/CO, 59/XU and KX are *suggestions* with a reason (and,
for 59/XU, the timer intervals as evidence); the clinician confirms them at finalize.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from therapy_timer.core.model import Discipline, Interval
from therapy_timer.core.rules_data import KxYear, NcciPair

#: The stable order modifiers are printed in (claims accept any order; ours never varies).
MODIFIER_ORDER = ("59", "XE", "XS", "XP", "XU", "GP", "GO", "GN", "CQ", "CO", "KX", "GA", "GY",
                  "GZ")
MAX_MODIFIERS = 4


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A modifier the rules suggest for ``units`` units of ``code``; the clinician confirms."""

    code: str
    modifier: str
    units: int
    reason: str
    evidence: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "modifier": self.modifier,
            "units": self.units,
            "reason": self.reason,
            "evidence": list(self.evidence),
        }


def order_modifiers(modifiers: Iterable[str]) -> tuple[str, ...]:
    """Deduplicates and sorts modifiers into the stable order (unknown ones last, alphabetical)."""
    unique = {m.upper() for m in modifiers}
    rank = {m: i for i, m in enumerate(MODIFIER_ORDER)}
    return tuple(sorted(unique, key=lambda m: (rank.get(m, len(rank)), m)))


def assistant_modifier(discipline: Discipline) -> str | None:
    """CQ pairs with GP, CO with GO; SLP has no assistant modifier."""
    return {Discipline.PT: "CQ", Discipline.OT: "CO"}.get(discipline)


#: CMS CY2022 PFS final rule (86 FR 64996): with two units left to bill, one carries CQ/CO and
#: one does not when the therapist and the assistant each furnished 9-14 minutes of the service.
SPLIT_MINUTES = range(9, 15)


def therapist_met_alone(therapist_minutes: int, assistant_minutes: int) -> bool:
    """Whether the therapist met a (last) unit on their own: 8 minutes or more of it (the
    8-minute rule), and more than the assistant furnished of it.

    CMS (CY2022) bills a unit without CQ/CO when the therapist meets the billing threshold
    without the assistant's minutes. It does not say what happens when the assistant furnished
    as many minutes of that unit or more; the app then keeps CQ/CO (the service is furnished in
    part by the assistant, SSA 1834(v)): the reading that protects the clinic in an audit.
    """
    return therapist_minutes >= 8 and therapist_minutes > assistant_minutes


def assistant_units(units: int, assistant_minutes: int, therapist_minutes: int,
                    modifier: str = "CQ/CO") -> tuple[int, str]:
    """How many of a timed service's billed units carry CQ/CO, and why (CMS's counting order).

    Each performer's minutes are whole minutes of their own seconds. First the full 15-minute
    blocks each furnished alone: the assistant's carry the modifier, the therapist's do not.
    Then the units left (at most two): with two left and both furnishing 9-14 minutes, one
    each (CMS CY2022); otherwise a unit goes without the modifier only when the therapist met
    it alone (``therapist_met_alone``), and every other unit left carries it (the assistant's
    share of it is over the 10% de minimis, or the therapist alone did not reach 8 minutes).
    """
    if units <= 0 or assistant_minutes <= 0:
        return 0, ""
    a_full, a_left = divmod(assistant_minutes, 15)
    t_full, t_left = divmod(therapist_minutes, 15)
    a_units = min(a_full, units)
    t_units = min(t_full, units - a_units)
    remaining = units - a_units - t_units
    reason = [f"assistant {assistant_minutes} min, therapist {therapist_minutes} min"]
    if a_units:
        reason.append(f"{a_units} full 15-min block(s) by the assistant: {modifier}")
    if t_units:
        reason.append(f"{t_units} full 15-min block(s) by the therapist: no {modifier}")
    if remaining == 2 and a_left in SPLIT_MINUTES and t_left in SPLIT_MINUTES:
        a_units += 1
        reason.append(f"two units left, the assistant {a_left} min and the therapist {t_left} "
                      f"min (each 9-14): one with {modifier}, one without (CMS CY2022)")
    elif remaining:
        alone = therapist_met_alone(t_left, a_left)
        a_units += remaining - alone
        left = "last unit" if remaining == 1 else f"{remaining} units left"
        if alone:
            reason.append(f"{left}: the therapist furnished {t_left} min alone (8 or more, more "
                          f"than the assistant's {a_left}): one unit without {modifier}"
                          + (", the other with it" if remaining > 1 else ""))
        elif t_left >= 8:
            reason.append(
                f"{left}: the therapist's {t_left} min reach 8 but the assistant furnished as "
                f"many or more ({a_left} min): {modifier} (CMS does not settle this case; the "
                "app takes the reading that protects the clinic in an audit)")
        elif a_left:
            reason.append(f"{left}: the therapist furnished {t_left} min (under 8); the "
                          f"assistant's {a_left} min are over 10% of it: {modifier}")
        else:
            reason.append(f"{left}: the therapist's {t_left} min alone do not reach 8 (the "
                          f"unit bills on the day's pooled minutes): {modifier}")
    return min(a_units, units), "; ".join(reason)


def cognitive_assistant_units(assistant_units_: int, units: int,
                              first_by_assistant: bool) -> tuple[int, int]:
    """Where a cognitive service's CQ/CO units fall: ``(on 97129, on 97130)``.

    97129 is the service's first 15 minutes and 97130 each further 15 (one service over two
    codes). 97129 carries the modifier when the assistant furnished those first minutes (the
    therapist did not meet them alone) or when every unit carries it; the add-on units carry
    the rest. The modifier goes on each code furnished in whole or in part by an assistant
    (SSA 1834(v)).
    """
    if assistant_units_ <= 0 or units <= 0:
        return 0, 0
    addon = units - 1
    first = 1 if first_by_assistant or assistant_units_ > addon else 0
    return first, min(assistant_units_ - first, addon)


def untimed_assistant(total_minutes: int, assistant_minutes: int) -> bool:
    """De minimis: an untimed service is 'in part' by an assistant above 10% of its time."""
    return total_minutes > 0 and assistant_minutes * 10 > total_minutes


def intervals_distinct(a: Sequence[Interval], b: Sequence[Interval], now: datetime) -> bool:
    """True when no interval of one code overlaps any interval of the other."""
    if not a or not b:
        return False
    return all(
        x.end_or(now) <= y.start or y.end_or(now) <= x.start for x in a for y in b
    )


def describe_intervals(code: str, intervals: Sequence[Interval], now: datetime) -> str:
    parts = ", ".join(
        f"{i.start.strftime('%H:%M')}-{i.end_or(now).strftime('%H:%M')}" for i in intervals
    )
    return f"{code}: {parts}"


@dataclass(frozen=True, slots=True)
class PairFinding:
    pair: NcciPair
    suggestion: Suggestion | None
    warning: str | None


def ncci_findings(
    billed: Mapping[str, int],
    pairs: Iterable[NcciPair],
    day: date,
    intervals_by_code: Mapping[str, Sequence[Interval]] | None,
    now: datetime | None,
    distinct_modifier: str = "XU",
) -> list[PairFinding]:
    """NCCI pair edits among the codes billed today (``billed``: code -> units > 0)."""
    findings = []
    for pair in pairs:
        if not pair.valid_on(day):
            continue
        if billed.get(pair.column1, 0) <= 0 or billed.get(pair.column2, 0) <= 0:
            continue
        name = f"{pair.column1}/{pair.column2}"
        if pair.confidence != "V":
            name += " (pair from secondary sources: confirm against CMS's current PTP file)"
        if pair.modifier_indicator == "0":
            findings.append(PairFinding(pair, None, (
                f"NCCI pair {name} (modifier indicator 0): {pair.column2} cannot be billed with "
                f"{pair.column1} on the same day, whatever the modifier"
            )))
        elif pair.modifier_indicator == "1" and pair.bypass == "specialty":
            findings.append(PairFinding(pair, None, (
                f"NCCI pair {name}: {pair.column2} is not separately reportable with "
                f"{pair.column1} by the same practitioner or specialty (NCCI ch. XI s. P); only "
                "a different specialty (PT vs OT) may report it with a modifier, so no 59/XU is "
                "suggested"
            )))
        elif pair.modifier_indicator == "1":
            first = (intervals_by_code or {}).get(pair.column1, ())
            second = (intervals_by_code or {}).get(pair.column2, ())
            if intervals_by_code is not None and now is not None and intervals_distinct(
                first, second, now
            ):
                evidence = (describe_intervals(pair.column1, first, now),
                            describe_intervals(pair.column2, second, now))
                findings.append(PairFinding(pair, Suggestion(
                    pair.column2, distinct_modifier, billed[pair.column2],
                    f"NCCI pair {name}: the timers show the two services in distinct time "
                    f"intervals, so {distinct_modifier} on {pair.column2} may bypass the edit "
                    "(the clinician attests)",
                    evidence,
                ), None))
            else:
                findings.append(PairFinding(pair, None, (
                    f"NCCI pair {name}: {pair.column2} is denied unless the services were in "
                    "distinct time intervals; the timer records do not show that, so no "
                    "59/XU is suggested"
                )))
    return findings


#: How the app counts toward KX, printed once with a visit's KX suggestions.
KX_HOW = (
    "KX goes on every billed line of a visit that takes the year past the threshold, whatever "
    "order the codes were started in. Amounts count at the full allowed amount per unit (no "
    "multiple procedure payment reduction); Medicare's own total may be lower, so check the "
    "year-to-date amount with the Medicare contractor before attesting"
)


@dataclass(frozen=True, slots=True)
class KxFinding:
    suggestions: tuple[Suggestion, ...]
    warnings: tuple[str, ...]
    year_to_date_cents: int
    after_visit_cents: int


def kx_findings(
    lines: Sequence[tuple[str, int, int]],
    prior_cents: int,
    kx: KxYear,
    bucket: str,
    year: int | None = None,
) -> KxFinding:
    """KX for one visit's lines ``(code, units, allowed cents per unit)`` in one bucket.

    The decisions (README, "KX"; each is said in the reason the app prints):

    - *Past* the threshold means above it: the manual (Pub 100-04 ch. 5 s. 10.3.3) has KX
      confirm services "after the beneficiary has exceeded the KX modifier threshold", so a
      year that lands exactly on it needs no KX yet; a warning says the next service will.
    - When the visit takes the year past the threshold, every billed line of the visit
      carries KX, whatever order the codes were started in: lines of one date of service have
      no order on a claim, CMS does not say which of them crosses, and a line the contractor
      counts past the threshold without KX is denied (our reading, the one that protects the
      clinic).
    - What counts is units x the payer's allowed amount per unit as entered in Settings, not
      lowered by the multiple procedure payment reduction (MPPR, s. 10.7). Medicare accrues
      the reduced payment amounts, so its total can be lower than the app's: the app asks
      for the attestation no later than Medicare needs it, and the reason says to check the
      year-to-date amount the contractor holds before attesting.

    ``year`` is the date of service's year (default ``kx.year``); when another year's
    threshold stands in for it (``rules_data.kx_lookup``), the reasons name both.
    """
    billed = [(code, units, allowed) for code, units, allowed in lines if units > 0]
    visit_cents = sum(units * allowed for _code, units, allowed in billed)
    after = prior_cents + visit_cents
    year = kx.year if year is None else year
    threshold = _usd(kx.threshold_cents)
    if year != kx.year:
        threshold += f" ({kx.year}'s, none on file for {year})"
    suggestions = []
    warnings = []
    if after > kx.threshold_cents and billed:
        if prior_cents > kx.threshold_cents:
            where = f"was already {_usd(prior_cents)} before this visit, past"
        else:
            where = f"goes from {_usd(prior_cents)} to {_usd(after)} with this visit, past"
        reason = (f"{bucket} allowed amount for {year} {where} the KX threshold of "
                  f"{threshold}: attest medical necessity to add KX (on every line of the visit)")
        warnings.append(KX_HOW)
        suggestions = [Suggestion(code, "KX", units, reason) for code, units, _ in billed]
    elif after == kx.threshold_cents and visit_cents:
        warnings.append(
            f"{bucket} allowed amount for {year} reaches exactly the KX threshold of "
            f"{threshold} with this visit: KX confirms services above the threshold, so none "
            "is needed yet; the next billed service will need it"
        )
    unpriced = [code for code, _units, allowed in billed if allowed <= 0]
    if unpriced:
        warnings.append(
            f"No allowed amount on file for {', '.join(unpriced)}: "
            f"{'they add' if len(unpriced) > 1 else 'it adds'} $0.00 toward the {bucket} KX "
            "threshold, so the year's amount may be too low (set it in Settings, Payers)"
        )
    if after > kx.review_cents:
        warnings.append(
            f"{bucket} allowed amount for {year} is {_usd(after)}, past the "
            f"{_usd(kx.review_cents)} targeted medical review level"
        )
    if suggestions and kx.confidence != "V":
        warnings.append(
            f"The {kx.year} KX threshold ({_usd(kx.threshold_cents)}) "
            + ("comes from secondary sources" if kx.confidence == "S" else "is unverified")
            + ": the clinic should confirm it"
        )
    return KxFinding(tuple(suggestions), tuple(warnings), prior_cents, after)


def _usd(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"
