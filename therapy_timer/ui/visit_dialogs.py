"""Small dialogs the visit screen opens: manual-therapy details and editing an interval.

Each has an ``ask()`` classmethod returning the answer (None when cancelled); tests replace
``ask`` or drive the dialog's widgets directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from PySide6.QtCore import QDateTime, Qt, QTimeZone
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.model import Performer
from therapy_timer.core.records import StoredInterval
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.clock import display_zone, on_screen
from therapy_timer.ui.dialogs import Ask

TECHNIQUES = ("Soft tissue mobilization", "Joint mobilization", "Manual traction",
              "Myofascial release", "Manual lymphatic drainage", "Other")
BODY_REGIONS = ("Cervical spine", "Thoracic spine", "Lumbar spine", "Shoulder", "Elbow",
                "Wrist/hand", "Hip", "Knee", "Ankle/foot", "Other")


def _qzone() -> QTimeZone:
    """The screens' zone (the clinic's, see ``clock.on_screen``) as a QTimeZone."""
    key = getattr(display_zone(), "key", None)
    zone = QTimeZone(key.encode()) if key else QTimeZone.systemTimeZone()
    return zone if zone.isValid() else QTimeZone.systemTimeZone()


def to_qdatetime(moment: datetime) -> QDateTime:
    return QDateTime.fromSecsSinceEpoch(int(moment.timestamp()), _qzone())


def time_edit(moment: datetime, display_format: str) -> QDateTimeEdit:
    """An editor for a moment, showing and taking times in the screens' zone."""
    edit = QDateTimeEdit(to_qdatetime(moment))
    edit.setTimeZone(_qzone())
    edit.setDisplayFormat(display_format)
    return edit


def _clock_time(moment: datetime) -> str:
    """12-hour clock time on screen: ``2:05 PM``."""
    return f"{on_screen(moment):%I:%M %p}".lstrip("0")


def from_qdatetime(value: QDateTime) -> datetime:
    return datetime.fromtimestamp(value.toSecsSinceEpoch(), UTC)


class TechniqueDialog(QDialog):
    """Manual therapy (97140): which technique, which body region.

    Both start empty, so one tap cannot record a region nobody chose; ``last`` (the patient's
    last technique and region for the code) fills them in when there is one.
    """

    def __init__(self, code: str, parent: QWidget | None = None,
                 last: tuple[str, str] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{code}: technique and body region")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Manual therapy needs the technique and the body region in the "
                                "note."))
        form = QFormLayout()
        self.technique = QComboBox()
        self.technique.setEditable(True)
        self.technique.addItems(TECHNIQUES)
        self.technique.setAccessibleName("Technique")
        self.region = QComboBox()
        self.region.setEditable(True)
        self.region.addItems(BODY_REGIONS)
        self.region.setAccessibleName("Body region")
        for combo, value, hint in ((self.technique, last[0] if last else "", "technique"),
                                   (self.region, last[1] if last else "", "body region")):
            combo.setCurrentIndex(-1)
            combo.setEditText(value)
            combo.lineEdit().setPlaceholderText(f"Choose or type the {hint}")
            combo.editTextChanged.connect(self._update_button)
        form.addRow("Technique", self.technique)
        form.addRow("Body region", self.region)
        layout.addLayout(form)
        self.note = QLabel("Last time for this patient." if last else "")
        self.note.setStyleSheet("color: #4b5563;")
        layout.addWidget(self.note)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.start_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.start_button.setText("Start timer")
        self.buttons.accepted.connect(self._check)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._update_button()

    def answer(self) -> tuple[str, str]:
        return self.technique.currentText().strip(), self.region.currentText().strip()

    def _update_button(self, _text: str = "") -> None:
        self.start_button.setEnabled(all(self.answer()))

    def _check(self) -> None:
        if all(self.answer()):
            self.accept()

    @classmethod
    def ask(cls, parent: QWidget | None, code: str,
            last: tuple[str, str] | None = None) -> tuple[str, str] | None:
        dialog = cls(code, parent, last)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.answer()


