"""The visit screen driven like a clinician would: taps, keys, an injected clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import Qt

from therapy_timer.core.codes import default_catalog
from therapy_timer.core.model import Performer
from therapy_timer.core.records import VisitStatus
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.finalize import FinalizePage
from therapy_timer.ui.tiles import ALONGSIDE, DONE, RUNNING
from therapy_timer.ui.visit_dialogs import TechniqueDialog

LEFT = Qt.MouseButton.LeftButton


def tap(qtbot, panel, code):
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.tiles.tiles[code], LEFT)


def running_exclusive(repo):
    catalog = default_catalog()
    return [i for i in repo.running_intervals() if catalog.get(i.code).kind.exclusive]


def test_cms_example_shows_two_plus_one_units_and_47_minutes(qtbot, panel, clock, clinic):
    tap(qtbot, panel, "97112")
    clock.advance(minutes=24)
    tap(qtbot, panel, "97110")
    clock.advance(minutes=23)
    tap(qtbot, panel, "97110")  # tapping the running tile stops it
    assert clinic.repo.running_intervals() == []
    tiles = panel.tiles.tiles
    assert (tiles["97112"].units, tiles["97112"].seconds) == (2, 24 * 60)
    assert (tiles["97110"].units, tiles["97110"].seconds) == (1, 23 * 60)
    assert tiles["97112"].state == DONE
    assert panel.totals.units.value.text() == "3"
    assert panel.totals.timed.value.text() == "47"
    assert panel.totals.treatment.value.text() == "47:00"
    assert "2 units" in tiles["97112"].accessibleDescription()
    # Every start and stop is in the audit log, naming the acting user.
    [first] = [i for i in clinic.repo.intervals_for(panel.controller.visit.id)
               if i.code == "97112"]
    entries = clinic.repo.audit_entries("interval", first.id)
    assert {e.action for e in entries} >= {"start_interval", "stop_interval"}
    assert {e.user for e in entries} == {"Dana Test, PT"}


def test_live_display_counts_from_timestamps(qtbot, panel, clock):
    tap(qtbot, panel, "97110")
    clock.advance(seconds=7 * 60 + 59)
    panel.controller.tick()
    tile = panel.tiles.tiles["97110"]
    assert (tile.seconds, tile.units, tile.state) == (479, 0, RUNNING)
    assert panel.totals.next_unit.value.text() == "0:01"
    clock.advance(seconds=1)
    panel.controller.tick()
    assert tile.units == 1
    assert panel.totals.next_unit.value.text() == "15:00"
    # Hours later the display is still exact: it never counts ticks.
    clock.advance(minutes=120)
    panel.controller.tick()
    assert tile.seconds == 128 * 60
    assert "97110 Therapeutic exercise" in panel.now_running.text()


def test_switching_tiles_never_leaves_two_one_on_one_timers(qtbot, panel, clock, clinic):
    for code in ("97110", "97112", "97116", "97530", "97112", "97140"):
        if code == "97140":
            continue
        tap(qtbot, panel, code)
        clock.advance(minutes=3)
        assert len(running_exclusive(clinic.repo)) == 1
        assert running_exclusive(clinic.repo)[0].code == code
    # Digit keys switch too, and say so in the tooltips.
    for digit in ("1", "2", "3", "1"):
        with qtbot.waitSignal(panel.controller.changed, timeout=2000):
            qtbot.keyClick(panel.tiles, digit)
        clock.advance(minutes=1)
        assert len(running_exclusive(clinic.repo)) == 1
    assert running_exclusive(clinic.repo)[0].code == panel.tiles.tile_at(1).code
    assert "Shortcut: 1" in panel.tiles.tile_at(1).toolTip()


def test_supervised_modality_runs_alongside(qtbot, panel, clock, clinic):
    tap(qtbot, panel, "97010")
    tap(qtbot, panel, "97110")
    clock.advance(minutes=10)
    panel.controller.tick()
    codes = sorted(i.code for i in clinic.repo.running_intervals())
    assert codes == ["97010", "97110"]
    assert panel.tiles.tiles["97010"].state == ALONGSIDE
    assert panel.tiles.tiles["97110"].state == RUNNING
    tap(qtbot, panel, "97112")
    assert sorted(i.code for i in clinic.repo.running_intervals()) == ["97010", "97112"]


def test_pause_excludes_time(qtbot, panel, clock, clinic):
    tap(qtbot, panel, "97110")
    clock.advance(minutes=10)
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.keyClick(panel.tiles, Qt.Key.Key_Space)
    assert panel.controller.paused
    assert panel.pause_button.text() == "Resume"
    assert clinic.repo.running_intervals() == []
    clock.advance(minutes=5)  # toileting
    panel.controller.tick()
    assert panel.tiles.tiles["97110"].seconds == 10 * 60
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.pause_button, LEFT)
    assert [i.code for i in clinic.repo.running_intervals()] == ["97110"]
    clock.advance(minutes=5)
    tap(qtbot, panel, "97110")
    assert panel.tiles.tiles["97110"].seconds == 15 * 60
    assert panel.totals.treatment.value.text() == "15:00"
    assert panel.totals.timed.value.text() == "15"


def test_performer_switch_splits_the_running_interval(qtbot, panel, clock, clinic, visit):
    tap(qtbot, panel, "97110")
    clock.advance(minutes=10)
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.performer_buttons[Performer.PTA], LEFT)
    clock.advance(minutes=10)
    tap(qtbot, panel, "97112")  # following intervals keep the assistant
    clock.advance(minutes=5)
    tap(qtbot, panel, "97112")
    rows = [(i.code, i.performer, i.interval.seconds()) for i in
            clinic.repo.intervals_for(visit.id)]
    assert rows == [("97110", Performer.PT, 600), ("97110", Performer.PTA, 600),
                    ("97112", Performer.PTA, 300)]
    assert not panel.performer_buttons[Performer.OT].isVisible()


def test_manual_therapy_asks_technique_and_region(qtbot, panel, clinic, visit, monkeypatch):
    monkeypatch.setattr(TechniqueDialog, "ask",
                        classmethod(lambda cls, parent, code, last=None: None))
    qtbot.mouseClick(panel.tiles.tiles["97140"], LEFT)
    assert clinic.repo.running_intervals() == []  # cancelled: nothing started
    monkeypatch.setattr(TechniqueDialog, "ask",
                        classmethod(lambda cls, parent, code, last=None: (
                            "Joint mobilization", "Knee")))
    tap(qtbot, panel, "97140")
    [interval] = clinic.repo.running_intervals()
    assert (interval.code, interval.technique, interval.body_region) == (
        "97140", "Joint mobilization", "Knee")


def test_technique_dialog_widgets(qtbot):
    dialog = TechniqueDialog("97140")
    qtbot.addWidget(dialog)
    # Issue 16: both start empty (no pre-filled region to record by mistake).
    assert dialog.answer() == ("", "")
    dialog.region.setCurrentText("Shoulder")
    assert dialog.answer() == ("", "Shoulder")
    assert not dialog.start_button.isEnabled()
    dialog.technique.setCurrentText("Joint mobilization")
    assert dialog.start_button.isEnabled()


def test_search_starts_any_catalog_code(qtbot, panel, clinic):
    panel.search.setFocus()
    qtbot.keyClicks(panel.search, "97113")  # digits type into the search, not the tiles
    assert clinic.repo.running_intervals() == []
    assert panel.search.text() == "97113"
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.keyClick(panel.search, Qt.Key.Key_Return)
    assert [i.code for i in clinic.repo.running_intervals()] == ["97113"]
    seen = []
    panel.search.setText("no such service")
    original = Ask.warn
    try:
        Ask.warn = classmethod(lambda cls, parent, title, text: seen.append(text))
        qtbot.keyClick(panel.search, Qt.Key.Key_Return)
    finally:
        Ask.warn = original
    assert seen and "no such service" in seen[0]


def test_one_provider_two_patients_offers_group(qtbot, panel, clock, clinic, monkeypatch):
    from therapy_timer.ui.session_controller import SessionController
    from therapy_timer.ui.visit_panel import VisitPanel

    tap(qtbot, panel, "97110")
    other_visit = clinic.repo.start_visit(clinic.patient2.id, clinic.pt.id, None, clock.now())
    other = SessionController(clinic.repo, clock)
    other_panel = VisitPanel(other)
    qtbot.addWidget(other_panel)
    other.open_visit(other_visit.id)
    other.timer.stop()
    other_panel.load()
    asked = []

    def confirm(cls, parent, title, text, yes="Yes", no="No"):
        asked.append(text)
        return True

    monkeypatch.setattr(Ask, "confirm", classmethod(confirm))
    qtbot.mouseClick(other_panel.tiles.tiles["97112"], LEFT)
    assert asked and "97150" in asked[0]
    codes = {(i.visit_id, i.code) for i in clinic.repo.running_intervals()}
    assert codes == {(other_visit.id, "97150"), (panel.controller.visit.id, "97150")}


def test_edit_interval_needs_a_reason(qtbot, panel, clock, clinic, visit, monkeypatch):
    from therapy_timer.ui.visit_dialogs import IntervalEdit, IntervalEditDialog

    tap(qtbot, panel, "97110")
    clock.advance(minutes=20)
    tap(qtbot, panel, "97110")
    [stored] = clinic.repo.intervals_for(visit.id)
    dialog = IntervalEditDialog(stored, (Performer.PT, Performer.PTA))
    qtbot.addWidget(dialog)
    dialog.end.setDateTime(dialog.end.dateTime().addSecs(-5 * 60))
    dialog.buttons.accepted.emit()
    assert "reason" in dialog.error.text().lower()
    assert dialog.result() == 0
    dialog.reason.setText("stopped late: patient left at 14:15")
    dialog.buttons.accepted.emit()
    assert dialog.result() == 1
    edit = dialog.result_edit()
    assert edit.changes == {"end": stored.end - timedelta(minutes=5)}

    monkeypatch.setattr(IntervalEditDialog, "ask",
                        classmethod(lambda cls, parent, interval, performers: edit))
    panel.table.selectRow(0)
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.edit_button, LEFT)
    [after] = clinic.repo.intervals_for(visit.id)
    assert after.interval.seconds() == 15 * 60
    assert panel.tiles.tiles["97110"].units == 1
    entries = clinic.repo.audit_entries("interval", stored.id)
    assert any("patient left" in e.detail for e in entries)
    # No reason: refused with a message, nothing changed.
    failures = []
    panel.controller.failed.connect(failures.append)
    monkeypatch.setattr(Ask, "warn", classmethod(lambda cls, *a: None))
    assert not panel.controller.edit_interval(stored.id, reason=" ", end=stored.start)
    assert failures and "reason" in failures[0]
    assert isinstance(edit, IntervalEdit)


def test_tie_notice_lets_the_clinician_choose(qtbot, panel, clock, monkeypatch):
    tap(qtbot, panel, "97112")
    clock.advance(minutes=20)
    tap(qtbot, panel, "97110")
    clock.advance(minutes=20)
    tap(qtbot, panel, "97110")
    notice = next(n for key, n in panel.notices.notices.items() if key.startswith("tie"))
    assert "Tie" in notice.label.text()
    monkeypatch.setattr(Ask, "choice", classmethod(lambda cls, parent, t, label, options: 1))
    notice.buttons["Choose…"].click()
    assert panel.tie_choice == {"97112": 1, "97110": 2}
    assert any("Chosen: 97112 × 1, 97110 × 2" in t for t in panel.notices.texts())
    # The review and the frozen lines follow the choice.
    repo = panel.repo
    repo.set_diagnoses(panel.controller.visit.id, ["M25.561"], validate=False)
    page = FinalizePage(repo, clock)
    qtbot.addWidget(page)
    page.user = "Dana Test, PT"
    page.load(panel.controller.visit.id, panel.tie_choice)
    assert {r.code: r.units for r in page.model.rows()} == {"97112": 1, "97110": 2}
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *a, **k: True))
    assert page.on_finalize()
    lines = repo.charge_lines(panel.controller.visit.id)
    assert {ln.code: ln.units for ln in lines} == {"97112": 1, "97110": 2}


def test_tenth_visit_reminds_of_the_progress_report(qtbot, controller, clinic, clock):
    from therapy_timer.ui.visit_panel import VisitPanel

    for _ in range(9):
        clinic.repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, clock.now())
    visit = clinic.repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id,
                                    clock.now())
    assert clinic.repo.visit_count_in_plan(clinic.plan.id) == 10
    panel = VisitPanel(controller)
    qtbot.addWidget(panel)
    controller.open_visit(visit.id)
    controller.timer.stop()
    panel.load()
    assert any("Visit 10 of this plan of care" in t for t in panel.notices.texts())


@pytest.mark.parametrize("keep", [True, False])
def test_sleep_flags_the_running_interval(qtbot, panel, clock, clinic, keep):
    tap(qtbot, panel, "97110")
    clock.advance(minutes=5)
    panel.controller.tick()
    before_sleep = clock.now()
    clock.sleep(minutes=40)  # lid closed: wall time moves, monotonic time does not
    with qtbot.waitSignal(panel.controller.time_jump, timeout=2000) as blocker:
        panel.controller.tick()
    jump = blocker.args[0]
    assert jump.trusted_until == before_sleep
    notice = next(n for key, n in panel.notices.notices.items() if key.startswith("jump"))
    assert "slept" in notice.label.text()
    caption = "Time is right" if keep else next(c for c in notice.buttons if c.startswith("Stop"))
    notice.buttons[caption].click()
    assert panel.controller.jumps == []
    running = clinic.repo.running_intervals()
    if keep:
        assert [i.code for i in running] == ["97110"]
    else:
        assert running == []
        [stored] = clinic.repo.intervals_for(panel.controller.visit.id)
        assert stored.end == before_sleep


def test_heartbeat_is_written_every_few_seconds(qtbot, panel, clock, clinic):
    tap(qtbot, panel, "97110")
    clock.advance(seconds=6)
    panel.controller.tick()
    [interval] = clinic.repo.running_intervals()
    assert interval.heartbeat == clock.now()


def test_finalize_locks_and_amendment_keeps_the_original(qtbot, panel, clock, clinic, visit,
                                                        monkeypatch):
    tap(qtbot, panel, "97112")
    clock.advance(minutes=24)
    tap(qtbot, panel, "97110")
    clock.advance(minutes=23)
    clinic.repo.set_diagnoses(visit.id, ["M25.561"], validate=False)
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *a, **k: True))
    with qtbot.waitSignal(panel.finalize_requested, timeout=2000) as blocker:
        qtbot.mouseClick(panel.finalize_button, LEFT)  # stops the running timer first
    assert clinic.repo.running_intervals() == []
    page = FinalizePage(clinic.repo, clock)
    qtbot.addWidget(page)
    page.user = "Dana Test, PT"
    page.load(blocker.args[0])
    rows = {r.code: r for r in page.model.rows()}
    assert (rows["97112"].units, rows["97110"].units) == (2, 1)
    assert "Timed 47 min" in page.totals.text()
    with qtbot.waitSignal(page.finalized, timeout=2000):
        qtbot.mouseClick(page.finalize_button, LEFT)
    locked = clinic.repo.get_visit(visit.id)
    assert locked.status is VisitStatus.FINALIZED
    lines = clinic.repo.charge_lines(visit.id)
    assert [(ln.code, ln.units) for ln in lines] == [("97112", 2), ("97110", 1)]
    assert all("GP" in ln.modifiers for ln in lines)
    assert not page.finalize_button.isVisible() and page.amend_button.isVisibleTo(page)
    # Locked: the timers cannot change it.
    panel.controller.reload()
    assert not panel.controller.editable
    assert not panel.tiles.isEnabled()

    monkeypatch.setattr(Ask, "text", classmethod(lambda cls, *a, **k: "wrong code on line 2"))
    with qtbot.waitSignal(page.amended, timeout=2000) as amended:
        qtbot.mouseClick(page.amend_button, LEFT)
    new_id = amended.args[0]
    assert new_id != visit.id
    original = clinic.repo.get_visit(visit.id)
    assert original.status is VisitStatus.AMENDED
    assert [(ln.code, ln.units) for ln in clinic.repo.charge_lines(visit.id)] == [
        ("97112", 2), ("97110", 1)]
    amendment = clinic.repo.amendments_for(visit.id)[0]
    assert (amendment.reason, amendment.new_visit_id) == ("wrong code on line 2", new_id)
    assert clinic.repo.get_visit(new_id).status is VisitStatus.OPEN


def test_finalize_confirms_each_suggestion(qtbot, clinic, clock, monkeypatch):
    """An assistant's minutes suggest CQ; nothing is applied until the clinician ticks it."""
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, clock.now())
    repo.start_interval(visit.id, "97110", Performer.PTA, clock.now())
    clock.advance(minutes=30)
    repo.pause_visit(visit.id, clock.now())
    repo.set_diagnoses(visit.id, ["M25.561"], validate=False)
    page = FinalizePage(repo, clock)
    qtbot.addWidget(page)
    page.user = "Dana Test, PT"
    page.load(visit.id)
    boxes = [box for box, key in page.checks if key[1] == "CQ"]
    assert boxes and not boxes[0].isChecked()
    assert all("CQ" not in r.modifiers for r in page.model.rows())
    boxes[0].setChecked(True)
    assert any("CQ" in r.modifiers for r in page.model.rows())
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *a, **k: True))
    assert page.on_finalize()
    assert any("CQ" in ln.modifiers for ln in repo.charge_lines(visit.id))


