"""What a superbill and a day sheet print, as plain frozen data (no Qt, no SQL, no PDF).

The PDF renderers (``therapy_timer.pdf``) and the front-desk screen read these values and never
work anything out themselves: every total, every diagnosis letter and every line of the
documentation block is decided here or in the builders (``core/superbill_build.py``).
Money is integer cents; times are aware datetimes already in the clinic's local zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from therapy_timer.core.formats import (  # noqa: F401  (the superbill's formats, re-exported)
    format_date,
    format_date_time,
    format_period,
    format_time,
    format_time_span,
)
from therapy_timer.core.model import BillingError, Rule

#: Diagnosis letters of CMS-1500 item 21.
DIAGNOSIS_LETTERS = "ABCDEFGHIJKL"
MAX_DIAGNOSES = len(DIAGNOSIS_LETTERS)
MAX_POINTERS = 4
MAX_LINE_MODIFIERS = 4

#: Place-of-service codes a therapy clinic uses, with their plain names.
PLACES_OF_SERVICE = {
    "02": "Telehealth, not in the patient's home",
    "10": "Telehealth in the patient's home",
    "11": "Office",
    "12": "Home",
    "22": "Outpatient hospital",
    "31": "Skilled nursing facility",
    "32": "Nursing facility",
    "99": "Other place of service",
}


def format_cents(cents: int) -> str:
    """Formats integer cents as US dollars: ``123456`` -> ``$1,234.56``, ``-5`` -> ``-$0.05``."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}${whole:,}.{part:02d}"


#: What a payment is, as stored (``payments.kind``), with its printed name.
PAYMENT_KINDS = {
    "patient": "Patient payment",
    "insurance": "Insurance payment",
    "adjustment": "Adjustment",
    "write-off": "Write-off",
}


@dataclass(frozen=True, slots=True)
class Credits:
    """What reduced a visit's balance, per payment kind, in cents (voided payments left out).

    Payments (patient, insurance) are money received; an adjustment (a payer's contractual
    reduction, a correction) and a write-off (the clinic forgives the rest) received nothing
    but still reduce what is owed.
    """

    patient: int = 0
    insurance: int = 0
    adjustment: int = 0
    write_off: int = 0

    @classmethod
    def of(cls, by_kind: dict[str, int]) -> Credits:
        """From ``{kind: cents}`` as stored (unknown kinds are an error)."""
        unknown = set(by_kind) - set(PAYMENT_KINDS)
        if unknown:
            raise BillingError(f"unknown payment kind(s): {', '.join(sorted(unknown))}")
        return cls(int(by_kind.get("patient", 0)), int(by_kind.get("insurance", 0)),
                   int(by_kind.get("adjustment", 0)), int(by_kind.get("write-off", 0)))

    @property
    def received(self) -> int:
        """Money received: patient and insurance payments."""
        return self.patient + self.insurance

    @property
    def adjusted(self) -> int:
        """Adjustments and write-offs: no money, still off the balance."""
        return self.adjustment + self.write_off

    @property
    def total(self) -> int:
        return self.received + self.adjusted


def format_rule(rule: Rule) -> str:
    """The unit rule in words, as printed in the documentation block."""
    if rule is Rule.CMS:
        return "CMS 8-minute rule (total timed minutes of the day)"
    return "Per-code rule (each code rounded on its own minutes)"


@dataclass(frozen=True, slots=True)
class Practice:
    """The billing practice (CMS-1500 items 25 and 33)."""

    name: str
    address: tuple[str, ...] = ()
    phone: str = ""
    npi: str = ""
    tax_id: str = ""
    taxonomy: str = ""


@dataclass(frozen=True, slots=True)
class Provider:
    """The rendering clinician (item 24J; ``taxonomy`` is the NUCC code payers ask with it)."""

    name: str
    credentials: str = ""
    npi: str = ""
    license: str = ""
    taxonomy: str = ""

    @property
    def display_name(self) -> str:
        """``Name, Credentials`` (or just the name)."""
        return f"{self.name}, {self.credentials}" if self.credentials else self.name


@dataclass(frozen=True, slots=True)
class Patient:
    """The patient as the superbill names them."""

    name: str
    birth_date: date | None = None
    sex: str = ""
    address: tuple[str, ...] = ()
    phone: str = ""
    chart_number: str = ""


