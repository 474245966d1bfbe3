"""The clinic's stored things as immutable values: what the repository takes and returns.

Pure frozen dataclasses (no SQL here). Times are timezone-aware datetimes (UTC when they come
from the store); calendar days are ``date``; money is integer cents. An ``id`` of None means
"not saved yet": ``save_*`` methods return the record with its new id.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from therapy_timer.core.model import Discipline, Interval, Performer, Rule


class VisitStatus(enum.StrEnum):
    """A visit's life: open while timers run, finalized (frozen), amended (superseded), void."""

    OPEN = "open"
    FINALIZED = "finalized"
    AMENDED = "amended"  # finalized, then superseded by an amendment that keeps it
    VOID = "void"

    @property
    def frozen(self) -> bool:
        return self is not VisitStatus.OPEN


@dataclass(frozen=True, slots=True)
class Practice:
    """The billing provider (CMS-1500 items 25 and 33). ``timezone`` is an IANA name; empty
    means the computer's local zone. It decides which calendar day a visit belongs to."""

    name: str
    address: str = ""
    phone: str = ""
    npi: str = ""
    tax_id: str = ""
    taxonomy: str = ""
    timezone: str = ""
    #: List Medicare-bundled codes (97010) on the claim at $0.00 instead of leaving them off.
    list_bundled: bool = False


@dataclass(frozen=True, slots=True)
class Provider:
    """A therapist or assistant. The PIN itself is never held here, only whether one is set."""

    name: str
    discipline: Discipline
    role: Performer
    credentials: str = ""
    npi: str = ""
    license: str = ""
    supervisor_id: int | None = None
    active: bool = True
    has_pin: bool = False
    id: int | None = None
    #: The provider's NUCC taxonomy code (e.g. 225100000X), printed on the superbill.
    taxonomy: str = ""

    @property
    def is_assistant(self) -> bool:
        return self.role.is_assistant


@dataclass(frozen=True, slots=True)
class Patient:
    first_name: str
    last_name: str
    birth_date: date | None = None
    sex: str = ""
    address: str = ""
    phone: str = ""
    chart_number: str = ""
    id: int | None = None

    @property
    def display_name(self) -> str:
        """"Last, First" as lists and superbills show it."""
        return f"{self.last_name}, {self.first_name}"


@dataclass(frozen=True)
class Payer:
    """An insurer (or self-pay) and how it wants units and modifiers.

    ``allowed_cents`` maps code -> allowed amount per unit (feeds the KX year-to-date amount).
    """

    name: str
    rule: Rule = Rule.CMS
    medicare: bool = False
    therapy_modifiers: bool = True
    assistant_modifiers: bool = False
    kx_applies: bool = False
    self_pay: bool = False
    distinct_modifier: str = "XU"
    allowed_cents: dict[str, int] = field(default_factory=dict, hash=False)
    id: int | None = None
    #: Where claims go (printed lines) and the payer ID a billing service files them under.
    address: str = ""
    payer_code: str = ""


@dataclass(frozen=True, slots=True)
class InsurancePolicy:
    """A patient's coverage with one payer; priority 1 is primary."""

    patient_id: int
    payer_id: int
    member_id: str = ""
    group_number: str = ""
    subscriber: str = ""
    relationship: str = "self"
    priority: int = 1
    id: int | None = None


@dataclass(frozen=True, slots=True)
class FeeEntry:
    """The clinic's charge per unit for a code, for dates of service in [start, end]."""

    code: str
    cents: int
    effective_from: date
    effective_to: date | None = None
    id: int | None = None

    def valid_on(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to)


@dataclass(frozen=True, slots=True)
class PlanOfCare:
    """A certified plan: decides the discipline (GP/GO/GN) and counts visits."""

    patient_id: int
    discipline: Discipline
    therapist_id: int
    start: date
    certified_through: date | None = None
    visits_authorized: int | None = None
    id: int | None = None
    #: ICD-10-CM codes in claim order; each new visit under the plan starts with a copy.
    diagnoses: tuple[str, ...] = ()
    #: The referring (ordering) provider and the onset of the condition, for the superbill.
    referring_name: str = ""
    referring_npi: str = ""
    onset_date: date | None = None


@dataclass(frozen=True, slots=True)
class Visit:
    """One encounter. ``diagnoses`` are ICD-10-CM codes in claim order (A, B, C, ...)."""

    id: int
    patient_id: int
    provider_id: int
    plan_id: int | None
    day: date
    discipline: Discipline
    status: VisitStatus
    place_of_service: str = "11"
    diagnoses: tuple[str, ...] = ()
    session_start: datetime | None = None
    session_end: datetime | None = None
    timed_minutes: int | None = None
    treatment_minutes: int | None = None
    notes: str = ""
    created_at: datetime | None = None
    finalized_at: datetime | None = None
    finalized_by: str = ""
    amends_id: int | None = None
    #: While the visit is paused: the codes Resume restarts (empty when not paused).
    paused_codes: tuple[str, ...] = ()
    #: Each diagnosis's description as documented when it was added ("" when the visit was
    #: recorded before descriptions were kept), in the order of ``diagnoses``.
    diagnosis_descriptions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VisitSummary:
    """A row of a day's visit list (front desk, day sheet)."""

    visit: Visit
    patient_name: str
    chart_number: str
    provider_name: str
    discipline: Discipline
    status: VisitStatus
    units: int
    running: bool = False
    time_to_confirm: bool = False  # an interval carries a clock flag nobody answered yet


