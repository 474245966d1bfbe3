"""Builds ``SuperbillData`` and ``DaySheetData`` from the store's core records.

``build_superbill`` takes plain records (no database); ``superbill_for_visit`` and
``daysheet_for_range`` read those records through the repository's public methods (any object
with the methods of ``RecordSource``), so the CLI and the front-desk screen share one assembly.
No SQL here: the repository is passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Protocol

from therapy_timer.core import records as rec
from therapy_timer.core.billing import bundled_note
from therapy_timer.core.codes import Catalog, default_catalog
from therapy_timer.core.minutes import day_time
from therapy_timer.core.model import BillingError, Rule
from therapy_timer.core.rules_data import kx_fallback_notice
from therapy_timer.core.superbill import (
    DIAGNOSIS_LETTERS,
    CodeMinutes,
    Credits,
    DaySheetData,
    DaySheetLine,
    DaySheetVisit,
    Diagnosis,
    DistinctEvidence,
    Documentation,
    Insurance,
    ModifierReason,
    Patient,
    PaymentLine,
    PlanDates,
    Practice,
    Provider,
    ProviderDay,
    ServiceLine,
    Signature,
    Span,
    SuperbillData,
    TechniqueNote,
)
from therapy_timer.core.superbill_check import Gap, superbill_gaps
from therapy_timer.core.units import COGNITIVE_ADDON, COGNITIVE_FIRST

COGNITIVE = (COGNITIVE_FIRST, COGNITIVE_ADDON)

DISTINCT_MODIFIERS = ("59", "XE", "XS", "XP", "XU")
ASSISTANT_MODIFIERS = ("CQ", "CO")
#: A range longer than this is refused (a typo like 2026 -> 2062 would read for years).
MAX_RANGE_DAYS = 366


class NotBillableError(BillingError):
    """The visit cannot have a superbill (still open, voided or superseded)."""


class RecordSource(Protocol):
    """The repository methods the builders read through (``storage.Repository`` has them)."""

    def get_visit(self, visit_id: int) -> rec.Visit: ...
    def get_practice(self) -> rec.Practice | None: ...
    def get_provider(self, provider_id: int) -> rec.Provider: ...
    def get_patient(self, patient_id: int) -> rec.Patient: ...
    def get_payer(self, payer_id: int) -> rec.Payer: ...
    def policies_for(self, patient_id: int) -> list[rec.InsurancePolicy]: ...
    def primary_payer(self, patient_id: int) -> rec.Payer | None: ...
    def charge_lines(self, visit_id: int) -> list[rec.ChargeLine]: ...
    def intervals_for(self, visit_id: int) -> list[rec.StoredInterval]: ...
    def billing_record(self, visit_id: int) -> dict: ...
    def clinic_zone(self) -> tzinfo: ...
    def visits_on(self, day: date, now: datetime | None = None) -> list[rec.VisitSummary]: ...
    def paid_cents(self, visit_ids: Collection[int]) -> dict[int, int]: ...
    def payment_totals(self, visit_ids: Collection[int]) -> dict[int, Credits]: ...
    def get_plan(self, plan_id: int) -> rec.PlanOfCare: ...
    def payment_breakdown(self, visit_ids: Collection[int]) -> dict[tuple[str, str], int]: ...


Describe = Callable[[str], str]


def _no_description(code: str) -> str:
    return ""


def split_address(text: str) -> tuple[str, ...]:
    """A stored address (one text) as printed lines: split on newlines."""
    return tuple(line.strip() for line in str(text or "").splitlines() if line.strip())


def practice_from(record: rec.Practice | None) -> Practice:
    if record is None:
        return Practice(name="(practice details not set up)")
    return Practice(record.name, split_address(record.address), record.phone, record.npi,
                    record.tax_id, record.taxonomy)


def provider_from(record: rec.Provider) -> Provider:
    return Provider(record.name, record.credentials, record.npi, record.license,
                    record.taxonomy)


#: A name longer than this prints cut with "…": a claim form's name box holds 28
#: characters and no real name needs 80, while a pasted paragraph (1,500 characters) would
#: push the superbill onto extra pages and burst the day sheet's row.
NAME_LIMIT = 80


def printed_name(text: object, limit: int = NAME_LIMIT) -> str:
    """A person's name as documents print it: spaces collapsed, cut with "…" past ``limit``."""
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def patient_name(record: rec.Patient) -> str:
    return printed_name(record.display_name)


