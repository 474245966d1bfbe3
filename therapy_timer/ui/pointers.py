"""Diagnosis pointers for one charge line on the finalize review: a row of touch-sized toggles,
one per diagnosis of the visit (A-L). The line points at the ticked letters in the order they
were ticked: the first is the line's primary diagnosis.

Each toggle names what it points at: its text is the letter and the ICD-10-CM code ("A M54.50")
where the row fits (at most ``CODES_MAX_WIDTH``, and leaving the table's stretching column
readable), the letter alone otherwise; its tooltip and accessible name always carry the code
and description ("A: M54.50 Low back pain, unspecified").

Public API:

* ``toggle_pointer(letters, letter, limit=4) -> str``: the pure rule a tap follows.
* ``PointerToggles(code, diagnoses, letters, parent=None, *, descriptions=None)``: the widget;
  ``letters()``, ``set_letters()``, ``buttons`` (letter -> button), ``show_codes`` /
  ``set_show_codes(flag)`` and the ``changed(code, letters)`` signal.
  ``PointerToggles.width_for(diagnoses, codes=None)``: the width a row of toggles takes.
* ``PointerColumn(table, column, stretch_column)``: sizes a table's pointer column to its
  toggles and, as the table is resized, shows codes on them only while they fit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QApplication, QGridLayout, QPushButton, QTableView, QWidget

from therapy_timer.ui import (
    pyside_guard,  # noqa: F401  (before any Qt call)
    style,
)

log = logging.getLogger(__name__)
LETTERS = "ABCDEFGHIJKL"
MAX_POINTERS = 4
BUTTON_W, BUTTON_H = 48, style.TOUCH - 8  # at least 48 x 48: a fingertip
FONT_PX = 15
PADDING = 16  # left + right inside a toggle
BORDER = 2  # as the application style's buttons
SPACING, MARGINS = 4, 4 + 4
#: Widest row of "A M54.50" toggles the review gives room to; wider rows show letters only.
CODES_MAX_WIDTH = 480
#: Toggles per row: a visit with more diagnoses (up to twelve) gets a second row, so even
#: at the narrowest window the review never scrolls sideways.
PER_ROW = 6
#: What the table's stretching column (the service) keeps when codes are shown on toggles.
STRETCH_MIN = 220


def toggle_pointer(letters: str, letter: str, limit: int = MAX_POINTERS) -> str:
    """What a tap on ``letter`` makes of a line's pointers.

    A ticked letter is taken off (but a line keeps at least one); an unticked one is added at
    the end (while fewer than ``limit`` are ticked). Order is kept: the first is the primary.
    """
    if letter in letters:
        return letters if len(letters) == 1 else letters.replace(letter, "")
    return letters if len(letters) >= limit else letters + letter


def _font() -> QFont:
    font = QFont(QApplication.font())
    font.setPixelSize(FONT_PX)
    font.setWeight(QFont.Weight.Bold)
    return font


def _button_width(text: str, metrics: QFontMetrics) -> int:
    return max(BUTTON_W, metrics.horizontalAdvance(text) + PADDING)


def _row_width(texts: Sequence[str]) -> int:
    metrics = QFontMetrics(_font())
    return (sum(_button_width(t, metrics) for t in texts) + SPACING * max(0, len(texts) - 1)
            + MARGINS)


def _codes_text(diagnoses: Sequence[str]) -> list[str]:
    return [f"{letter} {code}" for letter, code in zip(LETTERS, diagnoses, strict=False)]


def _shows_codes(diagnoses: Sequence[str]) -> bool:
    return _row_width(_codes_text(diagnoses)) <= CODES_MAX_WIDTH


def describe_pointer(letter: str, code: str, description: str = "") -> str:
    """"A: M54.50 Low back pain, unspecified" (just "A: M54.50" when not described)."""
    return f"{letter}: {code} {description}".strip()


class PointerToggles(QWidget):
    """One line's pointer toggles (only letters the visit has), each naming its diagnosis.

    Signals:
        changed(str, str): the line's code and its new letters (primary first).
    """

    changed = Signal(str, str)

    def __init__(self, code: str, diagnoses: Sequence[str], letters: str,
                 parent: QWidget | None = None, *,
                 descriptions: Mapping[str, str] | None = None) -> None:
        super().__init__(parent)
        self.code = code
        self._letters = ""
        self.buttons: dict[str, QPushButton] = {}
        descriptions = descriptions or {}
        self.show_codes = _shows_codes(diagnoses)
        self._diagnoses = list(diagnoses[: len(LETTERS)])
        self.setAccessibleName(f"Diagnoses {code} points at")
        self.setToolTip(f"Tap the diagnoses {code} treats (up to {MAX_POINTERS}); the first "
                        "ticked is the line's primary diagnosis.")
        layout = QGridLayout(self)
        layout.setContentsMargins(MARGINS // 2, 2, MARGINS // 2, 2)
        layout.setSpacing(SPACING)
        inner = BUTTON_H - 2 * BORDER
        for letter, diagnosis in zip(LETTERS, diagnoses, strict=False):
            name = describe_pointer(letter, diagnosis, descriptions.get(diagnosis, ""))
            button = QPushButton()
            button.setCheckable(True)
            button.setAccessibleName(name)
            button.setAccessibleDescription(f"Point {code} at diagnosis {letter}")
            button.setToolTip(f"{name}\nTap to point {code} at it (the first ticked is the "
                              "primary).")
            button.setStyleSheet(
                # the style sheet's heights win over setFixedSize once polished: set both
                f"QPushButton {{ min-height: {inner}px; max-height: {inner}px; padding: 0;"
                f" border: {BORDER}px solid {style.LINE}; border-radius: 6px;"
                f" font-size: {FONT_PX}px; font-weight: 700; }}"
                f"QPushButton:hover, QPushButton:focus {{ border-color: {style.ACCENT}; }}"
                f"QPushButton:checked {{ background: {style.ACCENT}; color: white;"
                f" border-color: {style.ACCENT}; }}"
                "QPushButton:disabled { color: #9ca3af; border-color: #d1d5db; }")
            button.clicked.connect(lambda _=False, x=letter: self._tap(x))
            index = len(self.buttons)
            self.buttons[letter] = button
            layout.addWidget(button, index // PER_ROW, index % PER_ROW)
        layout.setColumnStretch(PER_ROW, 1)
        self.set_show_codes(self.show_codes)
        self.set_letters(letters)

    def set_show_codes(self, show: bool) -> None:
        """Shows "A M54.50" (True) or "A" (False) on the toggles, each sized to its text."""
        self.show_codes = show
        metrics = QFontMetrics(_font())
        for (letter, button), code in zip(self.buttons.items(), self._diagnoses, strict=True):
            text = f"{letter} {code}" if show else letter
            button.setText(text)
            button.setFixedSize(_button_width(text, metrics), BUTTON_H)

    @staticmethod
    def width_for(diagnoses: Sequence[str], codes: bool | None = None) -> int:
        """The column width that shows a toggle for each of ``diagnoses`` (codes, A first):
        with the codes on them (``codes`` True), letters only (False), or as a new row of
        toggles shows them (None: codes while within ``CODES_MAX_WIDTH``)."""
        diagnoses = list(diagnoses[: len(LETTERS)]) or ["?"]
        if codes is None:
            codes = _shows_codes(diagnoses)
        texts = _codes_text(diagnoses) if codes else list(LETTERS[: len(diagnoses)])
        return _row_width(texts[:PER_ROW])

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


class PointerColumn(QObject):
    """Keeps a table's pointer column as wide as its toggles and shows the codes on them only
    while the row fits in ``CODES_MAX_WIDTH`` and leaves ``stretch_column`` ``STRETCH_MIN``
    pixels; it looks again whenever the table is resized."""

    def __init__(self, table: QTableView, column: int, stretch_column: int) -> None:
        super().__init__(table)
        self.table = table
        self.column = column
        self.stretch_column = stretch_column
        self.toggles: list[PointerToggles] = []
        self.diagnoses: list[str] = []
        table.viewport().installEventFilter(self)

    def set_toggles(self, toggles: Sequence[PointerToggles], diagnoses: Sequence[str]) -> None:
        """The toggles now in the column (one row of them per line) and the diagnoses."""
        self.toggles = list(toggles)
        self.diagnoses = list(diagnoses)
        self.fit()

    def room(self) -> int:
        """Pixels the pointer column may take beside the other columns' contents."""
        table, header = self.table, self.table.horizontalHeader()
        others = sum(max(header.sectionSizeHint(c), table.sizeHintForColumn(c))
                     for c in range(table.model().columnCount())
                     if c not in (self.column, self.stretch_column)
                     and not table.isColumnHidden(c))
        return table.viewport().width() - others - STRETCH_MIN

    def fit(self) -> None:
        if not self.toggles or self.table.isColumnHidden(self.column):
            return
        show = self.width_for(True) <= min(CODES_MAX_WIDTH, self.room())
        for toggles in self.toggles:
            if toggles.show_codes != show:
                toggles.set_show_codes(show)
        header = self.table.horizontalHeader().sectionSizeHint(self.column)
        self.table.setColumnWidth(self.column, max(header, self.width_for(show)))

    def width_for(self, codes: bool) -> int:
        return PointerToggles.width_for(self.diagnoses, codes)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False