@dataclass(frozen=True, slots=True)
class Insurance:
    """The patient's coverage for this visit (items 1a, 4, 6, 11, 17, 23)."""

    payer: str
    member_id: str = ""
    group_number: str = ""
    subscriber: str = ""
    relationship: str = ""
    referring_provider: str = ""
    referring_npi: str = ""
    prior_authorization: str = ""
    payer_address: tuple[str, ...] = ()
    payer_code: str = ""  # the payer ID claims are filed under


@dataclass(frozen=True, slots=True)
class PlanDates:
    """The plan of care behind the visit: its certification period and the condition's onset."""

    start: date | None = None
    certified_through: date | None = None
    onset: date | None = None

    @property
    def certification(self) -> str:
        """``01/05/2026 – 04/04/2026`` (or from the start only)."""
        if self.start and self.certified_through:
            return f"{format_date(self.start)} – {format_date(self.certified_through)}"
        return f"from {format_date(self.start)}" if self.start else ""


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """One ICD-10-CM code with its letter (A-L) and description."""

    letter: str
    code: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class ServiceLine:
    """One billed line: code, our plain label, modifiers, pointers, units and money in cents."""

    service_date: date
    code: str
    label: str
    modifiers: tuple[str, ...]
    pointers: tuple[str, ...]
    units: int
    unit_cents: int
    minutes: int = 0
    allowed_cents: int = 0  # the payer's allowed amount per unit (0: not known)

    def __post_init__(self) -> None:
        if len(self.modifiers) > MAX_LINE_MODIFIERS:
            raise BillingError(
                f"{self.code} carries {len(self.modifiers)} modifiers "
                f"({' '.join(self.modifiers)}); a superbill line holds at most {MAX_LINE_MODIFIERS}"
            )
        if len(self.pointers) > MAX_POINTERS:
            raise BillingError(f"{self.code} points at {len(self.pointers)} diagnoses; at most "
                               f"{MAX_POINTERS}")
        if self.units < 0 or self.unit_cents < 0:
            raise BillingError(f"{self.code}: units and charges cannot be negative")

    @property
    def total_cents(self) -> int:
        return self.units * self.unit_cents

    @property
    def allowed_total_cents(self) -> int:
        """What the payer allows for the line (never more than its charge)."""
        return min(self.units * self.allowed_cents, self.total_cents)


@dataclass(frozen=True, slots=True)
class CodeMinutes:
    """Per-code minutes in the documentation block."""

    code: str
    label: str
    minutes: int
    units: int
    timed: bool


@dataclass(frozen=True, slots=True)
class Span:
    """One timer interval printed as evidence (local times)."""

    code: str
    start: datetime
    end: datetime
    performer: str = ""


@dataclass(frozen=True, slots=True)
class DistinctEvidence:
    """Why a line carries 59/XU: the code, its modifier and the intervals of both codes."""

    code: str
    modifier: str
    other_code: str
    spans: tuple[Span, ...]
    other_spans: tuple[Span, ...]
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ModifierReason:
    """Why a line carries CQ/CO (or KX): code, modifier, units and the reason in words."""

    code: str
    modifier: str
    units: int
    reason: str
    #: CQ/CO: who furnished it ("Assistant: Lee Park, PTA — supervised by Dana Cole, PT").
    furnished_by: str = ""


@dataclass(frozen=True, slots=True)
class TechniqueNote:
    """What a code that needs it (97140 manual therapy) recorded: technique and body region."""

    code: str
    technique: str
    region: str
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class Documentation:
    """The documented time block (Pub 100-02 ch. 15 s. 220.3) behind the billed units."""

    session_start: datetime | None
    session_end: datetime | None
    code_minutes: tuple[CodeMinutes, ...]
    total_timed_minutes: int
    total_treatment_minutes: int
    rule: Rule
    distinct: tuple[DistinctEvidence, ...] = ()
    assistant: tuple[ModifierReason, ...] = ()
    other_reasons: tuple[ModifierReason, ...] = ()
    notes: tuple[str, ...] = ()
    techniques: tuple[TechniqueNote, ...] = ()


@dataclass(frozen=True, slots=True)
class Signature:
    """The signature line: who signs and on which date."""

    name: str
    credentials: str = ""
    signed_on: date | None = None


