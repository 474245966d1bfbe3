"""Settings tabs for people: providers (with optional PIN) and each provider's favourite tiles.

Used by ``ui/settings.py``'s ``SettingsDialog``; not constructed on its own elsewhere.
Public names: ``ProvidersPage(repo, user)`` (signal ``saved``), ``TilesPage(repo, user)``.
"""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
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

from therapy_timer.core.codes import CodeKind, default_catalog
from therapy_timer.core.model import BillingError, Discipline, Performer
from therapy_timer.core.records import Provider
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.settings import Page, RecordListPage, confirm_note

MAX_TILES = 16
_ROLES = {
    Discipline.PT: (Performer.PT, Performer.PTA),
    Discipline.OT: (Performer.OT, Performer.OTA),
    Discipline.SLP: (Performer.SLP,),
}
_ROLE_NAMES = {
    Performer.PT: "Physical therapist (PT)",
    Performer.PTA: "PT assistant (PTA)",
    Performer.OT: "Occupational therapist (OT)",
    Performer.OTA: "OT assistant (OTA)",
    Performer.SLP: "Speech-language pathologist (SLP)",
}


def provider_label(provider: Provider) -> str:
    text = provider.name
    if provider.credentials and provider.credentials not in text:
        text += f", {provider.credentials}"
    if not provider.active:
        text += " (inactive)"
    return text


