"""Synthetic superbills and day sheets built by hand (no database), for the PDF tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from therapy_timer.core.model import Rule
from therapy_timer.core.superbill import (
    CodeMinutes,
    DaySheetData,
    DaySheetLine,
    DaySheetVisit,
    Diagnosis,
    DistinctEvidence,
    Documentation,
    Insurance,
    ModifierReason,
    Patient,
    Practice,
    Provider,
    ProviderDay,
    ServiceLine,
    Signature,
    Span,
    SuperbillData,
)

ZONE = ZoneInfo("America/Chicago")
DAY = date(2026, 3, 2)


def at(hour: int, minute: int, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


PRACTICE = Practice(
    name="Smith & Jones PT",
    address=("100 Main St, Suite <2>", "Springfield, IL 62701"),
    phone="(217) 555-0100",
    npi="1234567893",
    tax_id="12-3456789",
)
PROVIDER = Provider(name="Zoë Núñez", credentials="PT, DPT", npi="1558598797",
                    license="IL 070-012345")
PATIENT = Patient(
    name="李小龙",
    birth_date=date(1958, 4, 12),
    sex="M",
    address=("42 Oak Ave", "Springfield, IL 62704"),
    phone="(217) 555-0142",
    chart_number="C-000123",
)
INSURANCE = Insurance(
    payer="Medicare Part B",
    member_id="1EG4-TE5-MK72",
    group_number="GRP-77",
    subscriber="李小龙",
    relationship="self",
    referring_provider="Dr. Ada O'Brien",
    referring_npi="1234567893",
    prior_authorization="PA-2026-001",
)
DIAGNOSES = (
    Diagnosis("A", "M54.50", "Low back pain, unspecified"),
    Diagnosis("B", "R26.89", "Other abnormalities of gait and mobility"),
    Diagnosis("C", "M62.81", "Muscle weakness (generalized)"),
)


def documentation() -> Documentation:
    return Documentation(
        session_start=at(9, 0),
        session_end=at(10, 2),
        code_minutes=(
            CodeMinutes("97110", "Therapeutic exercise", 23, 2, True),
            CodeMinutes("97140", "Manual therapy", 15, 1, True),
            CodeMinutes("97530", "Therapeutic activities", 15, 1, True),
            CodeMinutes("97010", "Hot or cold packs", 9, 1, False),
        ),
        total_timed_minutes=53,
        total_treatment_minutes=62,
        rule=Rule.CMS,
        distinct=(DistinctEvidence(
            "97530", "XU", "97140",
            (Span("97530", at(9, 40), at(9, 55), "PT"),),
            (Span("97140", at(9, 23), at(9, 38), "PT"),),
            "NCCI pair 97140/97530: distinct time intervals; the clinician attests",
        ),),
        assistant=(ModifierReason(
            "97110", "CQ", 1,
            "assistant 10 min, therapist 13 min; last unit: the assistant's share is over 10%; "
            "Medicare pays these units at 85%",
        ),),
        other_reasons=(ModifierReason(
            "97110", "KX", 2, "PT+SLP allowed amount for 2026 reaches $2,512.00, past the KX "
            "threshold of $2,480.00: medical necessity attested"),),
    )


def superbill(lines: int | None = None, **changes) -> SuperbillData:
    """The reference visit: CQ, XU and KX lines; ``lines=N`` makes an N-line visit."""
    if lines is None:
        service_lines = (
            ServiceLine(DAY, "97110", "Therapeutic exercise", ("GP", "CQ", "KX"), ("A", "C"),
                        1, 4200, 23),
            ServiceLine(DAY, "97110", "Therapeutic exercise", ("GP", "KX"), ("A", "C"), 1,
                        4200, 0),
            ServiceLine(DAY, "97140", "Manual therapy", ("GP",), ("A",), 1, 3900, 15),
            ServiceLine(DAY, "97530", "Therapeutic activities", ("XU", "GP"), ("B", "A"), 1,
                        4500, 15),
            ServiceLine(DAY, "97010", "Hot or cold packs", ("GP",), ("A",), 1, 0, 9),
        )
    else:
        service_lines = tuple(
            ServiceLine(DAY, f"97{110 + n % 5:03d}", f"Exercise set {n + 1}", ("GP",), ("A",),
                        1 + n % 3, 1000 + n * 125, 15)
            for n in range(lines)
        )
    values = dict(
        visit_id=4711,
        practice=PRACTICE,
        provider=PROVIDER,
        patient=PATIENT,
        insurance=INSURANCE,
        service_date=DAY,
        place_of_service="11",
        diagnoses=DIAGNOSES,
        lines=service_lines,
        documentation=documentation(),
        signature=Signature("Zoë Núñez", "PT, DPT", DAY),
        paid_cents=2500,
        discipline="PT",
    )
    values.update(changes)
    return SuperbillData(**values)


def daysheet() -> DaySheetData:
    second = Provider("Sam O'Neil", "OT", "1234567893", "IL 056-000001")
    def visit(vid, day, name, chart, payer, lines, is_open=False, paid=0):
        return DaySheetVisit(vid, day, name, chart, payer,
                             tuple(DaySheetLine(*line) for line in lines), is_open, paid)
    return DaySheetData(
        practice=PRACTICE,
        start=DAY,
        end=DAY + timedelta(days=1),
        providers=(
            ProviderDay(PROVIDER, (
                visit(4711, DAY, "李小龙", "C-000123", "Medicare Part B", [
                    ("97110", ("GP", "CQ", "KX"), 1, 4200), ("97110", ("GP", "KX"), 1, 4200),
                    ("97140", ("GP",), 1, 3900), ("97530", ("XU", "GP"), 1, 4500)], paid=2500),
                visit(4712, DAY, "Zoë Núñez", "C-000124", "Blue Cross & Blue Shield", [
                    ("97161", ("GP",), 1, 11000), ("97110", ("GP",), 2, 8400)]),
                visit(4713, DAY + timedelta(days=1), "Ann <Lee>", "C-000125", "Aetna",
                      [("97110", ("GP",), 1, 4200)], is_open=True),
            )),
            ProviderDay(second, (
                visit(4720, DAY, "Jane Roe", "C-000200", "Self-pay", [
                    ("97165", ("GO",), 1, 12000), ("97535", ("GO", "CO"), 2, 8000)]),
            )),
        ),
    )
