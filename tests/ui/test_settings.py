"""Settings dialog: edits persist; bad values are refused with a message naming them."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt

from tests.ui.shots import saved_shot
from therapy_timer.core.model import Discipline, Performer, Rule
from therapy_timer.core.records import Payer, Practice, Provider
from therapy_timer.storage.repository import open_repository
from therapy_timer.ui.settings import (
    SettingsDialog,
    lock_minutes,
    parse_dollars,
)

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")
GOOD_NPI = "1234567893"
BAD_NPI = "1234567890"


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go: THERAPY_TIMER_SHOTS if set (to look at them), else a temp dir."""
    return Path(os.environ.get("THERAPY_TIMER_SHOTS", tmp_path))


@pytest.fixture
def store(tmp_path):
    repo = open_repository(tmp_path / "settings.sqlite")
    repo.save_practice(Practice("Harbor Test Therapy"))
    repo.save_provider(Provider("Dana Test", Discipline.PT, Performer.PT, credentials="PT, DPT"))
    repo.save_payer(Payer("Medicare (test)", Rule.CMS, medicare=True, kx_applies=True,
                          allowed_cents={"97110": 2900}))
    yield repo
    repo.close()


@pytest.fixture
def qsettings(tmp_path):
    return QSettings(str(tmp_path / "app.ini"), QSettings.Format.IniFormat)


@pytest.fixture(autouse=True)
def _no_modal_questions(monkeypatch):
    """Closing a dialog with unsaved edits asks; tests answer "discard" unless they say."""
    from therapy_timer.ui.settings import Page

    monkeypatch.setattr(Page, "ask_discard", classmethod(lambda cls, parent, what: True))


@pytest.fixture
def dialog(qtbot, store, qsettings):
    widget = SettingsDialog(store, user="Front Desk", settings=qsettings)
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    # pytest-qt closes widgets after fixtures are torn down, when the "discard?" hook is real
    # again: leave nothing unsaved so closing asks nothing.
    for page in widget.pages():
        page.dirty = False


def _retype(qtbot, edit, text):
    edit.clear()
    qtbot.keyClicks(edit, text)


def _click(qtbot, button):
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_parse_dollars():
    assert parse_dollars("$1,234.50") == 123450
    assert parse_dollars("45") == 4500
    assert parse_dollars("0.5") == 50
    for bad in ("", "abc", "-3", "1.234", "$"):
        with pytest.raises(ValueError, match="is not an amount in dollars"):
            parse_dollars(bad)


def test_money_display():
    from therapy_timer.ui.models import money

    assert money(123450) == "$1,234.50"
    assert money(5) == "$0.05"
    assert money(-250) == "-$2.50"
    assert money(None) == ""


def test_practice_edit_persists(qtbot, dialog, store):
    page = dialog.practice
    dialog.tabs.setCurrentWidget(page)
    _retype(qtbot, page.name, "Smith & Jones PT")
    _retype(qtbot, page.npi, GOOD_NPI)
    _retype(qtbot, page.tax_id, "12-3456789")
    page.timezone.setCurrentText("America/Chicago")
    _click(qtbot, page.save_button)
    assert page.message.text() == "Practice details saved."
    saved = store.get_practice()
    assert (saved.name, saved.npi, saved.tax_id, saved.timezone) == (
        "Smith & Jones PT", GOOD_NPI, "12-3456789", "America/Chicago")


def test_practice_bad_npi_named_and_not_saved(qtbot, dialog, store):
    page = dialog.practice
    _retype(qtbot, page.npi, BAD_NPI)
    _click(qtbot, page.save_button)
    assert BAD_NPI in page.message.text()
    assert "check digit" in page.message.text()
    assert store.get_practice().npi == ""


def test_practice_bad_zone_and_tax_id(qtbot, dialog):
    page = dialog.practice
    _retype(qtbot, page.tax_id, "123")
    _click(qtbot, page.save_button)
    assert "Tax ID '123'" in page.message.text()
    page.tax_id.clear()
    page.timezone.setCurrentText("Mars/Olympus")
    _click(qtbot, page.save_button)
    assert "Mars/Olympus" in page.message.text()