class ProvidersPage(RecordListPage):
    """Providers: name, credentials, discipline, therapist or assistant, NPI, license, PIN."""

    saved = Signal()

    def __init__(self, repo, user: str | None, parent: QWidget | None = None) -> None:
        super().__init__(repo, user, parent, list_name="Providers", new_text="New provider")
        self._current: Provider | None = None
        self.name = QLineEdit(placeholderText="e.g. Dana Reyes")
        self.credentials = QLineEdit(placeholderText="e.g. PT, DPT")
        self.discipline = QComboBox()
        for discipline in Discipline:
            self.discipline.addItem(discipline.value, discipline.value)
        self.role = QComboBox()
        self.npi = QLineEdit(placeholderText="10 digits (individual NPI)")
        self.license = QLineEdit(placeholderText="state license number")
        self.taxonomy = QLineEdit(placeholderText="e.g. 225100000X (physical therapist)")
        self.supervisor = QComboBox()
        self.active = QCheckBox("Active (listed for new visits)")
        self.pin = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.pin.setPlaceholderText("4 to 12 digits; empty keeps the current PIN")
        self.clear_pin = QCheckBox("Remove the PIN")
        # A PIN is its provider's: changing or removing one needs it (or the administrator's).
        self.current_pin = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.current_pin.setPlaceholderText("their PIN, or the clinic administrator PIN")
        self.pin_state = QLabel()
        form = QFormLayout()
        for label, widget in (
            ("Name", self.name),
            ("Credentials", self.credentials),
            ("Discipline", self.discipline),
            ("Role", self.role),
            ("NPI", self.npi),
            ("License", self.license),
            ("Taxonomy", self.taxonomy),
            ("Supervising therapist", self.supervisor),
            ("", self.active),
            ("New PIN", self.pin),
            ("", self.clear_pin),
            ("Current PIN", self.current_pin),
            ("", self.pin_state),
        ):
            widget.setAccessibleName(label or getattr(widget, "text", lambda: "")())
            form.addRow(label, widget)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        left.addWidget(self.new_button)
        right = QVBoxLayout()
        right.addLayout(form)
        pin_note = QLabel("Once any provider has a PIN, the lock screen opens only with a PIN "
                          "and names the one who unlocked in the audit log (more on This "
                          "computer). Only a salted hash of the PIN is stored.")
        pin_note.setWordWrap(True)
        right.addWidget(pin_note)
        right.addStretch(1)
        top = QHBoxLayout()
        top.addLayout(left, 2)
        top.addLayout(right, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addLayout(self.footer())

        self.discipline.currentIndexChanged.connect(self._discipline_changed)
        self.role.currentIndexChanged.connect(self._role_changed)
        self.connect_list()
        self.watch(self.name, self.credentials, self.discipline, self.role, self.npi,
                   self.license, self.supervisor, self.active, self.pin, self.clear_pin)
        self.watch(self.taxonomy)

    @property
    def title(self) -> str:
        return self._current.name if self._current else "the new provider"

    # -- list ---------------------------------------------------------------------------------

    def records(self) -> list:
        return self.repo.list_providers(include_inactive=True)

    def record_label(self, record) -> str:
        return provider_label(record)

    def get_record(self, record_id: int):
        return self.repo.get_provider(record_id)

    def show_record(self, record) -> None:
        self.show_provider(record)

    def show_provider(self, provider: Provider | None) -> None:
        self._current = provider
        p = provider or Provider("", Discipline.PT, Performer.PT)
        self.name.setText(p.name)
        self.credentials.setText(p.credentials)
        self.discipline.setCurrentIndex(self.discipline.findData(p.discipline.value))
        self._discipline_changed()
        self.role.setCurrentIndex(max(0, self.role.findData(p.role.value)))
        self._role_changed()
        self.supervisor.setCurrentIndex(max(0, self.supervisor.findData(p.supervisor_id)))
        self.npi.setText(p.npi)
        self.license.setText(p.license)
        self.taxonomy.setText(p.taxonomy)
        self.active.setChecked(p.active)
        self.pin.clear()
        self.clear_pin.setChecked(False)
        self.clear_pin.setEnabled(p.has_pin)
        self.current_pin.clear()
        self.current_pin.setEnabled(p.has_pin)
        self.pin_state.setText("A PIN is set." if p.has_pin else "No PIN set.")
        self.message.clear()
        self.dirty = False

    def _discipline_changed(self, *_args) -> None:
        discipline = self._discipline_value()
        previous = self.role.currentData()
        self.role.blockSignals(True)
        self.role.clear()
        for role in _ROLES[discipline]:
            self.role.addItem(_ROLE_NAMES[role], role.value)
        self.role.setCurrentIndex(max(0, self.role.findData(previous)))
        self.role.blockSignals(False)
        self._role_changed()

    def _role_changed(self, *_args) -> None:
        role = self._role_value()
        assistant = role is not None and role.is_assistant
        self.supervisor.clear()
        self.supervisor.addItem("(none)", None)
        if assistant:
            for provider in self.repo.list_providers():
                if not provider.is_assistant and provider.discipline is role.discipline:
                    self.supervisor.addItem(provider_label(provider), provider.id)
        self.supervisor.setEnabled(assistant)

    def _discipline_value(self) -> Discipline:
        return Discipline(self.discipline.currentData() or "PT")

    def _role_value(self) -> Performer | None:
        value = self.role.currentData()
        return Performer(value) if value else None

    # -- save ---------------------------------------------------------------------------------

    def save(self) -> bool:
        name = self.name.text().strip()
        if not name:
            self.error("A provider needs a name.")
            return False
        npi = self.checked_npi(self.npi)
        if npi is None:
            return False
        taxonomy = self.checked_taxonomy(self.taxonomy)
        if taxonomy is None:
            return False
        pin_text = self.pin.text().strip()
        pin: str | None = None
        if self.clear_pin.isChecked():
            pin = ""
        elif pin_text:
            if not (pin_text.isdigit() and 4 <= len(pin_text) <= 12):
                self.error("The PIN must be 4 to 12 digits (no letters or spaces).")
                return False
            pin = pin_text
        current = None
        if pin is not None and self._current is not None and self._current.has_pin:
            current = self.current_pin.text().strip()
            if not current:
                self.error(f"Enter {self._current.name}'s current PIN (or the clinic "
                           "administrator PIN) to change or remove it.")
                self.current_pin.setFocus()
                return False
        role = self._role_value()
        provider = Provider(
            name=name,
            discipline=self._discipline_value(),
            role=role,
            credentials=self.credentials.text().strip(),
            npi=npi,
            license=self.license.text().strip(),
            supervisor_id=self.supervisor.currentData() if role.is_assistant else None,
            active=self.active.isChecked(),
            has_pin=self._current.has_pin if self._current else False,
            id=self._current.id if self._current else None,
            taxonomy=taxonomy,
        )
        try:
            saved = self.repo.save_provider(provider, pin=pin, user=self.user,
                                            current_pin=current)
        except (StorageError, BillingError) as exc:  # each names the problem
            self.error(f"Not saved: {exc}")
            return False
        self.reload(select=saved.id)
        self.show_provider(saved)
        self.ok(f"{saved.name} saved" + (" with a new PIN." if pin else
                                         " (PIN removed)." if pin == "" else "."))
        self.saved.emit()
        return True


class TilesPage(Page):
    """Each provider's favourite intervention tiles, in the order the visit screen shows."""

    def __init__(self, repo, user: str | None, parent: QWidget | None = None) -> None:
        super().__init__(repo, user, parent)
        # The shipped codes plus the clinic's own (Settings > Codes) can be tiles.
        self.catalog = getattr(repo, "code_catalog", default_catalog)()
        self.provider = QComboBox()
        self.provider.setAccessibleName("Provider")
        self.codes = QListWidget()
        self.codes.setAccessibleName("Favourite tiles in order")
        self.code_edit = QLineEdit(placeholderText="Add a code: type 97110 or a word")
        self.code_edit.setAccessibleName("Add a tile code")
        entries = [f"{c.code}  {c.label}" for c in self.catalog.all()
                   if c.kind is not CodeKind.PERIODIC]
        completer = QCompleter(QStringListModel(entries, self), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.code_edit.setCompleter(completer)
        self.add_button = QPushButton("Add")
        self.up_button = QPushButton("Move up")
        self.down_button = QPushButton("Move down")
        self.remove_button = QPushButton("Remove")
        self.defaults_button = QPushButton("Use the defaults")

        add_row = QHBoxLayout()
        add_row.addWidget(self.code_edit, 1)
        add_row.addWidget(self.add_button)
        buttons = QHBoxLayout()
        for button in (self.up_button, self.down_button, self.remove_button,
                       self.defaults_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        form = QFormLayout()
        form.addRow("Provider", self.provider)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel(f"Up to {MAX_TILES} tiles; keys 1-9 start the first nine."))
        layout.addWidget(self.codes, 1)
        layout.addLayout(add_row)
        layout.addLayout(buttons)
        self.check_note = confirm_note("")
        layout.addWidget(self.check_note)
        layout.addLayout(self.footer())

        self.provider.currentIndexChanged.connect(self._provider_chosen)
        self.add_button.clicked.connect(self._add_from_edit)
        self.code_edit.returnPressed.connect(self._add_from_edit)
        self.up_button.clicked.connect(lambda: self._move(-1))
        self.down_button.clicked.connect(lambda: self._move(1))
        self.remove_button.clicked.connect(self._remove)
        self.defaults_button.clicked.connect(self._defaults)
        self.reload_providers()
        self.watch(self.codes)

    def reload_providers(self) -> None:
        current = self.provider.currentData()
        self.provider.blockSignals(True)
        self.provider.clear()
        for provider in self.repo.list_providers():
            self.provider.addItem(f"{provider.name} ({provider.discipline})", provider.id)
        self.provider.setCurrentIndex(max(0, self.provider.findData(current)))
        self.provider.blockSignals(False)
        self._load_codes()

    def tile_codes(self) -> list[str]:
        return [self.codes.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.codes.count())]

    def _discipline(self) -> Discipline | None:
        provider_id = self.provider.currentData()
        if provider_id is None:
            return None
        return self.repo.get_provider(provider_id).discipline

    title = "the favourite tiles"

    def _load_codes(self, *_args) -> None:
        provider_id = self.provider.currentData()
        codes: list[str] = []
        if provider_id is not None:
            codes = self.repo.favourite_codes(provider_id)
        if not codes:
            codes = self._default_codes()
        self._set_codes(codes)
        self.dirty = False
        self._shown_provider = provider_id

    def _provider_chosen(self, *_args) -> None:
        if self.provider.currentData() == getattr(self, "_shown_provider", None):
            return
        if not self.may_leave():
            self.provider.blockSignals(True)
            self.provider.setCurrentIndex(self.provider.findData(self._shown_provider))
            self.provider.blockSignals(False)
            return
        self._load_codes()

    def _default_codes(self) -> list[str]:
        from therapy_timer.ui.tiles import DEFAULT_TILES

        discipline = self._discipline()
        return list(DEFAULT_TILES.get(discipline, ())) if discipline else []

    def _set_codes(self, codes: list[str]) -> None:
        self.codes.clear()
        for position, code in enumerate(codes, start=1):
            key = f"key {position}:  " if position <= 9 else "             "
            try:
                info = self.catalog.get(code)
                text = f"{key}{info.code}  {info.label}"
                if info.needs_confirmation:
                    text += "  (confirm)"
            except BillingError:
                text = f"{key}{code}  (not in the catalog)"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, code)
            self.codes.addItem(item)
        self._update_note()

    def _update_note(self) -> None:
        notes = []
        for code in self.tile_codes():
            try:
                info = self.catalog.get(code)
            except BillingError:
                continue
            if info.needs_confirmation:
                notes.append(f"{info.code}: {info.note or 'from secondary sources'}")
        self.check_note.setVisible(bool(notes))
        self.check_note.setText("Codes marked (confirm) rest on secondary or unverified "
                                "sources; the clinic should confirm them:\n" + "\n".join(notes))

    def _add_from_edit(self) -> None:
        text = self.code_edit.text().strip()
        if not text:
            return
        code = text.split()[0].upper()
        try:
            info = self.catalog.get(code)
        except BillingError as exc:
            self.error(f"{exc}.")
            return
        if info.kind is CodeKind.PERIODIC:
            self.error(f"{code} is billed monthly or per episode; it cannot be a timer tile.")
            return
        codes = self.tile_codes()
        if code in codes:
            self.error(f"{code} is already a tile.")
            return
        if len(codes) >= MAX_TILES:
            self.error(f"At most {MAX_TILES} tiles; remove one first.")
            return
        self._set_codes([*codes, code])
        self.code_edit.clear()
        self.message.clear()
        self.dirty = True

    def _move(self, step: int) -> None:
        row = self.codes.currentRow()
        codes = self.tile_codes()
        target = row + step
        if row < 0 or not 0 <= target < len(codes):
            return
        codes[row], codes[target] = codes[target], codes[row]
        self._set_codes(codes)
        self.codes.setCurrentRow(target)
        self.dirty = True

    def _remove(self) -> None:
        row = self.codes.currentRow()
        if row >= 0:
            codes = self.tile_codes()
            del codes[row]
            self._set_codes(codes)
            self.dirty = True

    def _defaults(self) -> None:
        self._set_codes(self._default_codes())
        self.dirty = True

    def save(self) -> bool:
        provider_id = self.provider.currentData()
        if provider_id is None:
            self.error("Pick a provider first.")
            return False
        try:
            self.repo.set_favourite_codes(provider_id, self.tile_codes(), user=self.user)
        except StorageError as exc:
            self.error(f"Not saved: {exc}")
            return False
        self.dirty = False
        self.ok(f"Tiles saved for {self.provider.currentText()}.")
        return True
