"""Issue 12's acceptance, on the real widgets: a Medicare visit on 2027-01-05 (no 2027 KX
threshold on file) shows the fallback notice on the visit screen and in the review and
finalizes with 2026's threshold; once 2027's is entered on Settings > Rule data, the notice is
gone from the next visit's screen and review, and the entry is in the audit log with who
entered it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLabel

from therapy_timer.ui.clock import FakeClock
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.finalize import FinalizePage

LEFT = Qt.MouseButton.LeftButton
JAN_5 = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)
NOTICE = "2026's threshold used: enter 2027's in Settings (Rule data)."


@pytest.fixture
def clock():
    return FakeClock(JAN_5)


@pytest.fixture
def medicare(clinic):
    """Allowed amounts on the Medicare payer, and the patient near the threshold."""
    repo = clinic.repo
    [payer] = [p for p in repo.list_payers() if p.medicare]
    repo.save_payer(replace(payer, allowed_cents={"97110": 3000}))
    repo.set_prior_kx(clinic.patient.id, 2027, "PT+SLP", 247000, user="desk")
    return repo.get_payer(payer.id)


def attest_kx(qtbot, page):
    """Ticks the KX attestation (the clinician confirms medical necessity)."""
    [box] = [box for box, (_code, modifier) in page.checks if modifier == "KX"]
    assert "KX" in box.text()
    qtbot.mouseClick(box, LEFT)
    assert box.isChecked()


def treat(qtbot, panel, clock, minutes=30):
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.tiles.tiles["97110"], LEFT)
    clock.advance(minutes=minutes)
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.tiles.tiles["97110"], LEFT)
    panel.on_tick()
    panel.refresh_notices()


def review(qtbot, clinic, clock, visit_id):
    page = FinalizePage(clinic.repo, clock, describe=lambda code: code)
    qtbot.addWidget(page)
    page.user = "Dana Test, PT"
    page.load(visit_id)
    return page


def review_texts(page) -> list[str]:
    return [label.text() for label in page.findChildren(QLabel) if label.isVisibleTo(page)]


def settings_dialog(qtbot, clinic, tmp_path):
    from therapy_timer.ui.settings import SettingsDialog

    dialog = SettingsDialog(clinic.repo, user="Front Desk",
                            settings=QSettings(str(tmp_path / "app.ini"),
                                               QSettings.Format.IniFormat))
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_a_2027_visit_finalizes_with_2026s_threshold_until_2027s_is_entered(
        qtbot, clock, clinic, medicare, visit, panel, tmp_path, monkeypatch):
    repo = clinic.repo
    treat(qtbot, panel, clock)
    assert any(t.startswith(NOTICE) for t in panel.notices.texts())
    repo.set_diagnoses(visit.id, ["M25.561"], validate=False)
    page = review(qtbot, clinic, clock, visit.id)
    assert any(t.startswith(NOTICE) for t in review_texts(page))
    assert {(r.code, r.units) for r in page.model.rows()} == {("97110", 2)}
    attest_kx(qtbot, page)
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *a, **k: True))
    assert page.on_finalize()
    [line] = repo.charge_lines(visit.id)
    assert (line.code, line.modifiers, line.units) == ("97110", ("GP", "KX"), 2)
    assert repo.billing_record(visit.id)["kx_threshold"] == {
        "year": 2026, "for_year": 2027, "threshold_cents": 248000, "fallback": True}

    # Settings > Rule data: the tab says 2027 is missing; enter it.
    dialog = settings_dialog(qtbot, clinic, tmp_path)
    tab = dialog.rules
    dialog.tabs.setCurrentWidget(tab)
    assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == "Rule data"
    kx = tab.kx
    kx.today = JAN_5.date()  # the dialog reads the real date: show it as on 5 January 2027
    kx.reload()
    assert kx.table.rowCount() == 5
    assert [kx.table.item(0, c).text() for c in range(6)] == [
        "2026", "$2,480.00", "$3,000.00", "S: secondary sources only",
        "proactivechart.com, postacutetools.com, alsintegratedsvc.com; no CMS CR text found",
        "shipped with the app, 2026-12-01"]
    assert kx.coverage.text().startswith("2026's threshold used: enter 2027's in Settings")
    assert kx.year.value() == 2027  # the form starts at the missing year
    qtbot.keyClicks(kx.threshold, "2,550.00")
    kx.confidence.setCurrentIndex(kx.confidence.findData("V"))
    qtbot.keyClicks(kx.source, "CY2027 PFS final rule")
    assert tab.dirty
    qtbot.mouseClick(kx.save_year, LEFT)
    assert tab.message.text().startswith("2027's KX threshold saved: $2,550.00 (review level "
                                         "$3,000.00), entered by Front Desk.")
    assert not tab.dirty
    assert [kx.table.item(0, c).text() for c in (0, 1, 3, 5)] == [
        "2027", "$2,550.00", "V: official text (CMS, a MAC)", f"Front Desk, {date_today()}"]
    assert kx.coverage.isHidden()
    [entry] = repo.audit_entries("kx_threshold", 2027)
    assert (entry.user, entry.action) == ("Front Desk", "set")
    assert json.loads(entry.detail)["new"]["threshold_cents"] == 255000
    dialog.close()

    # The next visit: no notice on the visit screen or in the review; 2027's amount counts.
    clock.advance(minutes=2 * 24 * 60)
    second = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, clock.now())
    panel.controller.open_visit(second.id)
    panel.load()
    treat(qtbot, panel, clock)
    assert not any("threshold used" in t for t in panel.notices.texts())
    repo.set_diagnoses(second.id, ["M25.561"], validate=False)
    page = review(qtbot, clinic, clock, second.id)
    assert not any("threshold used" in t for t in review_texts(page))
    attest_kx(qtbot, page)
    assert page.on_finalize()
    # $2,530 before this visit is past $2,550 only with it: KX on the line, 2027's amount named.
    [line] = repo.charge_lines(second.id)
    assert line.modifiers == ("GP", "KX")
    assert repo.billing_record(second.id)["kx_threshold"]["threshold_cents"] == 255000


def date_today() -> str:
    from datetime import date

    return date.today().isoformat()


def test_rule_data_refuses_bad_entries_naming_them(qtbot, clinic, tmp_path):
    dialog = settings_dialog(qtbot, clinic, tmp_path)
    kx = dialog.rules.kx
    qtbot.keyClicks(kx.threshold, "lots")
    qtbot.mouseClick(kx.save_year, LEFT)
    assert dialog.rules.message.text() == ("KX threshold: 'lots' is not an amount in dollars "
                                           "(for example 45.00).")
    kx.threshold.clear()
    qtbot.keyClicks(kx.threshold, "3500")
    qtbot.keyClicks(kx.source, "CMS")
    qtbot.mouseClick(kx.save_year, LEFT)
    assert "must be above the KX threshold ($3,500.00)" in dialog.rules.message.text()
    assert 2027 not in clinic.repo.kx_thresholds()
    assert clinic.repo.audit_entries("kx_threshold") == []
    dialog.rules.dirty = False


def test_replacing_a_year_asks_and_no_user_asks_for_a_name(qtbot, clinic, tmp_path,
                                                           monkeypatch):
    from therapy_timer.ui.settings import SettingsDialog
    from therapy_timer.ui.settings_rules import KxSection

    dialog = SettingsDialog(clinic.repo, user=None, settings=QSettings(
        str(tmp_path / "app.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(dialog)
    kx = dialog.rules.kx
    kx.table.selectRow(0)  # 2026, the newest year
    assert (kx.year.value(), kx.threshold.text()) == (2026, "2480.00")
    kx.threshold.clear()
    qtbot.keyClicks(kx.threshold, "2490")
    asked = []
    monkeypatch.setattr(KxSection, "ask_replace",
                        classmethod(lambda cls, parent, text: asked.append(text) or False))
    qtbot.mouseClick(kx.save_year, LEFT)
    assert asked == ["2026 already has a KX threshold of $2,480.00 (proactivechart.com, "
                     "postacutetools.com, alsintegratedsvc.com; no CMS CR text found). Replace "
                     "it with $2,490.00? Visits already finalized keep what they were billed "
                     "with."]
    assert clinic.repo.kx_thresholds()[2026].threshold_cents == 248000
    monkeypatch.setattr(KxSection, "ask_replace", classmethod(lambda cls, parent, text: True))
    monkeypatch.setattr(KxSection, "ask_name", classmethod(lambda cls, parent: "Sam Desk"))
    qtbot.mouseClick(kx.save_year, LEFT)
    assert clinic.repo.kx_thresholds()[2026].threshold_cents == 249000
    [entry] = clinic.repo.audit_entries("kx_threshold", 2026)
    assert entry.user == "Sam Desk"
    assert json.loads(entry.detail)["old"]["threshold_cents"] == 248000


def test_a_newer_shipped_value_is_offered_beside_the_clinics(qtbot, clinic, tmp_path):
    from therapy_timer.core.rules_data import KxYear

    repo = clinic.repo
    repo.set_kx_threshold(2027, 255000, 300000, "S", "a newsletter", "pat")
    repo.seed_kx_thresholds({2027: KxYear(2027, 256000, 300000, "V", "CY2027 PFS")})
    dialog = settings_dialog(qtbot, clinic, tmp_path)
    kx = dialog.rules.kx
    assert not kx.offers.isHidden()
    assert kx.offers.text() == ("2027: this release ships $2,560.00 (review $3,000.00, V, "
                                "CY2027 PFS); yours is $2,550.00.")
    kx.table.selectRow(0)
    qtbot.mouseClick(kx.accept_offer, LEFT)
    assert repo.kx_thresholds()[2027].threshold_cents == 256000
    assert kx.offers.isHidden()
    assert dialog.rules.message.text() == "2027: the shipped value is used."
    assert repo.audit_entries("kx_threshold", 2027)[0].user == "Front Desk"


def test_add_section_puts_another_group_box_on_the_tab(qtbot, clinic, tmp_path):
    from PySide6.QtWidgets import QGroupBox

    dialog = settings_dialog(qtbot, clinic, tmp_path)
    box = QGroupBox("NCCI edits (test)")
    dialog.rules.add_section(box)
    boxes = [w for w in dialog.rules.findChildren(QGroupBox)]
    # Below the KX thresholds and CMS's NCCI edits (added by the dialog itself), in order.
    assert [b.title() for b in boxes][:3] == [
        "KX thresholds (Medicare therapy, per patient per year)",
        "CMS NCCI edits (practitioner services)", "NCCI edits (test)"]
