"""The treatment room (issue 16, items 10-11): a code from "Any other code" gets its own tile,
the keyboard comes back to the tiles, and the four across-the-room numbers are never clipped
when the pause banner and notices stack up at 1366 x 768 and 1024 x 700."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect, QSettings, Qt

from tests.ui.shots import saved_shot
from therapy_timer.ui.tiles import DONE, RUNNING
from therapy_timer.ui.visit_dialogs import TechniqueDialog
from therapy_timer.ui.visit_widgets import Notice

LEFT = Qt.MouseButton.LeftButton


def type_code(qtbot, panel, text):
    panel.search.setFocus()
    qtbot.waitUntil(panel.search.hasFocus, timeout=2000)
    qtbot.keyClicks(panel.search, text)
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.keyClick(panel.search, Qt.Key.Key_Return)


def test_any_other_code_gets_a_tile_that_runs_and_stops_on_its_own(qtbot, panel, clock,
                                                                   clinic, visit):
    assert "97113" not in panel.tiles.tiles
    type_code(qtbot, panel, "97113")  # aquatic therapy: not among the PT tiles
    tile = panel.tiles.tiles["97113"]
    assert tile.isVisible()
    assert "Added for this visit" in tile.toolTip()
    clock.advance(minutes=9)
    panel.controller.tick()
    # The tile shows its minutes and units like the others, and the totals count them.
    assert (tile.seconds, tile.units, tile.state) == (9 * 60, 1, RUNNING)
    assert panel.totals.units.value.text() == "1"
    # The keyboard is back on the tiles: the box is empty, digits and Space work again.
    assert panel.search.text() == ""
    assert not panel.search.hasFocus()
    focused = panel.focusWidget()
    assert focused is panel.tiles or panel.tiles.isAncestorOf(focused)
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.keyClick(panel.focusWidget(), Qt.Key.Key_Space)
    assert panel.controller.paused
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.keyClick(panel.focusWidget(), Qt.Key.Key_Space)
    assert [i.code for i in clinic.repo.running_intervals()] == ["97113"]
    # It stops alone, by its own tile.
    clock.advance(minutes=1)
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(tile, LEFT)
    assert clinic.repo.running_intervals() == []
    assert tile.state == DONE and tile.seconds == 10 * 60
    # A digit starts tile 1 (the keyboard reaches the tiles, not the box).
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.keyClick(panel.focusWidget(), "1")
    assert [i.code for i in clinic.repo.running_intervals()] == [panel.tiles.tile_at(1).code]
    assert panel.search.text() == ""
    # The tile is read from the store: reopening the visit still shows it, with its time.
    panel.controller.close_visit()
    panel.controller.open_visit(visit.id)
    panel.controller.timer.stop()
    panel.load()
    assert panel.tiles.tiles["97113"].seconds == 10 * 60
    # Other visits keep the provider's own tiles.
    other = clinic.repo.start_visit(clinic.patient2.id, clinic.pt2.id, None, clock.now())
    panel.controller.open_visit(other.id)
    panel.controller.timer.stop()
    panel.load()
    assert "97113" not in panel.tiles.tiles


def test_escape_leaves_the_box_so_digits_tap_tiles_again(qtbot, panel, clinic):
    panel.search.setFocus()
    qtbot.waitUntil(panel.search.hasFocus, timeout=2000)
    qtbot.keyClicks(panel.search, "97")
    assert panel.search.text() == "97" and clinic.repo.running_intervals() == []
    qtbot.keyClick(panel.search, Qt.Key.Key_Escape)
    if panel.search.hasFocus():  # the first Escape closed the completer's list
        qtbot.keyClick(panel.search, Qt.Key.Key_Escape)
    assert not panel.search.hasFocus()
    assert panel.search.text() == ""
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.keyClick(panel.focusWidget(), "2")
    assert [i.code for i in clinic.repo.running_intervals()] == [panel.tiles.tile_at(2).code]


def test_a_code_that_matches_nothing_keeps_the_box_to_correct_it(qtbot, panel, monkeypatch):
    from therapy_timer.ui.dialogs import Ask

    seen = []
    monkeypatch.setattr(Ask, "warn", classmethod(lambda cls, p, title, text: seen.append(text)))
    panel.search.setFocus()
    qtbot.keyClicks(panel.search, "zzz no such")
    qtbot.keyClick(panel.search, Qt.Key.Key_Return)
    assert seen and "zzz no such" in seen[0]
    assert panel.search.text() == "zzz no such"  # the typing is kept to fix it


# -- item 11: the numbers across the room ------------------------------------------------------

LONG_JUMP = ("While 97530, 97140 ran, the computer slept or its clock jumped ahead (23 min "
             "unaccounted for) after 12:59. Confirm the time, or stop the timer at the last "
             "certain moment.")


def _crowded_visit(qtbot, clinic, clock, tmp_path, size, monkeypatch, patient=None,
                   plan=None):
    """The visit screen at ``size``: paused with three codes (the longest banner the pause
    writes), a clock-jump question with its two buttons and two more notices."""
    from therapy_timer.ui.main_window import MainWindow

    monkeypatch.setattr(TechniqueDialog, "ask", classmethod(
        lambda cls, parent, code, **_kw: ("Joint mobilization", "Knee")))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(clinic.repo, clock, settings=settings)
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    visit = clinic.repo.start_visit((patient or clinic.patient).id, clinic.pt.id,
                                    (plan or clinic.plan).id, clock.now())
    win.show_visit(visit.id)
    win.controller.timer.stop()
    panel = win.visit_panel
    for code in ("97140", "97530"):
        with qtbot.waitSignal(panel.controller.changed, timeout=2000):
            qtbot.mouseClick(panel.tiles.tiles[code], LEFT)
        clock.advance(minutes=12)
    for code in ("97010", "97014"):  # run alongside 97530
        with qtbot.waitSignal(panel.controller.changed, timeout=2000):
            qtbot.mouseClick(panel.tiles.tiles[code], LEFT)
    clock.advance(minutes=3)
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.pause_button, LEFT)
    assert panel.controller.paused_codes == ("97530", "97010", "97014")
    notices = [
        Notice("jump", LONG_JUMP, "error", [("Time is right", lambda: None),
                                             ("Stop at 12:59", lambda: None)]),
        Notice("suggest", "97140: XU (distinct service) suggested on 1 unit; you confirm it "
               "at finish.", "info"),
        Notice("progress", "Progress report due: this is treatment day 10 since the last "
               "progress report.", "warn"),
    ]
    panel.notices.set_notices(notices)
    panel.notice_scroll.setVisible(True)
    qtbot.waitUntil(lambda: panel.notices.minimumHeight() > 0, timeout=2000)
    qtbot.wait(50)  # the scroll area and the column settle
    return win, panel


def _inside(widget, ancestor) -> bool:
    """``widget``'s whole rectangle is inside ``ancestor`` and every parent between."""
    child = widget
    rect = QRect(QPoint(0, 0), widget.size())
    while child is not ancestor:
        parent = child.parentWidget()
        rect = rect.translated(child.pos())
        if not QRect(QPoint(0, 0), parent.size()).contains(rect):
            return False
        child = parent
    return True


