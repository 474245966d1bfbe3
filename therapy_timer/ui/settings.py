"""Settings: practice, providers, payers, fee schedule, favourite tiles and auto-lock.

Each tab saves on its own "Save" button; a bad value is refused with a message naming it (an
NPI that fails its check digit, an amount that is not dollars, ...) and nothing is written.
Facts that rest on secondary or unverified sources (a payer's unit rule, the KX threshold,
catalog rows marked S/U) are shown with a note asking the clinic to confirm them.

Public API:

* ``SettingsDialog(repo, parent=None, user=None, settings=None)``; ``SettingsDialog.edit(repo,
  parent=None, user=None)`` shows it modally. Tabs: ``practice``, ``providers``, ``payers``,
  ``fees``, ``codes``, ``tiles``, ``rules`` (Rule data: ui/settings_rules.py), ``workstation``
  attributes (``tabs`` is the QTabWidget); ``station`` (where the data is and the station's
  name: ui/station/this_computer.py) sits at the top of the ``workstation`` tab.
* ``app_settings(settings=None) -> QSettings`` (organisation "TherapyTimer", app
  "therapy-timer"), ``lock_minutes(settings=None) -> int`` (0 = never; default 10),
  ``set_lock_minutes(minutes, settings=None)``.
* ``parse_dollars(text) -> int`` cents; raises ``ValueError`` naming the text.

Favourite tiles live in the database (``repo.favourite_codes``/``repo.set_favourite_codes``),
so every workstation shows a provider the same tiles.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import cache

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.model import BillingError
from therapy_timer.core.records import Practice
from therapy_timer.core.validation import validate_npi, validate_taxonomy
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.dialogs import Ask

ORG, APP = "TherapyTimer", "therapy-timer"
LOCK_KEY = "lock/idle_minutes"
DEFAULT_LOCK_MINUTES = 10
MAX_LOCK_MINUTES = 240
#: What a PIN does, in plain words (the "This computer" and Providers tabs say it).
PIN_PROTECTS = (
    "What the PIN protects: once any provider has a PIN, the locked screen opens only with a "
    "PIN, and whoever unlocks is the person the audit log names for everything done next. A "
    "provider without a PIN cannot unlock then; set one on the Providers tab. Closing the app "
    "while it is locked does not get around it: it starts locked on this computer. Without "
    "any PIN, anyone can unlock by picking a name. The PIN guards this screen only: it does "
    "not encrypt the database file.")
CONFIRM_STYLE = "color: #7c4a00; background: #fff4d6; padding: 6px; border-radius: 4px;"


def app_settings(settings: QSettings | None = None) -> QSettings:
    """The app's per-workstation settings (the same store the main window uses)."""
    return settings if settings is not None else QSettings(ORG, APP)


def lock_minutes(settings: QSettings | None = None) -> int:
    """Idle minutes before the screen locks (0 = never)."""
    value = app_settings(settings).value(LOCK_KEY, DEFAULT_LOCK_MINUTES)
    try:
        return max(0, min(MAX_LOCK_MINUTES, int(value)))
    except (TypeError, ValueError):
        return DEFAULT_LOCK_MINUTES


def set_lock_minutes(minutes: int, settings: QSettings | None = None) -> None:
    store = app_settings(settings)
    store.setValue(LOCK_KEY, int(minutes))
    store.sync()


def parse_dollars(text: str) -> int:
    """``"$1,234.50"`` -> 123450 cents (``core.fee_import.parse_money``: one rule for money).

    Raises:
        ValueError: the text is not a non-negative dollar amount (the message names it).
    """
    from therapy_timer.core.fee_import import parse_money

    return parse_money(text)


def dollars(cents: int) -> str:
    """123450 -> ``"1234.50"`` (for editing)."""
    return f"{cents // 100}.{cents % 100:02d}"


@cache
def time_zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