def patient_from(record: rec.Patient) -> Patient:
    return Patient(patient_name(record), record.birth_date, record.sex,
                   split_address(record.address), record.phone, record.chart_number)


def insurance_from(payer: rec.Payer | None, policy: rec.InsurancePolicy | None,
                   patient: rec.Patient) -> Insurance | None:
    """None for self-pay (or no payer on file)."""
    if payer is None or payer.self_pay:
        return None
    where = {"payer_address": split_address(payer.address), "payer_code": payer.payer_code}
    if policy is None:
        return Insurance(payer.name, **where)
    return Insurance(payer.name, policy.member_id, policy.group_number,
                     printed_name(policy.subscriber) or patient_name(patient),
                     policy.relationship, **where)


def with_referral(insurance: Insurance | None, plan: rec.PlanOfCare | None) -> Insurance | None:
    """The primary insurance with the plan's referring (ordering) provider and NPI (item 17)."""
    if insurance is None or plan is None or not (plan.referring_name or plan.referring_npi):
        return insurance
    return replace(insurance, referring_provider=plan.referring_name,
                   referring_npi=plan.referring_npi)


def plan_dates(plan: rec.PlanOfCare | None) -> PlanDates | None:
    if plan is None:
        return None
    return PlanDates(plan.start, plan.certified_through, plan.onset_date)


@dataclass(frozen=True)
class VisitRecords:
    """Everything stored about one finalized visit that its superbill prints."""

    visit: rec.Visit
    practice: rec.Practice | None
    provider: rec.Provider
    patient: rec.Patient
    payer: rec.Payer | None
    policy: rec.InsurancePolicy | None
    lines: Sequence[rec.ChargeLine]
    intervals: Sequence[rec.StoredInterval]
    billing: Mapping[str, Any]
    pooled_intervals: Sequence[rec.StoredInterval] = ()
    #: The providers the intervals name (assistants) and their supervisors, by id.
    people: Mapping[int, rec.Provider] = field(default_factory=dict)
    plan: rec.PlanOfCare | None = None
    secondary_payer: rec.Payer | None = None
    secondary_policy: rec.InsurancePolicy | None = None
    #: The years with a KX threshold on file now (None: not known).
    kx_years: frozenset[int] | None = None


def build_superbill(records: VisitRecords, zone: tzinfo, describe: Describe = _no_description,
                    catalog: Catalog | None = None, paid_cents: int = 0,
                    credits: Credits | None = None) -> SuperbillData:
    """Assembles a visit's superbill from its records.

    Args:
        records: the visit and what it refers to.
        zone: the clinic's time zone (times print in it).
        describe: ICD-10-CM code -> description ("" when unknown), for a diagnosis the
            visit holds no documented description of (visits recorded before they were kept).
        paid_cents: payments recorded for the visit, voided ones left out (all patient
            payments; ``credits`` tells the kinds apart and wins when given).
        credits: what lowered the balance, per kind.

    Raises:
        NotBillableError: the visit is open, voided or amended.
    """
    visit = records.visit
    _check_billable(visit)
    catalog = catalog or default_catalog()
    documented = dict(zip(visit.diagnoses, visit.diagnosis_descriptions, strict=False))
    diagnoses = tuple(Diagnosis(DIAGNOSIS_LETTERS[i], code,
                                documented.get(code) or _safe(describe, code))
                      for i, code in enumerate(visit.diagnoses[: len(DIAGNOSIS_LETTERS)]))
    letters = {d.letter for d in diagnoses}
    lines = tuple(
        ServiceLine(visit.day, line.code, line.label, tuple(line.modifiers),
                    tuple(p for p in line.diagnosis_pointers if p in letters), line.units,
                    line.fee_cents, line.minutes, max(0, line.allowed_cents))
        for line in records.lines
    )
    credits = credits if credits is not None else Credits(patient=paid_cents)
    signed = visit.finalized_at.astimezone(zone).date() if visit.finalized_at else None
    notes = ()
    if visit.notes.strip():
        notes = (f"Visit note: {visit.notes.strip()}",)
    return SuperbillData(
        visit_id=visit.id,
        practice=practice_from(records.practice),
        provider=provider_from(records.provider),
        patient=patient_from(records.patient),
        insurance=with_referral(insurance_from(records.payer, records.policy, records.patient),
                                records.plan),
        service_date=visit.day,
        place_of_service=visit.place_of_service or "11",
        diagnoses=diagnoses,
        lines=lines,
        documentation=build_documentation(records, zone, catalog),
        signature=Signature(records.provider.name, records.provider.credentials, signed),
        paid_cents=credits.received,
        discipline=str(visit.discipline.value),
        notes=notes,
        insurance_paid_cents=credits.insurance,
        adjusted_cents=credits.adjusted,
        secondary=insurance_from(records.secondary_payer, records.secondary_policy,
                                 records.patient),
        plan=plan_dates(records.plan),
        gaps=record_gaps(records, catalog),
    )