@dataclass(frozen=True)
class SuperbillData:
    """Everything one visit's superbill prints."""

    visit_id: int | str
    practice: Practice
    provider: Provider
    patient: Patient
    insurance: Insurance | None
    service_date: date
    place_of_service: str
    diagnoses: tuple[Diagnosis, ...]
    lines: tuple[ServiceLine, ...]
    documentation: Documentation
    signature: Signature
    paid_cents: int = 0
    discipline: str = ""
    title: str = "Superbill"
    notes: tuple[str, ...] = field(default=())
    #: Money received (``paid_cents``) is patient plus insurance payments; ``insurance_paid``
    #: is the insurance part of it; adjustments and write-offs only lower the balance.
    insurance_paid_cents: int = 0
    adjusted_cents: int = 0
    secondary: Insurance | None = None
    plan: PlanDates | None = None
    #: What a payer would reject the superbill for (``core.superbill_check.Gap``); not printed,
    #: the screens and the CLI warn with it.
    gaps: tuple = ()

    def __post_init__(self) -> None:
        if len(self.diagnoses) > MAX_DIAGNOSES:
            raise BillingError(f"{len(self.diagnoses)} diagnoses: a superbill holds at most "
                               f"{MAX_DIAGNOSES} (A-L)")
        letters = [d.letter for d in self.diagnoses]
        if letters != list(DIAGNOSIS_LETTERS[: len(letters)]):
            raise BillingError(f"diagnoses must be lettered A, B, C, ... in order, got {letters}")
        for line in self.lines:
            unknown = [p for p in line.pointers if p not in letters]
            if unknown:
                raise BillingError(f"{line.code} points at diagnosis {', '.join(unknown)}, which "
                                   "the superbill does not list")
        if self.paid_cents < 0:
            raise BillingError("the amount paid cannot be negative")
        if self.adjusted_cents < 0 or not 0 <= self.insurance_paid_cents <= self.paid_cents:
            raise BillingError("adjustments and insurance payments cannot be negative, and "
                               "insurance paid is part of the amount paid")

    @property
    def charges_cents(self) -> int:
        return sum(line.total_cents for line in self.lines)

    @property
    def balance_cents(self) -> int:
        """Charges less payments, adjustments and write-offs (negative: a credit)."""
        return self.charges_cents - self.paid_cents - self.adjusted_cents

    @property
    def allowed_cents(self) -> int:
        """What the primary payer allows for the visit (0 when no allowed amounts are known)."""
        return sum(line.allowed_total_cents for line in self.lines)

    @property
    def insurance_estimated(self) -> bool:
        """True when the split below rests on the payer's allowed amounts."""
        return self.insurance is not None and self.allowed_cents > 0

    @property
    def expected_insurance_cents(self) -> int:
        """What insurance is still expected to pay: its allowed amounts (never more than the
        balance) until it pays. An estimate: the payer's explanation of benefits decides. Once
        insurance has paid, its claim is processed: what is left of its allowed amounts is the
        patient's (a copay, coinsurance or deductible), not still expected from insurance."""
        if not self.insurance_estimated or self.insurance_paid_cents > 0:
            return 0
        return max(0, min(self.balance_cents, self.allowed_cents))

    @property
    def above_allowed_cents(self) -> int:
        """The part of the balance above the payer's allowed amounts not yet adjusted off.

        Audit-safe reading (billing-rules.md gives no rule; "what the patient owes" is
        ambiguous): a clinic that accepts a payer's allowed amount (Medicare assignment, an
        in-network contract) may not bill the patient for the difference, so it is shown on
        its own, to be recorded as an adjustment, never folded into what the patient owes."""
        if not self.insurance_estimated:
            return 0
        rest = self.balance_cents - self.expected_insurance_cents
        return max(0, min(rest, self.charges_cents - self.allowed_cents - self.adjusted_cents))

    @property
    def patient_owes_cents(self) -> int:
        """The balance less what insurance is expected to pay and the amount above the payer's
        allowed amounts (all of the balance when there is no estimate: self-pay, or no allowed
        amounts known). Negative: a credit."""
        return self.balance_cents - self.expected_insurance_cents - self.above_allowed_cents

    @property
    def total_units(self) -> int:
        return sum(line.units for line in self.lines)

    @property
    def place_of_service_label(self) -> str:
        name = PLACES_OF_SERVICE.get(self.place_of_service, "")
        return f"{self.place_of_service} {name}".strip()


