"""Process set-up for the desktop app: QApplication, logging of Qt messages, the excepthook,
opening the database and showing the main window.

``run_app(args)`` is called by ``therapy_timer.cli.run_gui``. With ``--check`` it starts the
real GUI (offscreen works), opens the database, shows the main window, waits until the event
loop is idle, prints ``ready`` and returns 0: packaging smoke tests and the start-up benchmark
use it.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import NoReturn

from PySide6.QtCore import QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

from therapy_timer import __version__
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)

log = logging.getLogger(__name__)

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}
#: Qt notes that are harmless on the platforms we run on (offscreen, Xvfb).
_QT_QUIET = ("propagateSizeHints", "This plugin does not support")


def qt_message_handler(mode, context, message: str) -> None:
    """Routes Qt's own warnings into our log instead of stderr."""
    level = _QT_LEVELS.get(mode, logging.WARNING)
    if any(text in message for text in _QT_QUIET):
        level = logging.DEBUG
    logging.getLogger("qt").log(level, "%s (%s:%s)", message, context.file or "?",
                                context.line)


def install_excepthook(check: bool) -> None:
    """Logs any uncaught exception and tells the user (a dialog; stderr in ``--check``)."""

    def hook(kind, value, tb) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        log.critical("uncaught exception:\n%s", text)
        app = QApplication.instance()
        if check or app is None:
            print(f"therapy-timer: {kind.__name__}: {value}", file=sys.stderr)
            if app is not None:
                app.exit(1)
            return
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(QMessageBox.Icon.Critical, "Therapy Timer: something went wrong",
                          f"{kind.__name__}: {value}\n\nEverything already recorded is saved. "
                          "The details are in the log file.")
        box.setDetailedText(text)
        box.exec()

    sys.excepthook = hook


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with our names, style sheet and font (reused if one exists)."""
    from therapy_timer.ui.style import APP_STYLE

    app = QApplication.instance()
    if app is None:
        # The style named on the command line: QApplication.setStyle() would wrap the QStyle
        # it returns, and PySide6 builds Python types for QStyle's large enums (~15 ms).
        app = QApplication([*(argv or [sys.argv[0]]), "-style", "Fusion"])
    else:
        app.setStyle("Fusion")
    app.setApplicationName("therapy-timer")
    app.setApplicationDisplayName("Therapy Timer")
    app.setOrganizationName("TherapyTimer")
    app.setApplicationVersion(__version__)
    app.setStyleSheet(APP_STYLE)
    return app


def run_app(args: argparse.Namespace) -> int:
    """Runs the desktop app until its window closes; returns the exit code."""
    check = bool(getattr(args, "check", False))
    _setup_logging()
    qInstallMessageHandler(qt_message_handler)
    app = make_application()
    install_excepthook(check)

    from therapy_timer.storage.errors import StorageError
    from therapy_timer.storage.repository import open_repository
    from therapy_timer.ui.main_window import MainWindow
    from therapy_timer.ui.station.target import start_hint, start_target

    # --db, else THERAPY_TIMER_DB, else the server Settings > This computer saved, else the file.
    path = start_target(getattr(args, "db", None))
    try:
        repo = open_repository(path)
    except StorageError as exc:
        log.error("database not opened: %s", exc)
        hint = start_hint(getattr(args, "db", None))
        if check:
            print(f"therapy-timer: {exc}" + (f" ({hint})" if hint else ""), file=sys.stderr)
        else:
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.critical(None, "Therapy Timer", f"The database could not be opened.\n\n"
                                 f"{exc}" + (f"\n\n{hint}" if hint else ""))
        return 1

    from therapy_timer.ui.station.name import apply_station

    apply_station(repo)  # the name its intervals and audit entries carry (issue 14)
    # A check run is a smoke test (often offscreen): it must not overwrite the size the
    # clinician's window last had.
    # db_path is what the window's workers open again: a server's whole address as given.
    window = MainWindow(repo, db_path=str(path), remember_size=not check)
    window.show()
    if repo.repaired_triggers:
        from therapy_timer.storage.tamper import repaired_note

        note = repaired_note(repo.path if repo.on_server else path, repo.repaired_triggers)
        if check:
            print(f"therapy-timer: warning: {note}", file=sys.stderr)
        else:
            from PySide6.QtWidgets import QMessageBox

            QTimer.singleShot(0, lambda: QMessageBox.warning(window, "Therapy Timer", note))
    if repo.anchor is not None and repo.anchor.created and not check:
        # Shown once: the key is created once per database.
        from therapy_timer.storage.tamper import anchor_created_note
        from therapy_timer.ui.dialogs import Ask

        created = anchor_created_note(repo.anchor)
        QTimer.singleShot(0, lambda: Ask.inform(window, "Audit anchor key", created))
    if check:
        window.show_today()
        QTimer.singleShot(0, lambda: _when_idle(app, lambda: _ready(app)))
    else:
        QTimer.singleShot(0, lambda: _first_start(window, path))
    try:
        code = app.exec()
    finally:
        repo.close()
    return int(code)


def end_process(code: int) -> NoReturn:
    """Ends the process straight after the app has shut down in order.

    By now the window is closed, background jobs are finished, the database is closed (every
    write committed and the WAL checkpointed) and the settings are synced. What is left is
    the interpreter's teardown of Qt wrappers and modules: about 60 ms of work nobody waits
    for, and the place where PySide6 applications are known to crash on exit. So flush the
    log and the standard streams, and leave.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _setup_logging() -> None:
    from therapy_timer.logging_setup import setup_logging

    try:
        setup_logging()
    except OSError as exc:  # an unwritable log folder must not stop the app
        print(f"therapy-timer: log file not opened: {exc}", file=sys.stderr)


def _when_idle(app: QApplication, then) -> None:
    """Runs ``then`` once the events queued so far (show, layout, paint) are processed."""
    app.processEvents()
    QTimer.singleShot(0, then)


def _ready(app: QApplication) -> None:
    print("ready", flush=True)
    app.quit()


def _first_start(window, path: Path) -> None:
    """First run on an empty database, then Today and the crash-recovery check."""
    from therapy_timer.ui.first_run import DEMO, FirstRunDialog

    if window.repo.get_practice() is None and not window.repo.list_providers():
        outcome = FirstRunDialog.ask(window, window.repo)
        if outcome == DEMO:
            build_demo(window, path)
            return
    window.start()
    # Build the ICD-10-CM search index in the background now (about 6 s, once per release),
    # so the diagnosis picker is ready when the clinician first opens it.
    QTimer.singleShot(3000, window.prepare_diagnoses)


def build_demo(window, path: Path) -> None:
    """Fills the (empty) database with the synthetic demo clinic, off the UI thread."""
    window.statusBar().showMessage("Building the demo clinic (made-up patients)…")
    window.setEnabled(False)

    def job():
        from therapy_timer.demo import build_demo_file

        return build_demo_file(path)

    def done(_result) -> None:
        window.setEnabled(True)
        window.statusBar().showMessage("Demo clinic ready: every patient in it is made up.",
                                       10000)
        window.start()

    def failed(exc: BaseException) -> None:
        from PySide6.QtWidgets import QMessageBox

        window.setEnabled(True)
        QMessageBox.warning(window, "Demo clinic", f"The demo clinic was not built: {exc}")
        window.start()

    window.worker.submit(job, on_success=done, on_failure=failed, owner=window,
                         label="demo clinic")
