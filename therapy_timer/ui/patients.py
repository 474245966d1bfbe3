"""The patient editor: details, insurance, plans of care and prior therapy spend this year.

Quick-add (``ui/today.py``) stores a name and a date of birth; this dialog adds the rest a
superbill and the billing rules need. One Save button checks every changed section first: a bad
value is refused with a message naming it and nothing is written. Closing with unsaved edits
asks first through ``PatientDialog.ask_discard`` (tests replace it), as does switching to
another policy or plan while the form holds unsaved edits.

Public API: ``PatientDialog(repo, patient_id, parent=None, user=None, today=None)`` with the
sections ``details``, ``insurance``, ``plans``, ``prior`` (``tabs`` is the QTabWidget) and
``save() -> bool``; ``PatientDialog.edit(repo, patient_id, parent=None, user=None, today=None,
on_visit=None) -> bool`` shows it modally and says whether anything was saved. "Visit
history..." lists the patient's visits of every day; the one picked closes the editor and is
handed to ``on_visit((action, visit_id))``. A plan of care keeps its diagnoses
(``ui/plan_diagnoses.py``): each new visit under it starts with them. The fields and their checks
live in ``ui/patient_fields.py`` (``parse_day(text, what)`` reads MM/DD/YYYY or YYYY-MM-DD).
"""

from __future__ import annotations

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
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.model import BillingError, Discipline
from therapy_timer.core.records import InsurancePolicy, PlanOfCare
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import (
    pyside_guard,  # noqa: F401  (before any Qt call)
    style,
)
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.models import money
from therapy_timer.ui.patient_fields import (
    BUCKETS,
    PRIORITIES,
    RELATIONSHIPS,
    SEXES,
    PatientChecks,
    Refused,
    caption,
    combo,
    form_layout,
    form_row,
    item_list,
    line_edit,
    us_date,
)
from therapy_timer.ui.plan_diagnoses import PlanDiagnosesField
from therapy_timer.ui.plan_referral import PlanReferral
from therapy_timer.ui.settings import confirm_note, dollars
from therapy_timer.ui.settings_payers import kx_note


