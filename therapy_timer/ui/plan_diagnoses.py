"""The plan of care's diagnoses in the patient editor: the codes, and a button that opens the
visit's ICD-10-CM picker (``main_window.DiagnosesDialog``) on them.

Each new visit under the plan starts with a copy of these codes (the store copies them in
``start_visit``); changing a visit's diagnoses leaves the plan's alone.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.models import LETTERS


def icd_source_for(widget: QWidget):
    """The app's one ICD-10-CM index source, found through the main window above ``widget``
    (it starts loading on first use); None outside the main window."""
    parent = widget.parentWidget()
    while parent is not None:
        if hasattr(parent, "prepare_diagnoses"):
            parent.prepare_diagnoses()
            return parent.icd_source
        parent = parent.parentWidget()
    return None


class PlanDiagnosesField(QWidget):
    """The plan's ordered diagnoses (A first) and a "Diagnoses..." button.

    Signals:
        changed(list): the user saved another list in the picker.
    """

    changed = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: The ICD-10-CM index source; None: the main window's (``icd_source_for``).
        self.source = None
        self._codes: list[str] = []
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setAccessibleName("Plan diagnoses")
        self.button = QPushButton("Diagnoses\u2026")
        self.button.setAccessibleName("Edit the plan of care's diagnoses")
        self.button.setToolTip("The plan's ICD-10-CM codes: each new visit under the plan "
                               "starts with them (the clinician can change them per visit)")
        self.button.clicked.connect(self.edit)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)
        self._show()

    def codes(self) -> tuple[str, ...]:
        return tuple(self._codes)

    def set_codes(self, codes) -> None:
        """Shows ``codes`` (loading a plan: no ``changed``)."""
        self._codes = list(codes)
        self._show()

    def _show(self) -> None:
        if self._codes:
            self.label.setText("   ".join(f"{letter} {code}" for letter, code
                                          in zip(LETTERS, self._codes, strict=False)))
        else:
            self.label.setText("None yet: visits start with no diagnosis")

    def edit(self) -> None:
        """Opens the ICD-10-CM picker on the plan's codes; a saved list replaces them."""
        from therapy_timer.ui.main_window import DiagnosesDialog

        source = self.source or icd_source_for(self)
        if source is None:
            Ask.warn(self, "Diagnoses", "The ICD-10-CM list is not available here: edit the "
                     "plan from the main window.")
            return
        codes = DiagnosesDialog.ask(self, source, self._codes)
        if codes is None or list(codes) == self._codes:
            return
        self._codes = list(codes)
        self._show()
        self.changed.emit(list(codes))
