"""Reloading a table without losing the user's place: the selected row and the scroll."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def kept_place(table, key: Callable[[Any], Any],
               row: Callable[[int], Any] | None = None) -> Iterator[None]:
    """Around a model reset of ``table``: the row whose ``key`` was selected is selected
    again (if it is still listed) and the scroll position stays, so a list reloaded for
    another station's change does not jump under the user's finger. ``row(i)`` reads a row
    (default: the model's ``row``, as ``RowsModel`` has)."""
    model = table.model()
    row = row or model.row
    index = table.currentIndex()
    chosen = key(row(index.row())) if index.isValid() and \
        index.row() < model.rowCount() else None
    bar = table.verticalScrollBar()
    scrolled = bar.value()
    column = max(0, index.column()) if index.isValid() else 0
    yield
    if chosen is not None:
        for i in range(model.rowCount()):
            if key(row(i)) == chosen:
                table.setCurrentIndex(model.index(i, column))
                break
    bar.setValue(min(scrolled, bar.maximum()))