def record_gaps(records: VisitRecords, catalog: Catalog | None = None) -> tuple[Gap, ...]:
    """What the visit's superbill lacks (``core.superbill_check.superbill_gaps``)."""
    return superbill_gaps(records.practice, records.provider,
                          [(line.code, line.fee_cents) for line in records.lines if line.units],
                          records.payer, records.policy, catalog)


def visit_gaps(source: RecordSource, visit: rec.Visit,
               line_fees: Iterable[tuple[str, int]]) -> tuple[Gap, ...]:
    """What a visit's superbill would lack, before it is finalized: ``line_fees`` are the
    (code, charge per unit) of the lines the review would freeze."""
    payer = source.primary_payer(visit.patient_id)
    policy = next((p for p in source.policies_for(visit.patient_id)
                   if payer is not None and p.payer_id == payer.id), None)
    return superbill_gaps(source.get_practice(), source.get_provider(visit.provider_id),
                          line_fees, payer, policy)


def _safe(describe: Describe, code: str) -> str:
    try:
        return describe(code) or ""
    except Exception:  # noqa: BLE001 - a missing description must not stop the superbill
        return ""


def _check_billable(visit: rec.Visit) -> None:
    if visit.status is rec.VisitStatus.OPEN:
        raise NotBillableError(f"visit {visit.id} is still open: finalize it before printing "
                               "its superbill")
    if visit.status is rec.VisitStatus.VOID:
        raise NotBillableError(f"visit {visit.id} was voided: it has no superbill")
    if visit.status is rec.VisitStatus.AMENDED:
        raise NotBillableError(f"visit {visit.id} was amended: print the visit that replaced it")


