"""Today's visits, and starting one: pick a patient as you type, or quick-add one.

The page lists the day's visits (time, patient, provider, discipline, status, units) and emits
``visit_chosen(visit_id)`` when the clinician starts a new visit or resumes an open one. Visits
of other days are reached from here too: the selected patient's visit history and the list of
open visits of any day (``ui/visit_history.py``); a visit picked there is opened the same way
(``visit_chosen``), or its superbill shown (``superbill_chosen(visit_id)``). Starting a patient
whose visit of an earlier day is still open asks first whether to finish that one.
"""

from __future__ import annotations

import logging
from datetime import date

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.formats import format_date, format_weekday_date
from therapy_timer.core.model import BillingError
from therapy_timer.core.records import Patient, VisitStatus, VisitSummary
from therapy_timer.core.validation import ValidationError, parse_birth_date
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import (
    pyside_guard,  # noqa: F401  (before any Qt call)
    style,
)
from therapy_timer.ui.clock import screen_time
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.models import Column, RowsModel, records_table

log = logging.getLogger(__name__)
DOT = " \u00b7 "
#: Per workstation (QSettings): the provider this station started a visit with last.
PROVIDER_KEY = "station/provider_id"


def _time(summary: VisitSummary) -> str:
    moment = summary.visit.session_start or summary.visit.created_at
    return screen_time(moment) if moment else ""


def _status(summary: VisitSummary) -> str:
    if summary.time_to_confirm:  # the clock jumped while a timer ran: open it to answer
        return "check time" + (" (running)" if summary.running else "")
    if summary.running:
        return "running"
    if summary.visit.paused_codes:  # stored with the pause; Resume restarts these codes
        return "paused"
    return summary.status.value


class QuickAddPatient(QDialog):
    """The few fields needed to start timing a new patient (the front desk adds the rest)."""

    def __init__(self, parent: QWidget | None = None, text: str = "",
                 today: date | None = None) -> None:
        super().__init__(parent)
        self.today = today or date.today()
        self.setWindowTitle("Quick-add a patient")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        parts = text.replace(",", " ").split()
        self.first = QLineEdit(parts[1] if len(parts) > 1 else "")
        self.first.setAccessibleName("First name")
        self.last = QLineEdit(parts[0] if parts else "")
        self.last.setAccessibleName("Last name")
        # Typed, never pre-filled: a default date would end up on superbills unnoticed.
        self.birth = QLineEdit()
        self.birth.setPlaceholderText("MM/DD/YYYY")
        self.birth.setAccessibleName("Date of birth")
        form.addRow("Last name", self.last)
        form.addRow("First name", self.first)
        form.addRow("Date of birth", self.birth)
        layout.addLayout(form)
        self.error = QLabel("")
        self.error.setStyleSheet(f"color: {style.ERROR_INK}; font-weight: 600;")
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._check)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def patient(self) -> Patient:
        return Patient(first_name=self.first.text().strip(), last_name=self.last.text().strip(),
                       birth_date=parse_birth_date(self.birth.text(), self.today))

    def _check(self) -> None:
        if not self.first.text().strip() or not self.last.text().strip():
            self.error.setText("Enter the patient's first and last name.")
            return
        try:
            parse_birth_date(self.birth.text(), self.today)
        except ValidationError as exc:
            self.error.setText(f"Date of birth: {exc}.")
            self.birth.setFocus()
            return
        self.accept()

    @classmethod
    def ask(cls, parent: QWidget | None, text: str = "",
            today: date | None = None) -> Patient | None:
        dialog = cls(parent, text, today)
        return dialog.patient() if dialog.exec() == QDialog.DialogCode.Accepted else None


