"""From Settings to the visit screen: a favourite tile chosen for one provider is kept in the
database and shows on that provider's visit screen (also after reopening the file), while
another provider keeps the discipline's defaults."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt

from therapy_timer.storage.repository import open_repository
from therapy_timer.ui.tiles import DEFAULT_TILES

from .conftest import seed_clinic

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")


@pytest.fixture(autouse=True)
def _no_modal_questions(monkeypatch):
    from therapy_timer.ui.settings import Page

    monkeypatch.setattr(Page, "ask_discard", classmethod(lambda cls, parent, what: True))


def _visit_screen(qtbot, repo, clock, provider_id, patient_id, plan_id):
    from therapy_timer.ui.session_controller import SessionController
    from therapy_timer.ui.visit_panel import VisitPanel

    controller = SessionController(repo, clock)
    panel = VisitPanel(controller)
    qtbot.addWidget(panel)
    visit = repo.start_visit(patient_id, provider_id, plan_id, clock.now())
    controller.open_visit(visit.id)
    controller.timer.stop()
    panel.load()
    return controller, panel


def test_a_favourite_chosen_in_settings_is_a_tile_on_that_providers_visit_screen(
        qtbot, tmp_path, clock):
    from therapy_timer.ui.settings import SettingsDialog

    path = tmp_path / "clinic.sqlite"
    repo = open_repository(path)
    clinic = seed_clinic(repo)
    qsettings = QSettings(str(tmp_path / "app.ini"), QSettings.Format.IniFormat)
    dialog = SettingsDialog(repo, user="Front Desk", settings=qsettings)
    qtbot.addWidget(dialog)
    dialog.show()
    page = dialog.tiles
    dialog.tabs.setCurrentWidget(page)
    page.provider.setCurrentIndex(page.provider.findData(clinic.pt2.id))
    assert page.tile_codes() == list(DEFAULT_TILES[clinic.pt2.discipline])
    assert "97113" not in page.tile_codes()
    page.code_edit.clear()
    qtbot.keyClicks(page.code_edit, "97113")
    qtbot.keyClick(page.code_edit, Qt.Key.Key_Return)
    page.codes.setCurrentRow(page.codes.count() - 1)
    for _ in range(page.codes.count() - 1):  # to the top: key 1
        qtbot.mouseClick(page.up_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert page.message.text().startswith("Tiles saved for Robin Test, PT")
    chosen = page.tile_codes()
    assert chosen[0] == "97113"
    dialog.close()
    repo.close()

    reopened = open_repository(path)  # the choice is in the file, not in this window
    try:
        assert reopened.favourite_codes(clinic.pt2.id) == chosen
        controller, panel = _visit_screen(qtbot, reopened, clock, clinic.pt2.id,
                                          clinic.patient.id, clinic.plan.id)
        assert list(panel.tiles.tiles) == chosen
        assert panel.tiles.tile_at(1).code == "97113"
        assert panel.tiles.tiles["97113"].accessibleName() == "97113 Aquatic therapy with exercise"
        panel.close()
        # Another provider of the same discipline still sees the defaults.
        other_controller, other = _visit_screen(qtbot, reopened, clock, clinic.pt.id,
                                                clinic.patient2.id, None)
        assert list(other.tiles.tiles) == list(DEFAULT_TILES[clinic.pt.discipline])
        other.close()
        controller.timer.stop()
        other_controller.timer.stop()
    finally:
        reopened.close()
