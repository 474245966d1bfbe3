"""Patient editor: details, insurance, plans of care and prior KX spend persist; bad values are
refused with a message naming them and nothing is written; Today opens it. Synthetic data."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tests.ui.shots import saved_shot
from therapy_timer.core.model import Discipline
from therapy_timer.core.records import Patient, Payer
from therapy_timer.core.superbill_build import superbill_for_visit
from therapy_timer.storage.repository import open_repository
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.patient_fields import parse_day
from therapy_timer.ui.patients import PatientDialog
from therapy_timer.ui.today import QuickAddPatient, TodayPage

from .conftest import START, seed_clinic

LEFT = Qt.MouseButton.LeftButton
TODAY = date(2026, 3, 2)


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go: THERAPY_TIMER_SHOTS if set (to look at them), else a temp dir."""
    return Path(os.environ.get("THERAPY_TIMER_SHOTS", tmp_path))


@pytest.fixture
def store(tmp_path):
    """A clinic in a database file (so a test can reopen it) with a second, commercial payer."""
    repo = open_repository(tmp_path / "patients.sqlite")
    clinic = seed_clinic(repo)
    repo.save_payer(Payer("Blue Test Plan"))
    yield clinic
    repo.close()


@pytest.fixture
def asked(monkeypatch):
    """Answers "discard?" with what the test puts in ``asked['answer']`` and records it."""
    record = {"answer": True, "what": []}

    def ask_discard(cls, parent, what):
        record["what"].append(what)
        return record["answer"]

    monkeypatch.setattr(PatientDialog, "ask_discard", classmethod(ask_discard))
    return record


def _dialog(qtbot, clinic, patient_id=None):
    dialog = PatientDialog(clinic.repo, patient_id or clinic.patient.id, user="Front Desk",
                           today=TODAY)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def _retype(qtbot, widget, text):
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClick(widget, Qt.Key.Key_Delete)
    qtbot.keyClicks(widget, text)


def _pick(qtbot, combo, text):
    """Chooses an item of a combo box with the keyboard, as a user would."""
    combo.setFocus()
    index = combo.findText(text, Qt.MatchFlag.MatchStartsWith)
    assert index >= 0, text
    key = Qt.Key.Key_Down if index > combo.currentIndex() else Qt.Key.Key_Up
    for _ in range(abs(index - combo.currentIndex())):
        qtbot.keyClick(combo, key)
    assert combo.currentIndex() == index


def _finalized_visit(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, START)
    repo.add_interval(visit.id, "97110", "PT", START, START + timedelta(minutes=23),
                      reason="test", user="test")
    repo.set_diagnoses(visit.id, ["M54.50"])
    repo.finalize_visit(visit.id, None, "test", START + timedelta(minutes=30))
    return visit.id


def test_parse_day_accepts_us_and_iso_dates():
    assert parse_day("3/2/2026", "Start") == parse_day("2026-03-02", "Start") == TODAY
    with pytest.raises(ValueError, match="Start: '02/30/2026' is not a date"):
        parse_day("02/30/2026", "Start")


def test_details_persist_after_reopening_the_database(qtbot, store, asked, tmp_path):
    dialog = _dialog(qtbot, store)
    assert dialog.birth.text() == "05/01/1950"  # the stored date, shown US style
    _retype(qtbot, dialog.first, "Adele")
    _retype(qtbot, dialog.birth, "1951-06-15")
    _pick(qtbot, dialog.sex, "Female")
    dialog.address.setFocus()
    qtbot.keyClicks(dialog.address, "12 Test Lane")
    qtbot.keyClick(dialog.address, Qt.Key.Key_Return)
    qtbot.keyClicks(dialog.address, "Springfield, IL 62701")
    _retype(qtbot, dialog.phone, "(555) 010-0199")
    _retype(qtbot, dialog.chart, "C-100")
    assert dialog.dirty
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.message.text() == "Saved."
    assert not dialog.dirty and dialog.saved_any
    store.repo.close()

    reopened = open_repository(tmp_path / "patients.sqlite")
    try:
        patient = reopened.get_patient(store.patient.id)
        assert patient == Patient("Adele", "Sample", date(1951, 6, 15), "F",
                                  "12 Test Lane\nSpringfield, IL 62701", "(555) 010-0199",
                                  "C-100", id=store.patient.id)
        assert reopened.audit_entries("patient", store.patient.id)[0].user == "Front Desk"
    finally:
        reopened.close()
    store.repo = open_repository(tmp_path / "patients.sqlite")  # for the fixture's close


