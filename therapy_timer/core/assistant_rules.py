"""Who furnished the time: the assistant rules of a patient-day (CQ/CO per unit, CMS CY2022
counting order, cognitive codes), and the refusals of time no assistant may furnish (another
discipline's plan, an evaluation). Used by ``billing``; no Qt, no SQL.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime

from therapy_timer.core.codes import Catalog, CodeKind
from therapy_timer.core.model import (
    BillingError,
    Discipline,
    Interval,
)
from therapy_timer.core.modifiers import (
    Suggestion,
    assistant_modifier,
    assistant_units,
    cognitive_assistant_units,
    therapist_met_alone,
    untimed_assistant,
)
from therapy_timer.core.units import (
    COGNITIVE_ADDON,
    COGNITIVE_CODES,
    COGNITIVE_FIRST,
    Allocation,
)


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


def first_cognitive_split(intervals: Sequence[Interval], now: datetime | None
                           ) -> tuple[int, int] | None:
    """Who furnished the cognitive service's first 15 minutes (97129's unit), from the timers
    in time order: ``(assistant minutes, therapist minutes)``, each whole minutes of their own
    seconds; None when no cognitive code ran."""
    ordered = sorted((i for i in intervals if i.code.upper() in COGNITIVE_CODES),
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


def assistant_suggestions(allocation: Allocation, modifier: str, skip: Collection[str],
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
                out.append(_one_suggestion(
                    line.code, modifier, line.units,
                    f"assistant furnished {line.assistant_minutes} of "
                    f"{line.assistant_minutes + therapist} min, over the 10% de minimis"))
            continue
        units = line.units + (addon.units if line.code == COGNITIVE_FIRST and addon else 0)
        n, why = assistant_units(units, line.assistant_minutes, therapist, modifier)
        if line.code != COGNITIVE_FIRST or addon is None or not addon.units:
            if n:
                out.append(_one_suggestion(line.code, modifier, n, why))
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
            out.append(_one_suggestion(COGNITIVE_FIRST, modifier, on_first, why))
        if on_addon:
            out.append(_one_suggestion(COGNITIVE_ADDON, modifier, on_addon, why))
    return out


def _one_suggestion(code: str, modifier: str, units: int, why: str) -> Suggestion:
    return Suggestion(code, modifier, units,
                      f"{units} unit(s) furnished in whole or in part by an assistant ({why}); "
                      "Medicare pays these units at 85%")