def test_space_on_a_focused_tile_pauses_rather_than_taps(qtbot, panel, clock, clinic):
    tap(qtbot, panel, "97110")
    tile = panel.tiles.tiles["97112"]
    tile.setFocus()
    qtbot.waitUntil(tile.hasFocus, timeout=2000)
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.keyClick(tile, Qt.Key.Key_Space)
    assert panel.controller.paused
    assert clinic.repo.running_intervals() == []
    assert panel.tiles.tiles["97112"].seconds == 0


def test_ncci_pair_and_assistant_notices(qtbot, panel, clock, monkeypatch):
    monkeypatch.setattr(TechniqueDialog, "ask",
                        classmethod(lambda cls, parent, code, last=None: (
                            "Joint mobilization", "Knee")))
    tap(qtbot, panel, "97530")
    clock.advance(minutes=12)
    tap(qtbot, panel, "97140")
    clock.advance(minutes=12)
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.performer_buttons[Performer.PTA], LEFT)
    clock.advance(minutes=25)
    tap(qtbot, panel, "97140")
    texts = " | ".join(panel.notices.texts())
    assert "97140" in texts and ("XU" in texts or "59" in texts)
    assert "assistant (CQ)" in texts


def test_search_by_words_through_the_completer(qtbot, panel, clinic):
    panel.search.setFocus()
    qtbot.keyClicks(panel.search, "gait")
    popup = panel.search.completer().popup()
    qtbot.waitUntil(popup.isVisible, timeout=2000)
    index = panel.search.completer().completionModel().index(0, 0)
    popup.setCurrentIndex(index)
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert [i.code for i in clinic.repo.running_intervals()] == ["97116"]
    qtbot.waitUntil(lambda: panel.search.text() == "", timeout=2000)


