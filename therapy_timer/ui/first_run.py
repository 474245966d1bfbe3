"""First launch on an empty database: a short set-up, or "Open the demo clinic".

The set-up asks only what timing a visit needs: the practice's name, its time zone (it decides
each visit's calendar day and the times on screen and paper; the computer's zone is offered)
and a first provider. The rest (NPI, payers, fees) waits in Settings.
``FirstRunDialog.ask(parent, repo)`` returns ``"setup"`` (saved), ``"demo"`` (the caller builds
the demo clinic off the UI thread) or None.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimeZone
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.model import BillingError, Discipline, Performer
from therapy_timer.core.records import Practice, Provider
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import (
    pyside_guard,  # noqa: F401  (before any Qt call)
    style,
)
from therapy_timer.ui.settings import time_zones

ROLES = {
    "Physical therapist (PT)": (Discipline.PT, Performer.PT),
    "Physical therapist assistant (PTA)": (Discipline.PT, Performer.PTA),
    "Occupational therapist (OT)": (Discipline.OT, Performer.OT),
    "Occupational therapy assistant (OTA)": (Discipline.OT, Performer.OTA),
    "Speech-language pathologist (SLP)": (Discipline.SLP, Performer.SLP),
}
SETUP, DEMO = "setup", "demo"


def computer_zone() -> str:
    """This computer's time zone as an IANA name ("" when it has none the list knows)."""
    name = bytes(QTimeZone.systemTimeZoneId().data()).decode(errors="replace")
    if name in time_zones():
        return name
    return "UTC" if name in ("Etc/UTC", "UTC", "Universal") else ""


class FirstRunDialog(QDialog):
    """Welcome: set up the practice, or open the demo clinic."""

    def __init__(self, repo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.repo = repo
        self.outcome: str | None = None
        self.setWindowTitle("Welcome to Therapy Timer")
        self.setMinimumWidth(560)
        layout = QVBoxLayout(self)
        title = QLabel("Welcome to Therapy Timer")
        title.setProperty("role", "title")
        layout.addWidget(title)
        intro = QLabel("Three things to start timing visits: your practice's name, its time "
                       "zone and the first provider. Everything else can wait for Settings.")
        intro.setWordWrap(True)
        intro.setProperty("role", "subtitle")
        layout.addWidget(intro)
        form = QFormLayout()
        self.practice = QLineEdit()
        self.practice.setPlaceholderText("e.g. Riverside Physical Therapy")
        self.practice.setAccessibleName("Practice name")
        self.provider = QLineEdit()
        self.provider.setPlaceholderText("e.g. Jordan Lee, PT, DPT")
        self.provider.setAccessibleName("Provider name")
        self.role = QComboBox()
        self.role.addItems(list(ROLES))
        self.role.setAccessibleName("Provider role")
        self.timezone = QComboBox()
        self.timezone.setEditable(True)
        self.timezone.addItems(time_zones())
        self.timezone.setAccessibleName("Clinic time zone")
        self.timezone.setToolTip("Decides which calendar day a visit belongs to and the times "
                                 "on screen and on the superbill. Change it later in Settings.")
        self.timezone.completer().setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.timezone.completer().setFilterMode(Qt.MatchFlag.MatchContains)
        self.timezone.setCurrentText(computer_zone())
        form.addRow("Practice name", self.practice)
        form.addRow("Clinic time zone", self.timezone)
        form.addRow("Your name", self.provider)
        form.addRow("You are a", self.role)
        layout.addLayout(form)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {style.ERROR_INK}; font-weight: 600;")
        layout.addWidget(self.error)
        buttons = QHBoxLayout()
        self.demo_button = QPushButton("Open the demo clinic")
        self.demo_button.setAccessibleName("Open the demo clinic (made-up patients)")
        self.demo_button.setToolTip("A made-up clinic with three months of visits, to try "
                                    "every screen. No real patient data.")
        self.demo_button.clicked.connect(self.choose_demo)
        self.save_button = QPushButton("Start using Therapy Timer")
        self.save_button.setAccessibleName("Save and start")
        style.polish(self.save_button, primary=True)
        self.save_button.clicked.connect(self.save)
        for button in (self.demo_button, self.save_button):
            button.setMinimumHeight(style.TOUCH)
        buttons.addWidget(self.demo_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        layout.addLayout(buttons)

    def save(self) -> bool:
        """Saves the practice and the first provider; False with a message when refused."""
        practice = self.practice.text().strip()
        name = self.provider.text().strip()
        if not practice or not name:
            self.error.setText("Enter the practice's name and your name.")
            return False
        zone = self.timezone.currentText().strip()
        if zone not in time_zones():
            self.error.setText(f"{zone or 'An empty name'} is not a time zone: choose the "
                               "clinic's from the list (for example America/Chicago).")
            self.timezone.setFocus()
            return False
        discipline, role = ROLES[self.role.currentText()]
        try:
            self.repo.save_practice(Practice(practice, timezone=zone), user=name)
            self.repo.save_provider(Provider(name, discipline, role), user=name)
        except (StorageError, BillingError) as exc:
            self.error.setText(f"Not saved: {exc}")
            return False
        self.outcome = SETUP
        self.accept()
        return True

    def choose_demo(self) -> None:
        self.outcome = DEMO
        self.accept()

    @classmethod
    def ask(cls, parent: QWidget | None, repo) -> str | None:
        dialog = cls(repo, parent)
        dialog.exec()
        return dialog.outcome
