"""The running timers on the lock screen: codes, time so far and the next-unit countdown, in
type that reads across the treatment room, and never a name.

During manual therapy nobody touches the computer, so the idle lock comes while 97110 runs.
Locking hides the patient; it must not hide the clinician's minutes. The numbers are the visit
screen's own: each visit's ``LiveTally`` (core/live.py) comes from
``SessionController.tally_for``, which builds it the way the visit screen does (the payer's
rule, the day's finalized visits pooled in), so the countdown here and on the visit screen
can never disagree.

Public API:

* ``RunningVisit``: what one card shows (plain values: no patient, no provider).
* ``TimerBoardSource(repo, controller)``: ``refresh()`` re-reads which visits have a timer
  running (a few queries: call it when locking and every few seconds, not every second);
  ``entries(now) -> list[RunningVisit]`` (cheap: every second).
* ``TimerBoard``: the widget; ``show_entries(entries)``; ``cards`` (one ``TimerCard`` per
  visit: ``codes``, ``labels`` and ``times`` labels, ``next_unit``, ``units``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from therapy_timer.core.live import LiveTally
from therapy_timer.core.model import BillingError
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.clock import on_screen
from therapy_timer.ui.tiles import mmss

log = logging.getLogger(__name__)

#: More cards than this and the numbers would no longer read across the room.
MAX_CARDS = 4


@dataclass(frozen=True, slots=True)
class RunningVisit:
    """One visit with a timer running, as the lock screen shows it: no name of anyone."""

    visit_id: int
    since: datetime  # the visit's first start: tells two visits apart without a name
    codes: tuple[tuple[str, str, int], ...]  # (code, catalog label, seconds so far)
    units: int  # billable units so far (timed by the rule, plus untimed lines)
    seconds_to_next_unit: int | None  # None when no timed code runs


class TimerBoardSource:
    """Which visits have a timer running, and their live facts as of ``now``."""

    def __init__(self, repo, controller: Callable[[], object] | object) -> None:
        self.repo = repo
        self._controller = controller
        self._tallies: list[tuple[int, datetime, tuple[str, ...], LiveTally]] = []

    @property
    def controller(self):
        return self._controller() if callable(self._controller) else self._controller

    def refresh(self) -> None:
        """Re-reads the running intervals and builds one tally per visit (the open visit's
        first). A store that cannot be read leaves the last board up."""
        try:
            running = self.repo.running_intervals()
        except StorageError as exc:
            log.warning("running timers not read for the lock screen: %s", exc)
            return
        controller = self.controller
        by_visit: dict[int, list] = {}
        for interval in running:
            by_visit.setdefault(interval.visit_id, []).append(interval)
        open_id = getattr(getattr(controller, "visit", None), "id", None)
        order = sorted(by_visit, key=lambda v: (v != open_id, min(i.start for i in by_visit[v])))
        tallies = []
        for visit_id in order:
            try:
                tally = controller.tally_for(visit_id)
                intervals = self.repo.intervals_for(visit_id)
            except (StorageError, BillingError) as exc:  # the other cards still show
                log.warning("visit %s left off the lock screen: %s", visit_id, exc)
                continue
            since = min(i.start for i in intervals) if intervals else by_visit[visit_id][0].start
            codes = tuple(sorted(dict.fromkeys(i.code.upper() for i in by_visit[visit_id]),
                                 key=lambda c: not _one_on_one(controller, c)))
            tallies.append((visit_id, since, codes, tally))
        self._tallies = tallies

    def entries(self, now: datetime) -> list[RunningVisit]:
        out = []
        catalog = getattr(self.controller, "catalog", None)
        for visit_id, since, codes, tally in self._tallies:
            facts = tally.facts(now)
            rows = tuple((code, _label(catalog, code), facts.seconds_by_code.get(code, 0))
                         for code in codes)
            # The visit screen's own total: a payer-bundled code (Medicare's 97010) earns none.
            out.append(RunningVisit(visit_id, since, rows, facts.total_units,
                                    facts.seconds_to_next_unit))
        return out


def _one_on_one(controller, code: str) -> bool:
    """The one-on-one code first, as the visit screen's "now running" line lists it."""
    try:
        return controller.catalog.get(code).kind.exclusive
    except (AttributeError, BillingError):
        return False


def _label(catalog, code: str) -> str:
    try:
        return catalog.get(code).label if catalog is not None else ""
    except BillingError:
        return ""


