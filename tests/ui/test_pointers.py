"""The finalize review lets the clinician choose each line's diagnosis pointers; finalize
freezes them, the frozen review and the superbill show them, and an amendment chooses again."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from therapy_timer.core.model import Performer
from therapy_timer.core.records import VisitStatus
from therapy_timer.core.superbill_build import superbill_for_visit
from therapy_timer.ui import style
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.finalize import DX_COLUMN, POINT_COLUMN, FinalizePage
from therapy_timer.ui.pointers import (
    CODES_MAX_WIDTH,
    PointerToggles,
    toggle_pointer,
)

LEFT = Qt.MouseButton.LeftButton
TWO = ["M54.50", "R26.89"]
SIX = ["M54.50", "R26.89", "M25.561", "M62.81", "Z96.651", "S83.511A"]
DESCRIBED = {"M54.50": "Low back pain, unspecified",
             "R26.89": "Other abnormalities of gait and mobility"}


def timed_visit(clinic, clock, diagnoses=TWO, assistant_minutes=0):
    """24 min of 97112 then 23 min of 97110 (2 + 1 units), paused, with ``diagnoses``."""
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, clock.now())
    repo.start_interval(visit.id, "97112", Performer.PT, clock.now())
    clock.advance(minutes=24)
    repo.start_interval(visit.id, "97110", Performer.PT, clock.now())
    clock.advance(minutes=23)
    if assistant_minutes:
        repo.start_interval(visit.id, "97110", Performer.PTA, clock.now())
        clock.advance(minutes=assistant_minutes)
    repo.pause_visit(visit.id, clock.now())
    repo.set_diagnoses(visit.id, list(diagnoses), validate=False)
    return visit


@pytest.fixture
def page(qtbot, clinic, clock):
    widget = FinalizePage(clinic.repo, clock)
    qtbot.addWidget(widget)
    widget.user = "Dana Test, PT"
    widget.resize(1280, 760)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def yes(monkeypatch):
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *a, **k: True))


def dx_cells(page) -> dict[str, str]:
    """Code -> the Dx cell's text, for billed lines."""
    return {page.model.row(i).code: page.model.cell_text(i, DX_COLUMN)
            for i in range(page.model.rowCount()) if page.model.row(i).units}


def toggles_for(page, code) -> PointerToggles:
    [toggles] = [t for t in page.toggles if t.code == code]
    return toggles


def tap(qtbot, page, code, letter):
    button = toggles_for(page, code).buttons[letter]
    assert button.isVisible() and button.isEnabled()
    qtbot.mouseClick(button, LEFT)


@pytest.mark.parametrize(("letters", "letter", "after"), [
    ("AB", "A", "B"),     # untick
    ("B", "A", "BA"),     # a new letter goes last: B stays primary
    ("A", "A", "A"),      # a line keeps at least one pointer
    ("ABCD", "E", "ABCD"),  # at most four
    ("ABC", "L", "ABCL"),
])
def test_toggle_rule(letters, letter, after):
    assert toggle_pointer(letters, letter) == after


def test_chosen_pointers_are_frozen_shown_and_printed(qtbot, page, clinic, clock, yes):
    repo = clinic.repo
    visit = timed_visit(clinic, clock)
    page.load(visit.id)
    # one row of toggles per billed line, the default (the first four: A and B) ticked
    assert not page.table.isColumnHidden(POINT_COLUMN)
    assert [t.code for t in page.toggles] == ["97112", "97110"]
    for toggles in page.toggles:
        assert list(toggles.buttons) == ["A", "B"]
        assert all(b.isChecked() for b in toggles.buttons.values())
        qtbot.waitUntil(lambda t=toggles: t.buttons["A"].height() >= 40, timeout=2000)
        index = page.model.index(page.toggles.index(toggles), POINT_COLUMN)
        assert page.table.indexWidget(index) is toggles
    assert dx_cells(page) == {"97112": "AB", "97110": "AB"}
    assert "R26.89" in toggles_for(page, "97110").buttons["B"].toolTip()

    tap(qtbot, page, "97110", "A")  # 97110 treats the gait diagnosis (B) only
    assert dx_cells(page) == {"97112": "AB", "97110": "B"}
    tap(qtbot, page, "97112", "A")
    tap(qtbot, page, "97112", "A")  # ticked again: now after B, so B is primary
    assert dx_cells(page) == {"97112": "BA", "97110": "B"}
    assert page.chosen_pointers() == {"97112": "BA", "97110": "B"}

    with qtbot.waitSignal(page.finalized, timeout=2000):
        qtbot.mouseClick(page.finalize_button, LEFT)
    stored = {ln.code: ln.diagnosis_pointers for ln in repo.charge_lines(visit.id)}
    assert stored == {"97112": ("B", "A"), "97110": ("B",)}
    # the frozen review shows what was stored, with nothing left to tap
    assert page.visit.status is VisitStatus.FINALIZED
    assert page.table.isColumnHidden(POINT_COLUMN) and page.toggles == []
    assert dx_cells(page) == {"97112": "BA", "97110": "B"}
    legend = page.checks_layout.itemAt(0).widget()
    assert legend.text() == "Diagnoses: A M54.50   B R26.89"
    # and the superbill prints the chosen pointers against the visit's diagnoses
    bill = superbill_for_visit(repo, visit.id)
    assert [(d.letter, d.code) for d in bill.diagnoses] == [("A", "M54.50"), ("B", "R26.89")]
    assert {ln.code: ln.pointers for ln in bill.lines} == {
        "97112": ("B", "A"), "97110": ("B",)}


