"""Issue 16, items 1-3, walked in the real window: a tie choice with an untimed code in the visit
(the crash), ticks and pointers that survive Diagnoses, leaving the review and Amend..., a choice
reset only when its reason is gone (and said so on the review), and "timed under a minute: bill
it?" for an untimed code. Dialogs are answered through their ``ask`` class methods."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QCheckBox, QLabel

from therapy_timer.core.records import VisitStatus
from therapy_timer.ui import diagnoses
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.visit_dialogs import IntervalEdit, IntervalEditDialog, TechniqueDialog

LEFT = Qt.MouseButton.LeftButton
THREE = ["M54.50", "R26.89", "M25.561"]


class _Source:  # the ICD-10-CM index is not needed: the picker's answer is given
    def __init__(self, worker, parent=None):
        pass

    def start(self):
        pass


@pytest.fixture
def win(qtbot, clinic, clock, tmp_path, monkeypatch):
    from therapy_timer.ui.main_window import MainWindow

    monkeypatch.setattr(diagnoses, "IcdIndexSource", _Source)
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *a, **k: True))
    monkeypatch.setattr(TechniqueDialog, "ask",
                        classmethod(lambda cls, parent, code, last=None: ("mobilization",
                                                                          "lumbar")))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(clinic.repo, clock, settings=settings)
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    window.show_today()
    window.today.set_provider(clinic.pt.id)
    yield window
    window.controller.timer.stop()


def start_visit(win, clinic) -> int:
    visit_id = win.today.start_for(clinic.patient.id)
    win.controller.timer.stop()  # the tests repaint by hand after moving the FakeClock
    return visit_id


def tap(qtbot, win, code):
    with qtbot.waitSignal(win.controller.changed, timeout=2000):
        qtbot.mouseClick(win.visit_panel.tiles.tiles[code], LEFT)


def tile_units(win, *codes):
    return {code: win.visit_panel.tiles.tiles[code].units for code in codes}


def answer_diagnoses(monkeypatch, codes):
    from therapy_timer.ui.main_window import DiagnosesDialog

    monkeypatch.setattr(DiagnosesDialog, "ask",
                        classmethod(lambda cls, parent, source, current: list(codes)))


def choose(qtbot, win, monkeypatch, index):
    """Choose... on the tie notice, picking option ``index`` of the allowed allocations."""
    notice = next(n for key, n in win.visit_panel.notices.notices.items()
                  if key.startswith("tie"))
    offered = []

    def answer(cls, parent, title, label, options):
        offered.extend(options)
        return index

    monkeypatch.setattr(Ask, "choice", classmethod(answer))
    with qtbot.waitSignal(win.controller.changed, timeout=2000):
        qtbot.mouseClick(notice.buttons["Choose…"], LEFT)
    return offered


def finish(qtbot, win):
    qtbot.mouseClick(win.visit_panel.finalize_button, LEFT)
    assert win.stack.currentWidget() is win.finalize_page
    return win.finalize_page


def rows(page):
    return {r.code: r.units for r in page.model.rows()}


def review_texts(page) -> list[str]:
    """Every message and question on the review, as the clinician reads them."""
    out = []
    for i in range(page.checks_layout.count()):
        widget = page.checks_layout.itemAt(i).widget()
        if widget is None:
            continue
        labels = [widget] if isinstance(widget, QLabel) else widget.findChildren(QLabel)
        out += [label.text() for label in labels]
        out += [box.text() for box in widget.findChildren(QCheckBox)]
    return out


def box_for(page, code, modifier) -> QCheckBox:
    [box] = [b for b, key in page.checks if key == (code, modifier)]
    return box


def click_box(qtbot, box: QCheckBox) -> None:
    qtbot.mouseClick(box, LEFT, pos=QPoint(12, box.height() // 2))  # on the tick itself


def ticked(page) -> dict[tuple[str, str], bool]:
    return {key: box.isChecked() for box, key in page.checks}


# --- item 1: the tie crash with an untimed code -------------------------------------------


def test_a_tie_choice_with_an_evaluation_in_the_visit_bills_survives_and_finalizes(
        qtbot, win, clinic, clock, monkeypatch):
    repo = clinic.repo
    visit_id = start_visit(win, clinic)
    tap(qtbot, win, "97161")  # the evaluation: untimed
    clock.advance(minutes=12)
    tap(qtbot, win, "97112")  # stops the evaluation
    clock.advance(minutes=20)
    tap(qtbot, win, "97110")
    clock.advance(minutes=20)
    tap(qtbot, win, "97110")
    assert tile_units(win, "97161", "97112", "97110") == {"97161": 1, "97112": 2, "97110": 1}

    choose(qtbot, win, monkeypatch, 1)  # 97112 x1, 97110 x2
    assert tile_units(win, "97112", "97110") == {"97112": 1, "97110": 2}  # at once
    assert win.visit_panel.totals.units.value.text() == "4"
    assert repo.visit_choices(visit_id).tie == {"97112": 1, "97110": 2}
    assert any("Chosen: 97112 × 1, 97110 × 2" in t for t in win.visit_panel.notices.texts())

    page = finish(qtbot, win)  # crashed with KeyError('97161') before
    assert rows(page) == {"97161": 1, "97112": 1, "97110": 2}
    assert "Tie: you chose 97112 × 1, 97110 × 2" in review_texts(page)

    qtbot.mouseClick(page.back_button, LEFT)
    offered = choose(qtbot, win, monkeypatch, 0)  # the rule's own pick, chosen again
    assert offered == ["97112 × 2, 97110 × 1  (the rule's pick)",
                       "97112 × 1, 97110 × 2  (shown now)"]
    assert tile_units(win, "97112", "97110") == {"97112": 2, "97110": 1}
    page = finish(qtbot, win)
    assert rows(page) == {"97161": 1, "97112": 2, "97110": 1}

    qtbot.mouseClick(page.back_button, LEFT)
    choose(qtbot, win, monkeypatch, 1)
    qtbot.mouseClick(win.visit_panel.back_button, LEFT)  # leave the visit...
    assert win.stack.currentWidget() is win.today
    win.today.table.selectRow(0)
    qtbot.mouseClick(win.today.open_button, LEFT)  # ...and reopen it from Today
    assert win.stack.currentWidget() is win.visit_panel
    win.controller.timer.stop()
    assert tile_units(win, "97112", "97110") == {"97112": 1, "97110": 2}  # still chosen

    answer_diagnoses(monkeypatch, ["M54.50"])
    qtbot.mouseClick(win.visit_panel.diagnoses_button, LEFT)
    page = finish(qtbot, win)
    assert rows(page) == {"97161": 1, "97112": 1, "97110": 2}
    with qtbot.waitSignal(page.finalized, timeout=2000):
        qtbot.mouseClick(page.finalize_button, LEFT)
    assert repo.get_visit(visit_id).status is VisitStatus.FINALIZED
    assert {ln.code: ln.units for ln in repo.charge_lines(visit_id)} == {
        "97161": 1, "97112": 1, "97110": 2}
    assert repo.billing_record(visit_id)["choice"] == {"97112": 1, "97110": 2}


def test_a_tie_choice_the_times_outgrow_is_shown_as_such_and_reset_on_the_review(
        qtbot, win, clinic, clock, monkeypatch):
    repo = clinic.repo
    visit_id = start_visit(win, clinic)
    tap(qtbot, win, "97112")
    clock.advance(minutes=20)
    tap(qtbot, win, "97110")
    clock.advance(minutes=20)
    tap(qtbot, win, "97110")
    choose(qtbot, win, monkeypatch, 1)
    assert tile_units(win, "97112", "97110") == {"97112": 1, "97110": 2}
    tap(qtbot, win, "97116")  # 20 minutes of gait: a three-way tie for the fourth unit
    clock.advance(minutes=20)
    tap(qtbot, win, "97116")
    assert tile_units(win, "97112", "97110", "97116") == {"97112": 2, "97110": 1, "97116": 1}
    assert any("Your choice (97112 × 1, 97110 × 2) no longer fits the times" in t
               for t in win.visit_panel.notices.texts())
    page = finish(qtbot, win)
    assert rows(page) == {"97112": 2, "97110": 1, "97116": 1}
    assert ("Reset: Tie choice reset (97112 × 1, 97110 × 2): the times changed and it is no "
            "longer an allocation the rule allows; the rule's pick is shown."
            in review_texts(page))
    assert repo.visit_choices(visit_id).tie == {}
    qtbot.mouseClick(page.back_button, LEFT)
    assert not any("Chosen" in t or "Your choice" in t for t in win.visit_panel.notices.texts())


# --- item 2: ticks and pointers kept; reset only when their reason is gone ---------------


def distinct_visit(qtbot, win, clinic, clock, monkeypatch) -> int:
    """97140 by the PT, then 97530 by the PTA in distinct time: XU and CQ on 97530."""
    visit_id = start_visit(win, clinic)
    tap(qtbot, win, "97140")
    clock.advance(minutes=15)
    tap(qtbot, win, "97140")
    qtbot.mouseClick(win.visit_panel.performer_buttons[clinic.pta.role], LEFT)
    tap(qtbot, win, "97530")
    clock.advance(minutes=30)
    tap(qtbot, win, "97530")
    answer_diagnoses(monkeypatch, THREE)
    qtbot.mouseClick(win.visit_panel.diagnoses_button, LEFT)
    return visit_id


def test_ticks_and_pointers_survive_diagnoses_and_leaving_the_review(qtbot, win, clinic, clock,
                                                                     monkeypatch):
    repo = clinic.repo
    visit_id = distinct_visit(qtbot, win, clinic, clock, monkeypatch)
    page = finish(qtbot, win)
    assert ticked(page) == {("97530", "XU"): False, ("97530", "CQ"): False}
    click_box(qtbot, box_for(page, "97530", "XU"))
    click_box(qtbot, box_for(page, "97530", "CQ"))
    [toggles] = [t for t in page.toggles if t.code == "97530"]
    qtbot.mouseClick(toggles.buttons["A"], LEFT)  # 97530 treats R26.89 and M25.561
    assert repo.visit_choices(visit_id).confirmed() == {("97530", "XU"), ("97530", "CQ")}
    [line] = [r for r in page.model.rows() if r.code == "97530"]
    assert {"XU", "CQ"} <= set(line.modifiers) and line.diagnosis_pointers == ("B", "C")

    # Saving Diagnoses (one added) unticks nothing and keeps the pointers.
    answer_diagnoses(monkeypatch, [*THREE, "M62.81"])
    qtbot.mouseClick(page.diagnoses_button, LEFT)
    assert win.stack.currentWidget() is page
    assert ticked(page) == {("97530", "XU"): True, ("97530", "CQ"): True}
    assert [t.letters() for t in page.toggles if t.code == "97530"] == ["BC"]
    assert not [t for t in review_texts(page) if t.startswith("Reset:")]

    # Leaving the review and coming back unticks nothing either.
    qtbot.mouseClick(page.back_button, LEFT)
    assert win.stack.currentWidget() is win.visit_panel
    page = finish(qtbot, win)
    assert ticked(page) == {("97530", "XU"): True, ("97530", "CQ"): True}
    assert [t.letters() for t in page.toggles if t.code == "97530"] == ["BC"]

    # R26.89 removed: 97530 keeps M25.561 (now B), and the review says what changed.
    answer_diagnoses(monkeypatch, ["M54.50", "M25.561", "M62.81"])
    qtbot.mouseClick(page.diagnoses_button, LEFT)
    assert [t.letters() for t in page.toggles if t.code == "97530"] == ["B"]
    assert ticked(page) == {("97530", "XU"): True, ("97530", "CQ"): True}
    assert ("Reset: 97530 no longer points at R26.89: removed from the diagnoses."
            in review_texts(page))
    assert repo.visit_choices(visit_id).pointers == {"97530": "B"}

    # The 97140 tile was a mistake for 97110: the NCCI pair is gone, so is XU (said so);
    # CQ's reason (the assistant's minutes) holds, so it stays ticked.
    qtbot.mouseClick(page.back_button, LEFT)
    panel = win.visit_panel
    row = next(i for i, iv in enumerate(win.controller.intervals) if iv.code == "97140")
    panel.table.selectRow(row)
    monkeypatch.setattr(IntervalEditDialog, "ask", classmethod(
        lambda cls, parent, interval, performers: IntervalEdit({"code": "97110"},
                                                               "wrong tile tapped")))
    with qtbot.waitSignal(win.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.edit_button, LEFT)
    page = finish(qtbot, win)
    assert ticked(page) == {("97530", "CQ"): True}
    assert ("Reset: XU on 97530 unticked: 97530 no longer bills beside its NCCI pair in time "
            "the timers show as distinct." in review_texts(page))
    assert repo.visit_choices(visit_id).confirmed() == {("97530", "CQ")}
    with qtbot.waitSignal(page.finalized, timeout=2000):
        qtbot.mouseClick(page.finalize_button, LEFT)
    lines = {ln.code: ln for ln in repo.charge_lines(visit_id)}
    assert "CQ" in lines["97530"].modifiers and "XU" not in lines["97530"].modifiers
    assert lines["97530"].diagnosis_pointers == ("B",)


def test_amend_reopens_with_the_originals_ticks_and_pointers(qtbot, win, clinic, clock,
                                                             monkeypatch):
    repo = clinic.repo
    visit_id = distinct_visit(qtbot, win, clinic, clock, monkeypatch)
    page = finish(qtbot, win)
    click_box(qtbot, box_for(page, "97530", "XU"))
    click_box(qtbot, box_for(page, "97530", "CQ"))
    [toggles] = [t for t in page.toggles if t.code == "97530"]
    qtbot.mouseClick(toggles.buttons["A"], LEFT)
    with qtbot.waitSignal(page.finalized, timeout=2000):
        qtbot.mouseClick(page.finalize_button, LEFT)
    original = [(ln.code, ln.modifiers, ln.units, ln.diagnosis_pointers)
                for ln in repo.charge_lines(visit_id)]

    monkeypatch.setattr(Ask, "text", classmethod(lambda cls, *a, **k: "note was incomplete"))
    with qtbot.waitSignal(page.amended, timeout=2000) as amended:
        qtbot.mouseClick(page.amend_button, LEFT)
    new_id = amended.args[0]
    assert win.stack.currentWidget() is win.visit_panel  # the correction opens to be timed
    win.controller.timer.stop()
    page = finish(qtbot, win)
    assert page.visit.id == new_id
    assert ticked(page) == {("97530", "XU"): True, ("97530", "CQ"): True}
    assert [t.letters() for t in page.toggles if t.code == "97530"] == ["BC"]
    with qtbot.waitSignal(page.finalized, timeout=2000):
        qtbot.mouseClick(page.finalize_button, LEFT)
    assert [(ln.code, ln.modifiers, ln.units, ln.diagnosis_pointers)
            for ln in repo.charge_lines(new_id)] == original


# --- item 3 (second half): an untimed code timed under a minute --------------------------


def test_an_evaluation_timed_under_a_minute_asks_bill_it(qtbot, win, clinic, clock,
                                                         monkeypatch):
    repo = clinic.repo
    visit_id = start_visit(win, clinic)
    tap(qtbot, win, "97161")
    clock.advance(seconds=20)
    tap(qtbot, win, "97110")  # the evaluation tile was a slip: 20 seconds
    clock.advance(minutes=15)
    tap(qtbot, win, "97110")
    assert tile_units(win, "97161", "97110") == {"97161": 0, "97110": 1}
    assert win.visit_panel.totals.units.value.text() == "1"
    answer_diagnoses(monkeypatch, ["M54.50"])
    qtbot.mouseClick(win.visit_panel.diagnoses_button, LEFT)

    page = finish(qtbot, win)
    assert rows(page) == {"97110": 1, "97161": 0}
    [row] = [r for r in page.model.rows() if r.code == "97161"]
    assert row.label.endswith("(timed under a minute: bill it?)")
    box = page.untimed_boxes["97161"]
    assert not box.isChecked()
    assert box.text() == "97161 PT evaluation, low complexity: timed under a minute: bill it?"
    assert box.isVisibleTo(page)
    assert "1 units" in page.totals.text()

    click_box(qtbot, box)  # the clinician confirms the evaluation was done
    assert rows(page) == {"97161": 1, "97110": 1}
    assert "2 units" in page.totals.text()
    assert page.untimed_boxes["97161"].isChecked()
    assert repo.visit_choices(visit_id).untimed_ok == ("97161",)

    qtbot.mouseClick(page.back_button, LEFT)  # the tiles know it too
    assert tile_units(win, "97161") == {"97161": 1}
    assert win.visit_panel.totals.units.value.text() == "2"
    page = finish(qtbot, win)
    assert page.untimed_boxes["97161"].isChecked()
    with qtbot.waitSignal(page.finalized, timeout=2000):
        qtbot.mouseClick(page.finalize_button, LEFT)
    assert [(ln.code, ln.units) for ln in repo.charge_lines(visit_id)] == [("97161", 1),
                                                                           ("97110", 1)]


def test_an_unconfirmed_hot_pack_under_a_minute_is_not_billed(qtbot, win, clinic, clock,
                                                              monkeypatch):
    repo = clinic.repo
    visit_id = start_visit(win, clinic)
    tap(qtbot, win, "97110")
    tap(qtbot, win, "97010")  # alongside, by mistake
    clock.advance(seconds=40)
    tap(qtbot, win, "97010")
    clock.advance(minutes=15)
    tap(qtbot, win, "97110")
    answer_diagnoses(monkeypatch, ["M54.50"])
    qtbot.mouseClick(win.visit_panel.diagnoses_button, LEFT)
    page = finish(qtbot, win)
    assert not page.untimed_boxes["97010"].isChecked()
    click_box(qtbot, page.untimed_boxes["97010"])  # ticked...
    click_box(qtbot, page.untimed_boxes["97010"])  # ...and unticked again
    assert repo.visit_choices(visit_id).untimed_ok == ()
    with qtbot.waitSignal(page.finalized, timeout=2000):
        qtbot.mouseClick(page.finalize_button, LEFT)
    assert [ln.code for ln in repo.charge_lines(visit_id)] == ["97110"]


# --- issue 10: a code split between therapist and assistant, pooled over two visits -------


def test_a_split_code_shows_its_cq_line_and_the_later_visit_keeps_the_assistants_unit(
        qtbot, win, clinic, clock, monkeypatch):
    """Morning: the PT furnishes 8 min of 97110 (finalized, 1 unit). Afternoon: the PTA
    furnishes 15 min of it. The pooled day (23 min) bills 2 units, one the PTA's full block:
    the review shows 97110 split into a CQ line and a plain one, and the afternoon visit is
    locked with the PTA's unit (CQ), not the morning's plain one."""
    from therapy_timer.core.model import Performer

    repo = clinic.repo
    morning = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, clock.now())
    repo.start_interval(morning.id, "97110", Performer.PT, clock.now())
    clock.advance(minutes=8)
    repo.pause_visit(morning.id, clock.now())
    repo.set_diagnoses(morning.id, ["M54.50"], validate=False)
    repo.finalize_visit(morning.id, None, "Dana Test, PT", clock.now())
    clock.advance(minutes=180)
    visit_id = start_visit(win, clinic)
    assert visit_id != morning.id
    qtbot.mouseClick(win.visit_panel.performer_buttons[clinic.pta.role], LEFT)
    tap(qtbot, win, "97110")
    clock.advance(minutes=15)
    tap(qtbot, win, "97110")
    answer_diagnoses(monkeypatch, ["M54.50"])
    qtbot.mouseClick(win.visit_panel.diagnoses_button, LEFT)
    page = finish(qtbot, win)
    assert ticked(page) == {("97110", "CQ"): False}
    assert any("1 full 15-min block(s) by the assistant" in text and "85%" in text
               for text in review_texts(page))
    click_box(qtbot, box_for(page, "97110", "CQ"))
    shown = [(r.code, tuple(r.modifiers), r.units) for r in page.model.rows() if r.units]
    assert shown == [("97110", ("GP", "CQ"), 1), ("97110", ("GP",), 1)]
    with qtbot.waitSignal(page.finalized, timeout=2000):
        qtbot.mouseClick(page.finalize_button, LEFT)
    assert [(ln.code, ln.modifiers, ln.units) for ln in repo.charge_lines(visit_id)] == [
        ("97110", ("GP", "CQ"), 1)]
    assert [(ln.code, ln.modifiers, ln.units) for ln in repo.charge_lines(morning.id)] == [
        ("97110", ("GP",), 1)]


def test_assistant_time_on_an_evaluation_is_refused_on_the_visit_screen_and_the_review(
        qtbot, win, clinic, clock, monkeypatch):
    """Assistants do not evaluate: PTA time on 97161 is said at once on the visit screen, and
    the review refuses to bill it until the interval's performer is corrected."""
    visit_id = start_visit(win, clinic)
    qtbot.mouseClick(win.visit_panel.performer_buttons[clinic.pta.role], LEFT)
    tap(qtbot, win, "97161")
    clock.advance(minutes=5)
    tap(qtbot, win, "97161")
    notice = win.visit_panel.notices.notices["refused"]
    text = " ".join(label.text() for label in notice.findChildren(QLabel))
    assert ("Not billable as recorded: 97161" in text and "5 min recorded as furnished by an "
            "assistant, but assistants do not evaluate or re-evaluate" in text)
    answer_diagnoses(monkeypatch, ["M54.50"])
    qtbot.mouseClick(win.visit_panel.diagnoses_button, LEFT)
    page = finish(qtbot, win)
    assert any(t.startswith("This visit cannot be billed yet: 97161") for t in review_texts(page))
    assert clinic.repo.get_visit(visit_id).status is VisitStatus.OPEN
