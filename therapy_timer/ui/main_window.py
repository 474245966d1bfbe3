"""The main window: a stack of pages (Today, Visit, Review, Front desk), a menu and navigation.

Thin on purpose: it builds the pages, connects their signals to one another, remembers its
size (QSettings) and opens the recovery dialog when timers were left running by a crash. The
heavier pages of other modules (front desk with its PDF viewer, settings, lock screen,
diagnoses) are imported when first used, keeping start-up quick.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QRect, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QMainWindow,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.clock import Clock, on_screen, set_display_zone
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.station.clock_notice import ClockNotice
from therapy_timer.ui.station.offline import (
    OfflineGuard,
    ServerProbe,
    is_offline,
    station_timers,
)
from therapy_timer.ui.station.server_clock import ServerClock, station_clock
from therapy_timer.ui.today import TodayPage

if TYPE_CHECKING:
    from therapy_timer.ui.frontdesk import FrontDeskPage

log = logging.getLogger(__name__)

ORG, APP = "TherapyTimer", "therapy-timer"
HEARTBEAT_MS = 5000
DEFAULT_SIZE = QSize(1280, 800)
MINIMUM_SIZE = QSize(1024, 700)
#: A title bar's height, until the shown window tells its own frame.
FRAME_ALLOWANCE = QSize(0, 32)


def available_geometry(window: QWidget) -> QRect | None:
    """The usable area (less task bars and docks) of the screen the window is on."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else None


