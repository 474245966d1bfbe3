"""The review's prompt for what a code's documentation still lacks (97140's technique and body
region): the clinician fills it in right there instead of hunting for a screen that has it.

``CodeDetailsPrompt`` shows one code's missing details as editable lists (starting empty, so
nothing is recorded by accident) and a Save button; ``saved`` carries the answer to the page,
which stores it (``fill_code_details``) and redraws.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.ui import (
    pyside_guard,  # noqa: F401  (before any Qt call)
    style,
)
from therapy_timer.ui.visit_dialogs import BODY_REGIONS, TECHNIQUES


def _choices(options: tuple[str, ...], name: str) -> QComboBox:
    box = QComboBox()
    box.setEditable(True)
    box.addItems(options)
    box.setCurrentIndex(-1)
    box.lineEdit().setPlaceholderText(f"Choose or type the {name}")
    box.setAccessibleName(name.capitalize())
    box.setMinimumHeight(style.TOUCH)
    return box


class CodeDetailsPrompt(QFrame):
    """One code's missing documentation details, to fill in on the review.

    Signals:
        saved(str, str, str): (code, technique, body region); a detail the code already has
            is sent as "".
    """

    saved = Signal(str, str, str)

    def __init__(self, code: str, label: str, missing: tuple[str, ...],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.code = code
        self.setAccessibleName(f"{code} documentation")
        self.setStyleSheet(f"CodeDetailsPrompt {{ background: {style.WARN_BG}; border-radius: "
                           f"8px; }} QLabel {{ color: {style.WARN_INK}; font-size: 15px; "
                           "font-weight: 600; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        self.message = QLabel(f"{code} {label}: record the {' and the '.join(missing)} "
                              "(the note needs it before the visit is finalized)")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        form = QFormLayout()
        self.technique = _choices(TECHNIQUES, "technique") if "technique" in missing else None
        self.region = (_choices(BODY_REGIONS, "body region") if "body region" in missing
                       else None)
        if self.technique is not None:
            form.addRow("Technique", self.technique)
        if self.region is not None:
            form.addRow("Body region", self.region)
        layout.addLayout(form)
        row = QHBoxLayout()
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {style.ERROR_INK};")
        row.addWidget(self.error, 1)
        self.save_button = QPushButton(f"Save {code} details")
        self.save_button.setAccessibleName(f"Save the {code} documentation details")
        self.save_button.setMinimumHeight(style.TOUCH)
        self.save_button.clicked.connect(self._save)
        row.addWidget(self.save_button)
        layout.addLayout(row)

    def answer(self) -> tuple[str, str]:
        technique = self.technique.currentText().strip() if self.technique else ""
        region = self.region.currentText().strip() if self.region else ""
        return technique, region

    def show_error(self, text: str) -> None:
        self.error.setText(text)

    def _save(self) -> None:
        technique, region = self.answer()
        missing = [name for name, box, value in (("technique", self.technique, technique),
                                                 ("body region", self.region, region))
                   if box is not None and not value]
        if missing:
            self.show_error(f"Give the {' and the '.join(missing)}.")
            return
        self.error.setText("")
        self.saved.emit(self.code, technique, region)