class PatientDialog(PatientChecks, QDialog):
    """Everything the clinic keeps about one patient, in four tabs and one Save."""

    def __init__(self, repo, patient_id: int, parent: QWidget | None = None,
                 user: str | None = None, today: date | None = None) -> None:
        super().__init__(parent)
        self.repo = repo
        self.patient_id = patient_id
        self.user = user
        self.today = today or date.today()
        self.saved_any = False
        self.chosen_visit: tuple[str, int] | None = None  # picked in the visit history
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
        self.history_button = QPushButton("Visit history\u2026")
        self.history_button.setMinimumHeight(style.TOUCH - 8)
        self.history_button.setAccessibleName("The patient's visit history")
        self.history_button.clicked.connect(self.show_history)
        footer = QHBoxLayout()
        footer.addWidget(self.history_button, 0, Qt.AlignmentFlag.AlignBottom)
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
        self.last = line_edit(name="Last name")
        self.first = line_edit(name="First name")
        self.birth = line_edit("MM/DD/YYYY", "Date of birth")
        self.sex = combo(SEXES, "Sex")
        self.address = QPlainTextEdit()
        self.address.setAccessibleName("Address")
        self.address.setPlaceholderText("Street\nCity, State ZIP")
        self.address.setTabChangesFocus(True)
        self.address.setFixedHeight(76)
        self.phone = line_edit("e.g. (555) 010-0199", "Phone")
        self.chart = line_edit("the clinic's chart or account number", "Chart number")
        form = form_layout()
        page.setLayout(form)
        for label, widget in (("Last name", self.last), ("First name", self.first),
                              ("Date of birth", self.birth), ("Sex", self.sex),
                              ("Address", self.address), ("Phone", self.phone),
                              ("Chart number", self.chart)):
            form_row(form, label, widget)
        self._watch("details", self.last, self.first, self.birth, self.sex, self.address,
                    self.phone, self.chart)
        return page

    def _build_insurance(self) -> QWidget:
        page = QWidget()
        self.policy_list = item_list("Policies")
        self.new_policy = QPushButton("New policy")
        self.payer = QComboBox()
        self.payer.setAccessibleName("Payer")
        self.member_id = line_edit("as on the insurance card", "Member ID")
        self.group = line_edit("optional", "Group number")
        self.subscriber = line_edit("empty = the patient", "Subscriber")
        self.relationship = combo([(r, r.capitalize()) for r in RELATIONSHIPS],
                                   "Patient's relationship to the subscriber")
        self.priority = combo(PRIORITIES, "Priority")
        self.no_payers = caption("No payers yet: add them in Settings → Payers first.")
        form = form_layout()
        for label, widget in (("Payer", self.payer), ("Member ID", self.member_id),
                              ("Group number", self.group), ("Subscriber", self.subscriber),
                              ("Relationship", self.relationship), ("Priority", self.priority)):
            form_row(form, label, widget)
        self.policy_list.currentItemChanged.connect(self._policy_picked)
        self.new_policy.clicked.connect(lambda: self._pick_new(self.policy_list, "insurance"))
        self._watch("insurance", self.payer, self.member_id, self.group, self.subscriber,
                    self.relationship, self.priority)
        return self._list_page(page, self.policy_list, self.new_policy, form, self.no_payers)

    def _build_plans(self) -> QWidget:
        page = QWidget()
        self.plan_list = item_list("Plans of care")
        self.new_plan = QPushButton("New plan")
        self.discipline = combo([(d.value, d.value) for d in Discipline], "Discipline")
        self.therapist = QComboBox()
        self.therapist.setAccessibleName("Certifying therapist")
        self.plan_start = line_edit("MM/DD/YYYY", "Plan start")
        self.plan_through = line_edit("MM/DD/YYYY (optional)", "Certified through")
        self.visits = line_edit("optional", "Visits authorized")
        form = form_layout()
        for label, widget in (("Discipline", self.discipline), ("Therapist", self.therapist),
                              ("Start", self.plan_start), ("Certified through", self.plan_through),
                              ("Visits authorized", self.visits)):
            form_row(form, label, widget)
        self.plan_diagnoses = PlanDiagnosesField()  # each new visit starts with them
        form_row(form, "Diagnoses", self.plan_diagnoses)
        self.plan_diagnoses.changed.connect(
            lambda _codes: self._loading or self._dirty.add("plans"))
        self.referral = PlanReferral(form)  # referring provider, NPI, onset (superbill)
        self._watch("plans", *self.referral.widgets)
        note = caption("The plan's discipline decides the GP / GO / GN modifier and counts "
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
        form = form_layout()
        for bucket, label in BUCKETS:
            edit = line_edit("0.00", f"Prior {bucket} spend in dollars")
            edit.setMaximumWidth(180)
            self.prior_edits[bucket] = edit
            form_row(form, f"{label} ($)", edit)
        self.kx_total = caption("")
        layout = QVBoxLayout(page)
        intro = QLabel(f"Medicare-allowed amounts for therapy this patient had at other "
                       f"providers in {year}. They count toward the KX threshold together with "
                       "this clinic's own visits. Leave empty when there were none.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.kx_total)
        layout.addWidget(confirm_note(kx_note(year, self.repo.kx_thresholds())))
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
        self._prior = self.repo.prior_kx(self.patient_id, year)
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
        self.plan_diagnoses.set_codes(plan.diagnoses if plan else ())
        self.referral.show(plan)
        self._loading = was
        self._dirty.discard("plans")

    def _check_plan(self) -> PlanOfCare:
        """The plan as typed (``PatientChecks``), with its referral and onset."""
        return self.referral.apply(super()._check_plan(), self.today)

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

    # -- the visit history --------------------------------------------------------------------

    def show_history(self) -> None:
        """The patient's visits of every day; the one picked closes the editor (asking first
        when edits are unsaved) so the main window can open it."""
        from therapy_timer.ui.visit_history import VisitHistoryDialog

        chosen = VisitHistoryDialog.ask(self.repo, self.today, self.patient_id, self)
        if chosen is None:
            return
        self.chosen_visit = chosen
        self.reject()
        if self._dirty:  # the user kept the unsaved edits: stay here
            self.chosen_visit = None

    # -- closing ------------------------------------------------------------------------------

    @classmethod
    def ask_discard(cls, parent: QWidget | None, what: str) -> bool:
        """Asks whether unsaved changes may be dropped (tests replace this)."""
        return Ask.discard(parent, what)

    def reject(self) -> None:
        """Close (or Escape): asks first when edits are unsaved."""
        if self._dirty and not type(self).ask_discard(self, self.heading.text() or
                                                      "this patient"):
            return
        self._dirty.clear()
        super().reject()

    @classmethod
    def edit(cls, repo, patient_id: int, parent: QWidget | None = None,
             user: str | None = None, today: date | None = None,
             on_visit: Callable[[tuple[str, int]], None] | None = None) -> bool:
        """Shows the editor modally; True when anything was saved (tests replace this).
        A visit picked in its history goes to ``on_visit`` after the editor closed."""
        dialog = cls(repo, patient_id, parent, user, today)
        dialog.exec()
        if dialog.chosen_visit is not None and on_visit is not None:
            on_visit(dialog.chosen_visit)
        return dialog.saved_any

