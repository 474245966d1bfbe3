"""Medicare's bundled hot pack (97010) on screen: the live total leaves it out, its tile shows
its time with no unit, the review says "documented, not billed (Medicare bundles 97010)"; the
practice page's setting lists it at $0.00 instead. Other payers are unchanged."""

from __future__ import annotations

from datetime import date

import pytest
from PySide6.QtCore import QSettings, Qt

from therapy_timer.core.model import Rule
from therapy_timer.core.records import InsurancePolicy, Payer
from therapy_timer.ui.finalize import FinalizePage

LEFT = Qt.MouseButton.LeftButton


def tap(qtbot, panel, code):
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.tiles.tiles[code], LEFT)


def hot_pack_and_exercise(qtbot, panel, clock):
    tap(qtbot, panel, "97010")
    tap(qtbot, panel, "97110")  # runs alongside the hot pack
    clock.advance(minutes=23)
    panel.on_tick()


def review(qtbot, clinic, clock, visit_id):
    page = FinalizePage(clinic.repo, clock, describe=lambda code: code)
    qtbot.addWidget(page)
    page.user = "Dana Test, PT"
    page.load(visit_id)
    return page


@pytest.fixture
def fees(clinic):
    for code, cents in {"97110": 4500, "97010": 1500}.items():
        clinic.repo.save_fee(code, cents, date(2026, 1, 1))


def test_medicare_live_total_and_review_leave_the_hot_pack_unbilled(qtbot, panel, clock,
                                                                    clinic, visit, fees):
    hot_pack_and_exercise(qtbot, panel, clock)
    assert panel.tiles.tiles["97110"].units == 2
    assert panel.tiles.tiles["97010"].seconds == 23 * 60  # its time shows...
    assert panel.tiles.tiles["97010"].units == 0  # ...but no unit of its own
    assert panel.totals.units.value.text() == "2"
    assert clinic.repo.visits_on(visit.day, clock.now())[0].units == 2  # Today's column too
    tap(qtbot, panel, "97110")
    tap(qtbot, panel, "97010")
    clinic.repo.set_diagnoses(visit.id, ["M25.561"], validate=False)
    page = review(qtbot, clinic, clock, visit.id)
    rows = {page.model.cell_text(r, 0): r for r in range(page.model.rowCount())}
    hot = rows["97010"]
    assert "documented, not billed (Medicare bundles 97010)" in page.model.cell_text(hot, 1)
    assert page.model.cell_text(hot, 3) == "0" and page.model.cell_text(hot, 5) == "$0.00"
    assert "2 units" in page.totals.text() and "$90.00" in page.totals.text()


def test_practice_setting_lists_the_hot_pack_at_zero(qtbot, panel, clock, clinic, visit, fees,
                                                     tmp_path, monkeypatch):
    from therapy_timer.ui.settings import Page, SettingsDialog

    dialog = SettingsDialog(clinic.repo, user="Front Desk",
                            settings=QSettings(str(tmp_path / "app.ini"),
                                               QSettings.Format.IniFormat))
    qtbot.addWidget(dialog)
    dialog.show()
    page = dialog.practice
    dialog.tabs.setCurrentWidget(page)
    assert not page.list_bundled.isChecked()
    qtbot.mouseClick(page.list_bundled, LEFT)
    assert page.dirty
    qtbot.mouseClick(page.save_button, LEFT)
    assert page.message.text() == "Practice details saved."
    assert clinic.repo.get_practice().list_bundled
    monkeypatch.setattr(Page, "ask_discard", classmethod(lambda cls, parent, what: True))
    dialog.close()

    panel.controller.reload()
    hot_pack_and_exercise(qtbot, panel, clock)
    assert panel.totals.units.value.text() == "2"  # listing at $0 bills nothing more
    tap(qtbot, panel, "97110")
    tap(qtbot, panel, "97010")
    clinic.repo.set_diagnoses(visit.id, ["M25.561"], validate=False)
    review_page = review(qtbot, clinic, clock, visit.id)
    model = review_page.model
    hot = [r for r in range(model.rowCount()) if model.cell_text(r, 0) == "97010"]
    assert len(hot) == 1  # once, as a $0 line, not also as "not billed"
    assert "listed at $0.00: Medicare bundles 97010" in model.cell_text(hot[0], 1)
    assert (model.cell_text(hot[0], 3), model.cell_text(hot[0], 5)) == ("1", "$0.00")


def test_commercial_payer_bills_the_hot_pack(qtbot, panel, clock, clinic, fees):
    from therapy_timer.core.model import Discipline
    from therapy_timer.core.records import Patient, PlanOfCare

    repo = clinic.repo
    acme = repo.save_payer(Payer("Acme (test)", Rule.CMS))
    patient = repo.save_patient(Patient("Cal", "Specimen", date(1970, 1, 2), chart_number="T3"))
    repo.save_policy(InsurancePolicy(patient.id, acme.id, member_id="A1"))
    plan = repo.save_plan(PlanOfCare(patient.id, Discipline.PT, clinic.pt.id, date(2026, 1, 5)))
    other = repo.start_visit(patient.id, clinic.pt.id, plan.id, clock.now())
    panel.controller.open_visit(other.id)
    panel.controller.timer.stop()
    panel.load()
    hot_pack_and_exercise(qtbot, panel, clock)
    assert panel.tiles.tiles["97010"].units == 1
    assert panel.totals.units.value.text() == "3"
