"""The visit screen: tiles to tap, live minutes and units, notices, pause and performer.

Slots forward intent to the ``SessionController`` (one call each); repainting reads
``controller.facts()``. Digits 1-9 tap the tiles, Space pauses or resumes (both in tooltips).
"""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import QEvent, QRect, QSettings, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetrics, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QCompleter,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.codes import CodeKind
from therapy_timer.core.formats import format_date, format_weekday_date
from therapy_timer.core.model import BillingError, Discipline, Performer
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import (
    pyside_guard,  # noqa: F401  (before any Qt call)
    style,
)
from therapy_timer.ui.assistant import (
    AssistantDialog,
    remember_assistant,
    remembered_assistant,
    shown_name,
)
from therapy_timer.ui.clock import screen_time
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.models import records_table
from therapy_timer.ui.session_controller import SessionController, TimeJump
from therapy_timer.ui.settings import app_settings
from therapy_timer.ui.station.offline import OfflineBanner
from therapy_timer.ui.station.takeover import TakeOver
from therapy_timer.ui.tiles import (
    ALONGSIDE,
    DEFAULT_TILES,
    DONE,
    ELSEWHERE,
    IDLE,
    PAUSED,
    RUNNING,
    TileGrid,
)
from therapy_timer.ui.visit_dialogs import IntervalEditDialog, TechniqueDialog
from therapy_timer.ui.visit_notices import build_notices
from therapy_timer.ui.visit_widgets import (
    IntervalTableModel,
    NoticeList,
    NoticeScroll,
    TotalsCard,
)

log = logging.getLogger(__name__)

PERFORMERS = {
    Discipline.PT: (Performer.PT, Performer.PTA),
    Discipline.OT: (Performer.OT, Performer.OTA),
    Discipline.SLP: (Performer.SLP,),
}
#: Bill the visit again (notices) every this many ticks while a timer runs.
REBILL_TICKS = 15
#: Below these the notices scroll and the recorded-time table scrolls; what is left of the
#: column's height goes to the notices first.
NOTICES_MIN_HEIGHT = 72
TABLE_MIN_HEIGHT = 76
BANNER_PX, BANNER_DETAIL_PX = 22, 16
TITLE_PX, TITLE_MIN_PX = 30, 18


def _font_px(base: QFont, pixels: int) -> QFont:
    font = QFont(base)
    font.setPixelSize(pixels)
    font.setBold(True)
    return font


