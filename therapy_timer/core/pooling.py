"""Claim lines, and a visit's share of a pooled day: when two visits of one patient and one
discipline fall on one day, the day is billed on all its minutes and each visit carries the
lines (units and modifiers) that are its own beyond what the earlier visits already carry.
Used by ``billing``; no Qt, no SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from therapy_timer.core.modifiers import (
    order_modifiers,
)


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
