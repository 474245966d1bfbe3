"""Live updates between stations: from a commit on one station to the other station's screen.

Two stations on one throwaway PostgreSQL server (tests/pg_server.py, on this machine): station
A is a repository (its own connection), station B a real main window (offscreen) with its
live updates on. Each round A starts or stops a timer (the call returns once the commit is
durable) and the clock runs until B's Today list shows the new status. Printed: the median
and 95th percentile of

- commit -> B's socket readable (the notification itself; no Qt, ``select``),
- commit -> B's live signals (``visit_changed``; on SQLite ``reload_all``): that, plus the
  ``DEBOUNCE_MS`` gathering of bursts,
- commit -> B's Today showing it (that, plus B re-reading its list),

beside a baseline from the same run: one ``SELECT 1`` round trip to the same server. Then the
same for two windows on one SQLite file (no server to push: a ``PRAGMA data_version`` poll
every ``SQLITE_POLL_MS``). Target: every median well under a second, every p95 under one.

Run: .venv/bin/python benchmarks/live.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import select
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TARGET_S = 1.0


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _line(label: str, samples: list[float], baseline: float | None = None,
          target: bool = True) -> str:
    median, p95 = statistics.median(samples), _pct(samples, 0.95)
    ratio = f"{median / baseline:8.1f}x" if baseline else " " * 9
    verdict = ""
    if target:
        verdict = "  OK" if p95 < TARGET_S and median < TARGET_S / 2 else "  MISSES"
    return f"{label:<44} {median * 1000:8.2f} ms {p95 * 1000:8.2f} ms {ratio}{verdict}"


def _wait_until(app, test, timeout: float = 5.0) -> float:
    """Runs the event loop until ``test()``; returns when it held (perf_counter)."""
    deadline = time.perf_counter() + timeout
    while not test():
        if time.perf_counter() > deadline:
            raise SystemExit("benchmark: the other station never showed the change")
        app.processEvents()
        time.sleep(0.0005)
    return time.perf_counter()


def _status(win) -> str:
    model = win.today.model
    return model.cell_text(0, 4) if model.rowCount() else ""


def _station_b(repo, clock, folder: Path, target):
    from PySide6.QtCore import QSettings

    from therapy_timer.ui.main_window import MainWindow
    from therapy_timer.ui.workers import Worker

    settings = QSettings(str(folder / "b.ini"), QSettings.Format.IniFormat)
    win = MainWindow(repo, clock, db_path=str(target), worker=Worker(), settings=settings,
                     remember_size=False)
    win.show()
    win.show_today()
    win.live.start()
    return win


def _rounds(app, repo_a, visit_id: int, win, clock, rounds: int, feed=None):
    """(to socket, to signal, to screen) samples of ``rounds`` starts and stops on A."""
    from therapy_timer.core.model import Performer

    socket, signal, screen = [], [], []
    heard: list[float] = []
    win.live.settled.connect(lambda: heard.append(time.perf_counter()))
    for n in range(rounds):
        clock.advance(minutes=1)
        heard.clear()
        fd = feed.fileno() if feed is not None else None
        if n % 2 == 0:
            repo_a.start_interval(visit_id, "97110", Performer.PT, clock.now())
            want = "running"
        else:
            running = [i for i in repo_a.intervals_for(visit_id) if i.end is None]
            repo_a.stop_interval(running[0].id, clock.now())
            want = "open"
        committed = time.perf_counter()
        if fd is not None:
            select.select([fd], [], [], 5)
            socket.append(time.perf_counter() - committed)
        shown = _wait_until(app, lambda want=want: _status(win) == want)
        screen.append(shown - committed)
        if heard:
            signal.append(heard[0] - committed)
    return socket, signal, screen


def _clinic(repo):
    from tests.ui.conftest import seed_clinic

    return seed_clinic(repo)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds = 20 if args.quick else 60

    from PySide6.QtWidgets import QApplication

    from therapy_timer.storage.changes import SQLITE_POLL_MS
    from therapy_timer.storage.repository import open_repository
    from therapy_timer.ui.clock import FakeClock
    from therapy_timer.ui.station.live import DEBOUNCE_MS

    app = QApplication.instance() or QApplication([])
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    print(f"From a commit on station A to station B; {rounds} timer starts and stops each; "
          f"debounce {DEBOUNCE_MS} ms")
    print(f"{'':<44} {'median':>11} {'p95':>11} {'ratio':>9}")
    try:
        from tests.pg_server import running_server
    except RuntimeError as exc:  # no PostgreSQL on this machine
        print(f"clinic server: not measured ({exc})")
        running_server = None
    if running_server is not None:
        with running_server() as server, tempfile.TemporaryDirectory() as folder:
            uri = server.new_database()
            repo_a, repo_b = open_repository(uri), open_repository(uri)
            clinic = _clinic(repo_a)
            clock = FakeClock(start)
            visit = repo_a.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id,
                                       clock.now())
            win = _station_b(repo_b, clock, Path(folder), uri)
            _wait_until(app, lambda: _status(win) == "open")
            trips = []
            for _ in range(rounds):
                began = time.perf_counter()
                repo_b.conn.execute("SELECT 1").fetchone()
                trips.append(time.perf_counter() - began)
            baseline = statistics.median(trips)
            # B's socket is watched with select() here too: the first to read it is the
            # live station's notifier, so select only tells when the bytes arrived.
            socket, signal, screen = _rounds(app, repo_a, visit.id, win, clock, rounds,
                                             feed=win.live.feed)
            print(_line("baseline: SELECT 1 round trip", trips, None, target=False))
            print(_line("server: commit -> B's socket readable", socket, baseline))
            print(_line("server: commit -> B's visit_changed signal", signal, baseline))
            print(_line("server: commit -> B's Today shows it", screen, baseline))
            win.live.stop()
            win.worker.shutdown()
            win.close()
            repo_a.close()
            repo_b.close()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clinic.db"
        repo_a = open_repository(path)
        clinic = _clinic(repo_a)
        repo_b = open_repository(path)
        clock = FakeClock(start)
        visit = repo_a.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id,
                                   clock.now())
        win = _station_b(repo_b, clock, Path(folder), path)
        _wait_until(app, lambda: _status(win) == "open")
        _socket, signal, screen = _rounds(app, repo_a, visit.id, win, clock,
                                          max(10, rounds // 3))
        print(_line(f"SQLite (poll {SQLITE_POLL_MS} ms): commit -> signal", signal))
        print(_line("SQLite: commit -> the other window's Today", screen))
        win.live.stop()
        win.worker.shutdown()
        win.close()
        repo_a.close()
        repo_b.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