class TodayPage(QWidget):
    """Today's list and the start-a-visit box."""

    visit_chosen = Signal(int)
    superbill_chosen = Signal(int)

    def __init__(self, repo, clock, parent: QWidget | None = None, settings=None) -> None:
        super().__init__(parent)
        self.repo = repo
        self.clock = clock
        if settings is None:
            from therapy_timer.ui.settings import app_settings

            settings = app_settings()
        self.settings = settings  # this workstation's: the provider it started with last
        self.user: str | None = None  # who is at the keyboard (audit); the provider if unset
        self.setAccessibleName("Today")
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(120)
        self._search_timer.timeout.connect(self.run_search)
        self._build()

    def _build(self) -> None:
        outer = QHBoxLayout(self)
        outer.setContentsMargins(20, 16, 20, 16)
        outer.setSpacing(20)

        left = QVBoxLayout()
        self.heading = QLabel("Today")
        self.heading.setProperty("role", "title")
        left.addWidget(self.heading)
        self.model = RowsModel([
            Column("Time", _time),
            Column("Patient", lambda s: s.patient_name),
            Column("Provider", lambda s: s.provider_name),
            Column("Discipline", lambda s: s.discipline.value),
            Column("Status", _status),
            Column("Units", lambda s: s.units, Qt.AlignmentFlag.AlignRight
                   | Qt.AlignmentFlag.AlignVCenter),
        ], parent=self)
        self.table = records_table(self.model, "Today's visits", stretch=1)
        self.table.verticalHeader().setDefaultSectionSize(44)
        self.table.setObjectName("todayVisits")  # larger type: see style.APP_STYLE
        self.table.doubleClicked.connect(lambda index: self.open_row(index.row()))
        left.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.empty = QLabel("")
        self.empty.setProperty("role", "subtitle")
        row.addWidget(self.empty, 1)
        self.open_button = QPushButton("Open visit")
        self.open_button.setMinimumHeight(style.TOUCH)
        self.open_button.setAccessibleName("Open or resume the selected visit")
        self.open_button.clicked.connect(self.open_selected)
        row.addWidget(self.open_button)
        left.addLayout(row)
        # Visits of other days: the open ones of any day, and a word when some were left
        # open on an earlier day (their own row: the window may be narrow).
        others = QHBoxLayout()
        self.earlier = QLabel("")
        self.earlier.setWordWrap(True)
        self.earlier.setStyleSheet(f"color: {style.ERROR_INK}; font-weight: 600;")
        others.addWidget(self.earlier, 1)
        self.open_visits_button = QPushButton("Open visits\u2026")
        self.open_visits_button.setMinimumHeight(style.TOUCH)
        self.open_visits_button.setAccessibleName("Open visits of every day")
        self.open_visits_button.setToolTip("Visits not finalized yet, of any day, oldest first: "
                                           "finish and finalize one left open")
        self.open_visits_button.clicked.connect(self.show_open_visits)
        others.addWidget(self.open_visits_button)
        left.addLayout(others)
        outer.addLayout(left, 3)

        right = QVBoxLayout()
        box_title = QLabel("Start a visit")
        box_title.setProperty("role", "title")
        right.addWidget(box_title)
        right.addWidget(self._caption("Provider"))
        self.provider = QComboBox()
        self.provider.setAccessibleName("Provider")
        self.provider.activated.connect(self.remember_provider)
        self.provider.setMinimumHeight(style.TOUCH - 8)
        right.addWidget(self.provider)
        right.addWidget(self._caption("Patient"))
        self.search = QLineEdit()
        self.search.setPlaceholderText("Type a name or chart number")
        self.search.setAccessibleName("Find a patient")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumHeight(style.TOUCH - 8)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.search.returnPressed.connect(self.start_selected)
        right.addWidget(self.search)
        self.results = QListWidget()
        self.results.setAccessibleName("Matching patients")
        self.results.setObjectName("patientMatches")  # touch-sized rows: style.APP_STYLE
        # A narrow window wraps a match (name, birth date, chart number) rather than hiding
        # its end behind a sideways scroll: the chart number tells namesakes apart.
        self.results.setWordWrap(True)
        self.results.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.results.itemDoubleClicked.connect(lambda _i: self.start_selected())
        self.results.currentItemChanged.connect(lambda *_a: self._update_edit_button())
        right.addWidget(self.results, 1)
        patient_buttons = QHBoxLayout()
        self.quick_add = QPushButton("Quick-add patient")
        self.quick_add.setMinimumHeight(style.TOUCH)
        self.quick_add.setAccessibleName("Quick-add a patient")
        self.quick_add.clicked.connect(self.add_patient)
        patient_buttons.addWidget(self.quick_add)
        self.edit_button = QPushButton("Edit patient\u2026")
        self.edit_button.setMinimumHeight(style.TOUCH)
        self.edit_button.setAccessibleName("Edit the selected patient's details and insurance")
        self.edit_button.setToolTip("Details, insurance, plans of care and prior therapy spend")
        self.edit_button.setEnabled(False)
        self.edit_button.clicked.connect(self.edit_selected)
        patient_buttons.addWidget(self.edit_button)
        self.history_button = QPushButton("History\u2026")
        self.history_button.setMinimumHeight(style.TOUCH)
        self.history_button.setAccessibleName("The selected patient's visit history")
        self.history_button.setToolTip("Every visit of the patient, of every day: finish, "
                                       "finalize, amend or print one")
        self.history_button.setEnabled(False)
        self.history_button.clicked.connect(self.history_selected)
        right.addLayout(patient_buttons)
        buttons = QHBoxLayout()
        buttons.addWidget(self.history_button)
        self.start_button = QPushButton("Start visit")
        self.start_button.setMinimumHeight(style.TOUCH)
        self.start_button.setAccessibleName("Start a visit for the selected patient")
        style.polish(self.start_button, primary=True)
        self.start_button.clicked.connect(self.start_selected)
        buttons.addWidget(self.start_button)
        right.addLayout(buttons)
        outer.addLayout(right, 2)

    @staticmethod
    def _caption(text: str) -> QLabel:
        label = QLabel(text)
        label.setProperty("role", "caption")
        return label

    # -- data ---------------------------------------------------------------------------------

    def today(self) -> date:
        """The clinic's calendar day now (the practice's time zone when it has one)."""
        return self.repo.service_day(self.clock.now())

    def refresh(self) -> None:
        """Re-reads providers, today's visits and the patient list."""
        now = self.clock.now()
        day = self.repo.service_day(now)
        self.heading.setText(f"Today · {format_weekday_date(day, long=True)}")
        current = self.provider.currentData()
        self.provider.clear()
        providers = self.repo.list_providers()
        for provider in providers:
            role = provider.role.value
            shown = provider.name if provider.name.rstrip().endswith(role) else (
                f"{provider.name} ({role})")
            self.provider.addItem(shown, provider.id)
        if current is None:  # first fill: the provider this station used last
            current = self._remembered_provider()
        if current is None:  # a new station: a therapist (who owns the visit), not an assistant
            current = next((p.id for p in providers if not p.is_assistant), None)
        if current is not None:
            index = self.provider.findData(current)
            if index >= 0:
                self.provider.setCurrentIndex(index)
        self._show_visits(day, now)
        self.run_search()

    def _show_visits(self, day: date, now) -> None:
        visits = list(self.repo.visits_on(day, now))  # units so far: the app's clock
        self.model.set_rows(visits)
        self.empty.setText("" if visits else "No visits yet today: start one on the right.")
        self._show_open_count(day)

    def refresh_live(self, patients: bool = False) -> None:
        """Another station changed the day (``ui/station/live.py``): today's visits again,
        the selected visit and the scroll position kept; ``patients``: the matching patients
        too (a name changed), the chosen one kept."""
        from therapy_timer.ui.station.views import kept_place

        now = self.clock.now()
        with kept_place(self.table, lambda s: s.visit.id):
            self._show_visits(self.repo.service_day(now), now)
        if patients:
            chosen = self.selected_patient_id()
            self.run_search()
            if chosen is not None:
                self._select_patient(chosen)

    def _remembered_provider(self) -> int | None:
        try:
            value = self.settings.value(PROVIDER_KEY)
            return int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None

    def remember_provider(self, _index: int = -1) -> None:
        """The provider chosen here is the one this station offers first from now on."""
        provider_id = self.provider.currentData()
        if provider_id is not None:
            self.settings.setValue(PROVIDER_KEY, int(provider_id))
            self.settings.sync()

    def run_search(self) -> None:
        self._search_timer.stop()
        self.results.clear()
        try:
            patients = self.repo.search_patients(self.search.text().strip(), limit=30)
        except StorageError as exc:
            log.warning("patient search failed: %s", exc)
            return
        for patient in patients:
            label = patient.display_name
            if patient.birth_date:
                label += f"   born {format_date(patient.birth_date)}"
            if patient.chart_number:
                label += f"   #{patient.chart_number}"
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, patient.id)
            self.results.addItem(item)
        if self.results.count():
            self.results.setCurrentRow(0)
        else:
            text = self.search.text().strip()
            item = QListWidgetItem(f"No patient matches \u201c{text}\u201d: use Quick-add patient."
                                   if text else "No patients yet: use Quick-add patient.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.results.addItem(item)

    def _show_open_count(self, day: date) -> None:
        """The open visits of every day on the button; red when some are of earlier days."""
        try:
            entries = self.repo.open_visit_list()
        except StorageError as exc:
            log.warning("open visits not read: %s", exc)
            return
        earlier = sum(1 for e in entries if e.day < day)
        self.open_visits_button.setText(f"Open visits ({len(entries)})\u2026")
        if earlier == 1:
            notice = "1 visit of an earlier day is still open: finish and finalize it."
        elif earlier:
            notice = f"{earlier} visits of earlier days are still open: finish and finalize them."
        else:
            notice = ""
        self.earlier.setText(notice)
        self.open_visits_button.setToolTip(
            (notice + " " if notice else "") + "Visits not finalized yet, of any day, oldest "
            "first.")
        style.polish(self.open_visits_button, danger=bool(earlier))

    def set_provider(self, provider_id: int) -> None:
        index = self.provider.findData(provider_id)
        if index >= 0:
            self.provider.setCurrentIndex(index)

    # -- intent -------------------------------------------------------------------------------

    def add_patient(self) -> None:
        patient = QuickAddPatient.ask(self, self.search.text(), self.clock.now().date())
        if patient is None:
            return
        try:
            saved = self.repo.save_patient(patient)
        except (StorageError, BillingError) as exc:
            Ask.warn(self, "Patient not saved", str(exc))
            return
        self.search.setText(saved.last_name)
        self.run_search()
        self._select_patient(saved.id)
        if Ask.confirm(self, "Patient added",
                       f"{saved.display_name} is added. Enter the rest now (sex, address, "
                       "phone, insurance, plan of care)? The superbill needs them.",
                       yes="Edit patient", no="Later"):
            self.edit_patient(saved.id)

    def _select_patient(self, patient_id: int) -> None:
        for row in range(self.results.count()):
            if self.results.item(row).data(Qt.ItemDataRole.UserRole) == patient_id:
                self.results.setCurrentRow(row)

    def selected_patient_id(self) -> int | None:
        item = self.results.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def _update_edit_button(self) -> None:
        self.edit_button.setEnabled(self.selected_patient_id() is not None)
        self.history_button.setEnabled(self.selected_patient_id() is not None)

    def edit_selected(self) -> None:
        patient_id = self.selected_patient_id()
        if patient_id is None:
            Ask.warn(self, "No patient", "Pick a patient from the list first.")
            return
        self.edit_patient(patient_id)

    def edit_patient(self, patient_id: int) -> None:
        """Opens the patient editor; afterwards the list shows what was saved."""
        from therapy_timer.ui.patients import PatientDialog

        user = self.user or self.provider.currentText() or None
        if PatientDialog.edit(self.repo, patient_id, parent=self, user=user,
                              today=self.today(), on_visit=self.open_chosen):
            self.run_search()
            self._select_patient(patient_id)

    # -- visits of other days -----------------------------------------------------------------

    def history_selected(self) -> None:
        patient_id = self.selected_patient_id()
        if patient_id is None:
            Ask.warn(self, "No patient", "Pick a patient from the list first.")
            return
        self.show_history(patient_id)

    def show_history(self, patient_id: int) -> None:
        """The patient's visits of every day; the one picked opens (or shows its superbill)."""
        from therapy_timer.ui.visit_history import VisitHistoryDialog

        self.open_chosen(VisitHistoryDialog.ask(self.repo, self.today(), patient_id, self))

    def show_open_visits(self) -> None:
        """Every open visit of any day, oldest first; the one picked opens."""
        from therapy_timer.ui.visit_history import VisitHistoryDialog

        self.open_chosen(VisitHistoryDialog.ask(self.repo, self.today(), None, self))

    def open_chosen(self, chosen: tuple[str, int] | None) -> None:
        """Opens what a visit list returned: ``(action, visit_id)``, or nothing for None."""
        from therapy_timer.ui.visit_history import SUPERBILL

        if chosen is None:
            return
        action, visit_id = chosen
        if action == SUPERBILL:
            self.superbill_chosen.emit(visit_id)
        else:
            self.visit_chosen.emit(visit_id)

    def start_selected(self) -> None:
        item = self.results.currentItem()
        if item is None or item.data(Qt.ItemDataRole.UserRole) is None:
            Ask.warn(self, "No patient", "Pick a patient from the list, or quick-add one.")
            return
        self.start_for(item.data(Qt.ItemDataRole.UserRole))

    def start_for(self, patient_id: int) -> int | None:
        """Starts (or resumes) a visit for ``patient_id`` with the chosen provider."""
        provider_id = self.provider.currentData()
        if provider_id is None:
            Ask.warn(self, "No provider", "Add a provider in Settings first.")
            return None
        self.remember_provider()
        try:
            provider = self.repo.get_provider(provider_id)
            open_visit = next((v for v in self.repo.open_visits()
                               if v.patient_id == patient_id and v.day == self.today()), None)
            if open_visit is not None:
                self.visit_chosen.emit(open_visit.id)
                return open_visit.id
            earlier = self.repo.open_visits_before(patient_id, self.today())
            if earlier:
                answer = self._ask_about_earlier(earlier)
                if answer is None:
                    return None
                if answer == 0:  # finish that one first: it opens with its recorded time
                    self.visit_chosen.emit(earlier[0].visit.id)
                    return earlier[0].visit.id
            # The plan in force today (its diagnoses are the new visit's first list).
            plan = self.repo.current_plan(patient_id, provider.discipline, self.today())
            plan_id = plan.id if plan else None
            visit = self.repo.start_visit(patient_id, provider_id, plan_id, self.clock.now())
        except (StorageError, BillingError) as exc:
            Ask.warn(self, "Visit not started", str(exc))
            return None
        self.refresh()
        self.visit_chosen.emit(visit.id)
        return visit.id

    def _ask_about_earlier(self, earlier) -> int | None:
        """0: finish the oldest open visit first; 1: start a new visit today; None: cancel."""
        old = earlier[0]
        day = f"{old.day:%m/%d/%Y}"
        more = len(earlier) - 1
        details = ["running" if old.running else "paused"] if (
            old.running or old.visit.paused_codes) else []
        if old.visit.amends_id:
            details.append("an amendment")
        details += [old.visit.discipline.value, old.provider_name]
        text = (f"{old.patient_name} has a visit of {day} that is still open "
                f"({DOT.join(details)})"
                + (f", and {more} more of earlier days (see Open visits)" if more else "")
                + f". Its recorded time bills under {day}: finish and finalize it, then "
                "start today's visit. A new visit today times today's treatment on its own.")
        return Ask.buttons(self, "An earlier visit is still open", text,
                           [f"Finish that visit ({day}) first", "Start a new visit today"])

    def open_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            Ask.warn(self, "No visit selected", "Select a visit in the list first.")
            return
        self.open_row(rows[0].row())

    def open_row(self, row: int) -> None:
        summary: VisitSummary = self.model.row(row)
        self.visit_chosen.emit(summary.visit.id)

    def open_visit_ids(self) -> list[int]:
        return [s.visit.id for s in self.model.rows() if s.status is VisitStatus.OPEN]