def build_documentation(records: VisitRecords, zone: tzinfo,
                        catalog: Catalog | None = None) -> Documentation:
    """The documented-time block: session, per-code minutes, totals, rule and modifier reasons."""
    catalog = catalog or default_catalog()
    visit = records.visit
    billing = records.billing or {}
    intervals = [i.interval for i in records.intervals if i.end is not None]
    times = day_time(intervals, None, catalog) if intervals else None
    billed_units: dict[str, int] = {}
    for line in records.lines:
        billed_units[line.code] = billed_units.get(line.code, 0) + line.units
    code_minutes = []
    for item in times.codes if times else ():
        info = catalog.get(item.code, visit.day)
        units = billed_units.get(item.code, 0)
        if info.medicare_substitute:
            units += billed_units.get(info.medicare_substitute, 0)
        code_minutes.append(CodeMinutes(item.code, info.label, item.minutes, units, info.timed))
    start = visit.session_start or (times.session_start if times else None)
    end = visit.session_end or (times.session_end if times else None)
    timed = visit.timed_minutes if visit.timed_minutes is not None else (
        times.total_timed_minutes if times else 0)
    treatment = visit.treatment_minutes if visit.treatment_minutes is not None else (
        times.total_treatment_minutes if times else 0)
    try:
        rule = Rule.parse(billing.get("rule") or "cms")
    except BillingError:
        rule = Rule.CMS
    applied = {(line.code, m) for line in records.lines for m in line.modifiers}
    distinct, assistant, others = [], [], []
    spans = _spans_by_code([*records.intervals, *records.pooled_intervals], zone)
    for s in billing.get("suggestions") or ():
        code, modifier = str(s.get("code", "")), str(s.get("modifier", ""))
        if (code, modifier) not in applied:
            continue
        if modifier in DISTINCT_MODIFIERS:
            other = _other_code(code, s.get("evidence") or ())
            distinct.append(DistinctEvidence(code, modifier, other, spans.get(code, ()),
                                             spans.get(other, ()), str(s.get("reason", ""))))
        elif modifier in ASSISTANT_MODIFIERS:
            assistant.append(ModifierReason(code, modifier, int(s.get("units", 0)),
                                            str(s.get("reason", "")),
                                            furnished_by(records, code)))
        else:
            others.append(ModifierReason(code, modifier, int(s.get("units", 0)),
                                         str(s.get("reason", ""))))
    notes = []
    for code in billing.get("bundled") or ():
        label = catalog.get(str(code), visit.day).label
        if billing.get("list_bundled"):
            notes.append(f"{code} {label}: listed at $0.00 (Medicare bundles {code}: no "
                         "separate payment).")
        else:
            notes.append(f"{code} {label}: {bundled_note(str(code))}.")
    notes.extend(_kx_fallback_notes(billing, records.kx_years))
    pooled = billing.get("pooled_with") or []
    if pooled:
        notes.append(
            "Billed together with visit(s) " + ", ".join(str(v) for v in pooled)
            + f" the same day (same plan of care): the day's timed minutes were "
            f"{billing.get('day_timed_minutes', '?')}; this visit carries the units the pooled "
            "day adds."
        )
    return Documentation(
        session_start=start.astimezone(zone) if start else None,
        session_end=end.astimezone(zone) if end else None,
        code_minutes=tuple(code_minutes),
        total_timed_minutes=int(timed),
        total_treatment_minutes=int(treatment),
        rule=rule,
        distinct=tuple(distinct),
        assistant=tuple(assistant),
        other_reasons=tuple(others),
        notes=tuple(notes),
        techniques=_techniques(records.intervals, zone),
    )


def _kx_fallback_notes(billing: Mapping[str, Any], on_file: frozenset[int] | None
                       ) -> list[str]:
    """A visit finalized while its year had no KX threshold on file: which year's was used,
    and, until the clinic enters its own year's, what to do."""
    kx = billing.get("kx_threshold") or {}
    if not kx.get("fallback"):
        return []
    used, wanted = int(kx["year"]), int(kx["for_year"])
    cents = int(kx.get("threshold_cents", 0))
    amount = f"${cents // 100:,}.{cents % 100:02d}"
    if on_file is not None and wanted in on_file:
        return [f"KX was checked against {used}'s threshold ({amount}): {wanted}'s was not on "
                "file when this visit was finalized."]
    return [f"{kx_fallback_notice(used, wanted)} ({amount})."]


def _techniques(intervals: Iterable[rec.StoredInterval], zone: tzinfo
                ) -> tuple[TechniqueNote, ...]:
    """Each interval's recorded technique and body region (97140), in time order."""
    out = []
    for item in sorted(intervals, key=lambda i: i.start):
        technique, region = (item.technique or "").strip(), (item.body_region or "").strip()
        if not (technique or region):
            continue
        out.append(TechniqueNote(item.code, technique, region, item.start.astimezone(zone),
                                 item.end.astimezone(zone) if item.end else None))
    return tuple(out)


def _with_role(provider: rec.Provider) -> str:
    """"Lee Park, PTA": the name with its credentials or role, once."""
    name = provider.name.strip()
    suffix = provider.credentials.strip() or provider.role.value
    return name if name.endswith((suffix, provider.role.value)) else f"{name}, {suffix}"