@dataclass(frozen=True, slots=True)
class DaySheetLine:
    """One charge line on the day sheet."""

    code: str
    modifiers: tuple[str, ...]
    units: int
    charge_cents: int


@dataclass(frozen=True, slots=True)
class DaySheetVisit:
    """One visit on the day sheet; an open visit is listed but not billable yet."""

    visit_id: int | str
    service_date: date
    patient: str
    chart_number: str
    payer: str
    lines: tuple[DaySheetLine, ...]
    is_open: bool = False
    paid_cents: int = 0
    adjusted_cents: int = 0  # adjustments and write-offs

    @property
    def units(self) -> int:
        return 0 if self.is_open else sum(line.units for line in self.lines)

    @property
    def charges_cents(self) -> int:
        return 0 if self.is_open else sum(line.charge_cents for line in self.lines)


#: How money was received (``payments.method``), with its printed name.
PAYMENT_METHODS = {"cash": "Cash", "check": "Check", "card": "Card", "other": "Other"}


@dataclass(frozen=True, slots=True)
class PaymentLine:
    """A day sheet total: the cents of one payment kind received one way."""

    kind: str
    method: str
    cents: int


@dataclass(frozen=True, slots=True)
class ProviderDay:
    """One provider's visits with subtotals (open visits count toward nothing)."""

    provider: Provider
    visits: tuple[DaySheetVisit, ...]

    @property
    def billable_visits(self) -> int:
        return sum(1 for v in self.visits if not v.is_open)

    @property
    def open_visits(self) -> int:
        return sum(1 for v in self.visits if v.is_open)

    @property
    def units(self) -> int:
        return sum(v.units for v in self.visits)

    @property
    def charges_cents(self) -> int:
        return sum(v.charges_cents for v in self.visits)

    @property
    def paid_cents(self) -> int:
        return sum(v.paid_cents for v in self.visits if not v.is_open)


@dataclass(frozen=True)
class DaySheetData:
    """The charge sheet for a date or a range, grouped by provider."""

    practice: Practice
    start: date
    end: date
    providers: tuple[ProviderDay, ...]
    title: str = "Day sheet"
    payments: tuple[PaymentLine, ...] = ()
    #: The audit chain's head when the sheet was made: (entry number, its hash). Printed, so
    #: the paper keeps a checkpoint the database file cannot change (``verify --checkpoint``).
    checkpoint: tuple[int, str] | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise BillingError(f"day sheet ends ({self.end}) before it starts ({self.start})")

    @property
    def billable_visits(self) -> int:
        return sum(p.billable_visits for p in self.providers)

    @property
    def open_visits(self) -> int:
        return sum(p.open_visits for p in self.providers)

    @property
    def units(self) -> int:
        return sum(p.units for p in self.providers)

    @property
    def charges_cents(self) -> int:
        return sum(p.charges_cents for p in self.providers)

    @property
    def paid_cents(self) -> int:
        return sum(p.paid_cents for p in self.providers)

    @property
    def by_kind(self) -> tuple[tuple[str, int], ...]:
        """(printed kind, cents) for each payment kind with money, in ``PAYMENT_KINDS`` order."""
        totals = {k: sum(p.cents for p in self.payments if p.kind == k) for k in PAYMENT_KINDS}
        return tuple((PAYMENT_KINDS[k], c) for k, c in totals.items() if c)

    @property
    def by_method(self) -> tuple[tuple[str, int], ...]:
        """(printed method, cents) of the money received (patient and insurance payments);
        adjustments and write-offs move no money and have no method."""
        money = [p for p in self.payments if p.kind in ("patient", "insurance")]
        totals = {m: sum(p.cents for p in money if p.method == m) for m in PAYMENT_METHODS}
        return tuple((PAYMENT_METHODS[m], c) for m, c in totals.items() if c)

    @property
    def adjusted_cents(self) -> int:
        return sum(p.cents for p in self.payments if p.kind in ("adjustment", "write-off"))

    @property
    def period(self) -> str:
        """``03/02/2026`` or ``03/02/2026 to 03/06/2026``."""
        return format_period(self.start, self.end)
