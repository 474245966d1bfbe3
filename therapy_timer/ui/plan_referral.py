"""The plan of care's referral fields in the patient editor: the referring (ordering) provider,
their NPI and the onset date of the condition. The superbill prints them (CMS-1500 items 17,
17b and 14) when the clinic has them.

``PlanReferral(form)`` adds its three rows to the plans tab's form; ``show(plan)`` fills them,
``apply(plan, today)`` returns the plan with what was typed, or raises ``Refused`` naming the
bad value: an NPI that fails the check the settings pages use (``core.validation.validate_npi``),
an onset date that is not a date, lies in the future or after the plan starts.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from PySide6.QtWidgets import QFormLayout, QWidget

from therapy_timer.core.model import BillingError
from therapy_timer.core.records import PlanOfCare
from therapy_timer.core.validation import validate_npi
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.patient_fields import Refused, form_row, line_edit, parse_day, us_date


class PlanReferral:
    """Referring provider, referring NPI and onset date of one plan of care."""

    def __init__(self, form: QFormLayout) -> None:
        self.name = line_edit("e.g. Dr. Jordan Ellis (optional)", "Referring provider")
        self.npi = line_edit("10 digits (optional)", "Referring provider's NPI")
        self.onset = line_edit("MM/DD/YYYY (optional)", "Onset date")
        for label, widget in (("Referring provider", self.name),
                              ("Referring NPI", self.npi), ("Onset date", self.onset)):
            form_row(form, label, widget)

    @property
    def widgets(self) -> tuple[QWidget, ...]:
        return self.name, self.npi, self.onset

    def show(self, plan: PlanOfCare | None) -> None:
        self.name.setText(plan.referring_name if plan else "")
        self.npi.setText(plan.referring_npi if plan else "")
        self.onset.setText(us_date(plan.onset_date) if plan else "")

    def apply(self, plan: PlanOfCare, today: date) -> PlanOfCare:
        """``plan`` with the referral typed in.

        Raises:
            Refused: the NPI or the onset date is not acceptable (the cursor goes there).
        """
        npi = self.npi.text().strip().replace(" ", "")
        if npi:
            try:
                npi = validate_npi(npi)
            except BillingError as exc:
                raise Refused(f"Referring NPI: {exc}.", self.npi) from None
        onset = None
        if self.onset.text().strip():
            try:
                onset = parse_day(self.onset.text(), "Onset date")
            except ValueError as exc:
                raise Refused(f"{exc}.", self.onset) from None
            if onset > today:
                raise Refused(f"Onset date: {us_date(onset)} is in the future.", self.onset)
            # The onset is when the condition began: a plan of care treats it afterwards.
            if onset > plan.start:
                raise Refused(f"Onset date: {us_date(onset)} is after the plan starts "
                              f"({us_date(plan.start)}).", self.onset)
        return replace(plan, referring_name=self.name.text().strip(), referring_npi=npi,
                       onset_date=onset)