@dataclass(frozen=True, slots=True)
class ClockFlag:
    """The wall clock moved differently from real time while an interval ran (the machine
    slept, or someone changed the clock); stored until the clinician confirms the time.

    ``last_good`` is the last moment both clocks agreed; ``real_seconds`` is the time the
    monotonic clock saw pass after it (none while asleep), ``wall_seconds`` what the wall clock
    claimed; ``now`` is when the jump was noticed.
    """

    last_good: datetime
    now: datetime
    wall_seconds: float
    real_seconds: float
    #: The wall clock's reading when the flagged interval was stopped (its stored end is the
    #: measured one): what "Time is right" restores.
    wall_end: datetime | None = None
    #: The clinician's answer while the interval still runs: "measured" keeps the measured
    #: time (the flag stays, holding the offset, until the interval stops). None: not asked yet.
    answer: str | None = None

    @property
    def trusted_until(self) -> datetime:
        """The last moment the interval certainly ran."""
        return self.last_good + timedelta(seconds=max(0.0, self.real_seconds))

    @property
    def pending(self) -> bool:
        """The clinician has not answered this flag yet."""
        return self.answer is None

    @property
    def offset_seconds(self) -> float:
        """What the monotonic clock measured minus what the wall clock said passed: +3600 when
        the clock was set back an hour, minus the sleep when the machine slept."""
        return self.real_seconds - self.wall_seconds

    def measured(self, wall: datetime) -> datetime:
        """The wall reading ``wall`` on the interval's own measured timeline (wall time only
        anchors the start; every second after it is a second the monotonic clock saw)."""
        return wall + timedelta(seconds=self.offset_seconds)


@dataclass(frozen=True, slots=True)
class StoredInterval:
    """A saved timer interval; ``end`` is None while it runs, ``heartbeat`` is the last moment
    the app confirmed it was alive while running."""

    id: int
    visit_id: int
    code: str
    start: datetime
    end: datetime | None
    performer: Performer
    provider_id: int | None = None
    technique: str | None = None
    body_region: str | None = None
    heartbeat: datetime | None = None
    #: A clock jump while it ran: a question until answered (``ClockFlag.pending``); it also
    #: holds the measured time's offset from the wall clock.
    clock_flag: ClockFlag | None = None
    # A mistaken interval is deleted by marking it (kept for the audit, counts nothing).
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    delete_reason: str | None = None
    #: The station (computer) timing it: it writes the heartbeat; another station takes the
    #: visit over before changing it (None: recorded before stations were kept).
    station: str | None = None

    @property
    def running(self) -> bool:
        return self.end is None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def interval(self) -> Interval:
        """The core value the billing engine takes."""
        return Interval(self.code, self.start, self.end, self.performer)

    def measured_end(self, now: datetime) -> datetime:
        """Where the interval ends as of the wall reading ``now``: its stored end when stopped;
        while it runs, ``now`` on its measured timeline when a clock flag holds one (so a clock
        set back never shortens a running timer), never before its start."""
        if self.end is not None:
            return self.end
        end = self.clock_flag.measured(now) if self.clock_flag is not None else now
        return max(end, self.start)

    def billed_interval(self, now: datetime) -> Interval:
        """The core value the engine bills as of ``now``: ``interval``, except that a running
        interval under a clock flag ends at its measured now (it counts the minutes measured,
        not the set-back wall clock's)."""
        if self.end is None and self.clock_flag is not None:
            return Interval(self.code, self.start, self.measured_end(now), self.performer)
        return self.interval

    def measured_seconds(self, now: datetime) -> int:
        """Whole seconds the interval has run as of ``now`` (see ``measured_end``)."""
        return (self.measured_end(now) - self.start) // timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """A claim line frozen at finalize. ``diagnosis_pointers`` are letters into the visit's
    diagnoses (A = first), primary first, at most four."""

    visit_id: int
    line_no: int
    code: str
    label: str
    modifiers: tuple[str, ...]
    units: int
    minutes: int
    fee_cents: int
    charge_cents: int
    allowed_cents: int = 0
    diagnosis_pointers: tuple[str, ...] = ()
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Amendment:
    """A correction of a finalized visit: the original is kept, the new visit replaces it."""

    id: int
    original_visit_id: int
    new_visit_id: int
    reason: str
    user: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One link of the hash-chained audit log."""

    seq: int
    at: datetime
    user: str
    action: str
    entity: str
    entity_id: int | None
    detail: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class AuditBreak:
    """The first audit entry whose link does not hold, and why."""

    seq: int
    reason: str

    def __str__(self) -> str:
        if self.seq <= 0:  # a finding about the data, no one entry
            return self.reason
        return f"audit entry {self.seq}: {self.reason}"


@dataclass(frozen=True, slots=True)
class CrashedInterval:
    """A running interval found at start-up: the app may have died while it ran."""

    interval: StoredInterval
    patient_id: int
    last_alive: datetime  # the heartbeat, or the start when no heartbeat was written