def test_untouched_review_freezes_the_default(qtbot, page, clinic, clock, yes):
    visit = timed_visit(clinic, clock, ["M54.50", "R26.89", "M25.561", "M62.81", "Z96.651"])
    page.load(visit.id)
    toggles = toggles_for(page, "97110")
    assert toggles.letters() == "ABCD"
    assert not toggles.buttons["E"].isEnabled()  # a fifth pointer is not offered
    assert page.chosen_pointers() == {}
    assert page.on_finalize()
    assert {ln.code: "".join(ln.diagnosis_pointers)
            for ln in clinic.repo.charge_lines(visit.id)} == {"97112": "ABCD", "97110": "ABCD"}


def test_the_last_pointer_cannot_be_untapped_and_a_fifth_frees_up(qtbot, page, clinic, clock):
    visit = timed_visit(clinic, clock, ["M54.50", "R26.89", "M25.561", "M62.81", "Z96.651"])
    page.load(visit.id)
    for letter in "BCD":
        tap(qtbot, page, "97112", letter)
    toggles = toggles_for(page, "97112")
    assert toggles.letters() == "A" and toggles.buttons["E"].isEnabled()
    qtbot.mouseClick(toggles.buttons["A"], LEFT)  # refused: the line needs a diagnosis
    assert toggles.letters() == "A" and toggles.buttons["A"].isChecked()
    tap(qtbot, page, "97112", "E")
    assert dx_cells(page)["97112"] == "AE"


def test_choices_survive_a_modifier_tick_and_follow_new_diagnoses(qtbot, page, clinic, clock):
    """An assistant's minutes split 97110 into two lines: both follow one choice; ticking CQ
    rebuilds the rows and keeps it; changing the diagnoses keeps each line on the diagnoses
    it pointed at, dropping (and saying so) only the removed one (issue 16 changed this: it
    used to start again from the default)."""
    visit = timed_visit(clinic, clock, assistant_minutes=20)
    page.load(visit.id)
    tap(qtbot, page, "97110", "A")
    assert page.pointers == {"97110": "B"}
    [cq] = [box for box, key in page.checks if key == ("97110", "CQ")]
    cq.setChecked(True)
    lines_97110 = [r for r in page.model.rows() if r.code == "97110" and r.units]
    assert len(lines_97110) == 2 and any("CQ" in r.modifiers for r in lines_97110)
    assert all(r.diagnosis_pointers == ("B",) for r in lines_97110)
    both = [t for t in page.toggles if t.code == "97110"]
    assert len(both) == 2 and all(t.letters() == "B" for t in both)
    qtbot.mouseClick(both[1].buttons["A"], LEFT)  # either row changes both
    assert [t.letters() for t in both] == ["BA", "BA"]
    assert all(r.diagnosis_pointers == ("B", "A") for r in lines_97110)

    page.load(visit.id)  # back from the timers, same diagnoses: the choice stays
    assert toggles_for(page, "97112").letters() == "AB"
    assert page.pointers == {"97110": "BA"}
    clinic.repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
    page.load(visit.id)  # M54.50 removed: R26.89 (was B) is A now
    assert page.pointers == {"97110": "A"}
    assert all(t.letters() == "A" for t in page.toggles)
    assert all(list(t.buttons) == ["A"] for t in page.toggles)
    assert [box.isChecked() for box, key in page.checks if key == ("97110", "CQ")] == [True]
    assert any(label.text() == "Reset: 97110 no longer points at M54.50: removed from the "
               "diagnoses." for label in page.findChildren(QLabel))


def test_no_diagnosis_hides_the_toggles(page, clinic, clock):
    visit = timed_visit(clinic, clock, [])
    page.load(visit.id)
    assert page.table.isColumnHidden(POINT_COLUMN) and page.toggles == []
    assert dx_cells(page) == {"97112": "", "97110": ""}


