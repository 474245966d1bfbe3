"""Thin Qt table models: read-only views over lists of plain rows (core objects or dicts).

Public API:

* ``Column(title, value, align=LEFT, tooltip=None)``: how one column reads a row.
* ``RowsModel(columns, rows=(), parent=None)``: ``set_rows(rows)``, ``row(i)``, ``rows()``;
  ``Qt.UserRole`` on any cell gives the row object back.
* ``DiagnosisListModel()``: the visit's ordered diagnoses, lettered A-L (``letter(i)``).
* ``IcdResultsModel()``: ICD-10-CM search results (code, description).
* ``money(cents)``: "$1,234.50" for display.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)

LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
CENTER = Qt.AlignmentFlag.AlignCenter
LETTERS = "ABCDEFGHIJKL"

_Index = QModelIndex | QPersistentModelIndex


def money(cents: int | None) -> str:
    """Integer cents as dollars for display ("$1,234.50"; "" for None)."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    cents = abs(int(cents))
    return f"{sign}${cents // 100:,}.{cents % 100:02d}"


@dataclass(frozen=True)
class Column:
    """One column: its header and how to read a row's cell text."""

    title: str
    value: Callable[[Any], Any]
    align: Qt.AlignmentFlag = LEFT
    tooltip: Callable[[Any], str] | None = None


class RowsModel(QAbstractTableModel):
    """A read-only table over a list of row objects."""

    def __init__(
        self, columns: Sequence[Column], rows: Iterable[Any] = (), parent=None
    ) -> None:
        super().__init__(parent)
        self._columns = list(columns)
        self._rows = list(rows)

    def set_rows(self, rows: Iterable[Any]) -> None:
        """Replaces every row (a model reset: views keep their columns)."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list[Any]:
        return list(self._rows)

    def row(self, i: int) -> Any:
        return self._rows[i]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self._columns)

    def cell_text(self, row: int, column: int) -> str:
        value = self._columns[column].value(self._rows[row])
        return "" if value is None else str(value)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        column = self._columns[index.column()]
        row = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self.cell_text(index.row(), index.column())
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(column.align.value)
        if role == Qt.ItemDataRole.ToolTipRole and column.tooltip is not None:
            return column.tooltip(row)
        if role == Qt.ItemDataRole.UserRole:
            return row
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            if 0 <= section < len(self._columns):
                return self._columns[section].title
            return None
        return str(section + 1)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


class IcdResultsModel(RowsModel):
    """ICD-10-CM search results: rows are ``IcdEntry`` values."""

    def __init__(self, parent=None) -> None:
        super().__init__(
            [
                Column("Code", lambda e: e.code),
                Column("Description", lambda e: e.description, tooltip=lambda e: e.description),
            ],
            parent=parent,
        )


class DiagnosisListModel(RowsModel):
    """The visit's diagnoses in claim order, lettered A-L (the pointers service lines use)."""

    def __init__(self, parent=None) -> None:
        super().__init__(
            [
                Column("Pointer", lambda pair: pair[0], CENTER),
                Column("Code", lambda pair: pair[1].code),
                Column(
                    "Description",
                    lambda pair: pair[1].description,
                    tooltip=lambda pair: pair[1].description,
                ),
            ],
            parent=parent,
        )

    def set_entries(self, entries: Sequence[Any]) -> None:
        """Sets the ordered entries (each with ``code`` and ``description``)."""
        self.set_rows(zip(LETTERS, entries, strict=False))

    def entries(self) -> list[Any]:
        return [pair[1] for pair in self.rows()]

    @staticmethod
    def letter(i: int) -> str:
        return LETTERS[i]


def records_table(model, accessible_name: str, *, stretch: int | None = None) -> QTableView:
    """A read-only table of records: whole rows selected one at a time, no row numbers,
    columns sized to their contents (``stretch``: the column that takes what is left)."""
    view = QTableView()
    view.setModel(model)
    view.setAccessibleName(accessible_name)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().hide()
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    # A column squeezed narrower than its title shows "Provi…", not a clipped middle ("ovid").
    header.setTextElideMode(Qt.TextElideMode.ElideRight)
    if stretch is not None:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return view