class TimerCard(QFrame):
    """One visit's running codes with their times, the countdown and the units so far."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timerCard")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(20, 10, 20, 10)
        layout.setSpacing(20)
        left = QVBoxLayout()
        left.setSpacing(2)
        self.since = QLabel()
        self.since.setObjectName("timerCaption")
        left.addWidget(self.since)
        self.rows = QGridLayout()
        self.rows.setHorizontalSpacing(16)
        self.rows.setColumnStretch(1, 1)
        self.rows.setVerticalSpacing(0)
        left.addLayout(self.rows)
        self.units = QLabel()
        self.units.setObjectName("timerCaption")
        self.units.setAccessibleName("Units so far")
        left.addWidget(self.units)
        left.addStretch(1)
        layout.addLayout(left, 1)
        self.codes: list[QLabel] = []  # "▶ 97110"
        self.labels: list[QLabel] = []  # the catalog's label
        self.times: list[QLabel] = []  # the code's time so far, mm:ss
        right = QVBoxLayout()
        right.setSpacing(0)
        caption = QLabel("NEXT UNIT IN")
        caption.setObjectName("timerCaption")
        self.next_unit = QLabel("–")
        self.next_unit.setObjectName("timerCountdown")
        self.next_unit.setAccessibleName("Next unit in")
        for widget in (caption, self.next_unit):
            widget.setAlignment(Qt.AlignmentFlag.AlignRight)
            right.addWidget(widget)
        right.addStretch(1)
        layout.addLayout(right)

    def show_entry(self, entry: RunningVisit, compact: bool = False) -> None:
        """Paints ``entry``; ``compact`` leaves the codes' labels out (numbers only)."""
        since = f"{on_screen(entry.since):%I:%M %p}".lstrip("0")  # 12-hour, clinic time
        self.since.setText(f"SINCE {since}" if compact else f"ON THE CLOCK SINCE {since}")
        while len(self.codes) < len(entry.codes):
            row = len(self.codes)
            code, label, time = QLabel(), QLabel(), QLabel()
            code.setObjectName("timerCode")
            label.setObjectName("timerLabel")
            label.setWordWrap(True)
            time.setObjectName("timerTime")
            time.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.rows.addWidget(code, row, 0)
            self.rows.addWidget(label, row, 1)
            self.rows.addWidget(time, row, 2)
            self.codes.append(code)
            self.labels.append(label)
            self.times.append(time)
        for index, widgets in enumerate(zip(self.codes, self.labels, self.times, strict=True)):
            shown = index < len(entry.codes)
            for widget in widgets:
                widget.setVisible(shown and not (compact and widget is widgets[1]))
            if shown:
                code, label, seconds = entry.codes[index]
                _set(widgets[0], f"▶ {code}")
                _set(widgets[1], label)
                _set(widgets[2], mmss(seconds))
                widgets[2].setAccessibleName(f"{code} time")
        _set(self.next_unit, mmss(entry.seconds_to_next_unit)
             if entry.seconds_to_next_unit is not None else "–")
        _set(self.units, f"{entry.units} UNIT{'' if entry.units == 1 else 'S'} SO FAR")


def _set(label: QLabel, text: str) -> None:
    if label.text() != text:
        label.setText(text)


class TimerBoard(QWidget):
    """The cards of every visit with a timer running; hidden when nothing runs. One or two
    visits: a wide card each, one under the other. Three or four: smaller cards, two a row,
    so all of them and the unlock box still fit a 1024 x 700 window."""

    STYLE = (
        "#timerBoard #timerCard { background: #0b3d2a; border: 2px solid #10b981;"
        " border-radius: 14px; }"
        "#timerBoard QLabel { color: white; }"
        "#timerBoard #timerCaption { color: #a7f3d0; font-size: 16px; font-weight: 700;"
        " letter-spacing: 1px; }"
        "#timerBoard #timerCode { font-size: %(code)dpx; font-weight: 800; }"
        "#timerBoard #timerLabel { font-size: 18px; color: #d1fae5; }"
        "#timerBoard #timerTime, #timerBoard #timerCountdown { font-weight: 800;"
        " font-family: 'DejaVu Sans Mono', Consolas, monospace; }"
        "#timerBoard #timerTime { font-size: %(time)dpx; }"
        "#timerBoard #timerCountdown { font-size: %(countdown)dpx; color: #fde68a; }"
        "#timerBoard #timerMore { color: #d1d5db; font-size: 16px; }"
    )
    WIDE = {"code": 36, "time": 56, "countdown": 80}
    COMPACT = {"code": 26, "time": 36, "countdown": 52}

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timerBoard")
        self.compact = False
        self.setStyleSheet(self.STYLE % self.WIDE)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self._grid = QGridLayout()
        self._grid.setSpacing(10)
        layout.addLayout(self._grid)
        self.cards: list[TimerCard] = []
        self.more = QLabel()
        self.more.setObjectName("timerMore")
        layout.addWidget(self.more)
        self.more.hide()
        self._shown = -1
        self.setVisible(False)

    def show_entries(self, entries: Sequence[RunningVisit]) -> None:
        shown = list(entries)[:MAX_CARDS]
        while len(self.cards) < len(shown):
            self.cards.append(TimerCard(self))
        if len(shown) != self._shown:
            self._arrange(len(shown))
        for index, card in enumerate(self.cards):
            if index < len(shown):
                card.show_entry(shown[index], compact=self.compact)
            card.setVisible(index < len(shown))
        extra = len(entries) - len(shown)
        self.more.setText(f"…and {extra} more visit{'s' if extra > 1 else ''} with a timer "
                          "running." if extra > 0 else "")
        self.more.setVisible(extra > 0)
        self.setVisible(bool(shown))

    def _arrange(self, count: int) -> None:
        self._shown = count
        compact = count > 2
        if compact != self.compact:
            self.compact = compact
            self.setStyleSheet(self.STYLE % (self.COMPACT if compact else self.WIDE))
        columns = 2 if compact else 1
        for card in self.cards:
            self._grid.removeWidget(card)
        for index, card in enumerate(self.cards[:count]):
            self._grid.addWidget(card, index // columns, index % columns)
