"""Settings: CMS's NCCI edits in use (the PTP release and the MUE table) and their import.

Public API:

* ``NcciEditsBox(repo, user=None, worker=None, parent=None)``: a group box showing the PTP
  release and the MUE table in use with their dates, and "Import PTP..." / "Import MUE..."
  buttons. The import runs on the background worker (``ui.workers``) with its own connection;
  the result, or the refusal naming the file, line and problem, shows in ``message``. Signal
  ``imported(str kind)`` after a successful import. ``ask_files(parent, kind)`` is the file
  dialog (tests replace it).
"""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)

#: What each kind is called, and the files its dialog offers.
_KINDS = {
    "ncci": ("PTP edits", "CMS practitioner PTP edits (ccipra-*.zip ccipra-*.txt *.TXT)"),
    "mue": ("MUE table", "CMS practitioner MUE table (*.zip *.csv)"),
}
SEED_NOTE = ("the shipped starting list (resources/ncci_pairs.csv, about 90 pairs from secondary "
             "sources): import CMS's quarterly practitioner PTP release")
NO_MUE_NOTE = "none imported: units are not checked against CMS's Medically Unlikely Edits"


def _import(repo, kind: str, files: list[str], user: str | None, now: datetime):
    """Runs on the worker thread with the job's own repository."""
    method = repo.import_ncci if kind == "ncci" else repo.import_mue
    return method(files, user=user, now=now)


class NcciEditsBox(QGroupBox):
    """The NCCI edits in use and their import (a section of Settings)."""

    imported = Signal(str)
    #: Settings asks each tab whether it has unsaved changes: an import saves itself.
    dirty = False

    def __init__(self, repo, user: str | None = None, worker=None,
                 parent: QWidget | None = None) -> None:
        super().__init__("CMS NCCI edits (practitioner services)", parent)
        self.repo = repo
        self.user = user
        #: When an import happened, for its record and the audit log (tests fix it).
        self.clock = getattr(repo, "clock", None) or (lambda: datetime.now(UTC))
        if worker is None:
            from therapy_timer.ui.workers import Worker

            worker = Worker(self)
        self.worker = worker
        self.ptp_status = QLabel()
        self.mue_status = QLabel()
        for label in (self.ptp_status, self.mue_status):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.ptp_button = QPushButton("Import PTP…")
        self.mue_button = QPushButton("Import MUE…")
        self.ptp_button.clicked.connect(lambda: self.start_import("ncci"))
        self.mue_button.clicked.connect(lambda: self.start_import("mue"))
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setObjectName("settingsMessage")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        where = QLabel(
            "CMS publishes both every quarter: the \"NCCI Procedure to Procedure (PTP) Edits\" "
            "page (practitioner PTP edits: four zip files, f1 to f4; select them all) and the "
            "\"Medically Unlikely Edits\" page (practitioner services MUE table). Pairs and "
            "limits of codes not in the app's catalog are skipped.")
        where.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.ptp_button)
        buttons.addWidget(self.mue_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.ptp_status)
        layout.addWidget(self.mue_status)
        layout.addWidget(where)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addStretch(1)
        self.refresh()

    def may_leave(self) -> bool:
        return True

    def refresh(self) -> None:
        """Shows the release and the table in use, with their dates."""
        ptp, mue = self.repo.rule_release("ncci"), self.repo.rule_release("mue")
        self.ptp_status.setText("PTP edits in use: " + (self._describe(ptp) if ptp
                                                         else SEED_NOTE))
        self.mue_status.setText("MUE table in use: " + (self._describe(mue) if mue
                                                         else NO_MUE_NOTE))

    @staticmethod
    def _describe(release) -> str:
        when = release.imported_at.astimezone().strftime("%Y-%m-%d")
        return (f"{release.describe()} (imported {when} by {release.imported_by}: "
                f"{release.rows_read:,} rows read, {release.rows_kept:,} kept)")

    @classmethod
    def ask_files(cls, parent: QWidget | None, kind: str) -> list[str]:
        """The files to import, from a file dialog (tests replace this)."""
        title, pattern = _KINDS[kind]
        if kind == "ncci":
            files, _ = QFileDialog.getOpenFileNames(parent, f"Import CMS {title}", "",
                                                    f"{pattern};;All files (*)")
            return list(files)
        path, _ = QFileDialog.getOpenFileName(parent, f"Import CMS {title}", "",
                                              f"{pattern};;All files (*)")
        return [path] if path else []

    def start_import(self, kind: str) -> None:
        """Asks for the files and imports them off the UI thread."""
        files = type(self).ask_files(self, kind)
        if not files:
            return
        self._busy(True)
        self._say(f"Importing the {_KINDS[kind][0]} ({len(files)} file(s)); a full release "
                  "takes a few seconds…", "#374151")
        self.worker.submit_with_repo(
            getattr(self.repo, "target", None) or self.repo.path, _import, kind, list(files),
            self.user, self.clock(),
            on_success=lambda summary: self._done(kind, summary),
            on_failure=self._failed, owner=self, label=f"import {kind}")

    def _done(self, kind: str, summary) -> None:
        self._busy(False)
        self.refresh()
        self._say(f"Imported the {summary.describe()}.", "#065f46")
        self.imported.emit(kind)

    def _failed(self, exc: BaseException) -> None:
        from therapy_timer.core.model import BillingError
        from therapy_timer.storage.errors import StorageError

        self._busy(False)
        if isinstance(exc, (BillingError, StorageError)):
            text = f"Not imported (nothing changed): {exc}"
        else:
            text = (f"Not imported (nothing changed): unexpected error "
                    f"({type(exc).__name__}: {exc})")
        self._say(text, "#a40000")

    def _busy(self, busy: bool) -> None:
        self.ptp_button.setEnabled(not busy)
        self.mue_button.setEnabled(not busy)

    def _say(self, text: str, color: str) -> None:
        self.message.setStyleSheet(f"color: {color}; font-weight: 600;")
        self.message.setText(text)