class DiagnosesDialog(QDialog):
    """The ICD-10-CM picker around one visit's ordered diagnoses."""

    def __init__(self, source, codes, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from therapy_timer.ui.diagnoses import DiagnosisPicker

        self.setWindowTitle("Diagnoses (ICD-10-CM)")
        self.resize(900, 620)
        layout = QVBoxLayout(self)
        self.picker = DiagnosisPicker(source, self)
        self.picker.set_diagnoses(list(codes))
        layout.addWidget(self.picker)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setText("Save and close")
        self.cancel_button = buttons.button(QDialogButtonBox.StandardButton.Cancel)
        # Enter adds the code typed (the picker), one at a time: only a button closes.
        for button in buttons.buttons():
            button.setAutoDefault(False)
            button.setDefault(False)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()  # never the dialog's default button: the picker took the Enter
            return
        super().keyPressEvent(event)

    @classmethod
    def ask(cls, parent, source, codes) -> list[str] | None:
        dialog = cls(source, codes, parent)
        return dialog.picker.diagnoses() if dialog.exec() == QDialog.DialogCode.Accepted else None


class MainWindow(QMainWindow):
    """Today, the visit screen, the review and (when built) the front desk.

    Only Today is built at start-up; the other pages are built the first time they are shown,
    so the window appears quickly.
    """

    recovery_shown = Signal(object)  # the RecoveryDialog

    def __init__(self, repo, clock: Clock | None = None, *, db_path: str = "",
                 worker=None, settings: QSettings | None = None,
                 remember_size: bool = True) -> None:
        super().__init__()
        self.repo = repo
        # The one clock source: on a clinic server, this computer's clock corrected to the
        # server's (ui/station/server_clock.py), so every page stores the server's time.
        self.clock = station_clock(repo, clock)
        self.db_path = db_path
        self.settings = settings or QSettings(ORG, APP)
        # The visit screen's store: on a clinic server, behind this station's offline
        # journal (taps kept on this computer while the server is away; ui/station/offline.py).
        self.timers = station_timers(repo, self.settings, self.clock)
        self.server_probe = None
        if self.timers is not repo:  # offline, the heartbeat asks on a thread of its own
            self.server_probe = ServerProbe(str(repo.target), self)
            self.server_probe.answered.connect(
                lambda ok: ok and self.replay_journal(wait=True))
        self.remember_size = remember_size  # off for --check: never overwrite the user's size
        self.setWindowTitle("Therapy Timer")
        self.setMinimumSize(MINIMUM_SIZE)
        self._fitted = False
        self._auto_size = QSize()
        self._quit_confirmed = False
        self._worker = worker
        self.icd_source = None
        self.recovery_dialog = None
        self.lock = None
        self._controller = None
        self._visit_panel = None
        self._finalize_page = None
        self._frontdesk = None

        # Running timers carry a heartbeat even while the visit screen is not shown. It starts
        # only after crash recovery, which needs the heartbeat the previous run left.
        self.heartbeat_timer = QTimer(self)
        self.heartbeat_timer.setInterval(HEARTBEAT_MS)
        self.heartbeat_timer.timeout.connect(self.heartbeat)
        self.apply_clinic_zone()
        self.stack = QStackedWidget(self)
        self.setCentralWidget(self.stack)
        self.today = TodayPage(repo, self.clock, self, settings=self.settings)
        self.stack.addWidget(self.today)
        self.today.visit_chosen.connect(self.show_visit)
        self.today.superbill_chosen.connect(self.show_superbill)
        self._build_menu()
        self.restore_size()
        # What other stations (or windows) change shows here (ui/station/live.py).
        from therapy_timer.ui.station.live import follow

        self.live = follow(self, start=False)
        # A server is named by repo.path (its address without the password).
        shown = str(repo.path) if db_path and getattr(repo, "on_server", False) else db_path
        self.statusBar().showMessage(f"Database: {shown}" if shown else "")
        self.clock_notice = ClockNotice(self.clock, self)
        self.statusBar().addPermanentWidget(self.clock_notice)
        # Where the data is and whether the server answers, checked on each heartbeat.
        from therapy_timer.ui.station.status import StationStatus

        self.station_status = StationStatus(repo, self.settings, self.clock)
        self.statusBar().addPermanentWidget(self.station_status)
        self.heartbeat_timer.timeout.connect(self._check_connection)
        if self.timers is not repo:  # a tap that found the server away says so there too
            self.offline_guard.changed.connect(self._offline_status)

    # -- pages, built on first use ------------------------------------------------------------

    @property
    def worker(self):
        """The one background-job runner (PDFs, the ICD-10 index, the demo clinic)."""
        if self._worker is None:
            from therapy_timer.ui.workers import Worker

            self._worker = Worker(self)
        return self._worker

    @property
    def controller(self):
        if self._controller is None:
            from therapy_timer.ui.session_controller import SessionController

            self._controller = SessionController(self.timers, self.clock, parent=self)
        return self._controller

    @property
    def visit_panel(self):
        if self._visit_panel is None:
            from therapy_timer.ui.visit_panel import VisitPanel

            panel = VisitPanel(self.controller, self, settings=self.settings)
            panel.leave_requested.connect(self.show_today)
            panel.finalize_requested.connect(self.show_review)
            panel.diagnoses_requested.connect(self.edit_diagnoses)
            self.stack.addWidget(panel)
            self._visit_panel = panel
        return self._visit_panel

    @property
    def finalize_page(self):
        if self._finalize_page is None:
            from therapy_timer.ui.finalize import FinalizePage

            page = FinalizePage(self.repo, self.clock, self)
            page.back_requested.connect(self.show_visit)
            page.diagnoses_requested.connect(self.edit_diagnoses)
            page.done.connect(self.show_today)
            page.amended.connect(self.show_visit)
            page.finalized.connect(lambda _id: self.statusBar().showMessage(
                "Visit finalized and locked.", 8000))
            self.stack.addWidget(page)
            self._finalize_page = page
        return self._finalize_page

    @property
    def frontdesk(self) -> FrontDeskPage:
        """The front-desk page, built on first use."""
        if self._frontdesk is None:
            from therapy_timer.ui.frontdesk import FrontDeskPage

            self._frontdesk = FrontDeskPage(self.repo, worker=self.worker, parent=self,
                                            clock=self.clock)
            self._frontdesk.visit_requested.connect(self.show_visit)  # from "Open visits"
            self.stack.addWidget(self._frontdesk)
            if self._controller is not None and self._controller.signed_in:
                self._frontdesk.user = self._controller.signed_in  # who unlocked (audit)
        return self._frontdesk

    def show_frontdesk(self) -> None:
        page = self.frontdesk
        page.refresh()
        self.stack.setCurrentWidget(page)

    def show_superbill(self, visit_id: int) -> None:
        """The front desk on the visit's day with its superbill previewed (to print)."""
        page = self.frontdesk
        self.stack.setCurrentWidget(page)
        page.open_superbill(visit_id)

    # -- construction -------------------------------------------------------------------------

    def _build_menu(self) -> None:
        bar = QToolBar("Navigate", self)
        bar.setObjectName("navigate")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        file_menu = self.menuBar().addMenu("&File")
        self.today_action = QAction("&Today", self, shortcut=QKeySequence("Ctrl+T"))
        self.today_action.triggered.connect(self.show_today)
        self.visit_action = QAction("&Visit", self, shortcut=QKeySequence("Ctrl+R"))
        self.visit_action.setToolTip("The visit on the clock (Ctrl+R)")
        self.visit_action.triggered.connect(self.show_current_visit)
        file_menu.addAction(self.today_action)
        file_menu.addAction(self.visit_action)
        bar.addAction(self.today_action)
        bar.addAction(self.visit_action)
        self.frontdesk_action = QAction("&Front desk", self, shortcut=QKeySequence("Ctrl+D"))
        self.frontdesk_action.triggered.connect(self.show_frontdesk)
        self.offline_guard = OfflineGuard(self.timers, self)
        self.offline_guard.guard(self.frontdesk_action, "The front desk")
        file_menu.addAction(self.frontdesk_action)
        bar.addAction(self.frontdesk_action)
        action = QAction("&Settings…", self, shortcut=QKeySequence("Ctrl+,"))
        action.triggered.connect(self.open_settings)
        file_menu.addAction(action)
        bar.addAction(action)
        file_menu.addSeparator()
        self._add_file_actions(file_menu)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.request_quit)
        self.quit_action = quit_action
        file_menu.addAction(quit_action)
        visit_menu = self.menuBar().addMenu("&Visit")
        pause = QAction("Pause / resume\tSpace", self)
        pause.triggered.connect(lambda: self._controller and self._controller.toggle_pause())
        finish = QAction("Finish visit…", self)
        finish.triggered.connect(
            lambda: self._visit_panel is not None and self._visit_panel.on_finalize())
        visit_menu.addAction(pause)
        visit_menu.addAction(finish)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About Therapy Timer", self)
        about.triggered.connect(lambda: Ask.inform(
            self, "About Therapy Timer", "Therapy Timer: one-tap intervention timers with live "
            "billable units.\nDigits 1-9 start the tiles; Space pauses."))
        help_menu.addAction(about)

    def _add_file_actions(self, file_menu) -> None:
        """Export CSV… and Backup… (``ui/file_actions.py``): the commands, from the window."""
        from therapy_timer.ui.file_actions import FileActions

        self.file_actions = FileActions(self)
        self.file_actions.add_to(file_menu)

    # -- size ---------------------------------------------------------------------------------

    def restore_size(self) -> None:
        """The size (and, where the platform allows, position) the window last had, within
        the screen's available area (never bigger than it: a 1366 x 768 laptop shows the
        whole window, Start visit included)."""
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        size = self.settings.value("window/size")
        self.resize(size if isinstance(size, QSize) and size.isValid() else DEFAULT_SIZE)
        self.fit_to_screen()
        self._auto_size = self.size()
        if self.settings.value("window/maximized", False, type=bool):
            self.setWindowState(self.windowState() | Qt.WindowState.WindowMaximized)

    def fit_to_screen(self) -> None:
        """Shrinks (and moves) the window into the screen's available area, less its frame
        (estimated until the window is shown); on a screen smaller than the usual minimum
        the minimum gives way."""
        area = available_geometry(self)
        if area is None or area.isEmpty():
            return
        frame = self.frameGeometry().size() - self.geometry().size()
        if frame.isEmpty() or frame == QSize(0, 0):
            frame = FRAME_ALLOWANCE
        fit = QSize(max(1, area.width() - frame.width()), max(1, area.height() - frame.height()))
        self.setMinimumSize(MINIMUM_SIZE.boundedTo(fit))
        if self.width() > fit.width() or self.height() > fit.height():
            self.resize(self.size().boundedTo(fit))
        outer = self.frameGeometry()
        if not area.contains(outer):
            x = min(max(outer.x(), area.x()), area.right() + 1 - outer.width())
            y = min(max(outer.y(), area.y()), area.bottom() + 1 - outer.height())
            self.move(max(area.x(), x), max(area.y(), y))

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if not self._fitted:
            self._fitted = True
            if self.size() == self._auto_size:  # not sized on purpose since: fit once more,
                self.fit_to_screen()  # with the frame the shown window really has

    def save_size(self) -> None:
        if not self.remember_size:
            return
        maximized = self.isMaximized()
        self.settings.setValue("window/maximized", maximized)
        if not maximized:
            self.settings.setValue("window/size", self.size())
            self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.sync()

    def request_quit(self) -> bool:
        """File > Quit (Ctrl+Q): asks first while timers run, then closes the window."""
        if not self.confirm_quit():
            return False
        self._quit_confirmed = True
        self.close()
        return True

    def confirm_quit(self) -> bool:
        """True when nothing runs, or the clinician agrees to quit with timers running (they
        stay running in the store, and the next start asks about each)."""
        try:  # this station's: another station's timers go on there whatever this one does
            running = self.repo.running_intervals(this_station=True)
        except StorageError as exc:  # cannot tell: let them quit (everything is on disk)
            log.warning("running timers not read before quitting: %s", exc)
            return True
        if not running:
            return True
        codes = ", ".join(dict.fromkeys(i.code for i in running))
        count = len(running)
        at = f"{on_screen(self.clock.now()):%I:%M %p}".lstrip("0")
        text = (f"{count} timer{'s are' if count > 1 else ' is'} running ({codes}).\n\n"
                "Quitting does not stop them: each keeps its recorded start and goes on "
                "counting in the record. When Therapy Timer opens again it lists them and asks "
                "about each: still running, stop at the last moment the app was open (about "
                f"{at}), or stop at a time you give.\n\n"
                "To stop them now, choose Stay open and tap the running tile.")
        return Ask.confirm(self, "Timers are running", text,
                           yes="Quit, timers keep running", no="Stay open")

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        # The window's close button asks like Ctrl+Q does (a close by the program does not).
        if event.spontaneous() and not self._quit_confirmed and not self.confirm_quit():
            event.ignore()
            return
        self.save_size()
        self.heartbeat_timer.stop()
        self.live.stop()
        if self._controller is not None:
            self._controller.timer.stop()
        if self._worker is not None:
            self._worker.shutdown()
        self.stop_lock()
        super().closeEvent(event)

    def stop_lock(self) -> None:
        """Removes the auto-lock's application-wide filter before the window goes away."""
        lock, self.lock = self.lock, None
        if lock is None:
            return
        with contextlib.suppress(RuntimeError, TypeError):  # not connected
            self.destroyed.disconnect(lock.detach)
        lock.detach()

    # -- navigation ---------------------------------------------------------------------------

    def apply_clinic_zone(self) -> None:
        """Every screen shows times in the practice's zone (the superbill's and the visit
        day's), even on a computer set to another one."""
        try:
            set_display_zone(self.repo.clinic_zone())
        except (StorageError, LookupError, ValueError) as exc:  # unknown zone name: the computer's
            log.warning("clinic time zone not applied: %s", exc)
            set_display_zone(None)

    def start(self) -> None:
        """After show: fill Today, resolve timers left running by a crash, arm the auto-lock."""
        self.apply_clinic_zone()  # the first-run set-up or the demo clinic may have set it
        self.show_today()
        self.replay_journal(wait=True)  # a station killed offline sends its taps first
        dialog = self.check_recovery()
        if dialog is None:
            self.heartbeat_timer.start()
        else:
            dialog.resolved.connect(lambda _choices: self.heartbeat_timer.start())
        self.start_lock()
        self.live.start()

    def heartbeat(self) -> None:
        """Every few seconds, whatever page is shown: checks the wall clock against real time
        (a jump flags the running intervals of every open visit in the store, through the
        controller's one ``ClockWatch``), then marks running timers alive (the visit screen's
        own tick does that while shown). On a clinic server it first measures this computer's
        clock against the server's again; the status bar's clock notice follows."""
        self.replay_journal()
        if isinstance(self.clock, ServerClock) and not is_offline(self.timers):
            self.clock.measure()
        controller = self.controller
        controller.watch.user = controller.user or None
        controller.watch.check()
        self.clock_notice.refresh()
        if controller.timer.isActive():
            return
        try:
            self.timers.heartbeat(self.clock.now())
        except StorageError as exc:  # never interrupt the clinician for a missed heartbeat
            log.warning("heartbeat not written: %s", exc)

    def _check_connection(self) -> None:
        """The status bar's round trip to the server, each heartbeat; none while the journal
        holds the room's taps (offline): ``ServerProbe`` then asks off the screen's thread,
        so a network that hangs rather than refuses never stalls the screen."""
        if is_offline(getattr(self, "timers", None)):
            self.station_status.lost()
            return
        self.station_status.check()

    def _offline_status(self) -> None:
        """The status bar follows the journal's offline state at once (not only the next
        heartbeat's check)."""
        if is_offline(self.timers):
            self.station_status.lost()
        elif not self.station_status.connected:
            self.station_status.check()

    def replay_journal(self, wait: bool = False) -> None:
        """Sends the taps kept while the clinic server was away, in order (nothing on the
        embedded file); the visit screen's banner shows what waits or was refused. While
        offline it only asks whether the server answers (``ServerProbe``, off the screen's
        thread) unless ``wait``: the probe's yes, and the app's start, replay at once."""
        replay = getattr(self.timers, "replay", None)
        if replay is None:
            return
        if is_offline(self.timers) and not wait and self.server_probe is not None:
            self.server_probe.start()
            return
        try:
            replay()
        except Exception:  # never stop the heartbeat: the journal keeps everything
            log.exception("the offline journal's replay failed")

    def show_today(self) -> None:
        if self._controller is not None:
            self._controller.timer.stop()
        self.today.refresh()
        self.stack.setCurrentWidget(self.today)

    def show_current_visit(self) -> None:
        if self._controller is not None and self._controller.visit is not None:
            self.show_visit(self._controller.visit.id)
            return
        running = self.repo.running_intervals()
        if running:
            self.show_visit(running[0].visit_id)
        else:
            self.statusBar().showMessage("No visit on the clock: start one from Today.", 6000)

    def show_visit(self, visit_id: int) -> None:
        visit = self.repo.get_visit(visit_id)
        if visit.status.frozen:
            self.show_review(visit_id)
            return
        self.controller.open_visit(visit_id)
        self.visit_panel.load()
        self.stack.setCurrentWidget(self.visit_panel)
        self.visit_panel.tiles.setFocus()

    def show_review(self, visit_id: int) -> None:
        if self._controller is not None:
            self._controller.timer.stop()
        user = self._controller.user if self._controller is not None else ""
        self.finalize_page.user = user or self._provider_name(visit_id)
        self.finalize_page.load(visit_id)  # its billing choices come from the store
        self.stack.setCurrentWidget(self.finalize_page)

    def _provider_name(self, visit_id: int) -> str:
        visit = self.repo.get_visit(visit_id)
        return self.repo.get_provider(visit.provider_id).name

    # -- dialogs ------------------------------------------------------------------------------

    def check_recovery(self):
        """Opens the recovery dialog (non-modal) when timers were left running."""
        try:
            crashed = self.repo.crashed_intervals()
        except StorageError as exc:
            log.error("running timers not read: %s", exc)
            return None
        if not crashed:
            return None
        try:  # a last-alive later than now: the clock went back while closed (issue 11)
            if self.repo.flag_clock_behind(self.clock.now(), crashed):
                crashed = self.repo.crashed_intervals()
        except StorageError as exc:
            log.error("clock set back not recorded: %s", exc)
        from therapy_timer.ui.recovery import RecoveryDialog

        dialog = RecoveryDialog(crashed, self.repo, self.clock, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.resolved.connect(lambda _choices: self.show_today())
        self.recovery_dialog = dialog
        dialog.open()
        self.recovery_shown.emit(dialog)
        return dialog

    def start_lock(self) -> None:
        """Arms the auto-lock screen (once), with a Lock button (Ctrl+L); locks at once when
        this computer's app was closed while locked."""
        if self.lock is not None:
            return
        from therapy_timer.ui.lock import LockController
        from therapy_timer.ui.lock_board import TimerBoardSource

        def on_clock():
            """Who is preselected to unlock: the visit's provider, else who unlocked last."""
            controller = self._controller
            try:
                if controller is not None and controller.visit is not None:
                    return self.repo.get_provider(controller.visit.provider_id)
                name = controller.signed_in if controller is not None else ""
                return next((p for p in self.repo.list_providers() if p.name == name), None)
            except StorageError:
                return None

        self.lock = LockController(self, self.clock, self.repo, settings=self.settings,
                                   current_provider=on_clock,
                                   timers=TimerBoardSource(self.repo, lambda: self.controller),
                                   parent=self)
        self.lock.unlocked.connect(self._on_unlocked)
        self.lock_action = QAction("&Lock", self, shortcut=QKeySequence("Ctrl+L"))
        self.lock_action.setToolTip("Lock the screen now: patient names hide, running timers "
                                    "stay on screen (Ctrl+L)")
        self.lock_action.triggered.connect(lambda: self.lock is not None and self.lock.lock())
        bar = self.findChild(QToolBar, "navigate")
        if bar is not None:
            bar.addAction(self.lock_action)
        else:
            self.addAction(self.lock_action)
        if self.lock.was_locked:
            self.lock.lock()

    def _on_unlocked(self, provider) -> None:
        """Whoever unlocked is the acting user named in the audit log from now on: on the
        visit screen, Today, the review and the front desk."""
        if provider is None:
            return
        self.controller.user = provider.name
        self.today.user = provider.name
        for page in (self._finalize_page, self._frontdesk):
            if page is not None:
                page.user = provider.name
        # A dialog left open under the lock (the patient editor, Settings, the recovery
        # question) saves as whoever unlocked, not as whoever opened it: each keeps its
        # acting user in a ``user`` attribute (text, or None when unknown).
        for window in QApplication.topLevelWidgets():
            if window is self:
                continue
            for widget in (window, *window.findChildren(QWidget)):
                if isinstance(getattr(widget, "user", 0), str | None):
                    widget.user = provider.name

    def prepare_diagnoses(self) -> None:
        """Starts loading the ICD-10-CM index on the worker (once); the picker uses it."""
        from therapy_timer.ui.diagnoses import IcdIndexSource

        if self.icd_source is None:
            self.icd_source = IcdIndexSource(self.worker, parent=self)
            self.icd_source.start()

    def edit_diagnoses(self, visit_id: int) -> None:
        self.prepare_diagnoses()
        visit = self.repo.get_visit(visit_id)
        codes = DiagnosesDialog.ask(self, self.icd_source, visit.diagnoses)
        if codes is None:
            return
        try:
            # The picker only accepts billable codes from the index: no slow re-validation.
            self.repo.set_diagnoses(visit_id, codes, user=self.controller.user or None,
                                    validate=False, descriptions=self._described(codes))
        except StorageError as exc:
            Ask.warn(self, "Diagnoses not saved", str(exc))
            return
        self.controller.reload()
        if self._finalize_page is not None and self.stack.currentWidget() is self._finalize_page:
            self.show_review(visit_id)

    def _described(self, codes) -> dict[str, str]:
        """The picker's descriptions of ``codes`` (kept with the visit as documented)."""
        opened = getattr(self.icd_source, "index", None)
        index = opened() if callable(opened) else None
        out = {}
        for code in codes if index is not None else ():
            try:
                entry = index.lookup(code)
            except Exception as exc:  # noqa: BLE001 - the store falls back to its own lookup
                log.warning("ICD-10-CM description of %s not read: %s", code, exc)
                continue
            if entry is not None:
                out[code] = entry.description
        return out

    def open_settings(self) -> None:
        from therapy_timer.ui.settings import SettingsDialog

        user = self._controller.user if self._controller is not None else None
        SettingsDialog.edit(self.repo, parent=self, user=user or None)
        self.apply_clinic_zone()
        self.station_status.refresh()  # a new station name
        self.today.refresh()
        if self._controller is not None and self._controller.visit is not None:
            self.visit_panel.load()
