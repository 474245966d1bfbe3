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

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
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
from therapy_timer.ui.clock import Clock, SystemClock, set_display_zone
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.today import TodayPage

if TYPE_CHECKING:
    from therapy_timer.ui.frontdesk import FrontDeskPage

log = logging.getLogger(__name__)

ORG, APP = "TherapyTimer", "therapy-timer"
HEARTBEAT_MS = 5000


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
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

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
        self.clock = clock or SystemClock()
        self.db_path = db_path
        self.settings = settings or QSettings(ORG, APP)
        self.remember_size = remember_size  # off for --check: never overwrite the user's size
        self.setWindowTitle("Therapy Timer")
        self.setMinimumSize(QSize(1024, 700))
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
        self.today = TodayPage(repo, self.clock, self)
        self.stack.addWidget(self.today)
        self.today.visit_chosen.connect(self.show_visit)
        self._build_menu()
        self.restore_size()
        self.statusBar().showMessage(f"Database: {db_path}" if db_path else "")

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

            self._controller = SessionController(self.repo, self.clock, parent=self)
        return self._controller

    @property
    def visit_panel(self):
        if self._visit_panel is None:
            from therapy_timer.ui.visit_panel import VisitPanel

            panel = VisitPanel(self.controller, self)
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
            self.stack.addWidget(self._frontdesk)
        return self._frontdesk

    def show_frontdesk(self) -> None:
        page = self.frontdesk
        page.refresh()
        self.stack.setCurrentWidget(page)

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
        quit_action.triggered.connect(self.close)
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
        """The size (and, where the platform allows, position) the window last had."""
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        size = self.settings.value("window/size")
        self.resize(size if isinstance(size, QSize) and size.isValid() else QSize(1280, 800))
        if self.settings.value("window/maximized", False, type=bool):
            self.setWindowState(self.windowState() | Qt.WindowState.WindowMaximized)

    def save_size(self) -> None:
        if not self.remember_size:
            return
        maximized = self.isMaximized()
        self.settings.setValue("window/maximized", maximized)
        if not maximized:
            self.settings.setValue("window/size", self.size())
            self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.sync()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.save_size()
        self.heartbeat_timer.stop()
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
        dialog = self.check_recovery()
        if dialog is None:
            self.heartbeat_timer.start()
        else:
            dialog.resolved.connect(lambda _choices: self.heartbeat_timer.start())
        self.start_lock()

    def heartbeat(self) -> None:
        """Every few seconds, whatever page is shown: checks the wall clock against real time
        (a jump flags the running intervals of every open visit in the store, through the
        controller's one ``ClockWatch``), then marks running timers alive (the visit screen's
        own tick does that while shown)."""
        controller = self.controller
        controller.watch.user = controller.user or None
        controller.watch.check()
        if controller.timer.isActive():
            return
        try:
            self.repo.heartbeat(self.clock.now())
        except StorageError as exc:  # never interrupt the clinician for a missed heartbeat
            log.warning("heartbeat not written: %s", exc)

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
        choice = self._visit_panel.tie_choice if self._visit_panel is not None else None
        self.finalize_page.user = user or self._provider_name(visit_id)
        self.finalize_page.load(visit_id, choice)
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
        from therapy_timer.ui.recovery import RecoveryDialog

        dialog = RecoveryDialog(crashed, self.repo, self.clock, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.resolved.connect(lambda _choices: self.show_today())
        self.recovery_dialog = dialog
        dialog.open()
        self.recovery_shown.emit(dialog)
        return dialog

    def start_lock(self) -> None:
        """Arms the auto-lock screen (once)."""
        if self.lock is not None:
            return
        from therapy_timer.ui.lock import LockController

        def on_clock():
            controller = self._controller
            if controller is None or controller.visit is None:
                return None
            try:
                return self.repo.get_provider(controller.visit.provider_id)
            except StorageError:
                return None

        self.lock = LockController(self, self.clock, self.repo, current_provider=on_clock,
                                   parent=self)
        self.lock.unlocked.connect(self._on_unlocked)

    def _on_unlocked(self, provider) -> None:
        """Whoever unlocked is the acting user named in the audit log from now on."""
        if provider is not None:
            self.controller.user = provider.name
            self.today.user = provider.name

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
                                    validate=False)
        except StorageError as exc:
            Ask.warn(self, "Diagnoses not saved", str(exc))
            return
        self.controller.reload()
        if self._finalize_page is not None and self.stack.currentWidget() is self._finalize_page:
            self.show_review(visit_id)

    def open_settings(self) -> None:
        from therapy_timer.ui.settings import SettingsDialog

        user = self._controller.user if self._controller is not None else None
        SettingsDialog.edit(self.repo, parent=self, user=user or None)
        self.apply_clinic_zone()
        self.today.refresh()
        if self._controller is not None and self._controller.visit is not None:
            self.visit_panel.load()