@pytest.mark.parametrize("size", [(1366, 768), (1024, 700)])
def test_the_four_numbers_are_never_clipped_by_banner_and_notices(qtbot, clinic, clock,
                                                                   tmp_path, size, shots,
                                                                   monkeypatch):
    win, panel = _crowded_visit(qtbot, clinic, clock, tmp_path, size, monkeypatch)
    assert (win.width(), win.height()) == size
    saved_shot(win, shots / f"visit-crowded-{size[0]}x{size[1]}.png")
    banner = panel.now_running
    assert banner.text().startswith("PAUSED since")
    assert "97530, 97010, 97014" in banner.text()
    assert banner.height() >= banner.heightForWidth(banner.width())  # every line shows
    assert _inside(banner, win)
    expected_px = {"total_units": 64, "next_unit": 52, "timed_minutes": 52,
                   "treatment_time": 52}
    for box in panel.totals.numbers():
        value = box.value
        # The number keeps its across-the-room size ...
        assert value.font().pixelSize() == expected_px[box.objectName()]
        # ... and all of it shows: its label is as tall as its text, inside the window.
        assert value.height() >= value.sizeHint().height(), box.objectName()
        assert value.visibleRegion().boundingRect() == value.rect(), box.objectName()
        assert _inside(value, win), box.objectName()
    # The notices scroll instead: each keeps the height of its wrapped text.
    for notice in panel.notices.notices.values():
        assert notice.height() >= notice.heightForWidth(notice.width()) - 1, notice.key
        assert notice.label.height() >= notice.label.heightForWidth(notice.label.width())
    scroll = panel.notice_scroll
    if panel.notices.height() > scroll.viewport().height():
        assert scroll.verticalScrollBar().isVisible()
        assert scroll.verticalScrollBar().maximum() > 0
    # The last notice can be scrolled into view and read.
    last = list(panel.notices.notices.values())[-1]
    scroll.ensureWidgetVisible(last)
    qtbot.wait(10)
    assert not last.visibleRegion().isEmpty()
    # Nothing else in the column pushes out of the window, or lies over another.
    column = [panel.now_running, panel.totals, scroll, panel.edit_button, panel.table]
    for widget in column:
        assert _inside(widget, win), widget.objectName() or widget.accessibleName()
    for upper, lower in zip(column, column[1:], strict=False):
        assert upper.geometry().bottom() < lower.geometry().top(), (upper, lower)