@dataclass(frozen=True)
class IntervalEdit:
    """The changes to one interval and why."""

    changes: dict
    reason: str
    delete: bool = False  # the interval was a mistake: delete it (kept, marked deleted)


class IntervalEditDialog(QDialog):
    """Edit one interval's start, end, code or performer; a reason is required."""

    def __init__(self, interval: StoredInterval, performers: tuple[Performer, ...],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.interval = interval
        self.setWindowTitle(f"Edit {interval.code} interval")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.start = time_edit(interval.start, "MM/dd/yyyy h:mm:ss AP")
        self.start.setAccessibleName("Start")
        self.end = time_edit(interval.end or interval.start, "MM/dd/yyyy h:mm:ss AP")
        self.end.setEnabled(interval.end is not None)
        self.end.setAccessibleName("End")
        self.code = QLineEdit(interval.code)
        self.code.setAccessibleName("Code")
        self.performer = QComboBox()
        for performer in performers or (interval.performer,):
            self.performer.addItem(performer.value, performer)
        self.performer.setCurrentText(interval.performer.value)
        self.performer.setAccessibleName("Performed by")
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Required: why the recorded time is changed")
        self.reason.setAccessibleName("Reason")
        form.addRow("Start", self.start)
        form.addRow("End", self.end)
        form.addRow("Code", self.code)
        form.addRow("Performed by", self.performer)
        form.addRow("Reason", self.reason)
        layout.addLayout(form)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #7f1d1d; font-weight: 600;")
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.delete_button = self.buttons.addButton("Delete interval…",
                                                    QDialogButtonBox.ButtonRole.DestructiveRole)
        self.delete_button.setToolTip("A mistaken tap: the interval counts no minutes; it is "
                                      "kept as deleted, with the reason, in the audit log")
        self.delete_button.clicked.connect(self._delete)
        self.deleting = False
        self.buttons.accepted.connect(self._check)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def result_edit(self) -> IntervalEdit:
        changes: dict = {}
        start = from_qdatetime(self.start.dateTime())
        if int(start.timestamp()) != int(self.interval.start.timestamp()):
            changes["start"] = start
        if self.interval.end is not None:
            end = from_qdatetime(self.end.dateTime())
            if int(end.timestamp()) != int(self.interval.end.timestamp()):
                changes["end"] = end
        code = self.code.text().strip().upper()
        if code and code != self.interval.code:
            changes["code"] = code
        performer = self.performer.currentData()
        if performer is not None and performer != self.interval.performer:
            changes["performer"] = performer
        if self.deleting:
            return IntervalEdit({}, self.reason.text().strip(), delete=True)
        return IntervalEdit(changes, self.reason.text().strip())

    def _delete(self) -> None:
        """Delete…: needs the reason, then confirms (a running timer is stopped first)."""
        reason = self.reason.text().strip()
        if not reason:
            self.error.setText("Give a reason for deleting: it is kept in the audit log.")
            self.reason.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        interval = self.interval
        span = _clock_time(interval.start)
        if interval.end is not None:
            span += f" to {_clock_time(interval.end)}"
        running = (f"{interval.code} is still running: it stops now and is deleted."
                   if interval.end is None else "")
        text = " ".join(filter(None, [
            f"Delete the {interval.code} interval ({span})?", running,
            "Its minutes and units no longer count. It is kept as deleted, with your reason, "
            "in the audit log."]))
        if not Ask.confirm(self, "Delete this interval?", text, yes="Delete interval",
                           no="Keep it"):
            return
        self.deleting = True
        self.accept()

    def _check(self) -> None:
        edit = self.result_edit()
        if not edit.reason:
            self.error.setText("Give a reason: it is kept in the audit log.")
            self.reason.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        if not edit.changes:
            self.error.setText("Nothing was changed.")
            return
        self.accept()

    @classmethod
    def ask(cls, parent: QWidget | None, interval: StoredInterval,
            performers: tuple[Performer, ...]) -> IntervalEdit | None:
        dialog = cls(interval, performers, parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.result_edit()
