"""Fields of the patient editor (``ui/patients.py``): choices, typed dates, small widget
helpers, and the checks that turn the editor's fields into records or refuse them.

``PatientChecks`` is a mixin of ``PatientDialog``: each ``_check_*`` reads the dialog's widgets
and returns the record to save, or raises ``Refused`` with a message naming the bad value and
the widget to put the cursor in. Nothing here writes to the repository.
"""

from __future__ import annotations

import re
from datetime import date

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QWidget,
)

from therapy_timer.core.model import Discipline
from therapy_timer.core.records import InsurancePolicy, Patient, PlanOfCare
from therapy_timer.core.validation import ValidationError, parse_birth_date
from therapy_timer.ui import (
    pyside_guard,  # noqa: F401  (before any Qt call)
    style,
)
from therapy_timer.ui.settings import parse_dollars

SEXES = (("", "Not recorded"), ("F", "Female"), ("M", "Male"), ("X", "X (unspecified)"))
RELATIONSHIPS = ("self", "spouse", "child", "other")
PRIORITIES = ((1, "Primary"), (2, "Secondary"), (3, "Tertiary"))
BUCKETS = (("PT+SLP", "PT and speech therapy combined"), ("OT", "Occupational therapy"))
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_PHONE = re.compile(r"^[\d\s()+.\-]*(\s*(x|ext\.?)\s*\d+)?$", re.IGNORECASE)


class Refused(ValueError):
    """A value the user typed cannot be saved; ``widget`` is where to put the cursor."""

    def __init__(self, message: str, widget: QWidget | None = None) -> None:
        super().__init__(message)
        self.widget = widget


def parse_day(text: str, what: str) -> date:
    """A calendar day typed as MM/DD/YYYY or YYYY-MM-DD.

    Raises:
        ValueError: not a real date (the message names ``what`` and the text).
    """
    raw = str(text).strip()
    try:
        us = _US_DATE.match(raw)
        if us:
            month, day, year = (int(part) for part in us.groups())
            return date(year, month, day)
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{what}: {raw!r} is not a date; type it as MM/DD/YYYY or "
                         "YYYY-MM-DD, e.g. 03/02/2026") from None


def us_date(day: date | None) -> str:
    return "" if day is None else f"{day:%m/%d/%Y}"


def line_edit(placeholder: str = "", name: str = "") -> QLineEdit:
    edit = QLineEdit()
    edit.setPlaceholderText(placeholder)
    edit.setAccessibleName(name)
    return edit


def combo(items, name: str) -> QComboBox:
    box = QComboBox()
    box.setAccessibleName(name)
    for data, text in items:
        box.addItem(text, data)
    return box


def form_layout() -> QFormLayout:
    form = QFormLayout()
    form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    form.setVerticalSpacing(10)
    return form


def form_row(form: QFormLayout, text: str, widget: QWidget) -> None:
    """A form row whose label sits level with the middle of its field."""
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    if not isinstance(widget, QPlainTextEdit):
        label.setMinimumHeight(max(widget.sizeHint().height(), style.TOUCH - 16))
    label.setBuddy(widget)
    form.addRow(label, widget)


def item_list(name: str) -> QListWidget:
    items = QListWidget()
    items.setAccessibleName(name)
    items.setStyleSheet("QListWidget { font-size: 16px; } "
                        "QListWidget::item { min-height: 40px; padding-left: 6px; }")
    return items


def caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setProperty("role", "caption")
    return label


class PatientChecks:
    """The editor's checks (a mixin of ``PatientDialog``, which holds the widgets)."""

    def _check_details(self) -> Patient:
        last, first = self.last.text().strip(), self.first.text().strip()
        if not last:
            raise Refused("Last name: enter the patient's last name.", self.last)
        if not first:
            raise Refused("First name: enter the patient's first name.", self.first)
        try:
            born = parse_birth_date(self.birth.text(), self.today)
        except ValidationError as exc:
            raise Refused(f"Date of birth: {exc}.", self.birth) from None
        phone = self.phone.text().strip()
        if phone and (not _PHONE.match(phone) or len(re.sub(r"\D", "", phone)) < 7):
            raise Refused(f"Phone: {phone!r} is not a phone number (e.g. (555) 010-0199).",
                          self.phone)
        return Patient(first, last, born, self.sex.currentData() or "",
                       self.address.toPlainText().strip(), phone, self.chart.text().strip(),
                       id=self.patient_id)

    def _check_policy(self) -> InsurancePolicy:
        payer_id = self.payer.currentData()
        if payer_id is None:
            raise Refused("Payer: choose the insurer (add payers in Settings).", self.payer)
        payer = self.repo.get_payer(payer_id)
        member = self.member_id.text().strip()
        if not member and not payer.self_pay:
            raise Refused(f"Member ID: enter the member ID for {payer.name}.", self.member_id)
        relationship = self.relationship.currentData()
        subscriber = self.subscriber.text().strip()
        if relationship != "self" and not subscriber:
            raise Refused(f"Subscriber: the patient is the subscriber's {relationship}; "
                          "enter the subscriber's name.", self.subscriber)
        priority = self.priority.currentData()
        own = self._policy.id if self._policy else None
        for other in self.repo.policies_for(self.patient_id):
            if other.id != own and other.priority == priority:
                raise Refused(f"Priority: {self._payer_names.get(other.payer_id, 'another')} "
                              f"is already {dict(PRIORITIES)[priority].lower()}.", self.priority)
        return InsurancePolicy(self.patient_id, payer_id, member, self.group.text().strip(),
                               subscriber, relationship, priority, id=own)

    def _check_plan(self) -> PlanOfCare:
        discipline = Discipline(self.discipline.currentData())
        therapist_id = self.therapist.currentData()
        if therapist_id is None:
            raise Refused("Therapist: choose the certifying therapist (add providers in "
                          "Settings).", self.therapist)
        therapist = self.repo.get_provider(therapist_id)
        if therapist.discipline is not discipline:
            raise Refused(f"Therapist: {therapist.name} is {therapist.discipline.value}, not "
                          f"{discipline.value}.", self.therapist)
        if not self.plan_start.text().strip():
            raise Refused("Plan start: enter the day the plan of care starts (MM/DD/YYYY).",
                          self.plan_start)
        try:
            start = parse_day(self.plan_start.text(), "Plan start")
        except ValueError as exc:
            raise Refused(f"{exc}.", self.plan_start) from None
        through = None
        if self.plan_through.text().strip():
            try:
                through = parse_day(self.plan_through.text(), "Certified through")
            except ValueError as exc:
                raise Refused(f"{exc}.", self.plan_through) from None
            if through < start:
                raise Refused(f"Certified through: {us_date(through)} is before the plan "
                              f"starts ({us_date(start)}).", self.plan_through)
        visits = None
        text = self.visits.text().strip()
        if text:
            if not text.isdigit() or int(text) < 1:
                raise Refused(f"Visits authorized: {text!r} is not a whole number of visits.",
                              self.visits)
            visits = int(text)
        own = self._plan.id if self._plan else None
        return PlanOfCare(self.patient_id, discipline, therapist_id, start, through, visits,
                          id=own,
                          diagnoses=self.plan_diagnoses.codes())

    def _check_prior(self) -> dict[str, int]:
        changed = {}
        for bucket, label in BUCKETS:
            edit = self.prior_edits[bucket]
            text = edit.text().strip()
            if not text and bucket not in self._prior:
                continue
            try:
                cents = parse_dollars(text) if text else 0
            except ValueError as exc:
                raise Refused(f"Prior spend, {label}: {exc}.", edit) from None
            changed[bucket] = cents
        return changed