def test_new_provider_with_pin_and_npi(qtbot, dialog, store):
    page = dialog.providers
    dialog.tabs.setCurrentWidget(page)
    _click(qtbot, page.new_button)
    _retype(qtbot, page.name, "Lee Test")
    page.discipline.setCurrentIndex(page.discipline.findData("PT"))
    page.role.setCurrentIndex(page.role.findData("PTA"))
    assert page.supervisor.isEnabled()
    page.supervisor.setCurrentIndex(1)
    _retype(qtbot, page.npi, "1558598797")
    _retype(qtbot, page.pin, "4321")
    _click(qtbot, page.save_button)
    assert page.message.text() == "Lee Test saved with a new PIN."
    lee = next(p for p in store.list_providers() if p.name == "Lee Test")
    assert lee.role is Performer.PTA and lee.has_pin and lee.npi == "1558598797"
    assert lee.supervisor_id == next(p.id for p in store.list_providers()
                                     if p.name == "Dana Test")
    assert store.verify_pin(lee.id, "4321")
    assert page.list.currentItem().text() == "Lee Test"


def test_provider_bad_npi_and_bad_pin_refused(qtbot, dialog, store):
    page = dialog.providers
    _retype(qtbot, page.npi, BAD_NPI)
    _click(qtbot, page.save_button)
    assert f"NPI {BAD_NPI} fails its check digit" in page.message.text()
    _retype(qtbot, page.npi, GOOD_NPI)
    _retype(qtbot, page.pin, "12a")
    _click(qtbot, page.save_button)
    assert "PIN must be 4 to 12 digits" in page.message.text()
    assert store.list_providers()[0].npi == ""


def test_slp_has_no_assistant_role(qtbot, dialog):
    page = dialog.providers
    page.discipline.setCurrentIndex(page.discipline.findData("SLP"))
    roles = [page.role.itemData(i) for i in range(page.role.count())]
    assert roles == ["SLP"]


def test_payer_rule_allowed_amounts_and_confirm_notes(qtbot, dialog, store):
    page = dialog.payers
    dialog.tabs.setCurrentWidget(page)
    # The Medicare payer: the CMS rule, KX note with the S-sourced 2026 threshold shown.
    assert page.rule.currentData() == "cms"
    assert page.kx_label.isVisible()
    assert "confirm" in page.kx_label.text()
    assert "confirm it in the payer's provider manual" in page.rule_note.text()
    _click(qtbot, page.new_button)
    _retype(qtbot, page.name, "Acme Commercial")
    page.rule.setCurrentIndex(page.rule.findData("per-code"))
    page.medicare.setChecked(False)
    page.assistant_modifiers.setChecked(False)
    page._add_allowed_row("97110", "31.25")
    page._add_allowed_row("97140", "abc")
    _click(qtbot, page.save_button)
    assert "Allowed amount for 97140: 'abc' is not an amount in dollars" in page.message.text()
    assert [p.name for p in store.list_payers()] == ["Medicare (test)"]
    page.allowed.item(1, 1).setText("28")
    _click(qtbot, page.save_button)
    assert page.message.text() == "Acme Commercial saved."
    acme = next(p for p in store.list_payers() if p.name == "Acme Commercial")
    assert acme.rule is Rule.PER_CODE
    assert acme.allowed_cents == {"97110": 3125, "97140": 2800}


def test_payer_bad_code_named(qtbot, dialog):
    page = dialog.payers
    page._add_allowed_row("9711", "10")
    _click(qtbot, page.save_button)
    assert "'9711' is not a CPT/HCPCS code" in page.message.text()


def test_medicare_payer_with_the_per_code_rule_is_refused_naming_why(qtbot, dialog, store):
    page = dialog.payers
    _click(qtbot, page.new_button)
    _retype(qtbot, page.name, "Medicare Railroad (test)")
    page.rule.setCurrentIndex(page.rule.findData("per-code"))
    page.medicare.click()
    assert page.medicare.isChecked()
    assert page.rule.currentData() == "per-code"  # not switched behind the clinic's back
    _click(qtbot, page.save_button)
    assert page.message.text() == (
        "Not saved: Medicare must use the CMS total-time rule (the 8-minute rule of Pub 100-04 "
        "ch. 5 s. 20.2), not the per-code rule. Choose the CMS rule, or untick Medicare if this "
        "payer is not Medicare.")
    assert not [p for p in store.list_payers() if p.name.startswith("Medicare Railroad")]
    page.rule.setCurrentIndex(page.rule.findData("cms"))
    _click(qtbot, page.save_button)
    assert page.message.text() == "Medicare Railroad (test) saved."
    saved = next(p for p in store.list_payers() if p.name.startswith("Medicare Railroad"))
    assert saved.rule is Rule.CMS and saved.medicare


