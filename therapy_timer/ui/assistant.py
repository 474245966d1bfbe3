"""Which assistant? The PT | PTA (OT | OTA) switch asks who the assistant is.

The clinic's active assistants of that role are listed; the one this workstation chose last
is highlighted (remembered per station in QSettings, since each treatment room tends to have
its own assistant), so Enter confirms it. The answer is the provider's id, which the store
records on every interval the assistant furnishes (``intervals.provider_id``) and the
superbill names on the CQ/CO lines.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.model import Performer
from therapy_timer.core.records import Provider
from therapy_timer.ui import (
    pyside_guard,  # noqa: F401  (before any Qt call)
    style,
)

KEY = "station/assistant/{role}"


def remembered_assistant(settings: QSettings, role: Performer) -> int | None:
    """The assistant of ``role`` this workstation chose last (None when never)."""
    value = settings.value(KEY.format(role=Performer(role).value))
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def remember_assistant(settings: QSettings, role: Performer, provider_id: int) -> None:
    settings.setValue(KEY.format(role=Performer(role).value), int(provider_id))
    settings.sync()


def shown_name(provider: Provider) -> str:
    """"Lee Park, PTA": the name with the role, once."""
    role = provider.role.value
    name = provider.name.strip()
    return name if name.endswith(role) else f"{name}, {role}"


class AssistantDialog(QDialog):
    """Pick the assistant whose time is recorded from now on."""

    def __init__(self, role: Performer, assistants: Sequence[Provider],
                 remembered: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = Performer(role)
        self.setWindowTitle(f"Which {self.role.value}?")
        self.setMinimumWidth(420)
        layout = QVBoxLayout(self)
        question = QLabel(f"Which {self.role.value} furnishes the time from now on? The "
                          "superbill names them (and the supervising therapist) on the "
                          f"{'CQ' if self.role is Performer.PTA else 'CO'} lines.")
        question.setWordWrap(True)
        layout.addWidget(question)
        self.list = QListWidget()
        self.list.setAccessibleName(f"{self.role.value}s of the clinic")
        self.list.setStyleSheet("QListWidget { font-size: 18px; } "
                                f"QListWidget::item {{ min-height: {style.TOUCH - 12}px; }}")
        for provider in assistants:
            item = QListWidgetItem(shown_name(provider))
            item.setData(Qt.ItemDataRole.UserRole, provider.id)
            self.list.addItem(item)
            if provider.id == remembered:
                self.list.setCurrentItem(item)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)
        self.list.itemActivated.connect(lambda _item: self.accept())
        layout.addWidget(self.list)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(f"Record as this {self.role.value}")
        self.ok_button.setMinimumHeight(style.TOUCH - 8)
        style.polish(self.ok_button, primary=True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.list.setFocus()

    def chosen(self) -> int | None:
        item = self.list.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    @classmethod
    def ask(cls, parent: QWidget | None, role: Performer, assistants: Sequence[Provider],
            remembered: int | None = None) -> int | None:
        """The chosen assistant's provider id; None when cancelled."""
        dialog = cls(role, assistants, remembered, parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.chosen()
