"""Saves PNGs of the app's main screens, on the synthetic demo clinic, into docs/screenshots/.

Run: ``QT_QPA_PLATFORM=offscreen python docs/screenshots.py`` (or under ``xvfb-run -a``).
The demo clinic is built in a temporary database ending on a fixed date, and the app runs on a
``FakeClock`` set to that day, so the pictures are the same on every machine. Every patient in
them is made up. The screens are taken at 1366 x 768 (a common treatment-room screen) and again
at the 1024 x 700 minimum (``*-1024.png``); the superbill and day sheet pictures are the demo
clinic's PDFs rendered with ``pdftoppm`` (poppler-utils).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time as _time
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

END = date(2026, 3, 6)
ZONE = "America/Chicago"  # the demo clinic's zone
#: (file name suffix, window size): the common screen first, then the app's minimum.
SIZES = (("", (1366, 768)), ("-1024", (1024, 700)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args(argv)
    os.environ["TZ"] = ZONE
    _time.tzset()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from therapy_timer.ui.app import make_application

    app = make_application()
    for suffix, size in SIZES:
        _screens(app, out, suffix, size)
    _documents(out)
    return 0


def _screens(app, out: Path, suffix: str, SIZE: tuple[int, int]) -> None:
    from PySide6.QtCore import QSettings

    from therapy_timer.core.model import Performer
    from therapy_timer.demo import build_demo_file
    from therapy_timer.storage.repository import open_repository
    from therapy_timer.ui.clock import FakeClock
    from therapy_timer.ui.dialogs import Ask
    from therapy_timer.ui.first_run import FirstRunDialog
    from therapy_timer.ui.main_window import MainWindow

    Ask.confirm = classmethod(lambda cls, *a, **k: True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.db"
        build_demo_file(db, seed=1, end_date=END)
        repo = open_repository(db)
        start = datetime.combine(END, time(15, 10), ZoneInfo(ZONE))
        clock = FakeClock(start)
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(repo, clock, db_path="demo clinic", settings=settings)
        window.resize(*SIZE)
        window.show()
        window.show_today()

        def shot(name: str, widget=None) -> None:
            for _ in range(3):
                app.processEvents()
            path = out / f"{name}{suffix}.png"
            (widget or window).grab().save(str(path))
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)

        shot("today")

        # Every open visit of any day (yesterday's left open), reached from Today.
        from therapy_timer.ui.visit_history import VisitHistoryDialog

        listing = VisitHistoryDialog(repo, END, None, window)
        listing.resize(min(860, SIZE[0] - 40), min(520, SIZE[1] - 80))
        listing.show()
        shot("open-visits", listing)
        listing.hide()

        # A visit on the clock: a PT with a Medicare patient, an assistant taking over.
        pt = next(p for p in repo.list_providers() if p.role is Performer.PT)
        patient = next(p for p in repo.search_patients("", limit=40)
                       if any(plan.discipline.value == "PT" for plan in repo.plans_for(p.id))
                       and getattr(repo.primary_payer(p.id), "medicare", False))
        window.today.set_provider(pt.id)
        window.today.start_for(patient.id)
        window.controller.timer.stop()
        panel = window.visit_panel
        panel.start_or_stop("97112")
        clock.advance(minutes=24, seconds=12)
        panel.start_or_stop("97010")
        panel.start_or_stop("97110")
        clock.advance(minutes=9)
        pta = next(p for p in repo.list_providers() if p.role is Performer.PTA)
        window.controller.set_performer(Performer.PTA, pta.id)
        clock.advance(minutes=6, seconds=41)
        window.controller.tick()
        panel.refresh_notices()
        shot("visit")

        # The lock screen over that visit: the running timers stay, the patient's name goes.
        window.start_lock()
        window.lock.timer.stop()
        window.lock.lock()
        lock_screen = window.lock.lock_screen
        lock_screen.setGeometry(window.geometry())  # offscreen's screen is smaller than SIZE
        shot("lock", lock_screen)
        window.lock.unlock(pt.id, "")  # the demo clinic sets no PINs

        # The review before locking.
        clock.advance(minutes=3)
        panel.start_or_stop("97010")
        repo.set_diagnoses(window.controller.visit.id, ["M25.561", "R26.89"], validate=False)
        window.controller.reload()
        panel.on_finalize()
        shot("review")

        # The front desk: the day's finalized visits and one superbill in the preview.
        from PySide6.QtCore import QEventLoop, QTimer

        def wait_for(signal, ms: int = 30000) -> None:
            loop = QEventLoop()
            signal.connect(loop.quit)
            QTimer.singleShot(ms, loop.quit)
            loop.exec()

        desk = window.frontdesk
        window.show_frontdesk()
        wait_for(desk.listed)
        rows = desk.model.rows()
        if rows:
            desk.table.selectRow(0)
            desk.show_visit(rows[0].visit_id)
            wait_for(desk.document_ready)
            # QPdfView renders pages in the background after layout: give it a moment.
            loop = QEventLoop()
            QTimer.singleShot(1000, loop.quit)
            loop.exec()
        shot("frontdesk")

        # The patient editor (insurance tab), opened from Today.
        from therapy_timer.ui.patients import PatientDialog

        editor = PatientDialog(repo, patient.id, window, user="Front Desk", today=END)
        editor.resize(900, 620)
        editor.show()
        editor.tabs.setCurrentIndex(1)
        shot("patient-editor", editor)
        editor.hide()
        window.show_today()

        # After a crash: a timer left running, the app restarted 40 minutes later.
        left_open = {entry.visit.patient_id for entry in repo.open_visit_list()}
        window.today.start_for(next(
            p for p in repo.search_patients("", limit=40)
            if p.id != patient.id and p.id not in left_open
            and any(plan.discipline.value == "PT" for plan in repo.plans_for(p.id))).id)
        panel.start_or_stop("97530")
        clock.advance(minutes=7)
        repo.heartbeat(clock.now())
        window.controller.close_visit()
        window.hide()
        clock.sleep(minutes=40)
        second = MainWindow(repo, clock, db_path="demo clinic", settings=settings)
        second.resize(*SIZE)
        second.show()
        second.show_today()
        dialog = second.check_recovery()
        for _ in range(3):
            app.processEvents()
        shot("recovery", dialog)
        dialog.rows[0].apply("keep")
        second.hide()

        # First run on an empty database.
        empty = open_repository(Path(tmp) / "empty.db")
        first = FirstRunDialog(empty)
        first.resize(640, 360)
        first.show()
        shot("first-run", first)
        first.practice.setText("Lakeside Rehab (new clinic)")
        first.provider.setText("Sam Rivera, PT")
        first.save()
        fresh = MainWindow(empty, clock, db_path="new clinic", settings=settings)
        fresh.resize(*SIZE)
        fresh.show()
        fresh.show_today()
        shot("today-new-clinic", fresh)
        fresh.hide()
        empty.close()
        window.close()
        second.close()
        repo.close()


def _documents(out: Path) -> None:
    """The superbill of the demo's split-code visit (PT and PTA on 97110, the bundled hot pack,
    97140's technique) and the end date's day sheet, page 1 of each, as PNGs."""
    import shutil
    import sqlite3
    import subprocess

    from therapy_timer.cli import main as cli
    from therapy_timer.demo import build_demo_file

    if shutil.which("pdftoppm") is None:
        print("pdftoppm missing (apt-get install poppler-utils): superbill pictures not made")
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.db"
        build_demo_file(db, seed=1, end_date=END)
        conn = sqlite3.connect(db)
        [(split,)] = conn.execute(
            "SELECT visit_id FROM intervals i JOIN visits v ON v.id = i.visit_id"
            " WHERE v.status = 'finalized' AND v.day = ? GROUP BY visit_id"
            " HAVING count(DISTINCT CASE WHEN code = '97110' THEN performer END) = 2"
            " AND sum(code = '97140') > 0", (END.isoformat(),)).fetchall()[:1]
        conn.close()
        jobs = (("superbill", ["superbill", "--visit", str(split)]),
                ("daysheet", ["daysheet", "--date", END.isoformat()]))
        for name, args in jobs:
            pdf = Path(tmp) / f"{name}.pdf"
            if cli([*args, "--db", str(db), "--out", str(pdf)]) != 0:
                raise SystemExit(f"{name}: the command failed")
            subprocess.run(["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1",
                            "-singlefile", str(pdf), str(out / name)], check=True)
            print(out / f"{name}.png")


if __name__ == "__main__":
    raise SystemExit(main())
