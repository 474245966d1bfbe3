"""What payers need on the superbill (issue 16, item 14), typed in the real editors: the plan's
referring provider, referring NPI and onset date (patient editor), the provider's and the
practice's taxonomy (Settings > Providers / Practice), the payer's ID and claims address
(Settings > Payers). Bad values are refused with a message naming them and nothing is written;
good ones are stored and printed on the visit's superbill. Synthetic data only."""

from __future__ import annotations

from datetime import date

import pytest
from PySide6.QtCore import QSettings, Qt

from therapy_timer.core.records import InsurancePolicy
from therapy_timer.core.superbill_build import superbill_for_visit
from therapy_timer.ui.patients import PatientDialog
from therapy_timer.ui.settings import Page, SettingsDialog

from .conftest import START

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")
LEFT = Qt.MouseButton.LeftButton
TODAY = date(2026, 3, 2)


@pytest.fixture(autouse=True)
def _discard_without_asking(monkeypatch):
    monkeypatch.setattr(Page, "ask_discard", classmethod(lambda cls, parent, what: True))
    monkeypatch.setattr(PatientDialog, "ask_discard", classmethod(lambda c, p, w: True))


def _retype(qtbot, widget, text):
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClick(widget, Qt.Key.Key_Delete)
    qtbot.keyClicks(widget, text)


def _patient_dialog(qtbot, clinic):
    dialog = PatientDialog(clinic.repo, clinic.patient.id, user="Front Desk", today=TODAY)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.tabs.setCurrentWidget(dialog.plans)
    return dialog


def test_plan_editor_stores_the_referral_and_onset(qtbot, clinic):
    repo = clinic.repo
    dialog = _patient_dialog(qtbot, clinic)
    assert dialog.referral.name.isVisible() and dialog.referral.onset.isVisible()
    qtbot.keyClicks(dialog.referral.name, "Dr. Jordan Ellis (test)")
    qtbot.keyClicks(dialog.referral.npi, "1234567890")  # fails the check digit
    qtbot.keyClicks(dialog.referral.onset, "12/15/2025")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert "Referring NPI: NPI 1234567890 fails its check digit" in dialog.message.text()
    assert dialog.focusWidget() is dialog.referral.npi  # the cursor goes to the bad value
    assert repo.get_plan(clinic.plan.id).referring_name == ""  # nothing written
    _retype(qtbot, dialog.referral.npi, "1234567893")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.message.text() == "Saved."
    plan = repo.get_plan(clinic.plan.id)
    assert (plan.referring_name, plan.referring_npi, plan.onset_date) == (
        "Dr. Jordan Ellis (test)", "1234567893", date(2025, 12, 15))
    assert plan.start == clinic.plan.start  # the rest of the plan kept
    # Reopened, the editor shows what is stored.
    again = _patient_dialog(qtbot, clinic)
    assert again.referral.name.text() == "Dr. Jordan Ellis (test)"
    assert again.referral.onset.text() == "12/15/2025"


@pytest.mark.parametrize(("onset", "message"), [
    ("13/40/2025", "Onset date: '13/40/2025' is not a date"),
    ("04/01/2026", "Onset date: 04/01/2026 is in the future."),
    ("02/01/2026", "Onset date: 02/01/2026 is after the plan starts (01/05/2026)."),
])
def test_a_bad_onset_date_is_refused(qtbot, clinic, onset, message):
    dialog = _patient_dialog(qtbot, clinic)
    qtbot.keyClicks(dialog.referral.onset, onset)
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert message in dialog.message.text()
    assert clinic.repo.get_plan(clinic.plan.id).onset_date is None


@pytest.fixture
def settings_dialog(qtbot, clinic, tmp_path):
    widget = SettingsDialog(clinic.repo, user="Front Desk",
                            settings=QSettings(str(tmp_path / "s.ini"),
                                               QSettings.Format.IniFormat))
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    for page in widget.pages():
        page.dirty = False


def _select_in_list(page, name):
    for row in range(page.list.count()):
        if page.list.item(row).text().startswith(name):
            page.list.setCurrentRow(row)
            return
    raise AssertionError(name)


@pytest.mark.parametrize(("typed", "message"), [
    ("2251000X", "taxonomy code '2251000X' must be 10 characters"),
    ("225100000Y", "taxonomy code 225100000Y must be letters and digits ending in X"),
    ("22510-000X", "taxonomy code 22510-000X must be letters and digits ending in X"),
])
def test_provider_taxonomy_is_checked(qtbot, settings_dialog, clinic, typed, message):
    page = settings_dialog.providers
    settings_dialog.tabs.setCurrentWidget(page)
    _select_in_list(page, "Dana Test")
    _retype(qtbot, page.taxonomy, typed)
    qtbot.mouseClick(page.save_button, LEFT)
    assert f"Taxonomy: {message}" in page.message.text()
    assert clinic.repo.get_provider(clinic.pt.id).taxonomy == ""


