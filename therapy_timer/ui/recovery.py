"""After a crash: timers found running at start-up, and what the clinician wants done with each.

``RecoveryDialog`` lists every interval left running, when it began and when the app was last
alive, and offers for each: keep it running, stop it at the last-alive time, or stop it at a
time the clinician enters. Each choice is written to the store at once. The main window opens
it non-modally (``open()``); tests click its buttons and wait on ``resolved``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.codes import default_catalog
from therapy_timer.core.model import BillingError
from therapy_timer.core.records import CrashedInterval
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import (
    pyside_guard,  # noqa: F401  (before any Qt call)
    style,
)
from therapy_timer.ui.clock import screen_time
from therapy_timer.ui.visit_dialogs import from_qdatetime, time_edit

log = logging.getLogger(__name__)

KEEP, STOP_LAST_ALIVE, STOP_AT = "keep", "last-alive", "at"
#: Our choices as the store's ``Resolution`` values.
RESOLUTIONS = {KEEP: "keep-running", STOP_LAST_ALIVE: "stop-at-last-alive", STOP_AT: "stop-at"}


def _hm(moment: datetime) -> str:
    return screen_time(moment)


class RecoveryRow(QFrame):
    """One crashed interval and its three choices."""

    decided = Signal(object, str)  # (row, choice)

    def __init__(self, crashed: CrashedInterval, patient_name: str, repo, clock,
                 parent: QWidget | None = None, user: str = "recovery") -> None:
        super().__init__(parent)
        self.crashed = crashed
        self.user = user
        self.repo = repo
        self.clock = clock
        self.choice: str | None = None
        interval = crashed.interval
        try:
            catalog = getattr(repo, "code_catalog", default_catalog)()
            label = catalog.get(interval.code).label
        except BillingError:
            label = ""
        self.setStyleSheet(f"RecoveryRow {{ background: {style.PAPER}; border-radius: 10px; "
                           "border: 1px solid #d1d5db; }")
        grid = QGridLayout(self)
        title = QLabel(f"{interval.code} {label}  ·  {patient_name}")
        title.setStyleSheet("font-size: 20px; font-weight: 800;")
        grid.addWidget(title, 0, 0, 1, 3)
        began = interval.start
        alive = crashed.last_alive
        minutes = int((alive - began).total_seconds()) // 60
        now = clock.now()
        text = (f"Began at <b>{_hm(began)}</b>. The app was last alive at <b>{_hm(alive)}</b> "
                f"({minutes} min after it began). It is now {_hm(now)}.")
        #: The clock is behind the last-alive moment: it was set back (or is wrong now).
        self.clock_behind = alive > now
        if self.clock_behind:
            behind = int((alive - now).total_seconds()) // 60
            text += (f"<br><b>The computer's clock is {behind} min behind the last-alive time"
                     "</b>: it was set back (or is wrong). The times above are the measured "
                     "ones; stopping at the last-alive time keeps the minutes measured.")
        self.facts = QLabel(text)
        self.facts.setWordWrap(True)
        self.facts.setStyleSheet("font-size: 16px;")
        grid.addWidget(self.facts, 1, 0, 1, 3)
        self.keep = QPushButton("Keep it running")
        self.keep.setAccessibleName(f"Keep {interval.code} running")
        self.keep.setToolTip("The treatment is still going on: the timer carries on.")
        self.stop_alive = QPushButton(f"Stop at {_hm(alive)} (last alive)")
        self.stop_alive.setAccessibleName(f"Stop {interval.code} at the last-alive time")
        style.polish(self.stop_alive, primary=True)
        self.when = time_edit(alive, "ddd d MMM  HH:mm")
        self.when.setAccessibleName(f"Time to stop {interval.code}")
        self.when.setMinimumWidth(190)
        self.stop_at = QPushButton("Stop at the time on the left")
        self.stop_at.setAccessibleName(f"Stop {interval.code} at the time entered")
        for button in (self.keep, self.stop_alive, self.stop_at):
            button.setMinimumHeight(style.TOUCH)
        try:
            day = repo.get_visit(interval.visit_id).day
            earlier = day < repo.service_day(clock.now())
        except StorageError:
            earlier = False
        if earlier:  # the store refuses: its minutes would bill under the earlier date
            self.keep.setEnabled(False)
            self.keep.setToolTip(f"The timer began on {day:%m/%d/%Y}: it cannot run on into "
                                 "another day. Stop it when it really ended.")
        grid.addWidget(self.keep, 2, 0)
        grid.addWidget(self.stop_alive, 2, 1, 1, 2)
        other = QLabel("Or it ended at:")
        other.setStyleSheet("font-size: 16px; font-weight: 600;")
        grid.addWidget(other, 3, 0)
        grid.addWidget(self.when, 3, 1)
        grid.addWidget(self.stop_at, 3, 2)
        grid.setColumnStretch(2, 1)
        self.result = QLabel("")
        self.result.setStyleSheet(f"font-weight: 700; color: {style.RUNNING};")
        grid.addWidget(self.result, 4, 0, 1, 3)
        self.keep.clicked.connect(lambda: self.apply(KEEP))
        self.stop_alive.clicked.connect(lambda: self.apply(STOP_LAST_ALIVE))
        self.stop_at.clicked.connect(lambda: self.apply(STOP_AT))

    def apply(self, choice: str) -> bool:
        """Writes the choice to the store; False (with a message) when refused."""
        interval = self.crashed.interval
        now = self.clock.now()
        at = None
        if choice == STOP_AT:
            at = from_qdatetime(self.when.dateTime())
        try:
            if at is not None and at < interval.start:
                raise BillingError(f"{_hm(at)} is before the timer began ({_hm(interval.start)})")
            if at is not None and at > max(now, self.crashed.last_alive):
                raise BillingError(f"{_hm(at)} is in the future")
            # audit-logged by the store
            stored = self.repo.resolve_crashed(interval.id, RESOLUTIONS[choice], user=self.user,
                                               now=now, at=at)
        except (StorageError, BillingError) as exc:
            self.result.setStyleSheet(f"font-weight: 700; color: {style.ERROR_INK};")
            self.result.setText(f"Not done: {exc}")
            return False
        text = "Kept running." if choice == KEEP else f"Stopped at {_hm(stored.end)}."
        log.info("recovery: interval %s -> %s", interval.id, choice)
        self.choice = choice
        self.result.setStyleSheet(f"font-weight: 700; color: {style.RUNNING};")
        self.result.setText(text)
        for widget in (self.keep, self.stop_alive, self.stop_at, self.when):
            widget.setEnabled(False)
        self.decided.emit(self, choice)
        return True


class RecoveryDialog(QDialog):
    """Every interval left running by a crash, each with its own choice.

    Signals:
        resolved(dict): ``{interval_id: choice}`` once every row is decided.
    """

    resolved = Signal(object)

    def __init__(self, crashed: Sequence[CrashedInterval], repo, clock,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Timers left running")
        self.setMinimumWidth(820)
        layout = QVBoxLayout(self)
        heading = QLabel("These timers were still running when Therapy Timer last closed "
                         "(or stopped unexpectedly).")
        heading.setWordWrap(True)
        heading.setStyleSheet("font-size: 20px; font-weight: 700;")
        layout.addWidget(heading)
        hint = QLabel("For each: keep it running if the treatment is still going on, or stop it "
                      "when it really ended. Nothing recorded is lost either way.")
        hint.setWordWrap(True)
        hint.setProperty("role", "subtitle")
        layout.addWidget(hint)
        self.rows: list[RecoveryRow] = []
        names: dict[int, str] = {}
        for item in crashed:
            if item.patient_id not in names:
                try:
                    names[item.patient_id] = repo.get_patient(item.patient_id).display_name
                except StorageError:
                    names[item.patient_id] = "patient"
            row = RecoveryRow(item, names[item.patient_id], repo, clock, self,
                              user=_provider_name(repo, item.interval.visit_id))
            row.decided.connect(self._on_decided)
            layout.addWidget(row)
            self.rows.append(row)
        self.choices: dict[int, str] = {}

    def _on_decided(self, row: RecoveryRow, choice: str) -> None:
        self.choices[row.crashed.interval.id] = choice
        if len(self.choices) == len(self.rows):
            self.resolved.emit(dict(self.choices))
            self.accept()

    def reject(self) -> None:
        """Closing without deciding keeps everything running (nothing is lost)."""
        for row in self.rows:
            if row.choice is None:
                self.choices[row.crashed.interval.id] = KEEP
        self.resolved.emit(dict(self.choices))
        super().reject()


def _provider_name(repo, visit_id: int) -> str:
    """The visit's provider: the audit names them as the one who resolved their timer."""
    try:
        return repo.get_provider(repo.get_visit(visit_id).provider_id).name
    except StorageError:
        return "recovery"
