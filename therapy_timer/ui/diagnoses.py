"""ICD-10-CM diagnosis picker: search by code or words, an ordered list lettered A-L.

The ICD-10-CM data package takes seconds to load, so nothing here loads it: ``IcdIndexSource``
builds (once per package version) a compact index in the user cache folder on the background
worker, then opens it for quick searches on the UI thread.

Public API:

* ``IcdIndexSource(worker, cache_dir=None, parent=None)``: one per app. ``start()`` begins
  the build/open (idempotent); signals ``ready()`` and ``failed(str)``; ``index()`` returns the
  open ``IcdIndex`` (UI thread only) or None while loading; ``is_ready``.
* ``DiagnosisPicker(source, parent=None)``: the widget. ``diagnoses() -> list[str]`` (codes in
  order, A first), ``entries()``, ``set_diagnoses(codes)``, ``pointer(code) -> "A".."L"``,
  ``add_code(text) -> bool`` (False with a message shown when refused); signal
  ``changed(list)`` with the codes. At most 12 diagnoses; only billable codes are accepted.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.storage.icd_index import IcdEntry, IcdIndex, ensure_index
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.models import LETTERS, DiagnosisListModel, IcdResultsModel, records_table
from therapy_timer.ui.workers import Worker

MAX_DIAGNOSES = len(LETTERS)


class IcdIndexSource(QObject):
    """Builds the ICD-10-CM index off the UI thread, then serves searches from it."""

    ready = Signal()
    failed = Signal(str)

    def __init__(
        self, worker: Worker, cache_dir: str | Path | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._worker = worker
        self._cache_dir = cache_dir
        self._index: IcdIndex | None = None
        self._started = False
        self.error = ""

    @property
    def is_ready(self) -> bool:
        return self._index is not None

    def start(self) -> None:
        """Starts building or opening the index (does nothing the second time)."""
        if self._started:
            return
        self._started = True
        self._worker.submit(
            ensure_index,
            self._cache_dir,
            on_success=self._opened,
            on_failure=self._failed,
            owner=self,
            label="ICD-10-CM index",
        )

    def index(self) -> IcdIndex | None:
        return self._index

    def _opened(self, path: Path) -> None:
        self._index = IcdIndex(path)  # opened here: the connection belongs to the UI thread
        self.ready.emit()

    def _failed(self, exc: BaseException) -> None:
        self.error = f"The ICD-10-CM list could not be loaded: {exc}"
        self._started = False
        self.failed.emit(self.error)


class DiagnosisPicker(QWidget):
    """Search ICD-10-CM by code or words; keep an ordered list of up to 12 (A-L)."""

    changed = Signal(list)

    def __init__(self, source: IcdIndexSource, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("diagnosisPicker")
        self._source = source
        self._entries: list[IcdEntry] = []

        self.search = QLineEdit(placeholderText="Search by code or words, e.g. R26.89 or gait")
        self.search.setAccessibleName("Search diagnoses")
        self.search.setClearButtonEnabled(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setObjectName("diagnosisStatus")
        self.results_model = IcdResultsModel(self)
        self.results = _table(self.results_model, "Matching billable codes")
        self.add_button = QPushButton("Add diagnosis")
        self.add_button.setToolTip("Add the highlighted code to the visit (Enter)")

        self.chosen_model = DiagnosisListModel(self)
        self.chosen = _table(self.chosen_model, "Diagnoses on this visit, in order")
        self.up_button = QPushButton("Move up")
        self.down_button = QPushButton("Move down")
        self.remove_button = QPushButton("Remove")
        for button in (self.up_button, self.down_button, self.remove_button):
            button.setAccessibleName(button.text() + " diagnosis")

        heading = QLabel("<b>Diagnoses</b> (ICD-10-CM, billable codes only; A is the primary)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.up_button)
        buttons.addWidget(self.down_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        search_row = QHBoxLayout()
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(search_row)
        layout.addWidget(self.status)
        layout.addWidget(self.results, 3)
        layout.addWidget(QLabel("On this visit:"))
        layout.addWidget(self.chosen, 2)
        layout.addLayout(buttons)

        self.search.textChanged.connect(self._run_search)
        self.search.returnPressed.connect(self._add_from_search)
        self.results.doubleClicked.connect(lambda _index: self._add_selected())
        self.add_button.clicked.connect(self._add_from_search)
        self.up_button.clicked.connect(lambda: self._move(-1))
        self.down_button.clicked.connect(lambda: self._move(1))
        self.remove_button.clicked.connect(self._remove)
        delete = QShortcut(QKeySequence.StandardKey.Delete, self.chosen, self._remove)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        self.chosen.selectionModel().selectionChanged.connect(self._update_buttons)

        source.ready.connect(self._on_ready)
        source.failed.connect(self._show_error)
        if source.is_ready:
            self._on_ready()
        else:
            self._set_status("Loading the ICD-10-CM code list…")
            source.start()
        self._update_buttons()

    # Public API ---------------------------------------------------------------------------

    def diagnoses(self) -> list[str]:
        """The chosen codes in claim order (A first)."""
        return [e.code for e in self._entries]

    def entries(self) -> list[IcdEntry]:
        return list(self._entries)

    def pointer(self, code: str) -> str:
        """The letter (A-L) of a chosen code. Raises KeyError for a code not on the list."""
        for letter, entry in zip(LETTERS, self._entries, strict=False):
            if entry.code == code:
                return letter
        raise KeyError(code)

    def set_diagnoses(self, codes: list[str]) -> None:
        """Shows a stored list (descriptions filled in from the index when it is loaded)."""
        index = self._source.index()
        entries = []
        for code in codes[:MAX_DIAGNOSES]:
            found = index.lookup(code) if index is not None else None
            entries.append(found or IcdEntry(code, "", True))
        self._set_entries(entries, notify=False)

    def add_code(self, text: str) -> bool:
        """Adds a code typed or picked; refuses unknown, non-billable, duplicate, 13th."""
        index = self._source.index()
        if index is None:
            self._set_status("The ICD-10-CM list is still loading; try again in a moment.")
            return False
        entry = index.lookup(text)
        if entry is None:
            self._show_error(f"{text.strip().upper()} is not in the ICD-10-CM code set.")
            return False
        if not entry.billable:
            more = index.children(entry.code, limit=4)
            hint = ", ".join(e.code for e in more)
            self._show_error(
                f"{entry.code} ({entry.description}) is a category, not a billable code: "
                f"choose a more specific code{' such as ' + hint if hint else ''}."
            )
            return False
        return self._add_entry(entry)

    # Internals ----------------------------------------------------------------------------

    def _add_entry(self, entry: IcdEntry) -> bool:
        if entry.code in self.diagnoses():
            self._show_error(f"{entry.code} is already on this visit ({self.pointer(entry.code)}).")
            return False
        if len(self._entries) >= MAX_DIAGNOSES:
            self._show_error(
                f"A claim carries at most {MAX_DIAGNOSES} diagnoses (A-L); remove one first."
            )
            return False
        self._set_entries([*self._entries, entry])
        self._set_status(f"Added {entry.code} as {LETTERS[len(self._entries) - 1]}.")
        self.search.clear()
        return True

    @Slot()
    def _on_ready(self) -> None:
        index = self._source.index()
        if index is not None and any(not e.description for e in self._entries):
            self._entries = [index.lookup(e.code) or e for e in self._entries]
            self.chosen_model.set_entries(self._entries)
        self._set_status("")
        self._run_search(self.search.text())

    @Slot(str)
    def _run_search(self, text: str) -> None:
        index = self._source.index()
        if index is None:
            return
        results = index.search(text, limit=100) if text.strip() else []
        self.results_model.set_rows(results)
        if results:
            self.results.selectRow(0)
            self._set_status("")
        elif text.strip():
            entry = index.lookup(text) if len(text.strip()) <= 8 else None
            if entry is not None and not entry.billable:
                self._set_status(f"{entry.code} is a category, not billable.")
            else:
                self._set_status(f"No billable code matches “{text.strip()}”.")
        self._update_buttons()

    @Slot()
    def _add_from_search(self) -> None:
        text = self.search.text().strip()
        if not text:
            return
        index = self._source.index()
        exact = index.lookup(text) if index is not None and len(text) <= 8 else None
        if exact is not None:
            self.add_code(text)  # an exact code typed: add it, or say why not
        elif self.results.currentIndex().isValid():
            self._add_selected()
        else:
            self.add_code(text)

    def _add_selected(self) -> None:
        current = self.results.currentIndex()
        if current.isValid():
            self._add_entry(self.results_model.row(current.row()))

    def _selected_chosen(self) -> int:
        rows = self.chosen.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def _move(self, step: int) -> None:
        row = self._selected_chosen()
        target = row + step
        if row < 0 or not (0 <= target < len(self._entries)):
            return
        entries = list(self._entries)
        entries[row], entries[target] = entries[target], entries[row]
        self._set_entries(entries)
        self.chosen.selectRow(target)

    def _remove(self) -> None:
        row = self._selected_chosen()
        if row < 0:
            return
        removed = self._entries[row]
        self._set_entries(self._entries[:row] + self._entries[row + 1 :])
        self._set_status(f"Removed {removed.code}; the letters below it moved up.")

    def _set_entries(self, entries: list[IcdEntry], notify: bool = True) -> None:
        self._entries = list(entries)
        self.chosen_model.set_entries(self._entries)
        self._update_buttons()
        if notify:
            self.changed.emit(self.diagnoses())

    def _update_buttons(self, *_args) -> None:
        row = self._selected_chosen()
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < len(self._entries) - 1)
        self.remove_button.setEnabled(row >= 0)
        self.add_button.setEnabled(self._source.is_ready)

    def _set_status(self, text: str) -> None:
        self.status.setStyleSheet("")
        self.status.setText(text)
        self.status.setVisible(bool(text))

    @Slot(str)
    def _show_error(self, text: str) -> None:
        self.status.setStyleSheet("color: #a40000; font-weight: bold;")
        self.status.setText(text)
        self.status.setVisible(True)


def _table(model, accessible_name: str) -> QTableView:
    view = records_table(model, accessible_name)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.horizontalHeader().setStretchLastSection(True)
    view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    return view