def test_fee_schedule_add_and_refuse(qtbot, dialog, store):
    page = dialog.fees
    dialog.tabs.setCurrentWidget(page)
    _retype(qtbot, page.code, "97110")
    _retype(qtbot, page.amount, "$45.50")
    page.start.setDate(page.start.date().fromString("2026-01-01", "yyyy-MM-dd"))
    _click(qtbot, page.save_button)
    assert page.message.text() == "97110: $45.50 per unit from 01/01/2026."
    assert store.fee_schedule(date(2026, 3, 2)) == {"97110": 4550}
    assert page.model.cell_text(0, 2) == "$45.50"
    _retype(qtbot, page.code, "97112")
    _retype(qtbot, page.amount, "forty")
    _click(qtbot, page.save_button)
    assert "Fee for 97112: 'forty' is not an amount in dollars" in page.message.text()
    _retype(qtbot, page.code, "99999")
    _retype(qtbot, page.amount, "10")
    _click(qtbot, page.save_button)
    assert "99999 is not in the Therapy Timer code catalog" in page.message.text()


def test_auto_lock_minutes_persist(qtbot, dialog, qsettings):
    page = dialog.workstation
    assert page.lock_minutes.value() == 10
    page.lock_minutes.setValue(3)
    _click(qtbot, page.save_button)
    assert lock_minutes(qsettings) == 3
    assert "after 3 idle minutes" in page.message.text()
    page.lock_minutes.setValue(0)
    _click(qtbot, page.save_button)
    assert lock_minutes(qsettings) == 0
    assert page.lock_minutes.text() == "never"


def test_tiles_tab(qtbot, dialog, store, qsettings):
    page = dialog.tiles
    dialog.tabs.setCurrentWidget(page)
    codes = page.tile_codes()
    assert codes[:2] == ["97110", "97112"]  # the PT defaults
    _retype(qtbot, page.code_edit, "97150")
    qtbot.keyClick(page.code_edit, Qt.Key.Key_Return)
    assert page.message.text() == "97150 is already a tile."
    _retype(qtbot, page.code_edit, "99999")
    qtbot.keyClick(page.code_edit, Qt.Key.Key_Return)
    assert "unknown code '99999'" in page.message.text()
    page.codes.setCurrentRow(1)
    _click(qtbot, page.up_button)
    page.codes.setCurrentRow(len(codes) - 1)
    _click(qtbot, page.remove_button)
    assert page.dirty
    _click(qtbot, page.save_button)
    provider = store.list_providers()[0]
    saved = store.favourite_codes(provider.id)  # in the database, not on this computer
    assert saved[:2] == ["97112", "97110"]
    assert saved == ["97112", "97110", *codes[2:-1]]
    assert not page.dirty
    assert not [key for key in qsettings.allKeys() if key.startswith("tiles")]
    entry = store.audit_entries("provider", provider.id)[0]
    assert (entry.action, entry.user) == ("favourites", "Front Desk")


def test_screenshots(qtbot, dialog, shots):
    dialog.resize(900, 640)
    for name, page in (("practice", dialog.practice), ("providers", dialog.providers),
                       ("payers", dialog.payers), ("fees", dialog.fees),
                       ("tiles", dialog.tiles), ("computer", dialog.workstation)):
        dialog.tabs.setCurrentWidget(page)
        saved_shot(dialog, shots / f"settings-{name}.png",
                   texts=["Harbor Test Therapy"] if name == "practice" else ())


def test_close_with_unsaved_changes_asks_first(qtbot, dialog, store, monkeypatch):
    from therapy_timer.ui.settings import Page

    asked = []
    answer = [False]
    monkeypatch.setattr(Page, "ask_discard",
                        classmethod(lambda cls, parent, what: asked.append(what) or answer[0]))
    dialog.tabs.setCurrentWidget(dialog.payers)
    _retype(qtbot, dialog.practice.name, "Renamed Clinic")
    dialog.reject()  # Close / Escape
    assert asked == ["the practice details"]
    assert dialog.isVisible() and dialog.tabs.currentWidget() is dialog.practice
    answer[0] = True
    dialog.reject()
    assert not dialog.isVisible()
    assert store.get_practice().name == "Harbor Test Therapy"  # nothing written