def furnished_by(records: VisitRecords, code: str) -> str:
    """Who furnished ``code``'s assistant time, for its CQ/CO line: "Assistant: Lee Park, PTA
    — supervised by Dana Cole, PT".

    The supervising therapist is the visit's own provider when a therapist (the rendering
    provider the claim names), else the assistant's supervisor on file. Assistant time with
    no assistant named (recorded before the app asked) says so rather than guess a name.
    """
    people = records.people
    ids: dict[int | None, None] = {}
    # 97129 and 97130 are one service: 97130's CO units may come from time on 97129's timer.
    same = set(COGNITIVE) if code.upper() in COGNITIVE else {code.upper()}
    for item in (*records.intervals, *records.pooled_intervals):
        if item.code.upper() in same and item.performer.is_assistant:
            ids[item.provider_id] = None
    if not ids:
        return ""
    assistants = [people[i] for i in ids if i in people and people[i].is_assistant]
    if not assistants:
        return "Assistant: not named in the timer record"
    names = "; ".join(_with_role(a) for a in assistants)
    supervisor = records.provider if not records.provider.is_assistant else None
    if supervisor is None:
        supervisor = next((people[a.supervisor_id] for a in assistants
                           if a.supervisor_id in people), None)
    text = f"Assistant: {names}"
    if None in ids:
        text += " (and assistant time not named)"
    if supervisor is not None:
        text += f" — supervised by {_with_role(supervisor)}"
    return text


def _spans_by_code(intervals: Iterable[rec.StoredInterval], zone: tzinfo
                   ) -> dict[str, tuple[Span, ...]]:
    out: dict[str, list[Span]] = {}
    for item in sorted(intervals, key=lambda i: i.start):
        if item.end is None:
            continue
        out.setdefault(item.code.upper(), []).append(Span(
            item.code, item.start.astimezone(zone), item.end.astimezone(zone),
            str(item.performer.value)))
    return {code: tuple(spans) for code, spans in out.items()}


def _other_code(code: str, evidence: Iterable[str]) -> str:
    """The other code of an NCCI pair, read from the evidence lines ("97140: 09:05-09:20")."""
    for line in evidence:
        other = str(line).split(":", 1)[0].strip().upper()
        if other and other != code.upper():
            return other
    return ""


def visit_records(source: RecordSource, visit_id: int) -> VisitRecords:
    """Reads everything a visit's superbill needs through the repository's methods."""
    visit = source.get_visit(visit_id)
    _check_billable(visit)
    policies = sorted(source.policies_for(visit.patient_id), key=lambda p: p.priority)
    payer = source.primary_payer(visit.patient_id)
    policy = next((p for p in policies if payer is not None and p.payer_id == payer.id), None)
    secondary_policy = next((p for p in policies if p is not policy and p.priority >= 2), None)
    secondary_payer = (source.get_payer(secondary_policy.payer_id)
                       if secondary_policy is not None else None)
    plan = source.get_plan(visit.plan_id) if visit.plan_id is not None else None
    billing = source.billing_record(visit_id)
    pooled: list[rec.StoredInterval] = []
    for other in billing.get("pooled_with") or ():
        pooled.extend(source.intervals_for(int(other)))
    intervals = source.intervals_for(visit_id)
    people: dict[int, rec.Provider] = {}
    for item in (*intervals, *pooled):
        if item.provider_id is not None and item.provider_id not in people:
            people[item.provider_id] = source.get_provider(item.provider_id)
    for person in list(people.values()):
        if person.supervisor_id is not None and person.supervisor_id not in people:
            people[person.supervisor_id] = source.get_provider(person.supervisor_id)
    return VisitRecords(
        visit=visit,
        practice=source.get_practice(),
        provider=source.get_provider(visit.provider_id),
        patient=source.get_patient(visit.patient_id),
        payer=payer,
        policy=policy,
        lines=source.charge_lines(visit_id),
        intervals=intervals,
        billing=billing,
        pooled_intervals=pooled,
        people=people,
        plan=plan,
        secondary_payer=secondary_payer,
        secondary_policy=secondary_policy,
        kx_years=frozenset(source.kx_thresholds()) if hasattr(source, "kx_thresholds")
        else None,
    )


def superbill_for_visit(source: RecordSource, visit_id: int,
                        describe: Describe = _no_description) -> SuperbillData:
    """One finalized visit's superbill, read through the repository.

    Raises:
        NotBillableError: the visit is open, voided or amended.
        storage errors (for example ``NotFoundError``) from the repository as they are.
    """
    records = visit_records(source, visit_id)
    credits = credits_by_visit(source, [visit_id]).get(visit_id, Credits())
    catalog = source.code_catalog() if hasattr(source, "code_catalog") else None
    return build_superbill(records, source.clinic_zone(), describe, catalog=catalog,
                           credits=credits)


