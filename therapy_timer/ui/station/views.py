"""Reloading a table without losing the user's place: the selected row and the scroll."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def kept_place(table, key: Callable[[Any], Any]) -> Iterator[None]:
    """Around a model reset of ``table`` (a ``RowsModel`` view): the row whose ``key`` was
    selected is selected again (if it is still listed) and the scroll position stays, so a
    list reloaded for another station's change does not jump under the user's finger."""
    model = table.model()
    index = table.currentIndex()
    chosen = key(model.row(index.row())) if index.isValid() and \
        index.row() < model.rowCount() else None
    bar = table.verticalScrollBar()
    scrolled = bar.value()
    column = max(0, index.column()) if index.isValid() else 0
    yield
    if chosen is not None:
        for row in range(model.rowCount()):
            if key(model.row(row)) == chosen:
                table.setCurrentIndex(model.index(row, column))
                break
    bar.setValue(min(scrolled, bar.maximum()))
