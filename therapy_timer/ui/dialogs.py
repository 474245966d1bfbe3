"""Every question the app asks the user goes through here, so tests can answer it.

Logic never opens a modal box itself: a widget calls ``Ask.confirm(...)``, ``Ask.text(...)``
or ``Ask.choice(...)``. Tests replace these classmethods (``monkeypatch.setattr(Ask,
"confirm", ...)``) and so never block on a modal dialog.
"""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QMessageBox, QWidget

from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)


class Ask:
    """Modal questions, one classmethod each (replaceable in tests)."""

    @classmethod
    def confirm(cls, parent: QWidget | None, title: str, text: str, *,
                yes: str = "Yes", no: str = "No") -> bool:
        """A yes/no question; True for yes."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=parent)
        yes_button = box.addButton(yes, QMessageBox.ButtonRole.YesRole)
        box.addButton(no, QMessageBox.ButtonRole.NoRole)
        box.exec()
        return box.clickedButton() is yes_button

    @classmethod
    def buttons(cls, parent: QWidget | None, title: str, text: str,
                options: list[str]) -> int | None:
        """A question answered by one of ``options`` (a button each, then Cancel): the index
        of the chosen one; None when cancelled."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=parent)
        chosen = [box.addButton(option, QMessageBox.ButtonRole.AcceptRole)
                  for option in options]
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setEscapeButton(cancel)
        box.exec()
        clicked = box.clickedButton()
        return chosen.index(clicked) if clicked in chosen else None

    @classmethod
    def text(cls, parent: QWidget | None, title: str, label: str, *,
             default: str = "") -> str | None:
        """One line of text; None when cancelled."""
        value, ok = QInputDialog.getText(parent, title, label, text=default)
        return value if ok else None

    @classmethod
    def choice(cls, parent: QWidget | None, title: str, label: str,
               options: list[str]) -> int | None:
        """The index of one option; None when cancelled."""
        if not options:
            return None
        value, ok = QInputDialog.getItem(parent, title, label, options, 0, False)
        return options.index(value) if ok else None

    @classmethod
    def discard(cls, parent: QWidget | None, what: str) -> bool:
        """Whether unsaved changes to ``what`` may be dropped; True to drop them."""
        answer = QMessageBox.question(
            parent, "Unsaved changes", f"Discard the unsaved changes to {what}?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Discard

    @classmethod
    def warn(cls, parent: QWidget | None, title: str, text: str) -> None:
        """Tells the user something went wrong (the message names the problem)."""
        QMessageBox.warning(parent, title, text)

    @classmethod
    def inform(cls, parent: QWidget | None, title: str, text: str) -> None:
        QMessageBox.information(parent, title, text)
