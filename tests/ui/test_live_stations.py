"""Live updates between stations (issue 14, item 1 and part of item 2): two stations are two
main windows, each with its own repository (its own connection) on one database of the test
server; what one station does shows on the other's screen within a second, with no refresh
button and no polling (LISTEN/NOTIFY; on SQLite, two windows on one file)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import QSettings, Qt

from tests.ui.conftest import START, seed_clinic
from tests.ui.shots import saved_shot
from therapy_timer.core.records import Practice
from therapy_timer.storage.repository import open_repository
from therapy_timer.ui.clock import FakeClock
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.workers import Worker

LEFT = Qt.MouseButton.LeftButton
STATUS = 4  # Today's Status column
SECOND = 1000


def _window(qtbot, repo, clock, tmp_path, name, target):
    from therapy_timer.ui.main_window import MainWindow

    settings = QSettings(str(tmp_path / f"{name}.ini"), QSettings.Format.IniFormat)
    win = MainWindow(repo, clock, db_path=str(target), worker=Worker(), settings=settings,
                     remember_size=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.show_today()
    win.live.start()
    return win


@pytest.fixture
def stations(qtbot, pg_database, tmp_path):
    """Station A and station B on one clinic server database (the Ada Sample clinic)."""
    repo_a = open_repository(pg_database)
    repo_b = open_repository(pg_database)
    clinic = seed_clinic(repo_a)
    repo_a.save_practice(Practice("Harbor Test Therapy", timezone="America/Chicago"))
    clock = FakeClock(START)
    a = _window(qtbot, repo_a, clock, tmp_path, "a", pg_database)
    b = _window(qtbot, repo_b, clock, tmp_path, "b", pg_database)
    yield a, b, clinic, clock
    for win in (a, b):
        win.live.stop()
        win.worker.shutdown()
        win.close()
    repo_a.close()
    repo_b.close()


def _today_statuses(win) -> dict[str, str]:
    model = win.today.model
    return {model.cell_text(r, 1): model.cell_text(r, STATUS) for r in range(model.rowCount())}


def _start_timer_on(win, patient_id: int, qtbot, code: str = "97110") -> int:
    visit_id = win.today.start_for(patient_id)
    assert win.stack.currentWidget() is win.visit_panel
    qtbot.mouseClick(win.visit_panel.tiles.tiles[code], LEFT)
    assert win.controller.running_codes() == (code,)
    return visit_id


def test_a_timer_started_on_a_shows_running_on_bs_today_within_a_second(stations, qtbot):
    a, b, clinic, _clock = stations
    assert _today_statuses(b) == {}
    _start_timer_on(a, clinic.patient.id, qtbot)
    qtbot.waitUntil(lambda: _today_statuses(b) == {"Sample, Ada": "running"}, timeout=SECOND)
    # ... and stopping it on A shows too (the visit stays open on B's list).
    qtbot.mouseClick(a.visit_panel.tiles.tiles["97110"], LEFT)
    qtbot.waitUntil(lambda: _today_statuses(b) == {"Sample, Ada": "open"}, timeout=SECOND)


def test_bs_selected_row_stays_selected_when_a_changes_the_day(stations, qtbot):
    a, b, clinic, clock = stations
    first = clinic.repo.start_visit(clinic.patient2.id, clinic.pt2.id, None, clock.now())
    qtbot.waitUntil(lambda: b.today.model.rowCount() == 1, timeout=SECOND)
    b.today.table.selectRow(0)
    _start_timer_on(a, clinic.patient.id, qtbot)
    qtbot.waitUntil(lambda: b.today.model.rowCount() == 2, timeout=SECOND)
    chosen = b.today.table.selectionModel().selectedRows()
    assert [b.today.model.row(i.row()).visit.id for i in chosen] == [first.id]


def test_a_timer_started_on_a_shows_on_bs_open_visit_screen(stations, qtbot):
    a, b, clinic, clock = stations
    visit = clinic.repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id,
                                    clock.now())
    b.show_visit(visit.id)
    a.show_visit(visit.id)
    qtbot.mouseClick(a.visit_panel.tiles.tiles["97530"], LEFT)
    qtbot.waitUntil(lambda: b.controller.running_codes() == ("97530",), timeout=SECOND)
    assert b.visit_panel.now_running.text().startswith("▶ 97530")
    # B selects the recorded row; A stops the timer and starts another: B's row stays chosen.
    b.visit_panel.table.selectRow(0)
    first = b.visit_panel.interval_model.interval_at(0).id
    clock.advance(minutes=5)
    qtbot.mouseClick(a.visit_panel.tiles.tiles["97110"], LEFT)  # one-on-one: 97530 stops
    qtbot.waitUntil(lambda: b.controller.running_codes() == ("97110",), timeout=SECOND)
    assert b.visit_panel.interval_model.rowCount() == 2
    rows = b.visit_panel.table.selectionModel().selectedRows()
    assert [b.visit_panel.interval_model.interval_at(i.row()).id for i in rows] == [first]


def test_a_finalize_on_a_makes_bs_open_visit_read_only_with_a_notice(stations, qtbot,
                                                                     monkeypatch, shots):
    a, b, clinic, clock = stations
    b.resize(1366, 768)
    visit_id = _start_timer_on(a, clinic.patient.id, qtbot)
    b.show_visit(visit_id)
    assert b.visit_panel.tiles.isEnabled()
    assert not b.visit_panel.read_only_notice.isVisibleTo(b)
    clock.advance(minutes=10)
    _diagnose(a, visit_id)
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *args, **kw: True))
    qtbot.mouseClick(a.visit_panel.finalize_button, LEFT)  # stops the timer, to the review
    assert a.stack.currentWidget() is a.finalize_page
    qtbot.mouseClick(a.finalize_page.finalize_button, LEFT)
    assert clinic.repo.get_visit(visit_id).status.value == "finalized"
    panel = b.visit_panel
    qtbot.waitUntil(lambda: not panel.tiles.isEnabled(), timeout=SECOND)
    assert not panel.search.isEnabled() and not panel.pause_button.isEnabled()
    assert panel.read_only_notice.isVisibleTo(b)
    assert panel.read_only_notice.text() == (
        "Finalized on another station by Dana Test, PT at 8:10 AM: read only")
    assert panel.finalize_button.text() == "Review"
    qtbot.waitUntil(lambda: panel.now_running.text() == "Finalized: read only", timeout=SECOND)
    notice = "Finalized on another station by Dana Test, PT at 8:10 AM: read only"
    saved_shot(b, shots / "second-station-read-only.png", texts=[notice, "Sample, Ada"])
    # A tap that still reached B's controller is refused, saying why; nothing is stored.
    said = []
    monkeypatch.setattr(Ask, "warn", classmethod(lambda cls, _p, _t, text: said.append(text)))
    assert not b.controller.start("97110")
    assert said == ["This visit is finalized: it cannot change. Use Amend to correct it."]
    assert [i.end is not None for i in b.repo.intervals_for(visit_id)] == [True]


def test_a_finalize_on_a_shows_on_bs_review_of_the_visit(stations, qtbot, monkeypatch):
    a, b, clinic, clock = stations
    visit_id = _start_timer_on(a, clinic.patient.id, qtbot)
    clock.advance(minutes=10)
    a.controller.stop()
    _diagnose(a, visit_id)
    b.show_review(visit_id)
    assert b.finalize_page.finalize_button.isVisibleTo(b)
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda cls, *args, **kw: True))
    a.show_review(visit_id)
    qtbot.mouseClick(a.finalize_page.finalize_button, LEFT)
    page = b.finalize_page
    qtbot.waitUntil(lambda: not page.finalize_button.isVisibleTo(b), timeout=SECOND)
    assert "FINALIZED" in page.subtitle.text()
    notice = page.findChild(type(page.title), "liveNotice")
    assert notice is not None
    assert notice.text() == "Finalized on another station by Dana Test, PT at 8:10 AM: read only"


def _diagnose(win, visit_id: int) -> None:
    win.repo.set_diagnoses(visit_id, ["M54.50"], user="Dana Test, PT", validate=False)
    win.controller.reload()


def _finalized_visit(clinic, clock):
    from therapy_timer.core.model import Performer

    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, clock.now())
    interval = repo.start_interval(visit.id, "97110", Performer.PT, clock.now())
    repo.stop_interval(getattr(interval, "id", None) or repo.intervals_for(visit.id)[0].id,
                       clock.now() + timedelta(minutes=23))
    repo.set_diagnoses(visit.id, ["M54.50"], user="Dana Test, PT", validate=False)
    repo.finalize_visit(visit.id, None, "Dana Test, PT", clock.now() + timedelta(minutes=24))
    return visit.id


def test_a_payment_on_a_shows_in_bs_front_desk_payments(stations, qtbot):
    a, b, clinic, clock = stations
    visit_id = _finalized_visit(clinic, clock)
    b.show_frontdesk()
    desk = b.frontdesk
    qtbot.waitUntil(lambda: [r.visit_id for r in desk.model.rows()] == [visit_id],
                    timeout=10 * SECOND)
    desk.table.selectRow(0)
    qtbot.waitUntil(lambda: desk.payments.visit_id == visit_id, timeout=SECOND)
    assert desk.payments.model.rowCount() == 0
    clock.advance(minutes=60)
    a.repo.record_payment(visit_id, 2500, "check", "#1042", clock.now(), user="Front desk A")
    qtbot.waitUntil(lambda: desk.payments.model.rowCount() == 1, timeout=SECOND)
    assert desk.payments.model.cell_text(0, 1) == "$25.00"
    assert desk.payments.model.cell_text(0, 4) == "#1042"
    # The list's money columns come from their own reload (a background job), within the
    # same second as the payments panel, not necessarily before it.
    qtbot.waitUntil(lambda: desk.model.row(0).paid_cents == 2500, timeout=SECOND)
    assert desk.selected_visit() == visit_id  # the desk's selection stayed


def test_a_patient_renamed_on_a_shows_renamed_on_b(stations, qtbot):
    a, b, clinic, clock = stations
    from dataclasses import replace

    visit = clinic.repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id,
                                    clock.now())
    qtbot.waitUntil(lambda: "Sample, Ada" in _today_statuses(b), timeout=SECOND)
    a.repo.save_patient(replace(a.repo.get_patient(clinic.patient.id), last_name="Samples"))
    qtbot.waitUntil(lambda: "Samples, Ada" in _today_statuses(b), timeout=SECOND)
    names = [b.today.results.item(i).text() for i in range(b.today.results.count())]
    assert any(n.startswith("Samples, Ada") for n in names)
    # An open visit screen shows the new name too.
    b.show_visit(visit.id)
    a.repo.save_patient(replace(a.repo.get_patient(clinic.patient.id), first_name="Adah"))
    qtbot.waitUntil(lambda: b.visit_panel.title.text() == "Samples, Adah", timeout=SECOND)


def test_own_changes_do_not_reload_the_station(stations, qtbot):
    """A station's own change is on its screen already: its feed leaves it out."""
    a, b, clinic, _clock = stations
    before = a.live.flushes
    _start_timer_on(a, clinic.patient.id, qtbot)
    qtbot.waitUntil(lambda: _today_statuses(b) == {"Sample, Ada": "running"}, timeout=SECOND)
    assert a.live.received > 0  # A heard its own notifications ...
    assert a.live._debounce.isActive() is False
    assert a.live.flushes == before  # ... and left them out