def test_a_long_name_wraps_whole_and_the_numbers_stay_whole(qtbot, clinic, clock, tmp_path,
                                                            shots, monkeypatch):
    """The smallest window, crowded, with a name that wraps to three lines: the name shows
    whole, the numbers keep their size, the notices scroll and the table steps aside."""
    import dataclasses
    from datetime import date

    from PySide6.QtGui import QFontMetrics

    from therapy_timer.core.records import Patient

    patient = clinic.repo.save_patient(Patient("Maximiliana", "Featherstonehaugh-Brightmoor",
                                               date(1950, 1, 1), chart_number="T9"))
    plan = clinic.repo.save_plan(dataclasses.replace(clinic.plan, id=None,
                                                     patient_id=patient.id))
    win, panel = _crowded_visit(qtbot, clinic, clock, tmp_path, (1024, 700), monkeypatch,
                                patient, plan)
    saved_shot(win, shots / "visit-crowded-long-name-1024x700.png")
    title = panel.title
    assert title.text() == "Featherstonehaugh-Brightmoor, Maximiliana"
    inner = title.contentsRect()
    lines = title.fontMetrics().boundingRect(QRect(0, 0, inner.width(), 100_000),
                                             int(Qt.TextFlag.TextWordWrap), title.text())
    assert lines.height() >= 2 * title.fontMetrics().lineSpacing()  # it does wrap
    assert inner.height() >= lines.height()  # and every line shows
    metrics = QFontMetrics(title.font())
    longest = max(metrics.horizontalAdvance(w) for w in
                  title.text().replace("-", "- ").split())
    assert longest <= title.contentsRect().width()  # no word cut at the edge
    assert _inside(title, win)
    for box in panel.totals.numbers():
        assert box.value.height() >= box.value.sizeHint().height(), box.objectName()
        assert box.value.font().pixelSize() in (52, 64)
        assert _inside(box.value, win)
    column = [w for w in (panel.now_running, panel.totals, panel.notice_scroll,
                          panel.edit_button, panel.table) if w.isVisible()]
    assert panel.notice_scroll in column
    for upper, lower in zip(column, column[1:], strict=False):
        assert upper.geometry().bottom() < lower.geometry().top(), (upper, lower)
    for widget in column:
        assert _inside(widget, win)
    # With room again (a bigger window), the recorded-time table is back.
    win.resize(1366, 900)
    qtbot.waitUntil(panel.table.isVisible, timeout=2000)
    # The next patient's short name takes one line again: the header gives the room back.
    short = clinic.repo.start_visit(clinic.patient2.id, clinic.pt.id, None, clock.now())
    win.show_visit(short.id)
    win.controller.timer.stop()
    qtbot.wait(20)
    assert title.text() == "Example, Ben"
    assert title.height() >= title.heightForWidth(title.width())
    assert title.height() < 2 * QFontMetrics(title.font()).lineSpacing()