def test_a_documented_line_with_no_unit_gets_no_toggles(qtbot, page, clinic, clock):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, clock.now())
    repo.start_interval(visit.id, "97110", Performer.PT, clock.now())
    clock.advance(minutes=33)
    repo.start_interval(visit.id, "97116", Performer.PT, clock.now())
    clock.advance(minutes=3)
    repo.pause_visit(visit.id, clock.now())
    repo.set_diagnoses(visit.id, TWO, validate=False)
    page.load(visit.id)
    assert [t.code for t in page.toggles] == ["97110"]
    unbilled = next(i for i, r in enumerate(page.model.rows()) if r.code == "97116")
    assert page.table.indexWidget(page.model.index(unbilled, POINT_COLUMN)) is None


def test_a_refused_pointer_is_reported_and_nothing_locks(qtbot, page, clinic, clock,
                                                         monkeypatch, yes):
    """The store is the last word: a choice it refuses comes back as a message."""
    visit = timed_visit(clinic, clock)
    page.load(visit.id)
    # As if the diagnoses changed under the review (the review now saves each tap, so the
    # stale letters are handed straight to finalize).
    monkeypatch.setattr(page, "chosen_pointers", lambda: {"97110": "C"})
    warned = []
    monkeypatch.setattr(Ask, "warn", classmethod(lambda cls, parent, title, text:
                                                 warned.append((title, text))))
    assert not page.on_finalize()
    assert warned and warned[0][0] == "Not finalized"
    assert "97110" in warned[0][1] and "C" in warned[0][1]
    assert clinic.repo.get_visit(visit.id).status is VisitStatus.OPEN


def test_an_amendment_chooses_again_and_keeps_the_original(qtbot, page, clinic, clock,
                                                           monkeypatch, yes):
    repo = clinic.repo
    visit = timed_visit(clinic, clock)
    page.load(visit.id)
    tap(qtbot, page, "97110", "B")
    assert page.on_finalize()
    monkeypatch.setattr(Ask, "text", classmethod(lambda cls, *a, **k: "97110 was for gait"))
    with qtbot.waitSignal(page.amended, timeout=2000) as amended:
        qtbot.mouseClick(page.amend_button, LEFT)
    new_id = amended.args[0]
    page.load(new_id)
    # The correction starts with the original's pointers (issue 16; it used to reset them).
    assert [t.letters() for t in page.toggles] == ["AB", "A"]
    tap(qtbot, page, "97110", "B")
    tap(qtbot, page, "97110", "A")
    assert page.on_finalize()
    assert {ln.code: "".join(ln.diagnosis_pointers)
            for ln in repo.charge_lines(visit.id)} == {"97112": "AB", "97110": "A"}
    assert {ln.code: "".join(ln.diagnosis_pointers)
            for ln in repo.charge_lines(new_id)} == {"97112": "AB", "97110": "B"}


@pytest.fixture
def described(qtbot, clinic, clock):
    """The review with ICD-10-CM descriptions for the two diagnoses of ``TWO``."""
    widget = FinalizePage(clinic.repo, clock, describe=lambda code: DESCRIBED.get(code, ""))
    qtbot.addWidget(widget)
    widget.resize(1280, 760)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_each_toggle_names_its_diagnosis(qtbot, described, clinic, clock, yes):
    page = described
    visit = timed_visit(clinic, clock)
    page.load(visit.id)
    toggles = toggles_for(page, "97110")
    a, b = toggles.buttons["A"], toggles.buttons["B"]
    assert toggles.show_codes
    assert (a.text(), b.text()) == ("A M54.50", "B R26.89")
    assert a.accessibleName() == "A: M54.50 Low back pain, unspecified"
    assert b.accessibleName() == "B: R26.89 Other abnormalities of gait and mobility"
    assert a.toolTip().startswith("A: M54.50 Low back pain, unspecified\n")
    assert "97110" in a.accessibleDescription()
    # touch-sized, and the column and rows hold the toggles whole (nothing clipped)
    qtbot.waitUntil(lambda: a.height() >= style.TOUCH - 8, timeout=2000)
    assert a.width() >= a.fontMetrics().horizontalAdvance(a.text())
    assert min(a.width(), a.height()) >= 48
    column = page.table.columnWidth(POINT_COLUMN)
    assert toggles.sizeHint().width() <= column <= CODES_MAX_WIDTH
    row = page.toggles.index(toggles)
    assert page.table.rowHeight(row) >= toggles.sizeHint().height()
    assert toggles.geometry().height() >= a.height()
    # tapping still stores pointers as before
    tap(qtbot, page, "97110", "A")
    assert page.on_finalize()
    assert {ln.code: ln.diagnosis_pointers for ln in clinic.repo.charge_lines(visit.id)} == {
        "97112": ("A", "B"), "97110": ("B",)}