def test_provider_taxonomy_is_saved_upper_case(qtbot, settings_dialog, clinic):
    page = settings_dialog.providers
    settings_dialog.tabs.setCurrentWidget(page)
    _select_in_list(page, "Dana Test")
    _retype(qtbot, page.taxonomy, "225100000x")
    qtbot.mouseClick(page.save_button, LEFT)
    assert page.message.text() == "Dana Test, PT saved."
    assert clinic.repo.get_provider(clinic.pt.id).taxonomy == "225100000X"
    assert page.taxonomy.text() == "225100000X"


def test_practice_taxonomy_is_checked_too(qtbot, settings_dialog, clinic):
    page = settings_dialog.practice
    _retype(qtbot, page.taxonomy, "PT")
    qtbot.mouseClick(page.save_button, LEFT)
    assert "Taxonomy: taxonomy code 'PT' must be 10 characters" in page.message.text()
    _retype(qtbot, page.taxonomy, "225x00000x")
    qtbot.mouseClick(page.save_button, LEFT)
    assert clinic.repo.get_practice().taxonomy == "225X00000X"


def test_payer_id_and_claims_address_are_saved(qtbot, settings_dialog, clinic):
    page = settings_dialog.payers
    settings_dialog.tabs.setCurrentWidget(page)
    _select_in_list(page, "Medicare (test)")
    _retype(qtbot, page.payer_code, "bad id!")
    qtbot.mouseClick(page.save_button, LEFT)
    assert "Payer ID: payer ID 'bad id!' must be letters and digits" in page.message.text()
    _retype(qtbot, page.payer_code, "04412")
    page.address.setFocus()
    qtbot.keyClicks(page.address, "Part B Claims (test)")
    qtbot.keyClick(page.address, Qt.Key.Key_Return)
    qtbot.keyClicks(page.address, "PO Box 1, Springfield, IL 62700")
    qtbot.mouseClick(page.save_button, LEFT)
    assert page.message.text() == "Medicare (test) saved."
    payer = clinic.repo.list_payers()[0]
    assert (payer.payer_code, payer.address) == (
        "04412", "Part B Claims (test)\nPO Box 1, Springfield, IL 62700")


def test_what_was_typed_reaches_the_superbill(qtbot, clinic, clock):
    """The fields saved above, with a secondary insurance and a 97140 with its technique, are
    on the finalized visit's superbill data."""
    from dataclasses import replace
    from datetime import timedelta

    from therapy_timer.core.model import Performer
    from therapy_timer.core.records import Payer

    repo = clinic.repo
    repo.save_provider(replace(clinic.pt, taxonomy="225100000X"))
    medicare = repo.list_payers()[0]
    repo.save_payer(replace(medicare, payer_code="04412", address="PO Box 1\nSpringfield"))
    second = repo.save_payer(Payer("Blue Test Secondary", payer_code="BTS01"))
    repo.save_policy(InsurancePolicy(clinic.patient.id, second.id, "SEC-9", priority=2))
    repo.save_plan(replace(clinic.plan, referring_name="Dr. Jordan Ellis (test)",
                           referring_npi="1234567893", onset_date=date(2025, 12, 15),
                           certified_through=date(2026, 4, 4)))
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, START)
    repo.start_interval(visit.id, "97140", Performer.PT, START, technique="Soft tissue "
                        "mobilization", body_region="Lumbar spine")
    repo.pause_visit(visit.id, START + timedelta(minutes=15))
    repo.set_diagnoses(visit.id, ["M54.50"], validate=False)
    repo.finalize_visit(visit.id, set(), "Dana", START + timedelta(minutes=20))
    data = superbill_for_visit(repo, visit.id)
    assert data.provider.taxonomy == "225100000X"
    assert (data.insurance.payer_code, data.insurance.payer_address) == (
        "04412", ("PO Box 1", "Springfield"))
    assert (data.insurance.referring_provider, data.insurance.referring_npi) == (
        "Dr. Jordan Ellis (test)", "1234567893")
    assert (data.secondary.payer, data.secondary.member_id, data.secondary.payer_code) == (
        "Blue Test Secondary", "SEC-9", "BTS01")
    assert data.plan.certification == "01/05/2026 – 04/04/2026"
    assert data.plan.onset == date(2025, 12, 15)
    (note,) = data.documentation.techniques
    assert (note.code, note.technique, note.region) == ("97140", "Soft tissue mobilization",
                                                        "Lumbar spine")