def test_a_new_policy_reaches_the_superbill(qtbot, store, asked):
    repo = store.repo
    old = repo.policies_for(store.patient.id)[0]
    dialog = _dialog(qtbot, store)
    dialog.tabs.setCurrentWidget(dialog.insurance)
    assert dialog.policy_list.count() == 1
    assert dialog.member_id.text() == "TEST"
    # Make the Medicare policy secondary, then add the commercial plan as primary.
    _pick(qtbot, dialog.priority, "Secondary")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.message.text() == "Saved."
    qtbot.mouseClick(dialog.new_policy, LEFT)
    assert dialog.member_id.text() == "" and dialog.priority.currentText() == "Primary"
    _pick(qtbot, dialog.payer, "Blue Test Plan")
    qtbot.keyClicks(dialog.member_id, "XYZ123456789")
    qtbot.keyClicks(dialog.group, "GRP-77")
    _pick(qtbot, dialog.relationship, "spouse")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert "Subscriber" in dialog.message.text()  # a spouse's policy names the subscriber
    assert len(repo.policies_for(store.patient.id)) == 1
    qtbot.keyClicks(dialog.subscriber, "Sample, Sam")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.message.text() == "Saved."
    assert dialog.policy_list.count() == 2
    assert dialog.policy_list.currentItem().text() == "Primary · Blue Test Plan · XYZ123456789"

    policies = repo.policies_for(store.patient.id)
    assert [(p.priority, p.id == old.id) for p in policies] == [(1, False), (2, True)]
    bill = superbill_for_visit(repo, _finalized_visit(store))
    insurance = bill.insurance
    assert (insurance.payer, insurance.member_id, insurance.group_number,
            insurance.subscriber, insurance.relationship) == (
        "Blue Test Plan", "XYZ123456789", "GRP-77", "Sample, Sam", "spouse")


def test_a_second_primary_policy_is_refused(qtbot, store, asked):
    dialog = _dialog(qtbot, store)
    dialog.tabs.setCurrentWidget(dialog.insurance)
    qtbot.mouseClick(dialog.new_policy, LEFT)
    _pick(qtbot, dialog.payer, "Blue Test Plan")
    qtbot.keyClicks(dialog.member_id, "B1")
    _pick(qtbot, dialog.priority, "Primary")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.message.text() == "Priority: Medicare (test) is already primary."
    assert len(store.repo.policies_for(store.patient.id)) == 1


def test_add_a_plan_of_care(qtbot, store, asked):
    repo = store.repo
    dialog = _dialog(qtbot, store, store.patient2.id)
    dialog.tabs.setCurrentWidget(dialog.plans)
    assert dialog.plan_list.count() == 1
    qtbot.mouseClick(dialog.new_plan, LEFT)
    assert dialog.plan_start.text() == ""  # never a default date
    _pick(qtbot, dialog.therapist, "Robin Test")
    qtbot.keyClicks(dialog.plan_start, "03/02/2026")
    qtbot.keyClicks(dialog.plan_through, "2026-05-31")
    qtbot.keyClicks(dialog.visits, "12")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.message.text() == "Saved."
    plans = repo.plans_for(store.patient2.id)
    assert len(plans) == 2
    newest = plans[0]
    assert (newest.discipline, newest.therapist_id, newest.start, newest.certified_through,
            newest.visits_authorized) == (Discipline.PT, store.pt2.id, TODAY,
                                          date(2026, 5, 31), 12)
    assert dialog.plan_list.currentItem().text() == "PT · from 03/02/2026 through 05/31/2026"


def test_bad_date_and_bad_dollars_are_refused_and_nothing_is_written(qtbot, store, asked):
    repo = store.repo
    before = (repo.get_patient(store.patient.id), repo.plans_for(store.patient.id),
              len(repo.audit_entries()))
    dialog = _dialog(qtbot, store)
    _retype(qtbot, dialog.phone, "(555) 010-0123")  # a good edit that must not be written
    dialog.tabs.setCurrentWidget(dialog.plans)
    qtbot.mouseClick(dialog.new_plan, LEFT)
    qtbot.keyClicks(dialog.plan_start, "13/45/2026")
    dialog.tabs.setCurrentWidget(dialog.prior)
    qtbot.keyClicks(dialog.prior_edits["PT+SLP"], "12,00.5x")

    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.message.text() == ("Plan start: '13/45/2026' is not a date; type it as "
                                     "MM/DD/YYYY or YYYY-MM-DD, e.g. 03/02/2026.")
    assert dialog.tabs.currentWidget() is dialog.plans
    assert (repo.get_patient(store.patient.id), repo.plans_for(store.patient.id),
            len(repo.audit_entries())) == before

    _retype(qtbot, dialog.plan_start, "03/02/2026")
    _retype(qtbot, dialog.plan_through, "02/01/2026")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.message.text() == ("Certified through: 02/01/2026 is before the plan starts "
                                     "(03/02/2026).")
    _retype(qtbot, dialog.plan_through, "")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert "Prior spend, PT and speech therapy combined" in dialog.message.text()
    assert "'12,00.5x' is not an amount in dollars" in dialog.message.text()
    assert dialog.tabs.currentWidget() is dialog.prior
    assert (repo.get_patient(store.patient.id), repo.plans_for(store.patient.id),
            len(repo.audit_entries())) == before

    _retype(qtbot, dialog.birth, "")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.message.text() == "Date of birth: enter the date of birth (MM/DD/YYYY)."
    assert len(repo.audit_entries()) == before[2]


