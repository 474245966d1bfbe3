"""Charge lines as CSV rows (one per line) for a billing service or a spreadsheet.

Only finalized visits are exported. Money is dollars with two decimals ("45.00"), dates are
ISO (YYYY-MM-DD), the file is UTF-8. Text that a spreadsheet would run as a formula (starting
with = + - @) is prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import BinaryIO

COLUMNS = (
    "visit_id", "service_date", "line_no", "patient", "chart_number", "birth_date",
    "provider", "provider_npi", "discipline", "place_of_service", "payer", "member_id",
    "group_number", "diagnoses", "code", "label", "modifier_1", "modifier_2", "modifier_3",
    "modifier_4", "diagnosis_pointers", "units", "minutes", "unit_charge", "line_charge",
    # What payers need (issue 16), appended so existing imports keep their columns.
    "payer_id", "provider_taxonomy", "referring_provider", "referring_npi", "onset_date",
    "allowed_per_unit",
)


def dollars(cents: int) -> str:
    """Cents as a plain decimal: ``4500`` -> ``45.00`` (no currency sign, no separators)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{part:02d}"


def safe_text(value: object) -> str:
    """Text cell that a spreadsheet will not evaluate as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def charge_rows(source, start: date, end: date) -> list[dict[str, str]]:
    """One dict per charge line of the finalized visits from ``start`` to ``end``."""
    from therapy_timer.core.records import VisitStatus
    from therapy_timer.core.superbill_build import days

    providers: dict[int, object] = {}
    patients: dict[int, object] = {}
    coverage: dict[int, tuple[str, str, str]] = {}
    payer_ids: dict[int, str] = {}
    plans: dict[int, object] = {}
    rows = []
    for day in days(start, end):
        for summary in source.visits_on(day):
            if summary.status is not VisitStatus.FINALIZED:
                continue
            visit = summary.visit
            if visit.provider_id not in providers:
                providers[visit.provider_id] = source.get_provider(visit.provider_id)
            if visit.patient_id not in patients:
                patients[visit.patient_id] = source.get_patient(visit.patient_id)
                coverage[visit.patient_id] = _coverage(source, visit.patient_id)
                primary = source.primary_payer(visit.patient_id)
                payer_ids[visit.patient_id] = (primary.payer_code if primary is not None
                                               and not primary.self_pay else "")
            provider = providers[visit.provider_id]
            patient = patients[visit.patient_id]
            payer, member, group = coverage[visit.patient_id]
            payer_id = payer_ids.get(visit.patient_id, "")
            if visit.plan_id is not None and visit.plan_id not in plans:
                plans[visit.plan_id] = source.get_plan(visit.plan_id)
            plan = plans.get(visit.plan_id)
            for line in source.charge_lines(visit.id):
                modifiers = [*line.modifiers, "", "", "", ""][:4]
                rows.append({
                    "visit_id": str(visit.id),
                    "service_date": visit.day.isoformat(),
                    "line_no": str(line.line_no),
                    "patient": safe_text(summary.patient_name),
                    "chart_number": safe_text(summary.chart_number),
                    "birth_date": patient.birth_date.isoformat() if patient.birth_date else "",
                    "provider": safe_text(provider.name),
                    "provider_npi": safe_text(provider.npi),
                    "discipline": str(visit.discipline.value),
                    "place_of_service": safe_text(visit.place_of_service),
                    "payer": safe_text(payer),
                    "member_id": safe_text(member),
                    "group_number": safe_text(group),
                    "diagnoses": " ".join(visit.diagnoses),
                    "code": line.code,
                    "label": safe_text(line.label),
                    "modifier_1": modifiers[0], "modifier_2": modifiers[1],
                    "modifier_3": modifiers[2], "modifier_4": modifiers[3],
                    "diagnosis_pointers": "".join(line.diagnosis_pointers),
                    "units": str(line.units),
                    "minutes": str(line.minutes),
                    "unit_charge": dollars(line.fee_cents),
                    "line_charge": dollars(line.charge_cents),
                    "payer_id": safe_text(payer_id),
                    "provider_taxonomy": safe_text(getattr(provider, "taxonomy", "")),
                    "referring_provider": safe_text(plan.referring_name if plan else ""),
                    "referring_npi": plan.referring_npi if plan else "",
                    "onset_date": plan.onset_date.isoformat() if plan and plan.onset_date
                    else "",
                    "allowed_per_unit": dollars(line.allowed_cents) if line.allowed_cents
                    else "",
                })
    return rows


def _coverage(source, patient_id: int) -> tuple[str, str, str]:
    payer = source.primary_payer(patient_id)
    if payer is None or payer.self_pay:
        return "Self-pay", "", ""
    policy = next((p for p in source.policies_for(patient_id) if p.payer_id == payer.id), None)
    if policy is None:
        return payer.name, "", ""
    return payer.name, policy.member_id, policy.group_number


def write_csv(rows: list[dict[str, str]], stream: BinaryIO) -> None:
    """Writes the header and rows as UTF-8 CSV to a binary stream."""
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    try:
        writer = csv.DictWriter(text, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        text.flush()
    finally:
        text.detach()