def test_tiles_follow_the_providers_favourites(qtbot, panel, clinic, monkeypatch):
    assert list(panel.tiles.tiles)[:3] == ["97110", "97112", "97116"]  # PT defaults
    clinic.repo.set_favourite_codes(clinic.pt.id, ["97530", "97140", "97010"])
    clinic.repo.set_favourite_codes(clinic.pt2.id, ["97112"])  # another provider's own
    panel.load()
    assert list(panel.tiles.tiles) == ["97530", "97140", "97010"]
    assert panel.tiles.tile_at(2).code == "97140"
    assert panel.tiles.tiles["97530"].accessibleName() == "97530 Therapeutic activities"
    # A stored code the catalog no longer knows is left out rather than breaking the screen.
    monkeypatch.setattr(clinic.repo, "favourite_codes",
                        lambda provider_id: ["97530", "97140", "97010", "NOPE1"])
    panel.load()
    assert list(panel.tiles.tiles) == ["97530", "97140", "97010"]
    monkeypatch.undo()
    clinic.repo.set_favourite_codes(clinic.pt.id, [])  # back to the discipline's defaults
    panel.load()
    assert list(panel.tiles.tiles)[:3] == ["97110", "97112", "97116"]


def test_second_visit_the_same_day_pools_its_units(qtbot, controller, clinic, clock, visit,
                                                  monkeypatch):
    """CMS: 20 + 20 minutes in two visits bill as 40 minutes (3 units), not 1 + 1."""
    from therapy_timer.ui.visit_panel import VisitPanel

    repo = clinic.repo
    repo.start_interval(visit.id, "97110", Performer.PT, clock.now())
    clock.advance(minutes=20)
    repo.pause_visit(visit.id, clock.now())
    repo.set_diagnoses(visit.id, ["M25.561"], validate=False)
    repo.finalize_visit(visit.id, None, "Dana Test, PT", clock.now())
    clock.advance(minutes=120)
    later = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, clock.now())
    panel = VisitPanel(controller)
    qtbot.addWidget(panel)
    controller.open_visit(later.id)
    controller.timer.stop()
    panel.load()
    assert "pooled with 1 earlier visit" in panel.subtitle.text()
    tap(qtbot, panel, "97112")
    clock.advance(minutes=20)
    tap(qtbot, panel, "97112")
    assert panel.totals.timed.value.text() == "40"
    assert panel.totals.units.value.text() == "3"
