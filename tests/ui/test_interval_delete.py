"""A mistaken tap is deleted from Edit time…: the dialog asks the reason, confirms, and the tile,
the totals and the table drop it; the store keeps it as deleted, with the reason, audited."""

from __future__ import annotations

from PySide6.QtCore import Qt

from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.tiles import IDLE
from therapy_timer.ui.visit_dialogs import IntervalEditDialog

LEFT = Qt.MouseButton.LeftButton


def tap(qtbot, panel, code):
    with qtbot.waitSignal(panel.controller.changed, timeout=2000):
        qtbot.mouseClick(panel.tiles.tiles[code], LEFT)


def drive_edit_dialog(qtbot, panel, monkeypatch, steps):
    """Clicks Edit time…; the real dialog it builds is shown (not run modally: the test is
    the user) and ``steps(dialog)`` works its widgets; its answer goes back to the panel."""
    seen = []

    def ask(cls, parent, interval, performers):
        dialog = cls(interval, performers, parent)
        qtbot.addWidget(dialog)
        dialog.show()
        seen.append(dialog)
        steps(dialog)
        if dialog.result() != 1:
            dialog.reject()
            return None
        return dialog.result_edit()

    monkeypatch.setattr(IntervalEditDialog, "ask", classmethod(ask))
    qtbot.mouseClick(panel.edit_button, LEFT)
    assert seen, "Edit time… opened no dialog"
    return seen[0]


def test_delete_a_mistaken_tap_from_edit_time(qtbot, panel, clock, clinic, visit, monkeypatch):
    tap(qtbot, panel, "97110")
    clock.advance(minutes=20)
    tap(qtbot, panel, "97530")  # the wrong tile: 97110 stops, 97530 runs
    clock.advance(minutes=9)
    panel.on_tick()
    assert panel.totals.units.value.text() == "2"  # 29 timed minutes
    wrong = next(i for i in clinic.repo.intervals_for(visit.id) if i.code == "97530")
    asked = []

    def confirm(cls, parent, title, text, **kw):
        asked.append(text)
        return True

    monkeypatch.setattr(Ask, "confirm", classmethod(confirm))
    panel.table.selectRow(1)

    errors = []

    def no_reason_then_reason(dialog):
        qtbot.mouseClick(dialog.delete_button, LEFT)  # no reason yet: refused, still open
        errors.append(dialog.error.text())
        assert dialog.isVisible() and not asked
        qtbot.keyClicks(dialog.reason, "tapped the wrong tile")
        qtbot.mouseClick(dialog.delete_button, LEFT)

    dialog = drive_edit_dialog(qtbot, panel, monkeypatch, no_reason_then_reason)
    assert "reason" in errors[0].lower()
    assert asked and "97530" in asked[0] and "still running" in asked[0]
    assert "audit log" in asked[0]
    assert dialog.result() == 1
    # What the user sees: the tile, the totals and the table without it.
    panel.on_tick()
    assert panel.tiles.tiles["97530"].state == IDLE
    assert panel.tiles.tiles["97110"].units == 1
    assert panel.totals.units.value.text() == "1"
    assert panel.totals.timed.value.text() == "20"
    assert panel.interval_model.rowCount() == 1
    # What is stored: kept, marked deleted with the reason, audited, counting nothing.
    assert [i.code for i in clinic.repo.intervals_for(visit.id)] == ["97110"]
    [gone] = clinic.repo.deleted_intervals(visit.id)
    assert gone.id == wrong.id and gone.delete_reason == "tapped the wrong tile"
    assert gone.end == clock.now()  # it was running: stopped, then deleted
    assert clinic.repo.running_intervals() == []
    entry = clinic.repo.audit_entries("interval", wrong.id)[0]
    assert entry.action == "delete_interval" and "tapped the wrong tile" in entry.detail
    assert clinic.repo.bill_visit(visit.id, clock.now()).total_units == 1


def test_keep_it_deletes_nothing(qtbot, panel, clock, clinic, visit, monkeypatch):
    tap(qtbot, panel, "97110")
    clock.advance(minutes=10)
    tap(qtbot, panel, "97110")
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *a, **k: False))
    panel.table.selectRow(0)

    def answer_keep(dialog):
        qtbot.keyClicks(dialog.reason, "not sure")
        qtbot.mouseClick(dialog.delete_button, LEFT)
        assert dialog.isVisible()  # "Keep it": back to the dialog

    drive_edit_dialog(qtbot, panel, monkeypatch, answer_keep)
    assert [i.code for i in clinic.repo.intervals_for(visit.id)] == ["97110"]
    assert clinic.repo.deleted_intervals(visit.id) == []