@pytest.mark.parametrize("size", [(1366, 768), (1024, 700)])
def test_a_fourth_row_of_tiles_still_fits(qtbot, clinic, clock, tmp_path, size, shots,
                                          monkeypatch):
    """Codes added from "Any other code" make a fourth row: every tile stays whole."""
    win, panel = _crowded_visit(qtbot, clinic, clock, tmp_path, size, monkeypatch)
    for code in ("97113", "97750"):
        panel.search.setFocus()
        qtbot.keyClicks(panel.search, code)
        with qtbot.waitSignal(panel.controller.changed, timeout=2000):
            qtbot.keyClick(panel.search, Qt.Key.Key_Return)
    assert len(panel.tiles.tiles) == 14
    qtbot.wait(20)
    saved_shot(win, shots / f"visit-fourth-row-{size[0]}x{size[1]}.png")
    qtbot.wait(20)
    for tile in panel.tiles.tiles.values():
        assert _inside(tile, win), tile.code
        assert tile.height() >= tile.minimumHeight()
    assert _inside(panel.search, win)
    for box in panel.totals.numbers():
        assert box.value.height() >= box.value.sizeHint().height()


# -- item 12: which assistant? -----------------------------------------------------------------


def _drive_assistant_dialog(qtbot, monkeypatch, pick=None, cancel=False, seen=None):
    """Answers the real "Which PTA?" dialog by clicking it: ``pick`` (a name) or the row it
    highlights (the station's last choice), then its button."""
    from therapy_timer.ui.assistant import AssistantDialog

    def exec_(dialog):
        dialog.show()
        qtbot.waitExposed(dialog)
        rows = [dialog.list.item(n).text() for n in range(dialog.list.count())]
        if seen is not None:
            seen.append((dialog.windowTitle(), rows, dialog.list.currentItem().text()))
        if cancel:
            qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Cancel), LEFT)
        else:
            if pick is not None:
                item = dialog.list.findItems(pick, Qt.MatchFlag.MatchStartsWith)[0]
                rect = dialog.list.visualItemRect(item)
                qtbot.mouseClick(dialog.list.viewport(), LEFT, pos=rect.center())
            qtbot.mouseClick(dialog.ok_button, LEFT)
        return dialog.result()

    monkeypatch.setattr(AssistantDialog, "exec", exec_)


