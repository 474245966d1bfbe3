"""Big touch-sized intervention tiles and the grid that holds them.

A tile shows the code, our short label, the live mm:ss and the units for that code. It is a
humble view: it paints what it is given (``show_time``) and emits ``tapped(code)``; the visit
panel decides what a tap means.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QAbstractButton, QGridLayout, QSizePolicy, QWidget

from therapy_timer.core.codes import CodeInfo, CodeKind
from therapy_timer.core.model import Discipline
from therapy_timer.ui import (
    pyside_guard,  # noqa: F401  (before any Qt call)
    style,
)

#: The usual interventions per discipline when a provider has not chosen favourites.
DEFAULT_TILES: dict[Discipline, tuple[str, ...]] = {
    Discipline.PT: ("97110", "97112", "97116", "97140", "97530", "97535", "97010", "97014",
                    "97035", "97161", "97162", "97150"),
    Discipline.OT: ("97530", "97535", "97110", "97112", "97140", "97165", "97166", "97010",
                    "97018", "97035", "97150", "97760"),
    Discipline.SLP: ("92507", "92526", "97129", "97130", "92521", "92522", "92523", "92524",
                     "92508", "97535", "97533", "97150"),
}

IDLE, RUNNING, ALONGSIDE, DONE, PAUSED = "idle", "running", "alongside", "done", "paused"
#: Running on another station (issue 14): shown with its time, not as this station's timer.
ELSEWHERE = "elsewhere"


def mmss(seconds: int | None) -> str:
    """``754`` -> ``"12:34"``; hours roll into minutes (``"75:00"``)."""
    if seconds is None:
        return "--:--"
    seconds = max(0, int(seconds))
    return f"{seconds // 60:d}:{seconds % 60:02d}"


def _font(base: QFont, pixels: int, *, bold: bool = False, mono: bool = False) -> QFont:
    font = QFont(base)
    if mono:
        font.setFamilies(["DejaVu Sans Mono", "Consolas", "Menlo", "monospace"])
        font.setStyleHint(QFont.StyleHint.Monospace)
    font.setPixelSize(pixels)
    font.setBold(bold)
    return font


def _fit(font: QFont, text: str, width: float, smallest: int = 11) -> QFont:
    """Shrinks ``font`` until ``text`` fits in ``width`` pixels."""
    font = QFont(font)
    while font.pixelSize() > smallest and QFontMetricsF(font).horizontalAdvance(text) > width:
        font.setPixelSize(font.pixelSize() - 1)
    return font


def _two_lines(text: str, metrics: QFontMetricsF, width: float) -> str:
    """Word-wraps ``text`` to two lines, eliding the second."""
    words, first = text.split(), ""
    while words and metrics.horizontalAdvance((first + " " + words[0]).strip()) <= width:
        first = (first + " " + words.pop(0)).strip()
    if not words:
        return first
    rest = metrics.elidedText(" ".join(words), Qt.TextElideMode.ElideRight, width)
    return f"{first}\n{rest}" if first else rest


class InterventionTile(QAbstractButton):
    """One intervention: tap to start or stop its timer."""

    tapped = Signal(str)

    def __init__(self, info: CodeInfo, shortcut: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info = info
        self.code = info.code
        self.shortcut_digit = shortcut
        self.state = IDLE
        self.seconds = 0
        self.units = 0
        self.performer = ""
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        # Four across fit beside the totals at the 1024-px minimum window, four rows (a code
        # added from "Any other code") in its 700-px height; the paint code
        # shrinks its type to the width it gets.
        self.setMinimumSize(124, 100)
        kind = "" if info.kind.timed else f" ({info.kind.description})"
        hint = f" Shortcut: {shortcut}." if shortcut else ""
        self.setToolTip(f"{info.code} {info.label}{kind}. Tap to start or stop.{hint}")
        self.clicked.connect(lambda: self.tapped.emit(self.code))
        self._update_accessible()

    def sizeHint(self) -> QSize:
        return QSize(style.TILE_W, style.TILE_H)

    def show_time(self, seconds: int, units: int, state: str, performer: str = "") -> None:
        """Updates what the tile shows; repaints only when something changed."""
        new = (int(seconds), int(units), state, performer)
        if new == (self.seconds, self.units, self.state, self.performer):
            return
        self.seconds, self.units, self.state, self.performer = new
        self._update_accessible()
        self.update()

    def _update_accessible(self) -> None:
        status = {RUNNING: "running", ALONGSIDE: "running alongside", PAUSED: "paused",
                  DONE: "stopped", IDLE: "not started",
                  ELSEWHERE: f"running on {self.performer}"}[self.state]
        self.setAccessibleName(f"{self.code} {self.info.label}")
        self.setAccessibleDescription(
            f"{status}, {mmss(self.seconds)}, {self.units} unit{'s' if self.units != 1 else ''}")

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(3, 3, -3, -3)
        bg, ink, sub = QColor(style.PAPER), QColor(style.INK), QColor(style.MUTED)
        border = QColor(style.LINE)
        if self.state == RUNNING:
            bg, ink, sub, border = (QColor(style.RUNNING), QColor("white"), QColor("#d1fae5"),
                                    QColor(style.RUNNING))
        elif self.state == ALONGSIDE:
            bg, ink, sub, border = (QColor(style.ALONGSIDE), QColor("white"), QColor("#dbeafe"),
                                    QColor(style.ALONGSIDE))
        elif self.state == PAUSED:
            bg, ink, sub, border = (QColor(style.PAUSED), QColor("white"), QColor("#fef3c7"),
                                    QColor(style.PAUSED))
        elif self.state == DONE:
            bg, border = QColor(style.DONE), QColor("#059669")
        elif self.state == ELSEWHERE:  # another station's timer: outlined, not filled
            border = QColor(style.RUNNING)
        if not self.isEnabled() and self.state == IDLE:  # a finalized visit: nothing to tap
            bg, ink, sub, border = (QColor(style.DISABLED_BG), QColor(style.MUTED),
                                    QColor(style.MUTED), QColor(style.DISABLED_BG))
        if self.hasFocus():
            border = QColor(style.ACCENT)
        painter.setPen(QPen(border, 4 if self.hasFocus() else 2))
        painter.setBrush(bg)
        painter.drawRoundedRect(rect, 14, 14)

        pad = 12
        inner = rect.adjusted(pad, pad - 4, -pad, -pad + 2)
        h, w = inner.height(), inner.width()
        left_top = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop

        # Top row: the code, big; the shortcut digit in a small badge at the right.
        badge_w = 0
        if self.shortcut_digit:
            key_font = _font(self.font(), max(12, int(h * 0.11)), bold=True)
            painter.setFont(key_font)
            badge = QRectF(0, 0, QFontMetricsF(key_font).horizontalAdvance("8") + 12,
                           QFontMetricsF(key_font).height() + 4)
            badge.moveTopRight(QPointF(inner.right(), inner.top() + 4))
            painter.setPen(QPen(sub, 1.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(badge, 4, 4)
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, str(self.shortcut_digit))
            badge_w = badge.width() + 6
        code_font = _fit(_font(self.font(), max(18, int(h * 0.22)), bold=True), self.code,
                         w - badge_w)
        painter.setFont(code_font)
        painter.setPen(ink)
        code_h = QFontMetricsF(code_font).height()
        painter.drawText(QRectF(inner.left(), inner.top(), w - badge_w, code_h), left_top,
                         self.code)

        # Middle: our label on up to two lines.
        label_font = _font(self.font(), max(13, int(h * 0.115)), bold=True)
        longest = max(self.info.label.split(), key=len, default="")
        label_font = _fit(label_font, longest, w)
        painter.setFont(label_font)
        painter.setPen(ink if self.state in (IDLE, DONE) else sub)
        metrics = QFontMetricsF(label_font)
        label_rect = QRectF(inner.left(), inner.top() + code_h, w, metrics.lineSpacing() * 2)
        painter.drawText(label_rect, left_top | Qt.TextFlag.TextWordWrap,
                         _two_lines(self.info.label, metrics, w))

        # Bottom row: live mm:ss (left), units and performer (right).
        bottom = QRectF(inner.left(), label_rect.bottom(), w, inner.bottom() - label_rect.bottom())
        timed = self.info.kind.timed
        right_w = 0.0
        if self.seconds or self.state != IDLE:
            if timed or self.units:
                # Units in an inverted pill at the bottom right: "2 u".
                unit_font = _font(self.font(), max(15, int(h * 0.16)), bold=True)
                painter.setFont(unit_font)
                label = f"{self.units} u"
                um = QFontMetricsF(unit_font)
                pill = QRectF(0, 0, um.horizontalAdvance(label) + 14, um.height() + 6)
                pill.moveBottomRight(QPointF(inner.right(), inner.bottom()))
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(ink)
                painter.drawRoundedRect(pill, pill.height() / 2, pill.height() / 2)
                painter.setPen(bg)
                painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, label)
                right_w = pill.width() + 8
                top_of_pill = pill.top()
            else:
                top_of_pill = inner.bottom()
            if self.performer and self.state in (RUNNING, ALONGSIDE, PAUSED, ELSEWHERE):
                perf_font = _font(self.font(), max(11, int(h * 0.10)), bold=True)
                painter.setFont(perf_font)
                painter.setPen(sub)
                above = QRectF(bottom.left(), bottom.top(), w, top_of_pill - bottom.top() - 2)
                painter.drawText(above, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
                                 self.performer)
            text = mmss(self.seconds)
            time_font = _font(self.font(), max(20, int(h * 0.32)), bold=True, mono=True)
            time_font = _fit(time_font, text, w - right_w)
            painter.setFont(time_font)
            painter.setPen(ink)
            painter.drawText(bottom, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                             text)
        else:
            hint_font = _font(self.font(), max(12, int(h * 0.105)))
            painter.setFont(hint_font)
            painter.setPen(sub)
            text = "timed" if timed else ("1 unit, untimed" if self.info.kind in (
                CodeKind.EVALUATION, CodeKind.GROUP, CodeKind.UNTIMED) else "runs alongside")
            painter.drawText(bottom, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                             text)
        painter.end()


class TileGrid(QWidget):
    """The tiles in rows of ``columns``; re-emits every tile's tap as ``tapped(code)``."""

    tapped = Signal(str)

    def __init__(self, parent: QWidget | None = None, columns: int = 4) -> None:
        super().__init__(parent)
        self.columns = columns
        self._layout = QGridLayout(self)
        self._layout.setSpacing(12)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.tiles: dict[str, InterventionTile] = {}
        self.setAccessibleName("Intervention tiles")

    def set_codes(self, infos: Sequence[CodeInfo]) -> None:
        """Replaces the tiles (keeps a tile already shown for a code)."""
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget()
            if widget is not None and widget.code not in {i.code for i in infos}:
                widget.deleteLater()
        old = self.tiles
        self.tiles = {}
        for index, info in enumerate(infos):
            tile = old.get(info.code)
            if tile is None:
                tile = InterventionTile(info, index + 1 if index < 9 else None, self)
                tile.tapped.connect(self.tapped)
            else:
                tile.shortcut_digit = index + 1 if index < 9 else None
            self.tiles[info.code] = tile
            self._layout.addWidget(tile, index // self.columns, index % self.columns)
            tile.show()  # a tile added to the grid on screen shows at once, not after a loop

    def tile_at(self, digit: int) -> InterventionTile | None:
        """The tile a digit key 1-9 selects."""
        for tile in self.tiles.values():
            if tile.shortcut_digit == digit:
                return tile
        return None
