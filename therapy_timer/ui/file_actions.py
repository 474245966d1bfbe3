"""File menu: Export CSV… (charge lines for a billing service) and Backup… (the database).

The same work the ``export`` and ``backup`` commands do, from the window: a range of dates
(``ExportRangeDialog``), a file dialog (``QFileDialog.getSaveFileName``; tests replace it),
the job on the background worker, then a message saying what was written where, or a clear
error naming the problem (nothing half-written is left: both write to a temporary file and
rename it when complete).

Public API: ``FileActions(window)``, built by the main window with ``add_to(menu)``; its
``export_csv()`` and ``backup()`` are what the menu items run. ``window`` gives ``repo``,
``clock``, ``db_path``, ``worker`` and (optionally) ``statusBar()``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from PySide6.QtCore import QDate, QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.formats import format_date, format_period
from therapy_timer.core.model import BillingError
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.dialogs import Ask

MEMORY = ":memory:"


def export_job(repo, start: date, end: date, path: str) -> tuple[Path, int]:
    """Writes the range's charge lines as CSV to ``path`` (atomically); the path and the count.

    Raises:
        OutputError: the folder is missing or not writable.
        BillingError: the range is backwards or longer than a year.
    """
    from therapy_timer.commands.export_csv import charge_rows, write_csv
    from therapy_timer.pdf.output import check_writable, write_atomically

    out = check_writable(path)
    rows = charge_rows(repo, start, end)
    written = write_atomically(out, lambda stream: write_csv(rows, stream))
    return written, len(rows)


def backup_job(db_path: str, path: str) -> Path:
    """Copies the database to ``path`` with SQLite's online backup (safe while the app runs),
    with the ``backup`` command's own checks (never over the database or its -wal, -shm or
    -journal file, another live database, or a folder), and its audit anchor key and
    checkpoints to the companion file ``<path>.anchor``."""
    import logging

    from therapy_timer.storage.anchor import AnchorError
    from therapy_timer.storage.backup import backup
    from therapy_timer.storage.tamper import write_backup_companion

    written = backup(db_path, path)
    try:
        write_backup_companion(written)
    except (AnchorError, OSError) as exc:
        logging.getLogger(__name__).warning("audit anchor not copied beside the backup: %s",
                                            exc)
    return written


class ExportRangeDialog(QDialog):
    """From and To dates of the charge lines to export (finalized visits only)."""

    def __init__(self, start: date, end: date, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export charge lines (CSV)")
        self.start_edit = QDateEdit(QDate(start))
        self.end_edit = QDateEdit(QDate(end))
        for edit, name in ((self.start_edit, "Export from date"),
                           (self.end_edit, "Export to date")):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("MM/dd/yyyy")
            edit.setAccessibleName(name)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #a40000; font-weight: 600;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Choose file…")
        form = QFormLayout()
        form.addRow("From", self.start_edit)
        form.addRow("To", self.end_edit)
        layout = QVBoxLayout(self)
        intro = QLabel("One row per charge line of the finalized visits in these dates, for a "
                       "billing service or a spreadsheet.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    def dates(self) -> tuple[date, date]:
        return self.start_edit.date().toPython(), self.end_edit.date().toPython()

    def accept(self) -> None:
        from therapy_timer.core.superbill_build import days

        start, end = self.dates()
        try:
            days(start, end)
        except BillingError as exc:
            self.error.setText(f"{format_period(start, end)}: {exc}.")
            return
        super().accept()

    @classmethod
    def ask(cls, parent: QWidget | None, start: date, end: date) -> tuple[date, date] | None:
        """The chosen dates, or None when cancelled."""
        dialog = cls(start, end, parent)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.dates()
        finally:
            dialog.deleteLater()


class FileActions(QObject):
    """The File menu's Export CSV… and Backup… for one main window.

    Signals ``exported(str, int)`` (path, charge lines), ``backed_up(str)`` (path) and
    ``failed(str)`` (the message shown) tell tests when a job ended.
    """

    exported = Signal(str, int)
    backed_up = Signal(str)
    failed = Signal(str)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.export_action = QAction("&Export charge lines (CSV)…", window)
        self.export_action.setToolTip("Write the finalized visits' charge lines as a CSV file")
        self.export_action.triggered.connect(self.export_csv)
        self.backup_action = QAction("&Backup…", window)
        self.backup_action.setToolTip("Copy the whole database to a file (safe while the app "
                                      "runs)")
        self.backup_action.triggered.connect(self.backup)

    def add_to(self, menu) -> None:
        menu.addAction(self.export_action)
        menu.addAction(self.backup_action)

    # -- steps --------------------------------------------------------------------------------

    def _today(self) -> date:
        clock = getattr(self.window, "clock", None)
        now = clock.now() if clock is not None else datetime.now(UTC)
        try:
            return self.window.repo.service_day(now)
        except Exception:  # noqa: BLE001 - a bad zone must not stop an export
            return now.date()

    def _db_path(self) -> str:
        """What a worker job opens: the file, or the clinic server's whole address (its
        password included when one was given: a second connection needs it)."""
        repo = self.window.repo
        path = str(getattr(self.window, "db_path", "") or getattr(repo, "target", "")
                   or getattr(repo, "path", ""))
        return "" if path in ("", MEMORY) else path

    def export_csv(self) -> bool:
        """Asks for dates and a file, then writes the charge lines there (on the worker).
        True when the export was started."""
        today = self._today()
        start, end = today.replace(day=1), today
        desk = getattr(self.window, "_frontdesk", None)
        if desk is not None:
            start, end = desk.date_range()
        dates = ExportRangeDialog.ask(self.window, start, end)
        if dates is None:
            return False
        start, end = dates
        period = format_period(start, end)
        suggested = (f"charges-{start.isoformat()}.csv" if start == end
                     else f"charges-{start.isoformat()}_{end.isoformat()}.csv")
        path, _filter = QFileDialog.getSaveFileName(
            self.window, "Export charge lines", str(self._folder() / suggested),
            "CSV files (*.csv)")
        if not path:
            return False
        if not path.lower().endswith(".csv"):
            path += ".csv"

        def done(result) -> None:
            written, count = result
            if count == 0:
                text = (f"No finalized visits on {period}: {written} holds only the column "
                        "headings.")
            else:
                text = (f"Exported {count} charge line{'s' if count != 1 else ''} of "
                        f"{period} to {written}.")
            self._status(text)
            Ask.inform(self.window, "Export finished", text)
            self.exported.emit(str(written), count)

        self._run(export_job, start, end, path, done=done, what="Export")
        return True

    def backup(self) -> bool:
        """Asks for a file, then copies the database there (on the worker). True when the
        backup was started."""
        db_path = self._db_path()
        if not db_path:
            self._fail("Backup", "This window works on a temporary database: there is no "
                       "database file to back up.")
            return False
        from therapy_timer.paths import stem

        stamp = self._today().isoformat()
        suggested = self._folder() / f"{stem(db_path)}-backup-{stamp}.sqlite"
        path, _filter = QFileDialog.getSaveFileName(
            self.window, "Back up the database", str(suggested),
            "Therapy Timer backups (*.sqlite *.db *.bak);;All files (*)")
        if not path:
            return False
        from therapy_timer.storage.backup import check_backup_target
        from therapy_timer.storage.errors import StorageError

        try:
            check_backup_target(db_path, path)  # the same checks as the command, at once
        except StorageError as exc:
            self._fail("Backup", _message(exc))
            return False

        def done(written: Path) -> None:
            size = written.stat().st_size if written.exists() else 0
            text = (f"Backed up the database to {written} ({size / 1_048_576:.1f} MB) on "
                    f"{format_date(self._today())}. Keep it on another disk or computer.")
            from therapy_timer.storage.tamper import companion_path

            companion = companion_path(written)
            if companion.exists():
                text += (f"\n\nIts audit anchor key and checkpoints are in {companion}: keep "
                         "that file apart from the backup (it proves the backup unchanged).")
            self._status(text)
            Ask.inform(self.window, "Backup finished", text)
            self.backed_up.emit(str(written))

        self.window.worker.submit(backup_job, db_path, path, on_success=done,
                                  on_failure=lambda exc: self._fail("Backup", _message(exc)),
                                  owner=self, label="backup")
        return True

    # -- plumbing -----------------------------------------------------------------------------

    def _folder(self) -> Path:
        return Path.home()

    def _run(self, fn, *args, done, what: str) -> None:
        """``fn(repo, *args)`` on the worker with its own connection (a file database), or on
        this thread with the window's repository (an in-memory one: tests)."""
        db_path = self._db_path()

        def failed(exc: BaseException) -> None:
            self._fail(what, _message(exc))

        if db_path:
            self.window.worker.submit_with_repo(db_path, fn, *args, on_success=done,
                                                on_failure=failed, owner=self, label=what)
            return
        try:
            result = fn(self.window.repo, *args)
        except Exception as exc:  # noqa: BLE001 - every failure is shown, named
            failed(exc)
            return
        done(result)

    def _fail(self, what: str, text: str) -> None:
        self._status(f"{what} failed: {text}")
        Ask.warn(self.window, f"{what} failed", f"{text}\n\nNothing was written.")
        self.failed.emit(text)

    def _status(self, text: str) -> None:
        bar = getattr(self.window, "statusBar", None)
        if callable(bar):
            bar().showMessage(text, 15000)


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    text = text.removesuffix("; nothing was written")  # the dialog says so on its own line
    return text[:1].upper() + text[1:]