def test_a_killed_listen_connection_reconnects_and_b_reloads(stations, qtbot, pg_server):
    a, b, clinic, clock = stations
    feed = b.live.feed
    pid = feed.session
    database = b.repo.conn.raw.info.dbname
    pg_server.sql(f"SELECT pg_terminate_backend({pid})", database)
    qtbot.waitUntil(lambda: feed.lost, timeout=5 * SECOND)
    # A change made while B listens to nothing is never sent to B ...
    clinic.repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, clock.now())
    # ... B is back within its retry, and reloads what it shows ("missed").
    with qtbot.waitSignal(b.live.reload_all, timeout=5 * SECOND):
        pass
    qtbot.waitUntil(lambda: _today_statuses(b) == {"Sample, Ada": "open"}, timeout=SECOND)
    assert feed.session not in (None, pid)
    # And it hears the next change as usual.
    _start_timer_on(a, clinic.patient.id, qtbot)
    qtbot.waitUntil(lambda: _today_statuses(b) == {"Sample, Ada": "running"}, timeout=SECOND)


# --- SQLite: one computer, two windows on one file ---

def test_two_windows_on_one_sqlite_file_follow_each_other(qtbot, tmp_path):
    target = tmp_path / "clinic.db"
    repo_a = open_repository(target)
    clinic = seed_clinic(repo_a)
    repo_b = open_repository(target)
    clock = FakeClock(START)
    a = _window(qtbot, repo_a, clock, tmp_path, "a", target)
    b = _window(qtbot, repo_b, clock, tmp_path, "b", target)
    try:
        assert b.live.kind == "file"
        visit_id = _start_timer_on(a, clinic.patient.id, qtbot)
        qtbot.waitUntil(lambda: _today_statuses(b) == {"Sample, Ada": "running"},
                        timeout=SECOND)
        # B opens the visit; A stops the timer: B's screen shows it stopped.
        b.show_visit(visit_id)
        assert b.controller.running_codes() == ("97110",)
        flushes = a.live.flushes
        qtbot.mouseClick(a.visit_panel.tiles.tiles["97110"], LEFT)
        qtbot.waitUntil(lambda: b.controller.running_codes() == (), timeout=SECOND)
        qtbot.wait(2 * 250)
        assert a.live.flushes == flushes  # A's own commit: A did not reload
    finally:
        for win in (a, b):
            win.live.stop()
            win.worker.shutdown()
            win.close()
        repo_a.close()
        repo_b.close()