def paid_by_visit(source: Any, visit_ids: Collection[int]) -> dict[int, int]:
    """Payments recorded per visit (cents, voided ones left out) from the repository."""
    if not visit_ids:
        return {}
    return {int(k): int(v) for k, v in source.paid_cents(list(visit_ids)).items()}


def credits_by_visit(source: Any, visit_ids: Collection[int]) -> dict[int, Credits]:
    """What lowered each visit's balance, per payment kind, from the repository."""
    if not visit_ids:
        return {}
    return {int(k): v for k, v in source.payment_totals(list(visit_ids)).items()}


def days(start: date, end: date) -> list[date]:
    """Every calendar day from ``start`` to ``end`` inclusive.

    Raises:
        BillingError: the range is backwards or longer than a year.
    """
    if end < start:
        raise BillingError(f"the range ends ({end}) before it starts ({start})")
    count = (end - start).days + 1
    if count > MAX_RANGE_DAYS:
        raise BillingError(f"the range {start} to {end} is {count} days; at most "
                           f"{MAX_RANGE_DAYS}")
    return [start + timedelta(days=n) for n in range(count)]


def billable_visit_ids(source: RecordSource, start: date, end: date) -> list[int]:
    """Finalized visits in the range, by day then creation order."""
    return [s.visit.id for day in days(start, end) for s in source.visits_on(day)
            if s.status is rec.VisitStatus.FINALIZED]


def daysheet_for_range(source: RecordSource, start: date, end: date,
                       now: datetime | None = None) -> DaySheetData:
    """The day sheet for ``start``..``end``: finalized and open visits per provider.

    Voided and amended (superseded) visits are left out; open ones are flagged.
    """
    listed: list[rec.VisitSummary] = []
    payers: dict[int, str] = {}
    for day in days(start, end):
        for summary in source.visits_on(day, now):
            if summary.status not in (rec.VisitStatus.FINALIZED, rec.VisitStatus.OPEN):
                continue
            listed.append(summary)
    billed = [s.visit.id for s in listed if s.status is rec.VisitStatus.FINALIZED]
    credits = credits_by_visit(source, billed)
    by_provider: dict[int, list[DaySheetVisit]] = {}
    for summary in listed:
        visit = summary.visit
        if visit.patient_id not in payers:
            payer = source.primary_payer(visit.patient_id)
            payers[visit.patient_id] = "Self-pay" if payer is None or payer.self_pay \
                else payer.name
        is_open = summary.status is rec.VisitStatus.OPEN
        lines = () if is_open else tuple(
            DaySheetLine(line.code, tuple(line.modifiers), line.units, line.charge_cents)
            for line in source.charge_lines(visit.id))
        by_provider.setdefault(visit.provider_id, []).append(DaySheetVisit(
            visit.id, visit.day, printed_name(summary.patient_name),
            printed_name(summary.chart_number),
            payers[visit.patient_id], lines, is_open,
            credits.get(visit.id, Credits()).received, credits.get(visit.id, Credits()).adjusted))
    providers = []
    for provider_id, visits in by_provider.items():
        providers.append(ProviderDay(provider_from(source.get_provider(provider_id)),
                                     tuple(visits)))
    providers.sort(key=lambda p: p.provider.name.casefold())
    breakdown = source.payment_breakdown(billed) if billed else {}
    payments = tuple(PaymentLine(kind, method, cents)
                     for (kind, method), cents in sorted(breakdown.items()) if cents)
    return DaySheetData(practice_from(source.get_practice()), start, end, tuple(providers),
                        payments=payments, checkpoint=_checkpoint(source))


def _checkpoint(source) -> tuple[int, str] | None:
    """The audit chain's head (kept outside the file too), when the source has one."""
    take = getattr(source, "audit_checkpoint", None)
    point = take() if callable(take) else None
    return None if point is None else (int(point.seq), str(point.hash))
