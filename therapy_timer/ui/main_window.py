"""The main window: a stack of pages (Today, Visit, Review, Front desk), a menu and navigation.

Thin on purpose: it builds the pages, connects their signals to one another, remembers its
size (QSettings) and opens the recovery dialog when timers were left running by a crash. Pages
owned by other modules (front desk, settings, lock screen, diagnoses) are wired in only when
their module is present.
"""

from __future__ import annotations

import importlib
import logging

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, Signal
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

from therapy_timer.core.records import CrashedInterval
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.clock import Clock, SystemClock
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.finalize import FinalizePage
from therapy_timer.ui.recovery import RecoveryDialog
from therapy_timer.ui.session_controller import SessionController
from therapy_timer.ui.today import TodayPage
from therapy_timer.ui.visit_panel import VisitPanel

log = logging.getLogger(__name__)

ORG, APP = "TherapyTimer", "therapy-timer"


def optional_module(name: str):
    """``therapy_timer.ui.<name>`` if that page exists in this build, else None."""
    try:
        return importlib.import_module(f"therapy_timer.ui.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"therapy_timer.ui.{name}":
            raise
        return None


def find_crashed(repo) -> list[CrashedInterval]:
    """Intervals left running at start-up, with when the app was last alive for each."""
    finder = getattr(repo, "crashed_intervals", None)
    if finder is not None:
        return list(finder())
    out = []
    for interval in repo.running_intervals():
        visit = repo.get_visit(interval.visit_id)
        out.append(CrashedInterval(interval, visit.patient_id,
                                   interval.heartbeat or interval.start))
    return out


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
    """Today, the visit screen, the review and (when built) the front desk."""

    recovery_shown = Signal(object)  # the RecoveryDialog

    def __init__(self, repo, clock: Clock | None = None, *, db_path: str = "",
                 worker=None, settings: QSettings | None = None) -> None:
        super().__init__()
        self.repo = repo
        self.clock = clock or SystemClock()
        self.db_path = db_path
        self.settings = settings or QSettings(ORG, APP)
        self.setWindowTitle("Therapy Timer")
        self.setMinimumSize(QSize(1024, 700))
        if worker is None:
            workers = optional_module("workers")
            worker = workers.Worker(self) if workers else None
        self.worker = worker
        self.icd_source = None
        self.recovery_dialog: RecoveryDialog | None = None

        self.controller = SessionController(repo, self.clock, parent=self)
        self.stack = QStackedWidget(self)
        self.setCentralWidget(self.stack)
        self.today = TodayPage(repo, self.clock, self)
        self.visit_panel = VisitPanel(self.controller, self)
        self.finalize_page = FinalizePage(repo, self.clock, self)
        for page in (self.today, self.visit_panel, self.finalize_page):
            self.stack.addWidget(page)
        self.frontdesk = self._optional_page("frontdesk", "FrontDeskPage")

        self.today.visit_chosen.connect(self.show_visit)
        self.visit_panel.leave_requested.connect(self.show_today)
        self.visit_panel.finalize_requested.connect(self.show_review)
        self.visit_panel.diagnoses_requested.connect(self.edit_diagnoses)
        self.finalize_page.back_requested.connect(self.show_visit)
        self.finalize_page.done.connect(self.show_today)
        self.finalize_page.amended.connect(self.show_visit)
        self.finalize_page.finalized.connect(lambda _id: self.statusBar().showMessage(
            "Visit finalized and locked.", 8000))
        self._build_menu()
        self.restore_size()
        self.statusBar().showMessage(f"Database: {db_path}" if db_path else "")

    # -- construction -------------------------------------------------------------------------

    def _optional_page(self, module_name: str, class_name: str) -> QWidget | None:
        """Adds another helper's page when its module exists (front desk, ...)."""
        module = optional_module(module_name)
        cls = getattr(module, class_name, None) if module else None
        if cls is None:
            return None
        try:
            page = cls(self.repo, worker=self.worker, parent=self)
        except TypeError:
            page = cls(self.repo, self)
        self.stack.addWidget(page)
        return page

    def _build_menu(self) -> None:
        bar = QToolBar("Navigate", self)
        bar.setObjectName("navigate")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bar.setStyleSheet("QToolBar { spacing: 6px; padding: 4px; background: #1f2937; }"
                          "QToolButton { color: white; font-size: 17px; font-weight: 700;"
                          " padding: 8px 18px; border-radius: 6px; }"
                          "QToolButton:checked { background: #374151; }")
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
        if self.frontdesk is not None:
            self.frontdesk_action = QAction("&Front desk", self,
                                            shortcut=QKeySequence("Ctrl+D"))
            self.frontdesk_action.triggered.connect(
                lambda: self.stack.setCurrentWidget(self.frontdesk))
            file_menu.addAction(self.frontdesk_action)
            bar.addAction(self.frontdesk_action)
        settings = optional_module("settings")
        if settings is not None and hasattr(settings, "SettingsDialog"):
            action = QAction("&Settings…", self, shortcut=QKeySequence("Ctrl+,"))
            action.triggered.connect(self.open_settings)
            file_menu.addAction(action)
            bar.addAction(action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        visit_menu = self.menuBar().addMenu("&Visit")
        pause = QAction("Pause / resume\tSpace", self)
        pause.triggered.connect(self.controller.toggle_pause)
        finish = QAction("Finish visit…", self)
        finish.triggered.connect(self.visit_panel.on_finalize)
        visit_menu.addAction(pause)
        visit_menu.addAction(finish)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About Therapy Timer", self)
        about.triggered.connect(lambda: Ask.inform(
            self, "About Therapy Timer", "Therapy Timer: one-tap intervention timers with live "
            "billable units.\nDigits 1-9 start the tiles; Space pauses."))
        help_menu.addAction(about)

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
        maximized = self.isMaximized()
        self.settings.setValue("window/maximized", maximized)
        if not maximized:
            self.settings.setValue("window/size", self.size())
            self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.sync()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.save_size()
        self.controller.timer.stop()
        if self.worker is not None and hasattr(self.worker, "shutdown"):
            self.worker.shutdown()
        super().closeEvent(event)

    # -- navigation ---------------------------------------------------------------------------

    def start(self) -> None:
        """After show: fill Today and resolve timers left running by a crash."""
        self.show_today()
        self.check_recovery()

    def show_today(self) -> None:
        self.controller.timer.stop()
        self.today.refresh()
        self.stack.setCurrentWidget(self.today)

    def show_current_visit(self) -> None:
        if self.controller.visit is not None:
            self.show_visit(self.controller.visit.id)
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
        self.controller.timer.stop()
        self.finalize_page.user = self.controller.user or self._provider_name(visit_id)
        self.finalize_page.load(visit_id, self.visit_panel.tie_choice)
        self.stack.setCurrentWidget(self.finalize_page)

    def _provider_name(self, visit_id: int) -> str:
        visit = self.repo.get_visit(visit_id)
        return self.repo.get_provider(visit.provider_id).name

    # -- dialogs ------------------------------------------------------------------------------

    def check_recovery(self) -> RecoveryDialog | None:
        """Opens the recovery dialog (non-modal) when timers were left running."""
        try:
            crashed = find_crashed(self.repo)
        except StorageError as exc:
            log.error("running timers not read: %s", exc)
            return None
        if not crashed:
            return None
        dialog = RecoveryDialog(crashed, self.repo, self.clock, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.resolved.connect(lambda _choices: self.show_today())
        self.recovery_dialog = dialog
        dialog.open()
        self.recovery_shown.emit(dialog)
        return dialog

    def edit_diagnoses(self, visit_id: int) -> None:
        module = optional_module("diagnoses")
        if module is None or self.worker is None:
            Ask.warn(self, "Diagnoses", "The diagnosis picker is not part of this build.")
            return
        if self.icd_source is None:
            self.icd_source = module.IcdIndexSource(self.worker, parent=self)
            self.icd_source.start()
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

    def open_settings(self) -> None:
        settings = optional_module("settings")
        dialog = settings.SettingsDialog(self.repo, parent=self)
        dialog.exec()
        self.today.refresh()
        if self.controller.visit is not None:
            self.visit_panel.load()
