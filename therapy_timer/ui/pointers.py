"""Diagnosis pointers for one charge line on the finalize review: a row of touch-sized letter
toggles, one per diagnosis of the visit (A-L). The line points at the ticked letters in the
order they were ticked: the first is the line's primary diagnosis.

Public API:

* ``toggle_pointer(letters, letter, limit=4) -> str``: the pure rule a tap follows.
* ``PointerToggles(code, diagnoses, letters)``: the widget; ``letters()``, ``set_letters()``,
  ``buttons`` (letter -> button) and the ``changed(code, letters)`` signal.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from therapy_timer.ui import (
    pyside_guard,  # noqa: F401  (before any Qt call)
    style,
)

LETTERS = "ABCDEFGHIJKL"
MAX_POINTERS = 4
BUTTON_W, BUTTON_H = 44, 40


def toggle_pointer(letters: str, letter: str, limit: int = MAX_POINTERS) -> str:
    """What a tap on ``letter`` makes of a line's pointers.

    A ticked letter is taken off (but a line keeps at least one); an unticked one is added at
    the end (while fewer than ``limit`` are ticked). Order is kept: the first is the primary.
    """
    if letter in letters:
        return letters if len(letters) == 1 else letters.replace(letter, "")
    return letters if len(letters) >= limit else letters + letter


class PointerToggles(QWidget):
    """One line's pointer letters as toggle buttons (only letters the visit has).

    Signals:
        changed(str, str): the line's code and its new letters (primary first).
    """

    changed = Signal(str, str)

    def __init__(self, code: str, diagnoses: Sequence[str], letters: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.code = code
        self._letters = ""
        self.buttons: dict[str, QPushButton] = {}
        self.setAccessibleName(f"Diagnoses {code} points at")
        self.setToolTip(f"Tap the diagnoses {code} treats (up to {MAX_POINTERS}); the first "
                        "ticked is the line's primary diagnosis.")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(4)
        for letter, diagnosis in zip(LETTERS, diagnoses, strict=False):
            button = QPushButton(letter)
            button.setCheckable(True)
            button.setFixedSize(BUTTON_W, BUTTON_H)
            button.setAccessibleName(f"{code} points at diagnosis {letter} ({diagnosis})")
            button.setToolTip(f"Diagnosis {letter}: {diagnosis}")
            button.setStyleSheet(
                "QPushButton { min-height: 0; padding: 0; border-radius: 6px; font-size: 17px;"
                " font-weight: 700; }"
                f"QPushButton:checked {{ background: {style.ACCENT}; color: white;"
                f" border-color: {style.ACCENT}; }}")
            button.clicked.connect(lambda _=False, x=letter: self._tap(x))
            self.buttons[letter] = button
            layout.addWidget(button)
        layout.addStretch(1)
        self.set_letters(letters)

    @staticmethod
    def width_for(diagnoses: int) -> int:
        """The column width that shows every letter of ``diagnoses`` diagnoses."""
        count = max(1, min(diagnoses, len(LETTERS)))
        return count * (BUTTON_W + 4) + 12

    def letters(self) -> str:
        return self._letters

    def set_letters(self, letters: str) -> None:
        """Shows ``letters`` ticked (no signal)."""
        self._letters = "".join(x for x in letters if x in self.buttons)
        for letter, button in self.buttons.items():
            button.setChecked(letter in self._letters)
            button.setEnabled(letter in self._letters or len(self._letters) < MAX_POINTERS)

    def _tap(self, letter: str) -> None:
        before = self._letters
        self.set_letters(toggle_pointer(before, letter))  # also re-ticks a refused tap
        if self._letters != before:
            self.changed.emit(self.code, self._letters)
