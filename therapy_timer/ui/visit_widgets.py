"""Pieces of the visit screen: the big totals, inline notices and the interval table.

Humble views: each takes plain values (``LiveFacts``, strings, ``StoredInterval`` rows) and
paints them; none of them talks to the store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.live import LiveFacts
from therapy_timer.core.records import StoredInterval
from therapy_timer.ui import (
    pyside_guard,  # noqa: F401  (before any Qt call)
    style,
)
from therapy_timer.ui.clock import screen_time
from therapy_timer.ui.tiles import mmss


class BigNumber(QFrame):
    """A caption over a large number, readable across the room."""

    def __init__(self, caption: str, name: str, parent: QWidget | None = None,
                 size: int = 52) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 4, 14, 4)
        layout.setSpacing(0)
        # Read from across the room: the layout may never squeeze a number (notices scroll
        # instead), so its height is fixed at what its type needs.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.caption = QLabel(caption.upper())
        self.caption.setStyleSheet(f"font-size: 15px; font-weight: 700; color: {style.MUTED};"
                                   "letter-spacing: 1px;")
        self.value = QLabel("0")
        self.value.setStyleSheet(f"font-size: {size}px; font-weight: 800; color: {style.INK};"
                                 "font-family: 'DejaVu Sans Mono', Consolas, monospace;")
        self.value.setAccessibleName(caption)
        layout.addWidget(self.caption)
        layout.addWidget(self.value)
        self.setStyleSheet(f"BigNumber {{ background: {style.PAPER}; border-radius: 12px;"
                           "border: 1px solid #d1d5db; }")

    def set(self, text: str) -> None:
        if self.value.text() != text:
            self.value.setText(text)


class TotalsCard(QWidget):
    """Visit totals: units, timed minutes, treatment time, time to the next unit."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(10)
        self.units = BigNumber("Total units", "total_units", size=64)
        self.timed = BigNumber("Timed minutes", "timed_minutes")
        self.treatment = BigNumber("Treatment time", "treatment_time")
        self.next_unit = BigNumber("Next unit in", "next_unit")
        grid.addWidget(self.units, 0, 0)
        grid.addWidget(self.next_unit, 0, 1)
        grid.addWidget(self.timed, 1, 0)
        grid.addWidget(self.treatment, 1, 1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        for pair in ((self.units, self.next_unit), (self.timed, self.treatment)):
            height = max(box.sizeHint().height() for box in pair)
            for box in pair:  # the two boxes of a row stand the same height
                box.setMinimumHeight(height)

    def numbers(self) -> tuple[BigNumber, ...]:
        return (self.units, self.next_unit, self.timed, self.treatment)

    def show_facts(self, facts: LiveFacts | None, treatment_seconds: int,
                   total_units: int | None = None) -> None:
        if facts is None:
            for box in (self.units, self.timed, self.next_unit):
                box.set("–")
            self.treatment.set(mmss(0))
            return
        units = facts.total_units if total_units is None else total_units
        self.units.set(str(units))
        self.timed.set(str(facts.total_timed_minutes))
        self.treatment.set(mmss(treatment_seconds))
        self.next_unit.set(mmss(facts.seconds_to_next_unit)
                           if facts.seconds_to_next_unit is not None else "–")


class Notice(QFrame):
    """One inline notice with optional action buttons."""

    COLOURS = {
        "warn": (style.WARN_BG, style.WARN_INK),
        "info": (style.INFO_BG, style.INFO_INK),
        "error": (style.ERROR_BG, style.ERROR_INK),
    }

    def __init__(self, key: str, text: str, level: str = "info",
                 actions: Sequence[tuple[str, Callable[[], None]]] = (),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        bg, ink = self.COLOURS[level]
        self.setStyleSheet(f"Notice {{ background: {bg}; border-radius: 8px; "
                           f"border-left: 6px solid {ink}; }} QLabel {{ color: {ink}; "
                           "font-size: 15px; font-weight: 600; }")
        # The text takes the whole width; the actions sit on a row of their own under it, so
        # a long question with two answers never squeezes the text into a narrow column.
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.setSpacing(6)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label)
        self.buttons: dict[str, QPushButton] = {}
        if actions:
            row = QHBoxLayout()
            row.addStretch(1)
            for caption, callback in actions:
                button = QPushButton(caption)
                button.setAccessibleName(f"{caption}: {text[:60]}")
                button.clicked.connect(lambda _checked=False, cb=callback: cb())
                row.addWidget(button)
                self.buttons[caption] = button
            layout.addLayout(row)
        self.setAccessibleName(text)


class NoticeList(QWidget):
    """A stack of notices, replaced as a whole each time the visit changes.

    ``height_needed(int)``: the height all of them need at the current width (the scroll area
    around them grows no taller than that, and scrolls when it has less).
    """

    height_needed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self._layout.addStretch(1)  # notices keep their height at the top; the list scrolls
        self.notices: dict[str, Notice] = {}

    def set_notices(self, notices: Sequence[Notice]) -> None:
        """Shows ``notices``; when they say the same as the ones shown, keeps those (no
        flicker, and a button the clinician is about to press stays put)."""
        same = [(n.key, n.label.text()) for n in notices] == [
            (n.key, n.label.text()) for n in self.notices.values()]
        if same:
            for notice in notices:
                notice.deleteLater()
            return
        for notice in self.notices.values():
            notice.hide()
            notice.deleteLater()
        self.notices = {}
        for notice in notices:
            self._layout.insertWidget(self._layout.count() - 1, notice)
            self.notices[notice.key] = notice
        self._fit_height()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._fit_height()


    def _fit_height(self) -> None:
        """Every notice keeps the height its wrapped text needs at the current width: the
        scroll area around the list scrolls rather than squeezing the text."""
        height = self._layout.totalHeightForWidth(max(1, self.width()))
        if height < 0:  # no wrapped text: the plain minimum
            height = self._layout.totalMinimumSize().height()
        if height != self.minimumHeight():
            self.setMinimumHeight(height)
            self.height_needed.emit(height)

    def texts(self) -> list[str]:
        return [n.label.text() for n in self.notices.values()]


class NoticeScroll(QScrollArea):
    """The notices' scroll area: it asks for the height the visit panel gives it
    (``set_wanted``) and may be squeezed below that (to its minimum) while the window lays
    itself out; it scrolls whenever the notices need more."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._wanted = 0

    def set_wanted(self, height: int) -> None:
        if height != self._wanted:
            self._wanted = height
            self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(super().sizeHint().width(), max(self._wanted, self.minimumHeight()))


def _hms(moment: datetime | None, seconds: bool = False) -> str:
    """The table's start and end ("3:10 PM": the column stays narrow beside the codes); the
    tooltip and Edit time show the seconds."""
    return screen_time(moment, seconds=seconds) if moment else "running"


class IntervalTableModel(QAbstractTableModel):
    """Read-only rows of the visit's intervals: start, end, code, performer, mm:ss."""

    HEADERS = ("Start", "End", "Code", "By", "Time")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[StoredInterval] = []
        self.now: datetime | None = None

    def set_rows(self, rows: Sequence[StoredInterval], now: datetime) -> None:
        self.beginResetModel()
        self.rows = sorted(rows, key=lambda i: i.start)
        self.now = now
        self.endResetModel()

    def set_now(self, now: datetime) -> None:
        """Updates only the running rows' time column."""
        self.now = now
        for row, interval in enumerate(self.rows):
            if interval.end is None:
                index = self.index(row, 4)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DisplayRole])

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        interval = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            col = index.column()
            if col == 0:
                return _hms(interval.start)
            if col == 1:
                return _hms(interval.end)
            if col == 2:
                extra = ""
                if interval.technique or interval.body_region:
                    extra = f" ({interval.technique or ''}, {interval.body_region or ''})"
                return interval.code + extra
            if col == 3:
                return interval.performer.value
            if col == 4:
                return mmss(interval.measured_seconds(self.now) if self.now is not None
                            else interval.interval.seconds(self.now))
        if role == Qt.ItemDataRole.ToolTipRole and index.column() in (0, 1):
            return _hms(interval.start if index.column() == 0 else interval.end, seconds=True)
        if role == Qt.ItemDataRole.UserRole:
            return interval.id
        return None

    def interval_at(self, row: int) -> StoredInterval | None:
        return self.rows[row] if 0 <= row < len(self.rows) else None