class VisitPanel(QWidget):
    """The heart of the app: one visit's timers."""

    finalize_requested = Signal(int)
    diagnoses_requested = Signal(int)
    leave_requested = Signal()

    def __init__(self, controller: SessionController, parent: QWidget | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.settings = app_settings(settings)  # this workstation's (the assistant it chose)
        self.controller = controller
        self.repo = controller.repo
        self._base_tiles: list = []  # the provider's favourites (or the defaults)
        self._subtitle_parts: list[str] = []
        self.billing = None
        self.billing_error = ""  # why the engine refuses the visit as recorded, if it does
        #: The visit's date when it is of an earlier day than today (no timer starts on it).
        self.earlier_day = None
        self._ticks = 0
        self.setAccessibleName("Visit")
        self._build()
        # While the clinic server is away: the plain notice, and Finish needs the server.
        self.offline_banner = OfflineBanner(controller.repo, self)
        self.layout().insertWidget(0, self.offline_banner)
        self.offline_banner.guard(self.finalize_button, "Finishing the visit")
        self.offline_banner.changed.connect(self._offline_changed,
                                            Qt.ConnectionType.QueuedConnection)
        controller.changed.connect(self.on_changed)
        controller.ticked.connect(self.on_tick)
        controller.failed.connect(self.on_failed)
        controller.provider_busy.connect(self.on_provider_busy)
        controller.ask_take_over = lambda held: TakeOver.ask(self, held, self.repo.station)
        controller.time_jump.connect(lambda _jump: self.refresh_notices())

    @property
    def catalog(self):
        """The controller's catalog (shipped codes plus the clinic's own)."""
        return self.controller.catalog

    # -- layout -------------------------------------------------------------------------------

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 12, 16, 12)
        outer.setSpacing(10)

        header = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(0)
        self.title = QLabel("No visit open")
        self.title.setStyleSheet(f"font-size: {TITLE_PX}px; font-weight: 800;")
        self.title.setAccessibleName("Patient")
        self.subtitle = QLabel("")
        self.subtitle.setStyleSheet(f"font-size: 17px; color: {style.MUTED}; font-weight: 600;")
        for label in (self.title, self.subtitle):  # a long name wraps: it is never cut off
            label.setWordWrap(True)
            label.installEventFilter(self)  # ... and keeps the height of all its lines
            titles.addWidget(label)
        header.addLayout(titles, 1)

        self.performer_box = QFrame()
        perf_layout = QHBoxLayout(self.performer_box)
        perf_layout.setContentsMargins(0, 0, 0, 0)
        perf_layout.setSpacing(0)
        self.performer_group = QButtonGroup(self)
        self.performer_group.setExclusive(True)
        self.performer_buttons: dict[Performer, QPushButton] = {}
        for performer in Performer:
            button = QPushButton(performer.value)
            button.setCheckable(True)
            button.setMinimumSize(84, style.TOUCH)
            button.setAccessibleName(f"Performed by {performer.value}")
            button.setToolTip(f"Time from now on is recorded as furnished by the "
                              f"{'assistant' if performer.is_assistant else 'therapist'} "
                              f"({performer.value}); a running timer is split here.")
            button.setStyleSheet(
                "QPushButton { border-radius: 0; font-size: 18px; }"
                f"QPushButton:checked {{ background: {style.INK}; color: white;"
                f"border-color: {style.INK}; }}")
            button.clicked.connect(lambda _=False, p=performer: self.on_performer(p))
            self.performer_group.addButton(button)
            self.performer_buttons[performer] = button
            perf_layout.addWidget(button)
        header.addWidget(self.performer_box)

        self.pause_button = QPushButton("Pause")
        self.pause_button.setMinimumSize(150, style.TOUCH)
        self.pause_button.setToolTip("Pause for rest or toileting: paused time is not treatment "
                                     "time. Shortcut: Space")
        self.pause_button.setAccessibleName("Pause or resume")
        self.pause_button.clicked.connect(self.controller.toggle_pause)
        header.addWidget(self.pause_button)

        self.diagnoses_button = QPushButton("Diagnoses")
        self.diagnoses_button.setMinimumHeight(style.TOUCH)
        self.diagnoses_button.setAccessibleName("Diagnoses")
        self.diagnoses_button.clicked.connect(
            lambda: self.controller.visit and self.diagnoses_requested.emit(
                self.controller.visit.id))
        header.addWidget(self.diagnoses_button)

        self.finalize_button = QPushButton("Finish visit")
        self.finalize_button.setMinimumSize(160, style.TOUCH)
        self.finalize_button.setAccessibleName("Finish and review the visit")
        style.polish(self.finalize_button, primary=True)
        self.finalize_button.clicked.connect(self.on_finalize)
        header.addWidget(self.finalize_button)
        self.back_button = QPushButton("Today")
        self.back_button.setMinimumHeight(style.TOUCH)
        self.back_button.setAccessibleName("Back to today's visits")
        self.back_button.setToolTip("Back to today's list; running timers keep running")
        self.back_button.clicked.connect(self.leave_requested)
        header.addWidget(self.back_button)
        outer.addLayout(header)
        # Said when another station finalizes this visit while it is open here.
        self.read_only_notice = QLabel("")
        self.read_only_notice.setObjectName("readOnlyNotice")
        self.read_only_notice.setWordWrap(True)
        self.read_only_notice.setAccessibleName("Read only")
        self.read_only_notice.setStyleSheet(
            f"background: {style.WARN_BG}; color: {style.WARN_INK}; border-radius: 8px;"
            " padding: 8px 12px; font-size: 17px; font-weight: 700;")
        self.read_only_notice.hide()
        outer.addWidget(self.read_only_notice)

        body = QHBoxLayout()
        body.setSpacing(16)
        left = QVBoxLayout()
        self.tiles = TileGrid(self, columns=4)
        self.tiles.tapped.connect(self.on_tile)
        left.addWidget(self.tiles, 1)
        search_row = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Any other code: type a number or words, then Enter")
        self.search.setAccessibleName("Search codes")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumHeight(style.TOUCH - 8)
        self._completions = QStringListModel(self)
        completer = QCompleter(self._completions, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.activated.connect(self.on_search_chosen)
        self.search.setCompleter(completer)
        self.search.returnPressed.connect(self._on_search_return)
        self.search.installEventFilter(self)  # Escape leaves the box (back to the tiles)
        search_row.addWidget(self.search, 1)
        left.addLayout(search_row)
        body.addLayout(left, 1)

        # The right column at the 700-px minimum height: the banner (two lines at most), the
        # four numbers at their full size (never squeezed), then the notices, which scroll in
        # whatever height is left, and the recorded time.
        right = QVBoxLayout()
        right.setSpacing(8)
        self.now_running = QLabel("Nothing running")
        self.now_running.setObjectName("now_running")
        self.now_running.setWordWrap(True)
        self.now_running.setAccessibleName("Now running")
        self.now_running.setMinimumHeight(56)
        self.now_running.setSizePolicy(QSizePolicy.Policy.Preferred,
                                       QSizePolicy.Policy.Minimum)
        right.addWidget(self.now_running)
        self.totals = TotalsCard(self)
        right.addWidget(self.totals)
        self.notices = NoticeList(self)
        self.notice_scroll = scroll = NoticeScroll()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        # Notices wrap to the panel's width: never a sideways scroll.
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.notices)
        scroll.setMinimumHeight(NOTICES_MIN_HEIGHT)
        self.notices.height_needed.connect(lambda _h: self._share_column())
        right.addWidget(scroll)
        table_row = QHBoxLayout()
        self.table_caption = caption = QLabel("Recorded time")
        caption.setProperty("role", "caption")
        table_row.addWidget(caption, 1)
        self.edit_button = QPushButton("Edit time…")
        self.edit_button.setObjectName("editTime")
        self.edit_button.setStyleSheet("QPushButton#editTime { padding: 2px 14px; }")
        self.edit_button.setAccessibleName("Edit the selected interval")
        self.edit_button.clicked.connect(self.on_edit)
        table_row.addWidget(self.edit_button)
        right.addLayout(table_row)
        self.interval_model = IntervalTableModel(self)
        self.table = records_table(self.interval_model, "Recorded intervals")
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda _i: self.on_edit())
        self.table.setMinimumHeight(TABLE_MIN_HEIGHT)
        right.addWidget(self.table, 1)
        self.right_column = QWidget()
        self.right_column.setLayout(right)
        self.right_column.setFixedWidth(430)
        self.right_column.installEventFilter(self)  # its height is shared on each resize
        right.setContentsMargins(0, 0, 0, 0)
        body.addWidget(self.right_column)
        outer.addLayout(body, 1)

        for digit in range(1, 10):
            shortcut = QShortcut(QKeySequence(str(digit)), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda d=digit: self.on_digit(d))
        space = QShortcut(QKeySequence(Qt.Key.Key_Space), self)
        space.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        space.activated.connect(self.controller.toggle_pause)

    # -- showing ------------------------------------------------------------------------------

    @property
    def tie_choice(self) -> dict[str, int] | None:
        """The visit's stored tie choice (None when the clinician made none)."""
        return dict(self.controller.choices.tie) or None

    def performers(self) -> tuple[Performer, ...]:
        visit = self.controller.visit
        return PERFORMERS.get(visit.discipline, ()) if visit else ()

    def load(self) -> None:
        """Fills the screen for the controller's visit (called after ``open_visit``)."""
        visit = self.controller.visit
        if visit is None:
            return
        if not visit.status.frozen or self.read_only_notice.property("visit") != visit.id:
            self.read_only_notice.hide()  # another visit, or this one open again
        patient = self.repo.get_patient(visit.patient_id)
        provider = next((p for p in self.repo.list_providers() if p.id == visit.provider_id),
                        None)
        self.title.setText(patient.display_name)
        self._fit_title()
        self._hold_lines(self.title)
        rule = self.controller.rule.label
        parts = [visit.discipline.value, provider.name if provider else "", rule]
        today = self.repo.service_day(self.controller.clock.now())
        self.earlier_day = visit.day if visit.day < today else None
        if self.earlier_day:  # timers start only on today's visits (the store refuses)
            days = (today - visit.day).days
            parts.append(f"visit of {format_date(visit.day)} ({days} day{'s' if days != 1 else ''}"
                         " ago): finish it with its recorded time")
        earlier = {i.visit_id for i in self.controller.pooled}
        if earlier:
            parts.append(f"units pooled with {len(earlier)} earlier visit"
                         f"{'s' if len(earlier) > 1 else ''} today")
        self.subtitle.setToolTip(f"Visit of {format_weekday_date(visit.day, long=True)}; "
                                 f"units follow the payer's {rule}")
        self._subtitle_parts = [p for p in parts if p]
        self.subtitle.setText("  ·  ".join(self._subtitle_parts))
        self._hold_lines(self.subtitle)
        allowed = self.performers()
        for performer, button in self.performer_buttons.items():
            button.setVisible(performer in allowed)
        self.performer_box.setVisible(len(allowed) > 1)
        self._base_tiles = self._tile_infos(visit.discipline, visit.provider_id, visit.day)
        self._show_tiles()
        self._completions.setStringList(
            [f"{c.code}  {c.label}" for c in self.catalog.all(visit.day)
             if c.kind is not CodeKind.PERIODIC])
        self.on_changed()

    def _tile_infos(self, discipline: Discipline, provider_id: int, day):
        codes: list[str] = []
        try:
            codes = self.repo.favourite_codes(provider_id)
        except StorageError as exc:  # a locked or damaged file: the defaults still work
            log.warning("favourite tiles not read: %s", exc)
        codes = codes or list(DEFAULT_TILES[discipline])
        infos = []
        for code in codes:
            try:
                infos.append(self.catalog.get(code, day))
            except BillingError:
                log.info("tile %s is not valid on %s", code, day)
        return infos

    def _show_assistant(self) -> None:
        """The assistant chosen at the switch, named in the subtitle and the switch's tip."""
        name = ""
        assistant = self.controller.performer_provider()
        if assistant is not None:
            try:
                name = shown_name(self.repo.get_provider(assistant))
            except StorageError as exc:
                log.info("assistant %s not read: %s", assistant, exc)
        parts = list(self._subtitle_parts) + ([f"assistant: {name}"] if name else [])
        text = "  ·  ".join(parts)
        if text != self.subtitle.text():
            self.subtitle.setText(text)
            self._hold_lines(self.subtitle)
        for performer, button in self.performer_buttons.items():
            if performer.is_assistant:
                who = name if name and performer is self.controller.performer else \
                    f"the {performer.value}"
                button.setAccessibleDescription(f"Time is recorded as furnished by {who}")

    def on_performer(self, performer: Performer) -> None:
        """The PT | PTA switch: an assistant is named (asked, the station's last choice
        first), then the controller splits the running timers there."""
        provider_id = None
        if performer.is_assistant:
            assistants = [p for p in self.repo.list_providers()
                          if p.role is performer and p.discipline is performer.discipline]
            if assistants:
                provider_id = AssistantDialog.ask(
                    self, performer, assistants, remembered_assistant(self.settings, performer))
                if provider_id is None:  # cancelled: the switch shows who it was
                    self.on_changed()
                    return
                remember_assistant(self.settings, performer, provider_id)
        self.controller.set_performer(performer, provider_id)

    def _show_tiles(self) -> None:
        """The provider's tiles, then one for each other code recorded on this visit (started
        from "Any other code"): it shows its minutes and units and stops on its own, like the
        others. Read from the visit's stored intervals, so reopening the visit keeps it."""
        visit = self.controller.visit
        infos = list(self._base_tiles)
        shown = {info.code for info in infos}
        added = []
        for interval in self.controller.intervals:
            if interval.code in shown:
                continue
            try:
                info = self.catalog.get(interval.code, visit.day)
            except BillingError:
                log.info("no tile for %s on %s", interval.code, visit.day)
                continue
            infos.append(info)
            shown.add(info.code)
            added.append(info.code)
        if [info.code for info in infos] != list(self.tiles.tiles):
            self.tiles.set_codes(infos)
            for code in added:
                tile = self.tiles.tiles[code]
                tile.setToolTip(tile.toolTip() + " Added for this visit (Any other code).")

    def on_changed(self) -> None:
        """The store changed: bill again for notices, then repaint everything."""
        controller = self.controller
        if controller.visit is None:
            return
        self._show_tiles()
        editable = controller.editable
        for widget in (self.tiles, self.search, self.pause_button, self.performer_box,
                       self.edit_button):
            widget.setEnabled(editable)
        self.finalize_button.setText("Finish visit" if editable else "Review")
        count = len(controller.visit.diagnoses)
        self.diagnoses_button.setText(f"Diagnoses ({count})" if count else "Diagnoses")
        self.diagnoses_button.setEnabled(editable)
        if controller.performer in self.performer_buttons:
            self.performer_buttons[controller.performer].setChecked(True)
        self._show_assistant()
        self.pause_button.setText("Resume" if controller.paused else "Pause")
        style.polish(self.pause_button, danger=controller.paused)
        if self.earlier_day and controller.paused:  # resuming would time today on its date
            self.pause_button.setEnabled(False)
            style.polish(self.pause_button, danger=False)  # shown disabled, not as a call
        self.interval_model.set_rows(controller.intervals, controller.clock.now())
        self.refresh_notices()
        self.on_tick()

    def show_read_only(self, text: str) -> None:
        """Says why the screen no longer edits (the visit was finalized elsewhere)."""
        self.read_only_notice.setText(text)
        self.read_only_notice.setProperty("visit", self.controller.visit.id)
        self.read_only_notice.show()

    def refresh_notices(self) -> None:
        controller = self.controller
        if controller.visit is None:
            return
        self.billing = None
        self.billing_error = ""
        try:
            self.billing = self.repo.bill_visit(controller.visit.id, controller.clock.now())
        except BillingError as exc:  # said on the screen now, not only at the review
            self.billing_error = str(exc)
        except StorageError as exc:
            log.info("visit not billable yet: %s", exc)
        self.notices.set_notices(build_notices(self, controller, self.billing))
        self.notice_scroll.setVisible(bool(self.notices.notices))
        self._share_column()

    def on_tick(self) -> None:
        """Once a second: repaint tiles, totals and the running row from stored timestamps."""
        controller = self.controller
        if controller.visit is None:
            return
        now = controller.clock.now()
        facts = controller.facts(now)
        running = {i.code: i for i in controller.running()}
        for code, tile in self.tiles.tiles.items():
            seconds = facts.seconds_by_code.get(code, 0) if facts else 0
            info = tile.info
            # The allocation's units (the stored tie choice applied; an untimed code timed
            # under a minute earns its unit only once the clinician confirms it).
            units = facts.units(code) if facts else 0
            if code in running and controller.stations.timed_elsewhere(running[code]):
                state, performer = ELSEWHERE, running[code].station  # not this station's
            elif code in running:
                state = ALONGSIDE if not info.kind.exclusive else RUNNING
                performer = running[code].performer.value
            elif code in controller.paused_codes and controller.paused:
                state, performer = PAUSED, ""
            else:
                state, performer = (DONE if seconds else IDLE), ""
            tile.show_time(seconds, units, state, performer)
        self.totals.show_facts(facts, self._treatment_seconds(now))
        self._show_running(facts, running)
        self.interval_model.set_now(now)
        self._ticks += 1
        if running and self._ticks % REBILL_TICKS == 0:
            self.refresh_notices()

    def _treatment_seconds(self, now) -> int:
        """Seconds covered by at least one interval (pauses and gaps excluded)."""
        spans = sorted((i.start, i.measured_end(now)) for i in self.controller.intervals)
        total, current = 0, None
        for start, end in spans:
            if current is None or start > current[1]:
                if current:
                    total += int((current[1] - current[0]).total_seconds())
                current = [start, end]
            else:
                current[1] = max(current[1], end)
        if current:
            total += int((current[1] - current[0]).total_seconds())
        return total

    def _show_running(self, facts, running) -> None:
        """The banner: what runs (or that the visit is paused) on one big line, the details on
        a smaller second line, so it never takes more than two lines of the column."""
        detail = ""
        elsewhere = self.controller.stations.banner()
        if elsewhere is not None:  # another station times the visit (issue 14)
            text, detail = elsewhere
            colour = style.MUTED
        elif self.controller.paused:
            since = self.controller.paused_since()
            text = "PAUSED" + (f" since {screen_time(since)}" if since else "")
            codes = ", ".join(self.controller.paused_codes)
            detail = (f"Of {format_date(self.earlier_day)}: finish the visit ({codes})"
                      if self.earlier_day else "Resume restarts " + codes)
            colour = style.PAUSED
        elif running:
            main = [c for c in running if self.catalog.get(c).kind.exclusive]
            alongside = [c for c in running if c not in main]
            names = [f"{code} {self.catalog.get(code).label}" for code in main]
            text = "▶ " + "  ".join(names or alongside)
            if main and alongside:
                detail = "+ " + ", ".join(
                    f"{code} {self.catalog.get(code).label}" for code in alongside)
            colour = style.RUNNING
        elif not self.controller.editable:  # finalized (here or on another station)
            text, colour = f"{self.controller.visit.status.value.capitalize()}: read only", \
                style.MUTED
        else:
            text, colour = "Nothing running: tap a tile to start", style.MUTED
        self.now_running.setToolTip(f"{text}: {detail}" if detail else "")
        if detail:
            metrics = QFontMetrics(_font_px(self.now_running.font(), BANNER_DETAIL_PX))
            width = self.right_column.width() - 2 * 14 - 8  # less the banner's padding
            detail = metrics.elidedText(detail, Qt.TextElideMode.ElideRight, width)
            text = (f"{html.escape(text)}<br><span style='font-size: {BANNER_DETAIL_PX}px; "
                    f"font-weight: 700;'>{html.escape(detail)}</span>")
            self.now_running.setTextFormat(Qt.TextFormat.RichText)
        else:
            self.now_running.setTextFormat(Qt.TextFormat.PlainText)
        if text != self.now_running.text():
            self.now_running.setText(text)
            self._share_column()  # the banner may have gained or lost its second line
        sheet = (f"background: {colour}; color: white; border-radius: 10px; padding: 6px 14px;"
                 f"font-size: {BANNER_PX}px; font-weight: 800;")
        if sheet != self.now_running.styleSheet():
            self.now_running.setStyleSheet(sheet)

    # -- intent -------------------------------------------------------------------------------

    def on_tile(self, code: str) -> None:
        self.start_or_stop(code)

    def on_digit(self, digit: int) -> None:
        tile = self.tiles.tile_at(digit)
        if tile is not None and tile.isEnabled():
            self.start_or_stop(tile.code)

    def start_or_stop(self, code: str) -> None:
        """A tap: stop ``code`` if it runs; otherwise start it (asking details if needed)."""
        code = code.upper()
        if self.controller.runs_elsewhere(code):  # asked; taken over, it goes on here
            self.controller.start(code)
            return
        if code in self.controller.running_codes():
            self.controller.stop(code)
            return
        try:
            info = self.catalog.get(code, self.controller.visit.day)
        except BillingError as exc:
            self.on_failed(str(exc))
            return
        technique = region = None
        if info.asks_technique:
            answer = TechniqueDialog.ask(self, code, last=self._last_technique(info.code))
            if answer is None:
                return
            technique, region = answer
        self.controller.start(code, technique, region)

    def _last_technique(self, code: str) -> tuple[str, str] | None:
        """The patient's last technique and region for ``code`` (from the store), or None."""
        try:
            return self.repo.last_technique(self.controller.visit.patient_id, code)
        except StorageError as exc:  # the prompt still works, empty
            log.info("last technique not read: %s", exc)
            return None

    def _on_search_return(self) -> None:
        popup = self.search.completer().popup()
        if popup is not None and popup.isVisible():
            if popup.currentIndex().isValid():
                return  # the completer's own "activated" handles this Enter
            popup.hide()
        self.on_search_chosen(self.search.text())

    def on_search_chosen(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        code = text.split()[0].upper()
        if code not in self.catalog:
            matches = self.catalog.search(text, self.controller.visit.day)
            if len(matches) != 1:
                self.on_failed(f"No single code matches {text!r}: pick one from the list.")
                return
            code = matches[0].code
        self.search.clear()
        QTimer.singleShot(0, self.search.clear)  # the completer writes its choice back after
        self.start_or_stop(code)
        self.leave_search()

    def leave_search(self) -> None:
        """Empties "Any other code" and gives the keyboard back to the tiles (digits, Space)."""
        self.search.clear()
        popup = self.search.completer().popup()
        if popup is not None:
            popup.hide()
        self.tiles.setFocus(Qt.FocusReason.OtherFocusReason)

    def _share_column(self) -> None:
        """Shares the right column's height: the banner and the four numbers take what they
        need, the notices as much as they need of the rest (they scroll below that, never
        under ``NOTICES_MIN_HEIGHT``), and the recorded-time table what is left. When even
        that is too little (a long name wrapped in a small window), the table steps aside
        until there is room again: the numbers are never squeezed."""
        column, scroll = self.right_column, self.notice_scroll
        width, spacing = column.width(), column.layout().spacing()
        banner = max(self.now_running.minimumHeight(), self.now_running.heightForWidth(width))
        room = column.height() - banner - self.totals.sizeHint().height() - 2 * spacing
        caption = max(self.edit_button.sizeHint().height(), self.edit_button.minimumHeight())
        table_part = caption + spacing + TABLE_MIN_HEIGHT + spacing
        notices = bool(self.notices.notices)
        show_table = room - (NOTICES_MIN_HEIGHT if notices else 0) >= table_part
        for widget in (self.table_caption, self.edit_button, self.table):
            if widget.isVisibleTo(self) != show_table:
                widget.setVisible(show_table)
        if not notices:
            return
        free = room - (table_part if show_table else 0)
        want = self.notices.minimumHeight() + 2 * scroll.frameWidth()
        height = max(0, min(want, free) if free >= NOTICES_MIN_HEIGHT else free)
        height = max(height, min(NOTICES_MIN_HEIGHT, free))
        # Its minimum stays small: a fixed height here would hold the column at today's
        # height and starve the header (a long name wrapping) of the room it needs.
        least = min(NOTICES_MIN_HEIGHT, height)
        if (scroll.minimumHeight(), scroll.maximumHeight()) != (least, height):
            scroll.setMinimumHeight(least)
            scroll.setMaximumHeight(height)
            scroll.set_wanted(height)
            column.layout().activate()  # at once: nothing is drawn over the table meanwhile

    @staticmethod
    def _hold_lines(label: QLabel) -> None:
        """The page's layout gives a wrapped label the height of its width's first guess;
        its lines at the width it really got decide how tall it must be."""
        margins = label.contentsMargins()
        width = label.width() - margins.left() - margins.right()
        if width <= 0 or not label.text():
            return
        # Measured here: QLabel's own heightForWidth never answers less than the minimum
        # height set last time, so a short name after a long one would keep three lines.
        text = label.fontMetrics().boundingRect(
            QRect(0, 0, width, 100_000), int(Qt.TextFlag.TextWordWrap), label.text())
        lines = text.height() + margins.top() + margins.bottom()
        if lines != label.minimumHeight():
            label.setMinimumHeight(lines)

    def _fit_title(self) -> None:
        """The patient's name wraps between words; a word longer than the title's width
        ("Featherstonehaugh-") gets a smaller type rather than being cut at the edge."""
        width = self.title.contentsRect().width()
        if width <= 0:
            return
        parts = self.title.text().replace("-", "- ").split()
        pixels = TITLE_PX
        while pixels > TITLE_MIN_PX and parts and max(
                QFontMetrics(_font_px(self.title.font(), pixels)).horizontalAdvance(p)
                for p in parts) > width:
            pixels -= 1
        sheet = f"font-size: {pixels}px; font-weight: 800;"
        if sheet != self.title.styleSheet():
            self.title.setStyleSheet(sheet)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt override)
        kind = event.type()
        if kind == QEvent.Type.Resize and watched is self.title:
            self._fit_title()
        if kind == QEvent.Type.Resize and watched in (self.title, self.subtitle):
            self._hold_lines(watched)
        elif kind == QEvent.Type.Resize and watched is getattr(self, "right_column", None):
            self._share_column()
        elif (kind == QEvent.Type.KeyPress and watched is getattr(self, "search", None)
              and event.key() == Qt.Key.Key_Escape):
            self.leave_search()
            return True
        return super().eventFilter(watched, event)

    def on_edit(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            self.on_failed("Select a row of recorded time first.")
            return
        interval = self.interval_model.interval_at(rows[0].row())
        edit = IntervalEditDialog.ask(self, interval, self.performers())
        if edit is not None and edit.delete:
            self.controller.delete_interval(interval.id, reason=edit.reason)
        elif edit is not None:
            self.controller.edit_interval(interval.id, reason=edit.reason, **edit.changes)

    def _offline_changed(self) -> None:
        """The journal sent, kept or gave up a change: show what the store now holds."""
        if self.controller.visit is not None:
            self.controller.reload()

    def on_finalize(self) -> None:
        visit = self.controller.visit
        if visit is None:
            return
        if not self.finalize_button.isEnabled():  # offline (the menu's Finish visit…)
            self.on_failed(self.finalize_button.toolTip())
            return
        if self.controller.running() and not Ask.confirm(
                self, "Stop the timers?", "Timers are still running. Stop them now and review "
                "the visit?", yes="Stop and review", no="Keep running"):
            return
        if self.controller.running():
            self.controller.stop()
        self.finalize_requested.emit(visit.id)

    def choose_tie(self) -> None:
        facts = self.controller.facts()
        if facts is None or not facts.allocation.ties:
            return
        options = facts.allocation.allowed_allocations()
        current = facts.allocation.as_dict()
        labels = []
        for n, alt in enumerate(options):
            label = ", ".join(f"{code} × {units}" for code, units in alt.items() if units)
            if n == 0:
                label += "  (the rule's pick)"
            if all(current.get(code, 0) == units for code, units in alt.items()):
                label += "  (shown now)"
            labels.append(label)
        index = Ask.choice(self, "Choose the units", "The rule leaves a choice. Bill:", labels)
        if index is not None:  # stored at once: it survives leaving and reopening the visit
            self.controller.choose_tie(options[index])

    def resolve_jump(self, jump: TimeJump, keep: bool | str) -> None:
        self.controller.resolve_jump(jump, keep)

    def on_failed(self, message: str) -> None:
        Ask.warn(self, "Not done", message)

    def on_provider_busy(self, message: str, group_code: str, other_visit_id: int) -> None:
        if Ask.confirm(self, "Another patient is on the clock", f"{message}\n\nRecord a group "
                       f"session ({group_code}) for both patients instead?",
                       yes=f"Record {group_code} for both", no="Cancel"):
            self.controller.start_group(group_code, other_visit_id)
