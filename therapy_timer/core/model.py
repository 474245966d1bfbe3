"""Immutable domain values shared by every layer: disciplines, performers, intervals, services."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class BillingError(ValueError):
    """Input the engine cannot bill: an unknown code, a negative minute, overlapping time, ..."""


class Discipline(enum.StrEnum):
    """The plan of care's discipline; decides GP/GO/GN and the KX bucket."""

    PT = "PT"
    OT = "OT"
    SLP = "SLP"

    @property
    def therapy_modifier(self) -> str:
        return {"PT": "GP", "OT": "GO", "SLP": "GN"}[self.value]

    @property
    def kx_bucket(self) -> str:
        """Medicare's two yearly buckets: PT and SLP combined, OT separate."""
        return "OT" if self is Discipline.OT else "PT+SLP"


class Performer(enum.StrEnum):
    """Who ran an interval: a therapist or an assistant."""

    PT = "PT"
    PTA = "PTA"
    OT = "OT"
    OTA = "OTA"
    SLP = "SLP"

    @property
    def is_assistant(self) -> bool:
        return self in (Performer.PTA, Performer.OTA)

    def furnishes(self, discipline: Discipline) -> bool:
        """A PT or PTA furnishes physical therapy, an OT or OTA occupational therapy, an SLP
        speech-language pathology; nobody furnishes another discipline's plan of care."""
        return self.discipline is discipline

    @property
    def discipline(self) -> Discipline:
        return {
            "PT": Discipline.PT,
            "PTA": Discipline.PT,
            "OT": Discipline.OT,
            "OTA": Discipline.OT,
            "SLP": Discipline.SLP,
        }[self.value]


class Rule(enum.StrEnum):
    """A payer's unit rule."""

    CMS = "cms"  # total timed minutes of the day (the 8-minute rule)
    PER_CODE = "per-code"  # each code on its own minutes ("rule of 8s", AMA midpoint)

    @classmethod
    def parse(cls, text: str) -> Rule:
        """Parses a rule name; ``ama`` is accepted as another name for ``per-code``."""
        value = str(text).strip().lower()
        if value in ("ama", "per_code", "percode"):
            value = "per-code"
        try:
            return cls(value)
        except ValueError:
            raise BillingError(f"unknown unit rule {text!r}: use 'cms' or 'per-code'") from None

    @property
    def label(self) -> str:
        """How screens name it: "CMS rule" or "per-code rule"."""
        return "CMS rule" if self is Rule.CMS else "per-code rule"


#: Why a Medicare payer or visit cannot use the per-code rule (the one place this is said).
MEDICARE_RULE_REASON = (
    "Medicare must use the CMS total-time rule (the 8-minute rule of Pub 100-04 ch. 5 s. 20.2), "
    "not the per-code rule"
)


def check_medicare_rule(medicare: bool, rule: Rule) -> None:
    """Refuses Medicare with the per-code rule: s. 20.2 is not a choice for Medicare.

    Raises:
        BillingError: naming why.
    """
    if medicare and rule is Rule.PER_CODE:
        raise BillingError(MEDICARE_RULE_REASON)


@dataclass(frozen=True, slots=True)
class Interval:
    """One stretch of one intervention. ``end`` is None while the timer runs.

    Times are timezone-aware datetimes.
    """

    code: str
    start: datetime
    end: datetime | None
    performer: Performer = Performer.PT

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or (self.end is not None and self.end.tzinfo is None):
            raise BillingError(f"interval for {self.code}: times must carry a time zone")
        if self.end is not None and self.end < self.start:
            raise BillingError(
                f"interval for {self.code}: ends ({self.end.isoformat()}) before it starts "
                f"({self.start.isoformat()})"
            )

    def end_or(self, now: datetime) -> datetime:
        """The interval's end, or ``now`` while it is running."""
        return self.end if self.end is not None else max(now, self.start)

    def seconds(self, now: datetime | None = None) -> int:
        """Whole seconds of this interval (a running one counts up to ``now``)."""
        if self.end is None:
            if now is None:
                raise BillingError(f"interval for {self.code} is still running")
            end = max(now, self.start)
        else:
            end = self.end
        return int((end - self.start) // timedelta(seconds=1))


@dataclass(frozen=True, slots=True)
class Service:
    """A code with its minutes for the day, as entered when there are no timers.

    ``order`` is the order the code was first started that day (it breaks ties).
    ``assistant_minutes`` are the minutes an assistant furnished independently.
    ``therapist_minutes`` are the therapist's own whole minutes; None (minutes typed in by
    hand) means the rest of ``minutes``. From timers each performer's minutes are the whole
    minutes of their own seconds, so the two may add up to a minute less than ``minutes``.
    """

    code: str
    minutes: int
    order: int | None = None
    assistant_minutes: int = 0
    therapist_minutes: int | None = None

    @property
    def therapist(self) -> int:
        """The therapist's whole minutes (the rest of ``minutes`` when not given)."""
        if self.therapist_minutes is None:
            return self.minutes - self.assistant_minutes
        return self.therapist_minutes