def test_the_pta_switch_asks_which_assistant_and_the_superbill_names_them(
        qtbot, clinic, clock, tmp_path, monkeypatch):
    import io

    import pypdf

    from therapy_timer.core.model import Discipline, Performer
    from therapy_timer.core.records import Provider
    from therapy_timer.core.superbill_build import superbill_for_visit
    from therapy_timer.pdf.superbill_pdf import render_superbill
    from therapy_timer.ui.session_controller import SessionController
    from therapy_timer.ui.visit_panel import VisitPanel

    repo = clinic.repo
    sam = repo.save_provider(Provider("Sam Aide", Discipline.PT, Performer.PTA,
                                      supervisor_id=clinic.pt2.id))
    settings = QSettings(str(tmp_path / "station.ini"), QSettings.Format.IniFormat)

    def open_panel(visit):
        controller = SessionController(repo, clock)
        panel = VisitPanel(controller, settings=settings)
        qtbot.addWidget(panel)
        controller.open_visit(visit.id)
        controller.timer.stop()
        panel.load()
        panel.resize(1280, 760)
        panel.show()
        qtbot.waitExposed(panel)
        return panel

    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, clock.now())
    panel = open_panel(visit)
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.tiles.tiles["97110"], LEFT)
    clock.advance(minutes=10)
    # Cancelling the question leaves the therapist on the clock.
    _drive_assistant_dialog(qtbot, monkeypatch, cancel=True)
    qtbot.mouseClick(panel.performer_buttons[Performer.PTA], LEFT)
    assert panel.performer_buttons[Performer.PT].isChecked()
    assert [(i.performer, i.end) for i in repo.intervals_for(visit.id)] == [
        (Performer.PT, None)]
    # The PTA switch asks which PTA: the clinic's PTAs (no PT, no OT), one picked.
    seen = []
    _drive_assistant_dialog(qtbot, monkeypatch, pick="Sam Aide", seen=seen)
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.performer_buttons[Performer.PTA], LEFT)
    assert seen == [("Which PTA?", ["Lee Test, PTA", "Sam Aide, PTA"], "Lee Test, PTA")]
    assert panel.performer_buttons[Performer.PTA].isChecked()
    assert "assistant: Sam Aide, PTA" in panel.subtitle.text()
    clock.advance(minutes=25)
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.tiles.tiles["97110"], LEFT)
    # Stored: who performed each part.
    rows = [(i.performer, i.provider_id, i.interval.seconds()) for i in
            repo.intervals_for(visit.id)]
    assert rows == [(Performer.PT, clinic.pt.id, 600), (Performer.PTA, sam.id, 1500)]
    # Finalized with CQ, the superbill names the assistant and the supervising therapist.
    repo.set_diagnoses(visit.id, ["M25.561"], validate=False)
    repo.finalize_visit(visit.id, None, "Dana Test, PT", clock.now())
    assert any("CQ" in line.modifiers for line in repo.charge_lines(visit.id))
    data = superbill_for_visit(repo, visit.id)
    [reason] = data.documentation.assistant
    assert reason.furnished_by == "Assistant: Sam Aide, PTA — supervised by Dana Test, PT"
    out = io.BytesIO()
    render_superbill(data, out)
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(
        io.BytesIO(out.getvalue())).pages).split())
    assert "Assistant: Sam Aide, PTA — supervised by Dana Test, PT" in text

    # The station remembers its assistant: the next visit's question highlights Sam, and
    # one click on its button is all it takes.
    visit2 = repo.start_visit(clinic.patient2.id, clinic.pt.id, None, clock.now())
    panel2 = open_panel(visit2)
    seen = []
    _drive_assistant_dialog(qtbot, monkeypatch, seen=seen)
    qtbot.mouseClick(panel2.performer_buttons[Performer.PTA], LEFT)
    assert seen[0][2] == "Sam Aide, PTA"
    with qtbot.waitSignal(panel2.controller.changed, timeout=2000):
        qtbot.mouseClick(panel2.tiles.tiles["97112"], LEFT)
    [interval] = repo.intervals_for(visit2.id)
    assert (interval.performer, interval.provider_id) == (Performer.PTA, sam.id)
    # Pause and Resume keep the assistant.
    clock.advance(minutes=5)
    with qtbot.waitSignal(panel2.controller.changed, timeout=2000):
        qtbot.mouseClick(panel2.pause_button, LEFT)
    with qtbot.waitSignal(panel2.controller.changed, timeout=2000):
        qtbot.mouseClick(panel2.pause_button, LEFT)
    resumed = [i for i in repo.intervals_for(visit2.id) if i.end is None]
    assert [(i.performer, i.provider_id) for i in resumed] == [(Performer.PTA, sam.id)]
    # Leaving and reopening the visit while Sam's timer runs: Sam is still on the clock.
    panel2.controller.close_visit()
    panel3 = open_panel(visit2)
    assert panel3.performer_buttons[Performer.PTA].isChecked()
    assert "assistant: Sam Aide, PTA" in panel3.subtitle.text()
    clock.advance(minutes=5)
    with qtbot.waitSignal(panel3.controller.changed, timeout=2000):
        qtbot.mouseClick(panel3.tiles.tiles["97110"], LEFT)  # switches, same assistant
    running = [i for i in repo.intervals_for(visit2.id) if i.end is None]
    assert [(i.code, i.performer, i.provider_id) for i in running] == [
        ("97110", Performer.PTA, sam.id)]


