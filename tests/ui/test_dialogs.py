"""The shared questions: the discard question answers from the user's button."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.patients import PatientDialog
from therapy_timer.ui.settings import Page


def test_discard_is_true_only_for_the_discard_button(monkeypatch):
    asked = []

    def answer(button):
        def question(parent, title, text, buttons, default):
            asked.append((title, text, default))
            return button
        return staticmethod(question)

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Discard))
    assert Ask.discard(None, "the practice")
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Cancel))
    assert not Ask.discard(None, "the practice")
    assert asked[0] == ("Unsaved changes", "Discard the unsaved changes to the practice?",
                        QMessageBox.StandardButton.Cancel)  # keeping edits is the default
    # settings pages and the patient editor ask the same question
    assert not Page.ask_discard(None, "x") and not PatientDialog.ask_discard(None, "y")
    assert [a[1] for a in asked[1:]] == ["Discard the unsaved changes to the practice?",
                                        "Discard the unsaved changes to x?",
                                        "Discard the unsaved changes to y?"]