class Page(QWidget):
    """A settings tab: a form, its Save button and a message line.

    ``dirty`` is True once the user changed a watched field and has not saved; leaving the
    record (or closing the dialog) then asks first, through ``Page.ask_discard``.
    """

    title = "this tab"

    def __init__(self, repo, user: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.repo = repo
        self.user = user
        self.dirty = False
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setObjectName("settingsMessage")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)

    def footer(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(self.message, 1)
        row.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignBottom)
        return row

    def ok(self, text: str) -> None:
        self.message.setStyleSheet("color: #065f46; font-weight: 600;")
        self.message.setText(text)

    def error(self, text: str) -> None:
        self.message.setStyleSheet("color: #a40000; font-weight: 700;")
        self.message.setText(text)

    def checked_npi(self, field: QLineEdit, label: str = "") -> str | None:
        """The NPI typed in ``field`` ("" when empty), or None after showing why it is wrong
        (``label`` names which NPI: "Group NPI")."""
        text = field.text().strip()
        try:
            return validate_npi(text) if text else ""
        except BillingError as exc:
            self.error(f"{label}: {exc}." if label else f"{exc}.")
            return None

    def checked_taxonomy(self, field: QLineEdit) -> str | None:
        """The taxonomy code typed in ``field`` (upper-cased; "" when empty), or None after
        showing why it is wrong: 10 letters and digits ending in X."""
        text = field.text().strip()
        try:
            return validate_taxonomy(text) if text else ""
        except BillingError as exc:
            self.error(f"Taxonomy: {exc}.")
            return None

    def save(self) -> bool:  # pragma: no cover - every page overrides it
        raise NotImplementedError

    @classmethod
    def ask_discard(cls, parent: QWidget | None, what: str) -> bool:
        """Asks whether unsaved changes may be dropped (tests replace this)."""
        return Ask.discard(parent, what)

    def may_leave(self) -> bool:
        """True when nothing is unsaved, or the user agrees to drop it."""
        if not self.dirty:
            return True
        if type(self).ask_discard(self, self.title):
            self.dirty = False
            return True
        return False

    def watch(self, *widgets: QWidget) -> None:
        """Marks the page dirty when the user edits any of ``widgets``."""
        for widget in widgets:
            for name in ("textEdited", "itemChanged", "activated", "clicked", "valueChanged",
                         "dateChanged", "textChanged"):
                signal = getattr(widget, name, None)
                if signal is not None and hasattr(signal, "connect"):
                    if name == "textChanged" and hasattr(widget, "textEdited"):
                        continue  # a line edit: only the user's edits count
                    signal.connect(self._mark_dirty)
                    break
            if isinstance(widget, QComboBox) and widget.isEditable():
                widget.lineEdit().textEdited.connect(self._mark_dirty)

    def _mark_dirty(self, *_args) -> None:
        self.dirty = True