# -- item 13: the smaller things -------------------------------------------------------------


def test_manual_therapy_starts_empty_then_offers_the_patients_last(qtbot, panel, clinic,
                                                                    clock, visit, monkeypatch):
    seen = []

    def drive(technique=None, region=None):
        def exec_(dialog):
            dialog.show()
            qtbot.waitExposed(dialog)
            seen.append((dialog.answer(), dialog.start_button.isEnabled(),
                         dialog.note.text()))
            for combo, text in ((dialog.technique, technique), (dialog.region, region)):
                if text is not None:
                    combo.lineEdit().selectAll()
                    qtbot.keyClicks(combo.lineEdit(), text)
            qtbot.mouseClick(dialog.start_button, LEFT)
            return dialog.result()
        monkeypatch.setattr(TechniqueDialog, "exec", exec_)

    # The first time: nothing is pre-filled, and Start waits for both answers.
    drive(region="Knee")  # only the region: Start stays disabled, nothing starts
    qtbot.mouseClick(panel.tiles.tiles["97140"], LEFT)
    assert seen[-1] == (("", ""), False, "")
    assert clinic.repo.running_intervals() == []
    drive("Joint mobilization", "Knee")
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.tiles.tiles["97140"], LEFT)
    [interval] = clinic.repo.running_intervals()
    assert (interval.technique, interval.body_region) == ("Joint mobilization", "Knee")
    clock.advance(minutes=8)
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.tiles.tiles["97140"], LEFT)  # stop
    # Next time for this patient: last time's answers, ready to confirm with one tap.
    drive()
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.tiles.tiles["97140"], LEFT)
    assert seen[-1] == (("Joint mobilization", "Knee"), True, "Last time for this patient.")
    assert [(i.technique, i.body_region) for i in clinic.repo.running_intervals()] == [
        ("Joint mobilization", "Knee")]
    # Another patient starts empty again.
    other = clinic.repo.start_visit(clinic.patient2.id, clinic.pt2.id, None, clock.now())
    panel.controller.open_visit(other.id)
    panel.controller.timer.stop()
    panel.load()
    drive("Myofascial release", "Shoulder")
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.tiles.tiles["97140"], LEFT)
    assert seen[-1][0] == ("", "")