def test_switching_provider_with_unsaved_edits_asks(qtbot, dialog, monkeypatch):
    from therapy_timer.ui.settings import Page

    asked = []
    monkeypatch.setattr(Page, "ask_discard",
                        classmethod(lambda cls, parent, what: asked.append(what) or False))
    page = dialog.providers
    _retype(qtbot, page.license, "PT-1234")
    _click(qtbot, page.new_button)
    assert asked == ["Dana Test"]
    assert page.license.text() == "PT-1234"  # the edit is still there
    _click(qtbot, page.save_button)
    assert not page.dirty
    _click(qtbot, page.new_button)
    assert asked == ["Dana Test"]  # saved: no question
    assert page.name.text() == ""


def test_loading_a_record_is_not_an_edit(dialog):
    assert not any(page.dirty for page in dialog.pages())


def _select_provider(qtbot, page, name: str) -> None:
    """Clicks the provider in the list (after "New provider", so the click changes rows)."""
    _click(qtbot, page.new_button)
    for row in range(page.list.count()):
        item = page.list.item(row)
        if item.text().startswith(name):
            rect = page.list.visualItemRect(item)
            qtbot.mouseClick(page.list.viewport(), Qt.MouseButton.LeftButton,
                             pos=rect.center())
            assert page.list.currentItem() is item
            return
    raise AssertionError(f"{name} is not listed")


def test_only_the_provider_or_the_administrator_clears_a_pin(qtbot, dialog, store):
    # Issue 11, item 9: someone at an unlocked station must not strip a colleague's PIN.
    dana = store.list_providers()[0]
    store.save_provider(dana, pin="2468")
    store.set_admin_pin("9753")
    page = dialog.providers
    dialog.tabs.setCurrentWidget(page)
    _select_provider(qtbot, page, "Dana Test")
    assert page.current_pin.isEnabled() and page.clear_pin.isEnabled()
    page.clear_pin.setChecked(True)
    _click(qtbot, page.save_button)
    assert page.message.text() == ("Enter Dana Test's current PIN (or the clinic administrator "
                                   "PIN) to change or remove it.")
    _retype(qtbot, page.current_pin, "1111")
    _click(qtbot, page.save_button)
    assert "the PIN given matches neither" in page.message.text()
    assert store.verify_pin(dana.id, "2468")  # still set
    _retype(qtbot, page.pin, "1357")
    page.clear_pin.setChecked(False)
    _retype(qtbot, page.current_pin, "2468")  # her own PIN changes it
    _click(qtbot, page.save_button)
    assert page.message.text() == "Dana Test saved with a new PIN."
    assert store.verify_pin(dana.id, "1357") and not store.verify_pin(dana.id, "2468")
    assert page.current_pin.text() == ""  # never left in the field
    page.clear_pin.setChecked(True)
    _retype(qtbot, page.current_pin, "9753")  # the administrator PIN clears it
    _click(qtbot, page.save_button)
    assert page.message.text() == "Dana Test saved (PIN removed)."
    assert not store.get_provider(dana.id).has_pin
    assert not page.current_pin.isEnabled()


def test_the_administrator_pin_is_set_once_then_changes_only_with_itself(qtbot, dialog, store):
    page = dialog.practice
    dialog.tabs.setCurrentWidget(page)
    assert not page.admin_current.isEnabled()
    assert page.admin_state.text() == ("No administrator PIN: a provider's PIN changes only "
                                       "with that PIN.")
    _retype(qtbot, page.admin_pin, "97x")
    _click(qtbot, page.save_button)
    assert page.message.text() == ("The administrator PIN must be 4 to 12 digits (no letters "
                                   "or spaces).")
    _retype(qtbot, page.admin_pin, "9753")
    _click(qtbot, page.save_button)
    assert page.message.text() == "Practice details saved with a new administrator PIN."
    assert store.verify_admin_pin("9753") and page.admin_current.isEnabled()
    assert page.admin_pin.text() == ""
    _retype(qtbot, page.admin_pin, "1111")
    _retype(qtbot, page.admin_current, "0000")
    _click(qtbot, page.save_button)
    assert "administrator PIN changes or goes only with the current one" in page.message.text()
    assert store.verify_admin_pin("9753") and not store.verify_admin_pin("1111")
    _retype(qtbot, page.admin_current, "9753")
    _click(qtbot, page.save_button)
    assert store.verify_admin_pin("1111")