def test_bs_long_list_keeps_its_scroll_position_and_selection(stations, qtbot):
    """A reload for another station's change does not move B's list under the finger."""
    from therapy_timer.core.records import Patient

    a, b, clinic, clock = stations
    repo = clinic.repo
    for n in range(30):
        patient = repo.save_patient(Patient(f"Pat{n:02d}", f"Test{n:02d}"))
        repo.start_visit(patient.id, clinic.pt2.id, None, clock.now())
    qtbot.waitUntil(lambda: b.today.model.rowCount() == 30, timeout=SECOND)
    table = b.today.table
    table.selectRow(20)
    chosen = b.today.model.row(20).visit.id
    bar = table.verticalScrollBar()
    assert bar.maximum() > 0
    bar.setValue(bar.maximum() // 2)
    kept = bar.value()
    _start_timer_on(a, clinic.patient.id, qtbot)
    qtbot.waitUntil(lambda: b.today.model.rowCount() == 31, timeout=SECOND)
    assert bar.value() == kept
    rows = table.selectionModel().selectedRows()
    assert [b.today.model.row(i.row()).visit.id for i in rows] == [chosen]


def test_bs_preview_is_rebuilt_only_for_the_visit_it_shows(stations, qtbot):
    """A payment on another visit reloads B's list (its money columns) but leaves the
    superbill on screen as it is; a payment on the previewed visit rebuilds it."""
    a, b, clinic, clock = stations
    first = _finalized_visit(clinic, clock)
    clock.advance(minutes=30)
    second = _finalized_visit(clinic, clock)
    clock.advance(minutes=60)
    b.show_frontdesk()
    desk = b.frontdesk
    qtbot.waitUntil(lambda: len(desk.model.rows()) == 2, timeout=10 * SECOND)
    row = [r.visit_id for r in desk.model.rows()].index(first)
    built = []
    desk.document_ready.connect(built.append)
    with qtbot.waitSignal(desk.document_ready, timeout=10 * SECOND):
        desk.table.selectRow(row)
    # Settled first: the finalizes' own notifications (the second visit pools with the
    # first) may still be on their way on a loaded machine and rebuild the preview once.
    for _ in range(20):
        seen = len(built)
        qtbot.wait(300)
        if len(built) == seen:
            break
    built.clear()
    a.repo.record_payment(second, 1000, "cash", "", clock.now(), user="A")
    qtbot.waitUntil(lambda: {r.visit_id: r.paid_cents for r in desk.model.rows()}
                    == {first: 0, second: 1000}, timeout=5 * SECOND)
    qtbot.wait(300)
    assert built == []
    assert desk.selected_visit() == first
    a.repo.record_payment(first, 2000, "card", "", clock.now(), user="A")
    qtbot.waitUntil(lambda: built == ["superbill"], timeout=5 * SECOND)
    assert desk.selected_visit() == first
    assert desk.payments.model.cell_text(0, 1) == "$20.00"


def test_bs_desk_keeps_its_scroll_position_when_a_records_a_payment(stations, qtbot):
    from therapy_timer.core.model import Performer
    from therapy_timer.core.records import Patient

    a, b, clinic, clock = stations
    repo = clinic.repo
    ids = []
    for n in range(25):
        patient = repo.save_patient(Patient(f"Pat{n:02d}", f"Desk{n:02d}"))
        at = clock.now() + timedelta(minutes=n)
        visit = repo.start_visit(patient.id, clinic.pt2.id, None, at)
        repo.start_interval(visit.id, "97110", Performer.PT, at)
        repo.stop_interval(repo.intervals_for(visit.id)[0].id, at + timedelta(minutes=15))
        repo.set_diagnoses(visit.id, ["M54.50"], user="Robin", validate=False)
        repo.finalize_visit(visit.id, None, "Robin", at + timedelta(minutes=16))
        ids.append(visit.id)
    clock.advance(minutes=120)
    b.show_frontdesk()
    desk = b.frontdesk
    qtbot.waitUntil(lambda: len(desk.model.rows()) == 25, timeout=10 * SECOND)
    bar = desk.table.verticalScrollBar()
    assert bar.maximum() > 0
    bar.setValue(bar.maximum())
    kept = bar.value()
    a.repo.record_payment(ids[3], 1500, "cash", "", clock.now(), user="A")
    qtbot.waitUntil(lambda: {r.visit_id: r.paid_cents for r in desk.model.rows()}[ids[3]]
                    == 1500, timeout=5 * SECOND)
    assert bar.value() == kept