def test_the_station_remembers_its_provider(qtbot, clinic, clock, tmp_path):
    from therapy_timer.core.model import Discipline, Performer
    from therapy_timer.core.records import Provider
    from therapy_timer.ui.today import TodayPage

    # An assistant whose name sorts first, as the OTA did.
    clinic.repo.save_provider(Provider("Aaron First, OTA", Discipline.OT, Performer.OTA))
    settings = QSettings(str(tmp_path / "station.ini"), QSettings.Format.IniFormat)

    def page():
        today = TodayPage(clinic.repo, clock, settings=settings)
        qtbot.addWidget(today)
        today.refresh()
        today.show()
        qtbot.waitExposed(today)
        return today

    first = page()
    # Nothing remembered yet: the first therapist listed, never an assistant (the issue saw an
    # OTA offered first on every start).
    assert first.provider.itemText(0) == "Aaron First, OTA"
    assert first.provider.currentText() == "Dana Test, PT"
    robin = first.provider.findData(clinic.pt2.id)
    first.provider.setFocus()
    while first.provider.currentIndex() != robin:  # the keyboard, as a user picks
        qtbot.keyClick(first.provider, Qt.Key.Key_Down)
    first.results.setCurrentRow(0)
    qtbot.mouseClick(first.start_button, LEFT)
    started = clinic.repo.open_visits()[-1]
    assert started.provider_id == clinic.pt2.id
    first._search_timer.stop()
    # The next start of the app on this computer offers Robin first.
    second = page()
    assert second.provider.currentData() == clinic.pt2.id
    second._search_timer.stop()
    # Another workstation has its own memory.
    other = TodayPage(clinic.repo, clock, settings=QSettings(
        str(tmp_path / "other.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(other)
    other.refresh()
    assert other.provider.currentText() == "Dana Test, PT"
    other._search_timer.stop()


@pytest.mark.parametrize("saved", [None, (1600, 1000)])
def test_the_window_fits_a_1366x768_screen_and_shows_start_visit(qtbot, clinic, clock,
                                                                  tmp_path, monkeypatch,
                                                                  saved, shots):
    from PySide6.QtCore import QSize

    from therapy_timer.ui import main_window
    from therapy_timer.ui.main_window import MainWindow

    area = QRect(0, 0, 1366, 728)  # a 1366 x 768 screen less a 40-px task bar
    monkeypatch.setattr(main_window, "available_geometry", lambda w: area)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    if saved:
        settings.setValue("window/size", QSize(*saved))
        settings.setValue("window/geometry", None)
    win = MainWindow(clinic.repo, clock, settings=settings)
    qtbot.addWidget(win)
    win.show()
    win.start()
    qtbot.waitExposed(win)
    assert area.contains(win.frameGeometry())
    assert win.width() <= 1366 and win.height() <= 728
    assert win.height() >= 600  # still a useful size
    saved_shot(win, shots / f"today-fit-1366x768-{'saved' if saved else 'new'}.png")
    button = win.today.start_button
    assert button.isVisible()
    assert _inside(button, win)
    assert button.visibleRegion().boundingRect() == button.rect()


def _fake_close(spontaneous=True):
    class Close:
        ignored = False

        def spontaneous(self):
            return spontaneous

        def ignore(self):
            self.ignored = True

    return Close()


def test_quitting_with_timers_running_asks_first(qtbot, clinic, clock, tmp_path, monkeypatch):
    from therapy_timer.ui.dialogs import Ask
    from therapy_timer.ui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(clinic.repo, clock, settings=settings)
    qtbot.addWidget(win)
    win.resize(1280, 760)
    win.show()
    win.start()
    asked = []

    def answer(reply):
        def confirm(cls, parent, title, text, **buttons):
            asked.append((title, text, buttons))
            return reply
        monkeypatch.setattr(Ask, "confirm", classmethod(confirm))

    # Nothing runs: Ctrl+Q quits without a question.
    answer(False)
    assert win.confirm_quit() and asked == []
    win.today.set_provider(clinic.pt.id)
    win.today.start_for(clinic.patient.id)
    win.controller.timer.stop()
    with qtbot.waitSignal(win.controller.changed, timeout=2000):
        qtbot.mouseClick(win.visit_panel.tiles.tiles["97110"], LEFT)
    # Ctrl+Q (File > Quit) asks, and "Stay open" keeps the window and the timer.
    win.activateWindow()
    qtbot.keyClick(win.visit_panel, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    if not asked:  # the platform did not deliver the shortcut: the menu item does the same
        win.quit_action.trigger()
    [(title, text, buttons)] = asked
    assert title == "Timers are running"
    assert "1 timer is running (97110)" in text
    assert "keeps its recorded start" in text and "When Therapy Timer opens again" in text
    assert buttons == {"yes": "Quit, timers keep running", "no": "Stay open"}
    assert win.isVisible()
    assert [i.code for i in clinic.repo.running_intervals()] == ["97110"]
    # The window's close button asks the same question.
    event = _fake_close()
    win.closeEvent(event)
    assert event.ignored and len(asked) == 2 and win.isVisible()
    # Quitting anyway closes the window; the timer stays running in the store.
    answer(True)
    assert win.request_quit()
    assert not win.isVisible()
    assert [i.code for i in clinic.repo.running_intervals()] == ["97110"]


def test_first_run_asks_the_clinics_time_zone(qtbot, repo):
    from therapy_timer.ui.first_run import SETUP, FirstRunDialog, computer_zone

    dialog = FirstRunDialog(repo)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.timezone.isVisible()
    assert dialog.timezone.currentText() == computer_zone()  # the computer's zone offered
    qtbot.keyClicks(dialog.practice, "Lakeside Test Rehab")
    qtbot.keyClicks(dialog.provider, "Sam Test, PT")
    dialog.timezone.lineEdit().selectAll()
    qtbot.keyClicks(dialog.timezone.lineEdit(), "Mars/Olympus")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert "Mars/Olympus is not a time zone" in dialog.error.text()
    assert repo.get_practice() is None  # nothing saved
    dialog.timezone.lineEdit().selectAll()
    qtbot.keyClicks(dialog.timezone.lineEdit(), "America/Denver")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.outcome == SETUP
    assert repo.get_practice().timezone == "America/Denver"
    assert str(repo.clinic_zone()) == "America/Denver"


def test_the_review_shows_xu_evidence_in_clinic_time(qtbot, clinic, clock):
    from PySide6.QtWidgets import QLabel

    from therapy_timer.core.model import Performer
    from therapy_timer.core.records import Practice
    from therapy_timer.ui.clock import set_display_zone
    from therapy_timer.ui.finalize import FinalizePage

    repo = clinic.repo
    repo.save_practice(Practice("Harbor Test Therapy", timezone="America/Chicago"))
    set_display_zone(repo.clinic_zone())
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, clock.now())
    repo.start_interval(visit.id, "97530", Performer.PT, clock.now())  # 14:00 UTC
    clock.advance(minutes=12)
    repo.start_interval(visit.id, "97140", Performer.PT, clock.now(),
                        technique="Joint mobilization", body_region="Knee")
    clock.advance(minutes=12)
    repo.pause_visit(visit.id, clock.now())
    repo.set_diagnoses(visit.id, ["M25.561"], validate=False)
    page = FinalizePage(repo, clock)
    qtbot.addWidget(page)
    page.user = "Dana Test, PT"
    page.load(visit.id)
    texts = [label.text() for label in page.findChildren(QLabel) if "Evidence:" in label.text()]
    assert texts, "no XU suggestion with evidence on the review"
    # 14:00 UTC is 8:00 AM in Chicago (CST), written as the superbill writes its times.
    assert "97530: 8:00–8:12 AM" in texts[0] and "97140: 8:12–8:24 AM" in texts[0]
    assert "14:00" not in texts[0]
    [box] = [box for box, key in page.checks if key[1] in ("XU", "59")]
    assert "97530: 8:00–8:12 AM" in box.toolTip()


@pytest.fixture
def icd_source(qtbot, icd_cache):
    from therapy_timer.ui.diagnoses import IcdIndexSource
    from therapy_timer.ui.workers import Worker

    worker = Worker()
    source = IcdIndexSource(worker, icd_cache)
    with qtbot.waitSignal(source.ready, timeout=20000):
        source.start()
    yield source
    source.index().close()
    worker.shutdown()


def test_enter_in_diagnoses_adds_one_code_and_only_a_button_closes(qtbot, icd_source):
    from therapy_timer.ui.main_window import DiagnosesDialog

    dialog = DiagnosesDialog(icd_source, ["M25.561"])
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    picker = dialog.picker
    for code in ("R26.89", "M62.81"):
        picker.search.setFocus()
        picker.search.clear()
        qtbot.keyClicks(picker.search, code)
        qtbot.keyClick(picker.search, Qt.Key.Key_Return)
        assert dialog.isVisible(), f"Enter after {code} closed the dialog"
        assert dialog.result() == 0
    assert picker.diagnoses() == ["M25.561", "R26.89", "M62.81"]
    qtbot.keyClick(picker.search, Qt.Key.Key_Enter)  # the keypad's Enter does not close it
    assert dialog.isVisible()
    assert dialog.save_button.text() == "Save and close"
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert not dialog.isVisible()
    assert dialog.result() == dialog.DialogCode.Accepted
    assert picker.diagnoses() == ["M25.561", "R26.89", "M62.81"]