def test_many_diagnoses_show_letters_but_still_name_them(qtbot, described, clinic, clock):
    page = described
    visit = timed_visit(clinic, clock, SIX)
    page.load(visit.id)
    toggles = toggles_for(page, "97112")
    assert not toggles.show_codes  # six codes would squeeze the service column
    assert [b.text() for b in toggles.buttons.values()] == list("ABCDEF")
    assert toggles.buttons["A"].accessibleName() == "A: M54.50 Low back pain, unspecified"
    # a code the describer does not know is still named by its code
    assert toggles.buttons["F"].accessibleName() == "F: S83.511A"
    assert toggles.buttons["F"].toolTip().startswith("F: S83.511A\n")
    assert page.table.columnWidth(POINT_COLUMN) <= CODES_MAX_WIDTH
    tap(qtbot, page, "97112", "A")
    tap(qtbot, page, "97112", "E")
    assert dx_cells(page)["97112"] == "BCDE"


def test_the_default_review_names_codes_without_the_icd_index(page, clinic, clock):
    """No index built yet (a fresh cache): the toggles still name each code."""
    visit = timed_visit(clinic, clock)
    page.load(visit.id)
    button = toggles_for(page, "97112").buttons["B"]
    assert button.text() == "B R26.89"
    assert button.accessibleName() == "B: R26.89"


def test_codes_show_only_where_they_fit_the_window(qtbot, described, clinic, clock):
    """At the narrowest window four long codes would squeeze the service column: the toggles
    show letters; widened, they show the codes. The table never needs a sideways scroll."""
    page = described
    visit = timed_visit(clinic, clock, ["M25.561", "R26.89", "M54.50", "S83.511A"])
    page.resize(1024, 700)  # the main window's minimum size
    page.load(visit.id)
    toggles = toggles_for(page, "97112")

    def fits() -> bool:
        header = page.table.horizontalHeader()
        return header.length() <= page.table.viewport().width()

    qtbot.waitUntil(lambda: not toggles.show_codes and fits(), timeout=2000)
    assert [b.text() for b in toggles.buttons.values()] == list("ABCD")
    assert toggles.buttons["D"].accessibleName().startswith("D: S83.511A")
    page.resize(1280, 760)
    qtbot.waitUntil(lambda: toggles.show_codes and fits(), timeout=2000)
    assert toggles.buttons["D"].text() == "D S83.511A"
    assert page.table.columnWidth(POINT_COLUMN) >= toggles.sizeHint().width()
    assert all(t.show_codes for t in page.toggles)
    tap(qtbot, page, "97112", "D")  # still taps as before, at either width
    assert dx_cells(page)["97112"] == "ABC"


def test_twelve_diagnoses_wrap_to_a_second_row_and_never_scroll_sideways(qtbot, described,
                                                                         clinic, clock):
    """The most a claim holds (A-L) at the narrowest window: letters in two rows of six, the
    table as wide as its viewport, and every toggle still taps."""
    twelve = ["M54.50", "R26.89", "M25.561", "M62.81", "Z96.651", "S83.511A", "M25.562",
              "M79.604", "R53.1", "M62.830", "Z74.09", "R29.6"]
    page = described
    visit = timed_visit(clinic, clock, twelve)
    page.resize(1024, 700)
    page.load(visit.id)
    toggles = toggles_for(page, "97112")
    header = page.table.horizontalHeader()
    qtbot.waitUntil(lambda: header.length() <= page.table.viewport().width(), timeout=2000)
    buttons = toggles.buttons
    assert list(buttons) == list("ABCDEFGHIJKL") and not toggles.show_codes
    assert {buttons[x].y() for x in "ABCDEF"} == {buttons["A"].y()}
    assert {buttons[x].y() for x in "GHIJKL"} == {buttons["G"].y()} != {buttons["A"].y()}
    assert buttons["G"].x() == buttons["A"].x()
    row = page.model.rows().index(next(r for r in page.model.rows() if r.code == "97112"))
    assert page.table.rowHeight(row) >= toggles.sizeHint().height()
    assert buttons["L"].accessibleName().startswith("L: R29.6")
    assert dx_cells(page)["97112"] == "ABCD"  # by default the first four
    tap(qtbot, page, "97112", "D")
    tap(qtbot, page, "97112", "L")  # a toggle on the second row taps like any other
    assert dx_cells(page)["97112"] == "ABCL"
