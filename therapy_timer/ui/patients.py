"""The patient editor: details, insurance, plans of care and prior therapy spend this year.

Quick-add (``ui/today.py``) stores a name and a date of birth; this dialog adds the rest a
superbill and the billing rules need. One Save button checks every changed section first: a bad
value is refused with a message naming it and nothing is written. Closing with unsaved edits
asks first through ``PatientDialog.ask_discard`` (tests replace it), as does switching to
another policy or plan while the form holds unsaved edits.

Public API: ``PatientDialog(repo, patient_id, parent=None, user=None, today=None)`` with the
sections ``details``, ``insurance``, ``plans``, ``prior`` (``tabs`` is the QTabWidget) and
``save() -> bool``; ``PatientDialog.edit(repo, patient_id, parent=None, user=None, today=None)
-> bool`` shows it modally and says whether anything was saved. ``parse_day(text, what)``
reads MM/DD/YYYY or YYYY-MM-DD.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.model import BillingError, Discipline
from therapy_timer.core.records import InsurancePolicy, Patient, PlanOfCare
from therapy_timer.core.validation import ValidationError, parse_birth_date
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import (
    pyside_guard,  # noqa: F401  (before any Qt call)
    style,
)
from therapy_timer.ui.models import money
from therapy_timer.ui.settings import confirm_note, dollars, parse_dollars
from therapy_timer.ui.settings_payers import kx_note

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


def _line(placeholder: str = "", name: str = "") -> QLineEdit:
    edit = QLineEdit()
    edit.setPlaceholderText(placeholder)
    edit.setAccessibleName(name)
    return edit


def _combo(items, name: str) -> QComboBox:
    combo = QComboBox()
    combo.setAccessibleName(name)
    for data, text in items:
        combo.addItem(text, data)
    return combo


def _form() -> QFormLayout:
    form = QFormLayout()
    form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    form.setVerticalSpacing(10)
    return form


def _row(form: QFormLayout, text: str, widget: QWidget) -> None:
    """A form row whose label sits level with the middle of its field."""
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    if not isinstance(widget, QPlainTextEdit):
        label.setMinimumHeight(max(widget.sizeHint().height(), style.TOUCH - 16))
    label.setBuddy(widget)
    form.addRow(label, widget)


def _list(name: str) -> QListWidget:
    items = QListWidget()
    items.setAccessibleName(name)
    items.setStyleSheet("QListWidget { font-size: 16px; } "
                        "QListWidget::item { min-height: 40px; padding-left: 6px; }")
    return items


def _caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setProperty("role", "caption")
    return label


class PatientDialog(QDialog):
    """Everything the clinic keeps about one patient, in four tabs and one Save."""

    def __init__(self, repo, patient_id: int, parent: QWidget | None = None,
                 user: str | None = None, today: date | None = None) -> None:
        super().__init__(parent)
        self.repo = repo
        self.patient_id = patient_id
        self.user = user
        self.today = today or date.today()
        self.saved_any = False
        self._dirty: set[str] = set()
        self._loading = False
        self._policy: InsurancePolicy | None = None
        self._plan: PlanOfCare | None = None
        self._prior: dict[str, int] = {}
        self.setWindowTitle("Patient")
        self.resize(820, 600)
        self.heading = QLabel()
        self.heading.setProperty("role", "title")
        self.tabs = QTabWidget()
        self.details = self._build_details()
        self.insurance = self._build_insurance()
        self.plans = self._build_plans()
        self.prior = self._build_prior()
        for page, title in ((self.details, "Details"), (self.insurance, "Insurance"),
                            (self.plans, "Plans of care"),
                            (self.prior, "Prior therapy spend")):
            self.tabs.addTab(page, title)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Message")
        self.save_button = QPushButton("Save")
        self.save_button.setMinimumHeight(style.TOUCH - 8)
        self.save_button.setAccessibleName("Save the patient")
        style.polish(self.save_button, primary=True)
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.close_button = QPushButton("Close")
        self.close_button.setMinimumHeight(style.TOUCH - 8)
        self.close_button.clicked.connect(self.reject)
        footer = QHBoxLayout()
        footer.addWidget(self.message, 1)
        footer.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignBottom)
        footer.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(footer)
        self.load()

    # -- building -----------------------------------------------------------------------------

    def _build_details(self) -> QWidget:
        page = QWidget()
        self.last = _line(name="Last name")
        self.first = _line(name="First name")
        self.birth = _line("MM/DD/YYYY", "Date of birth")
        self.sex = _combo(SEXES, "Sex")
        self.address = QPlainTextEdit()
        self.address.setAccessibleName("Address")
        self.address.setPlaceholderText("Street\nCity, State ZIP")
        self.address.setTabChangesFocus(True)
        self.address.setFixedHeight(76)
        self.phone = _line("e.g. (555) 010-0199", "Phone")
        self.chart = _line("the clinic's chart or account number", "Chart number")
        form = _form()
        page.setLayout(form)
        for label, widget in (("Last name", self.last), ("First name", self.first),
                              ("Date of birth", self.birth), ("Sex", self.sex),
                              ("Address", self.address), ("Phone", self.phone),
                              ("Chart number", self.chart)):
            _row(form, label, widget)
        self._watch("details", self.last, self.first, self.birth, self.sex, self.address,
                    self.phone, self.chart)
        return page

    def _build_insurance(self) -> QWidget:
        page = QWidget()
        self.policy_list = _list("Policies")
        self.new_policy = QPushButton("New policy")
        self.payer = QComboBox()
        self.payer.setAccessibleName("Payer")
        self.member_id = _line("as on the insurance card", "Member ID")
        self.group = _line("optional", "Group number")
        self.subscriber = _line("empty = the patient", "Subscriber")
        self.relationship = _combo([(r, r.capitalize()) for r in RELATIONSHIPS],
                                   "Patient's relationship to the subscriber")
        self.priority = _combo(PRIORITIES, "Priority")
        self.no_payers = _caption("No payers yet: add them in Settings → Payers first.")
        form = _form()
        for label, widget in (("Payer", self.payer), ("Member ID", self.member_id),
                              ("Group number", self.group), ("Subscriber", self.subscriber),
                              ("Relationship", self.relationship), ("Priority", self.priority)):
            _row(form, label, widget)
        self.policy_list.currentItemChanged.connect(self._policy_picked)
        self.new_policy.clicked.connect(lambda: self._pick_new(self.policy_list, "insurance"))
        self._watch("insurance", self.payer, self.member_id, self.group, self.subscriber,
                    self.relationship, self.priority)
        return self._list_page(page, self.policy_list, self.new_policy, form, self.no_payers)

    def _build_plans(self) -> QWidget:
        page = QWidget()
        self.plan_list = _list("Plans of care")
        self.new_plan = QPushButton("New plan")
        self.discipline = _combo([(d.value, d.value) for d in Discipline], "Discipline")
        self.therapist = QComboBox()
        self.therapist.setAccessibleName("Certifying therapist")
        self.plan_start = _line("MM/DD/YYYY", "Plan start")
        self.plan_through = _line("MM/DD/YYYY (optional)", "Certified through")
        self.visits = _line("optional", "Visits authorized")
        form = _form()
        for label, widget in (("Discipline", self.discipline), ("Therapist", self.therapist),
                              ("Start", self.plan_start), ("Certified through", self.plan_through),
                              ("Visits authorized", self.visits)):
            _row(form, label, widget)
        note = _caption("The plan's discipline decides the GP / GO / GN modifier and counts "
                        "visits toward the progress report.")
        self.plan_list.currentItemChanged.connect(self._plan_picked)
        self.new_plan.clicked.connect(lambda: self._pick_new(self.plan_list, "plans"))
        self._watch("plans", self.discipline, self.therapist, self.plan_start,
                    self.plan_through, self.visits)
        return self._list_page(page, self.plan_list, self.new_plan, form, note)

    def _build_prior(self) -> QWidget:
        page = QWidget()
        year = self.today.year
        self.prior_edits: dict[str, QLineEdit] = {}
        form = _form()
        for bucket, label in BUCKETS:
            edit = _line("0.00", f"Prior {bucket} spend in dollars")
            edit.setMaximumWidth(180)
            self.prior_edits[bucket] = edit
            _row(form, f"{label} ($)", edit)
        self.kx_total = _caption("")
        layout = QVBoxLayout(page)
        intro = QLabel(f"Medicare-allowed amounts for therapy this patient had at other "
                       f"providers in {year}. They count toward the KX threshold together with "
                       "this clinic's own visits. Leave empty when there were none.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.kx_total)
        layout.addWidget(confirm_note(kx_note(year)))
        layout.addStretch(1)
        self._watch("prior", *self.prior_edits.values())
        return page

    @staticmethod
    def _list_page(page: QWidget, items: QListWidget, new: QPushButton, form: QFormLayout,
                   note: QLabel) -> QWidget:
        left = QVBoxLayout()
        left.addWidget(items, 1)
        left.addWidget(new)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addWidget(note)
        right.addStretch(1)
        row = QHBoxLayout(page)
        row.addLayout(left, 2)
        row.addLayout(right, 3)
        return page

    def _watch(self, section: str, *widgets: QWidget) -> None:
        def mark(*_args) -> None:
            if not self._loading:
                self._dirty.add(section)
        for widget in widgets:
            signal = getattr(widget, "currentIndexChanged", None) or widget.textChanged
            signal.connect(mark)

    # -- loading ------------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        return bool(self._dirty)

    def load(self, policy_id: int | None = None, plan_id: int | None = None) -> None:
        """Re-reads the patient, policies, plans and prior spend (selecting ``policy_id`` and
        ``plan_id`` when given); clears unsaved edits."""
        self._loading = True
        try:
            patient = self.repo.get_patient(self.patient_id)
            self.heading.setText(patient.display_name)
            self.setWindowTitle(f"Patient · {patient.display_name}")
            self.last.setText(patient.last_name)
            self.first.setText(patient.first_name)
            self.birth.setText(us_date(patient.birth_date))  # the stored date, never a default
            index = self.sex.findData(patient.sex)
            if index < 0:
                self.sex.addItem(patient.sex, patient.sex)
                index = self.sex.count() - 1
            self.sex.setCurrentIndex(index)
            self.address.setPlainText(patient.address)
            self.phone.setText(patient.phone)
            self.chart.setText(patient.chart_number)
            self._load_policies(policy_id)
            self._load_plans(plan_id)
            self._load_prior()
        finally:
            self._loading = False
        self._dirty.clear()

    def _load_policies(self, select: int | None = None) -> None:
        payers = self.repo.list_payers()
        self._payer_names = {p.id: p.name for p in payers}
        self.payer.clear()
        for payer in payers:
            self.payer.addItem(payer.name + ("  (self-pay)" if payer.self_pay else ""),
                               payer.id)
        self.no_payers.setVisible(not payers)
        policies = self.repo.policies_for(self.patient_id)
        self._fill(self.policy_list, policies, select, lambda p: (
            f"{dict(PRIORITIES).get(p.priority, p.priority)} · "
            f"{self._payer_names.get(p.payer_id, '?')}"
            + (f" · {p.member_id}" if p.member_id else "")))
        self._show_policy(self._current(self.policy_list, policies))

    def _load_plans(self, select: int | None = None) -> None:
        self.therapist.clear()
        for provider in self.repo.list_providers():
            if not provider.is_assistant:
                shown = provider.name
                if not shown.rstrip().endswith(provider.discipline.value):
                    shown += f" ({provider.discipline.value})"
                self.therapist.addItem(shown, provider.id)
        plans = self.repo.plans_for(self.patient_id)
        self._fill(self.plan_list, plans, select, lambda p: (
            f"{p.discipline.value} · from {us_date(p.start)}"
            + (f" through {us_date(p.certified_through)}" if p.certified_through else "")))
        self._show_plan(self._current(self.plan_list, plans))

    def _load_prior(self) -> None:
        year = self.today.year
        self._prior = {}
        for entry in self.repo.audit_entries("patient", self.patient_id):  # newest first
            if entry.action != "prior_kx":
                continue
            detail = json.loads(entry.detail or "{}")
            if detail.get("year") == year and detail.get("bucket") not in self._prior:
                self._prior[detail["bucket"]] = int(detail.get("cents", 0))
        for bucket, edit in self.prior_edits.items():
            edit.setText(dollars(self._prior[bucket]) if bucket in self._prior else "")
        totals = []
        for bucket, _label in BUCKETS:
            try:
                spent = self.repo.kx_year_to_date(self.patient_id, year, bucket)
            except (StorageError, BillingError):
                continue
            totals.append(f"{bucket} {money(spent)}")
        self.kx_total.setText(f"Counted toward KX in {year} so far (this clinic plus the "
                              f"amounts above): {', '.join(totals)}.")

    @staticmethod
    def _fill(widget: QListWidget, records, select: int | None, label: Callable) -> None:
        widget.blockSignals(True)
        widget.clear()
        for record in records:
            item = QListWidgetItem(label(record))
            item.setData(Qt.ItemDataRole.UserRole, record)
            widget.addItem(item)
            if record.id == select:
                widget.setCurrentItem(item)
        if widget.currentRow() < 0 and widget.count():
            widget.setCurrentRow(0)
        widget.blockSignals(False)

    @staticmethod
    def _current(widget: QListWidget, records):
        item = widget.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _show_policy(self, policy: InsurancePolicy | None) -> None:
        self._policy = policy
        was, self._loading = self._loading, True
        if policy is None:
            taken = {p.priority for p in self.repo.policies_for(self.patient_id)}
            priority = next((n for n, _ in PRIORITIES if n not in taken), 1)
            policy = InsurancePolicy(self.patient_id, -1, priority=priority)
        self.payer.setCurrentIndex(self.payer.findData(policy.payer_id))
        self.member_id.setText(policy.member_id)
        self.group.setText(policy.group_number)
        self.subscriber.setText(policy.subscriber)
        self.relationship.setCurrentIndex(max(0, self.relationship.findData(
            policy.relationship)))
        self.priority.setCurrentIndex(max(0, self.priority.findData(policy.priority)))
        self._loading = was
        self._dirty.discard("insurance")

    def _show_plan(self, plan: PlanOfCare | None) -> None:
        self._plan = plan
        was, self._loading = self._loading, True
        self.discipline.setCurrentIndex(max(0, self.discipline.findData(
            plan.discipline.value if plan else "PT")))
        self.therapist.setCurrentIndex(self.therapist.findData(plan.therapist_id) if plan
                                       else (0 if self.therapist.count() else -1))
        self.plan_start.setText(us_date(plan.start) if plan else "")
        self.plan_through.setText(us_date(plan.certified_through) if plan else "")
        self.visits.setText(str(plan.visits_authorized) if plan and plan.visits_authorized
                            else "")
        self._loading = was
        self._dirty.discard("plans")

    # -- switching records --------------------------------------------------------------------

    def _leave(self, section: str, what: str) -> bool:
        if section not in self._dirty:
            return True
        if type(self).ask_discard(self, what):
            self._dirty.discard(section)
            return True
        return False

    def _policy_picked(self, item, previous) -> None:
        if item is None:
            return
        if not self._leave("insurance", "this policy"):
            self._restore(self.policy_list, previous)
            return
        self._show_policy(item.data(Qt.ItemDataRole.UserRole))

    def _plan_picked(self, item, previous) -> None:
        if item is None:
            return
        if not self._leave("plans", "this plan of care"):
            self._restore(self.plan_list, previous)
            return
        self._show_plan(item.data(Qt.ItemDataRole.UserRole))

    @staticmethod
    def _restore(widget: QListWidget, previous) -> None:
        widget.blockSignals(True)
        widget.setCurrentItem(previous)
        widget.blockSignals(False)

    def _pick_new(self, widget: QListWidget, section: str) -> None:
        what = "this policy" if section == "insurance" else "this plan of care"
        if not self._leave(section, what):
            return
        widget.blockSignals(True)
        widget.setCurrentRow(-1)
        widget.blockSignals(False)
        if section == "insurance":
            self._show_policy(None)
            self.payer.setFocus()
        else:
            self._show_plan(None)
            self.plan_start.setFocus()

    # -- checking and saving ------------------------------------------------------------------

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
                          id=own)

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

    def save(self) -> bool:
        """Checks every changed section, then writes them; False (nothing written) on a bad
        value, with a message naming it."""
        if not self._dirty:
            self._say("Nothing to save.", ok=True)
            return True
        checks = (("details", self.details, self._check_details),
                  ("insurance", self.insurance, self._check_policy),
                  ("plans", self.plans, self._check_plan),
                  ("prior", self.prior, self._check_prior))
        values = {}
        for section, page, check in checks:
            if section not in self._dirty:
                continue
            try:
                values[section] = check()
            except Refused as exc:
                self.tabs.setCurrentWidget(page)
                if exc.widget is not None:
                    exc.widget.setFocus()
                self._say(str(exc), ok=False)
                return False
        policy_id = plan_id = None
        try:
            if "details" in values:
                self.repo.save_patient(values["details"], user=self.user)
            if "insurance" in values:
                policy_id = self.repo.save_policy(values["insurance"], user=self.user).id
            if "plans" in values:
                plan_id = self.repo.save_plan(values["plans"], user=self.user).id
            for bucket, cents in values.get("prior", {}).items():
                self.repo.set_prior_kx(self.patient_id, self.today.year, bucket, cents,
                                       user=self.user)
        except (StorageError, BillingError) as exc:
            self._say(f"Not saved: {exc}", ok=False)
            return False
        self.saved_any = True
        self.load(policy_id or (self._policy.id if self._policy else None),
                  plan_id or (self._plan.id if self._plan else None))
        self._say("Saved.", ok=True)
        return True

    def _say(self, text: str, ok: bool) -> None:
        colour = "#065f46" if ok else style.ERROR_INK
        self.message.setStyleSheet(f"color: {colour}; font-weight: 700;")
        self.message.setText(text)

    # -- closing ------------------------------------------------------------------------------

    @classmethod
    def ask_discard(cls, parent: QWidget | None, what: str) -> bool:
        """Asks whether unsaved changes may be dropped (tests replace this)."""
        answer = QMessageBox.question(
            parent, "Unsaved changes", f"Discard the unsaved changes to {what}?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Discard

    def reject(self) -> None:
        """Close (or Escape): asks first when edits are unsaved."""
        if self._dirty and not type(self).ask_discard(self, self.heading.text() or
                                                      "this patient"):
            return
        self._dirty.clear()
        super().reject()

    @classmethod
    def edit(cls, repo, patient_id: int, parent: QWidget | None = None,
             user: str | None = None, today: date | None = None) -> bool:
        """Shows the editor modally; True when anything was saved (tests replace this)."""
        dialog = cls(repo, patient_id, parent, user, today)
        dialog.exec()
        return dialog.saved_any