def confirm_note(text: str) -> QLabel:
    """A visible "please confirm" note for facts from secondary or unverified sources."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setObjectName("confirmNote")
    label.setStyleSheet(CONFIRM_STYLE)
    return label


class RecordListPage(Page):
    """A page editing one record at a time, picked from a list (providers, payers).

    Subclasses give ``records()``, ``record_label(record)``, ``get_record(id)`` and
    ``show_record(record_or_None)``; selecting, "New ..." and reloading are shared, and
    leaving a record with unsaved edits asks first (``may_leave``).
    """

    def __init__(self, repo, user: str | None, parent: QWidget | None = None, *,
                 list_name: str, new_text: str) -> None:
        super().__init__(repo, user, parent)
        self.list = QListWidget()
        self.list.setAccessibleName(list_name)
        self.new_button = QPushButton(new_text)

    def connect_list(self) -> None:
        """Wires the list and the New button, then shows the first record (or a new one)."""
        self.list.currentItemChanged.connect(self._selected)
        self.new_button.clicked.connect(self.new_record)
        self.reload()
        if self.list.count():
            self.list.setCurrentRow(0)
        else:
            self.new_record()

    def records(self) -> list:
        raise NotImplementedError

    def record_label(self, record) -> str:
        raise NotImplementedError

    def get_record(self, record_id: int):
        raise NotImplementedError

    def show_record(self, record) -> None:
        raise NotImplementedError

    def reload(self, select: int | None = None) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for record in self.records():
            item = QListWidgetItem(self.record_label(record))
            item.setData(Qt.ItemDataRole.UserRole, record.id)
            self.list.addItem(item)
            if record.id == select:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def _selected(self, item: QListWidgetItem | None, previous=None) -> None:
        if item is None:
            return
        if not self.may_leave():
            self.list.blockSignals(True)
            self.list.setCurrentItem(previous)
            self.list.blockSignals(False)
            return
        self.show_record(self.get_record(item.data(Qt.ItemDataRole.UserRole)))

    def new_record(self) -> None:
        if not self.may_leave():
            return
        self.list.blockSignals(True)
        self.list.clearSelection()
        self.list.setCurrentRow(-1)
        self.list.blockSignals(False)
        self.show_record(None)


class PracticePage(Page):
    """The billing practice: name, address, phone, group NPI, Tax ID, taxonomy, time zone."""

    def __init__(self, repo, user: str | None, parent: QWidget | None = None) -> None:
        super().__init__(repo, user, parent)
        self.name = QLineEdit()
        self.address = QPlainTextEdit()
        self.address.setTabChangesFocus(True)
        self.address.setFixedHeight(72)
        self.phone = QLineEdit()
        self.npi = QLineEdit(placeholderText="10 digits, e.g. 1234567893")
        self.tax_id = QLineEdit(placeholderText="EIN, e.g. 12-3456789")
        self.taxonomy = QLineEdit(placeholderText="e.g. 225100000X (physical therapist)")
        self.timezone = QComboBox()
        self.timezone.setEditable(True)
        self.timezone.addItem("")
        self.timezone.addItems(time_zones())
        self.timezone.completer().setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.timezone.completer().setFilterMode(Qt.MatchFlag.MatchContains)
        self.timezone.lineEdit().setPlaceholderText("empty = this computer's zone")
        form = QFormLayout()
        for label, widget in (
            ("Practice name", self.name),
            ("Address", self.address),
            ("Phone", self.phone),
            ("Group NPI", self.npi),
            ("Tax ID", self.tax_id),
            ("Taxonomy", self.taxonomy),
            ("Time zone", self.timezone),
        ):
            widget.setAccessibleName(label)
            form.addRow(label, widget)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("The time zone decides which calendar day a visit belongs to."))
        self.list_bundled = QCheckBox("List Medicare-bundled codes (97010 hot/cold packs) on "
                                      "the superbill at $0.00")
        self.list_bundled.setAccessibleName("List Medicare-bundled codes at $0")
        bundled_help = QLabel("Medicare pays nothing separately for 97010: it is documented, "
                              "not billed. Tick this only if your billing service wants it "
                              "listed (1 unit, $0.00 charge).")
        bundled_help.setWordWrap(True)
        layout.addWidget(self.list_bundled)
        layout.addWidget(bundled_help)
        # The clinic administrator PIN resets a provider's PIN (Settings > Providers); once
        # set, it changes only with itself.
        self.admin_pin = QLineEdit(echoMode=QLineEdit.EchoMode.Password,
                                   placeholderText="4 to 12 digits; empty keeps it")
        self.admin_current = QLineEdit(echoMode=QLineEdit.EchoMode.Password,
                                       placeholderText="the administrator PIN now set")
        self.admin_state = QLabel()
        admin = QFormLayout()
        for label, widget in (("New administrator PIN", self.admin_pin),
                              ("Current administrator PIN", self.admin_current),
                              ("", self.admin_state)):
            widget.setAccessibleName(label or "Administrator PIN state")
            admin.addRow(label, widget)
        layout.addLayout(admin)
        layout.addStretch(1)
        layout.addLayout(self.footer())
        self.load()
        self.watch(self.name, self.address, self.phone, self.npi, self.tax_id, self.taxonomy,
                   self.timezone, self.list_bundled, self.admin_pin)

    title = "the practice details"

    def load(self) -> None:
        practice = self.repo.get_practice() or Practice("")
        self.name.setText(practice.name)
        self.address.setPlainText(practice.address)
        self.phone.setText(practice.phone)
        self.npi.setText(practice.npi)
        self.tax_id.setText(practice.tax_id)
        self.taxonomy.setText(practice.taxonomy)
        self.timezone.setCurrentText(practice.timezone)
        self.list_bundled.setChecked(practice.list_bundled)
        self._show_admin_pin()
        self.dirty = False

    def _show_admin_pin(self) -> None:
        has = self.repo.has_admin_pin()
        self.admin_pin.clear()
        self.admin_current.clear()
        self.admin_current.setEnabled(has)
        self.admin_state.setText(
            "An administrator PIN is set: it may reset any provider's PIN." if has else
            "No administrator PIN: a provider's PIN changes only with that PIN.")

    def save(self) -> bool:
        name = self.name.text().strip()
        if not name:
            self.error("The practice needs a name.")
            return False
        npi = self.checked_npi(self.npi, "Group NPI")
        if npi is None:
            return False
        tax_id = self.tax_id.text().strip()
        if tax_id and len(re.sub(r"\D", "", tax_id)) != 9:
            self.error(f"Tax ID {tax_id!r} must have 9 digits (EIN 12-3456789).")
            return False
        taxonomy = self.checked_taxonomy(self.taxonomy)
        if taxonomy is None:
            return False
        zone = self.timezone.currentText().strip()
        if zone and zone not in time_zones():
            self.error(f"Time zone {zone!r} is not a known zone (for example America/Chicago).")
            return False
        admin_pin = self.admin_pin.text().strip()
        if admin_pin and not (admin_pin.isdigit() and 4 <= len(admin_pin) <= 12):
            self.error("The administrator PIN must be 4 to 12 digits (no letters or spaces).")
            return False
        practice = Practice(name, self.address.toPlainText().strip(), self.phone.text().strip(),
                            npi, tax_id, taxonomy, zone,
                            list_bundled=self.list_bundled.isChecked())
        try:
            if admin_pin:  # first: a wrong current PIN saves nothing
                self.repo.set_admin_pin(admin_pin, self.admin_current.text().strip() or None,
                                        user=self.user)
            self.repo.save_practice(practice, user=self.user)
        except (StorageError, BillingError) as exc:  # each names the problem
            self.error(f"Not saved: {exc}")
            return False
        self._show_admin_pin()
        self.dirty = False
        self.ok("Practice details saved" + (" with a new administrator PIN." if admin_pin
                                            else "."))
        return True


class WorkstationPage(Page):
    """Settings of this computer: auto-lock after N idle minutes."""

    def __init__(self, repo, user: str | None, settings: QSettings | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(repo, user, parent)
        self.settings = settings
        self.lock_minutes = QSpinBox()
        self.lock_minutes.setRange(0, MAX_LOCK_MINUTES)
        self.lock_minutes.setSuffix(" min")
        self.lock_minutes.setSpecialValueText("never")
        self.lock_minutes.setAccessibleName("Auto-lock after idle minutes")
        self.lock_minutes.setValue(lock_minutes(settings))
        form = QFormLayout()
        form.addRow("Lock the screen after", self.lock_minutes)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        explain = QLabel(
            "When nobody touches this computer for that long, a lock screen hides patient "
            "names. Timers keep running while the screen is locked, and the lock screen shows "
            "them (codes, minutes and the countdown to the next unit, never a name). Ctrl+L or "
            "the Lock button locks at once.")
        explain.setWordWrap(True)
        layout.addWidget(explain)
        self.pin_explain = QLabel(PIN_PROTECTS)
        self.pin_explain.setObjectName("pinExplain")
        self.pin_explain.setWordWrap(True)
        layout.addWidget(self.pin_explain)
        layout.addStretch(1)
        layout.addLayout(self.footer())
        self.watch(self.lock_minutes)

    title = "the auto-lock setting"

    def save(self) -> bool:
        minutes = self.lock_minutes.value()
        set_lock_minutes(minutes, self.settings)
        self.dirty = False
        self.ok("Auto-lock turned off." if minutes == 0
                else f"The screen locks after {minutes} idle minutes.")
        return True


class SettingsDialog(QDialog):
    """All settings in tabs; each tab saves itself."""

    def __init__(self, repo, parent: QWidget | None = None, user: str | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__(parent)
        from therapy_timer.ui.settings_ncci import NcciEditsBox
        from therapy_timer.ui.settings_payers import FeesPage, PayersPage
        from therapy_timer.ui.settings_providers import ProvidersPage, TilesPage
        from therapy_timer.ui.settings_rates import CodesPage
        from therapy_timer.ui.settings_rules import RulesPage

        self.setWindowTitle("Settings")
        self.resize(900, 640)
        self.repo = repo
        self.tabs = QTabWidget()
        self.practice = PracticePage(repo, user)
        self.providers = ProvidersPage(repo, user)
        self.payers = PayersPage(repo, user)
        self.fees = FeesPage(repo, user)
        self.tiles = TilesPage(repo, user)
        self.codes = CodesPage(repo, user)
        self.workstation = WorkstationPage(repo, user, settings)
        # Where the data is and the station's name, at the top of "This computer".
        from therapy_timer.ui.station.this_computer import ThisComputerPage

        self.station = ThisComputerPage(repo, user, settings, window=parent)
        self.workstation.layout().insertWidget(0, self.station)
        self.rules = RulesPage(repo, user)
        for page, title in (
            (self.practice, "Practice"),
            (self.providers, "Providers"),
            (self.payers, "Payers"),
            (self.fees, "Fee schedule"),
            (self.codes, "Codes"),
            (self.tiles, "Favourite tiles"),
            (self.rules, "Rule data"),
            (self.workstation, "This computer"),
        ):
            self.tabs.addTab(page, title)
        # CMS's NCCI edits and MUEs sit on the Rule data tab, below the KX thresholds.
        self.ncci = NcciEditsBox(repo, user, getattr(parent, "worker", None))
        self.rules.add_section(self.ncci)
        self.providers.saved.connect(self.tiles.reload_providers)
        self.codes.saved.connect(self.fees.reload)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)

    def pages(self) -> list[Page]:
        return [self.tabs.widget(i) for i in range(self.tabs.count())]

    def reject(self) -> None:
        """Close (or Escape): asks first about each tab with unsaved changes."""
        if self.station.dirty:
            self.tabs.setCurrentWidget(self.workstation)
            if not self.station.may_leave():
                return
        for page in self.pages():
            if page.dirty:
                self.tabs.setCurrentWidget(page)
                if not page.may_leave():
                    return
        super().reject()

    @classmethod
    def edit(cls, repo, parent: QWidget | None = None, user: str | None = None) -> None:
        """Shows the dialog modally (what the main window's Settings menu calls)."""
        cls(repo, parent, user).exec()