def test_prior_spend_feeds_the_kx_total(qtbot, store, asked):
    repo = store.repo
    dialog = _dialog(qtbot, store)
    dialog.tabs.setCurrentWidget(dialog.prior)
    assert dialog.prior_edits["OT"].text() == ""
    qtbot.keyClicks(dialog.prior_edits["PT+SLP"], "$1,250.40")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.message.text() == "Saved."
    assert repo.kx_year_to_date(store.patient.id, 2026, "PT+SLP") == 125040
    assert repo.kx_year_to_date(store.patient.id, 2026, "OT") == 0
    assert "PT+SLP $1,250.40" in dialog.kx_total.text()
    again = _dialog(qtbot, store)
    assert again.prior_edits["PT+SLP"].text() == "1250.40"
    _retype(qtbot, again.prior_edits["PT+SLP"], "")  # cleared: back to zero
    qtbot.mouseClick(again.save_button, LEFT)
    assert repo.kx_year_to_date(store.patient.id, 2026, "PT+SLP") == 0


def test_unsaved_edits_are_not_dropped_silently(qtbot, store, asked):
    dialog = _dialog(qtbot, store)
    _retype(qtbot, dialog.chart, "C-9")
    asked["answer"] = False
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.isVisible() and asked["what"] == ["Sample, Ada"]
    assert dialog.chart.text() == "C-9"
    # Switching to another policy with an edited form asks too.
    dialog.tabs.setCurrentWidget(dialog.insurance)
    _retype(qtbot, dialog.member_id, "CHANGED")
    qtbot.mouseClick(dialog.new_policy, LEFT)
    assert asked["what"][-1] == "this policy" and dialog.member_id.text() == "CHANGED"
    asked["answer"] = True
    dialog.reject()
    assert not dialog.isVisible()
    assert store.repo.get_patient(store.patient.id).chart_number == "T1"


def test_today_edit_button_opens_the_editor_for_the_selected_patient(
        qtbot, store, clock, monkeypatch):
    opened = []

    def edit(cls, repo, patient_id, parent=None, user=None, today=None, **_kwargs):
        opened.append((patient_id, user, today))
        return False

    monkeypatch.setattr(PatientDialog, "edit", classmethod(edit))
    page = TodayPage(store.repo, clock)
    qtbot.addWidget(page)
    page.refresh()
    page.show()
    page.search.setText("")
    page.run_search()
    page.results.clearSelection()
    page.results.setCurrentItem(None)
    assert not page.edit_button.isEnabled()
    qtbot.keyClicks(page.search, "Exam")
    qtbot.waitUntil(lambda: page.results.count() == 1, timeout=2000)
    assert page.edit_button.isEnabled()
    qtbot.mouseClick(page.edit_button, LEFT)
    assert opened[-1][0] == store.patient2.id and opened[-1][2] == TODAY
    qtbot.keyClicks(page.search, "zzz")
    qtbot.waitUntil(lambda: page.results.item(0).data(Qt.ItemDataRole.UserRole) is None,
                    timeout=2000)
    assert not page.edit_button.isEnabled()

    # After a quick-add the page offers the editor for the new patient.
    questions = []
    monkeypatch.setattr(QuickAddPatient, "ask", classmethod(
        lambda cls, parent, text="", today=None: Patient("Cy", "Newcomer", date(1970, 7, 7))))
    monkeypatch.setattr(Ask, "confirm", classmethod(
        lambda cls, parent, title, text, **kw: questions.append(text) or True))
    qtbot.mouseClick(page.quick_add, LEFT)
    new_id = store.repo.search_patients("Newcomer")[0].id
    assert "Newcomer, Cy is added" in questions[0]
    assert opened[-1][0] == new_id
    page._search_timer.stop()


def test_screenshot(qtbot, store, asked, shots):
    from therapy_timer.ui.style import APP_STYLE

    store.repo.save_patient(Patient("Ada", "Sample", date(1950, 5, 1), "F",
                                    "12 Test Lane\nSpringfield, IL 62701", "(555) 010-0199",
                                    "T1", id=store.patient.id))
    dialog = _dialog(qtbot, store)
    dialog.setStyleSheet(APP_STYLE)  # what the app applies to every window
    dialog.resize(820, 600)
    for page, name in ((dialog.details, "details"), (dialog.insurance, "insurance"),
                       (dialog.plans, "plans"), (dialog.prior, "prior")):
        dialog.tabs.setCurrentWidget(page)
        qtbot.wait(10)
        saved_shot(dialog, shots / f"patients-{name}.png",
                   texts=["Sample"] if name == "details" else ())
