"""Start-up time and peak memory: ``therapy-timer --check`` against a bare PySide6 window.

Both run as fresh processes in the same run, alternating: the baseline imports QtWidgets,
shows an empty QMainWindow, waits until the event loop is idle the same way ``--check`` does,
prints ``ready`` and quits. Ours opens a database holding the demo clinic (and, separately, an
empty one), shows the main window with today's list, then does the same. Prints medians, the
ratio (target: at most 1.3) and the peak resident memory of each (from ``wait4``).

A yardstick row shows what PySide6 6.12 on Python 3.11 charges any first screen with text and
a table before our code runs (the Qt namespace's ~100 enums built as Python enum types, fonts,
a table view): about 1.2x. Measured in-process (2026-11-23), the rest of ours is the store and
rules modules (~60 ms: frozen dataclasses cost ~1.4 ms each to define on 3.11), the Today
page's widgets and menus (~45 ms) and its data (~10 ms, half of it importing zoneinfo for the
clinic's time zone). What was cut: the QStyle wrapper from setStyle(), per-widget style sheets,
logging.handlers, the billing engine (imported where a visit is billed), PySide6's import hook
reading our store's sources (the store is imported first), PRAGMA optimize on a read-only
close, the --check geometry write and the interpreter's teardown after an orderly shutdown.

Usage: QT_QPA_PLATFORM=offscreen python benchmarks/startup.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.3

BARE = r"""
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
window = QMainWindow()
window.resize(1280, 800)
window.show()
def ready():
    print("ready", flush=True)
    app.quit()
def idle():
    app.processEvents()
    QTimer.singleShot(0, ready)
QTimer.singleShot(0, idle)
sys.exit(app.exec())
"""


#: Not a target, a yardstick: the same bare window with what any first screen holding text
#: and a table pays in PySide6 6.12 on Python 3.11 before any of our code runs: the Qt
#: namespace (its ~100 enums become Python enum types, ~40 ms), fonts loaded for the first
#: text drawn, a table view over a model.
FLOOR = BARE.replace("window.resize(1280, 800)", """window.resize(1280, 800)
from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QLabel, QTableView, QVBoxLayout, QWidget
model = QStandardItemModel(5, 6)
for row in range(5):
    for column in range(6):
        model.setItem(row, column, QStandardItem(f"cell {row} {column}"))
table = QTableView()
table.setModel(model)
table.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft)
page = QWidget()
layout = QVBoxLayout(page)
layout.addWidget(QLabel("Today"))
layout.addWidget(table)
window.setCentralWidget(page)""")


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of one process that must print ``ready``."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=ROOT)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or out.strip() != "ready":
        raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}): {err[-800:]}")
    return elapsed, usage.ru_maxrss // 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs instead of 15")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args(argv)
    runs = args.runs or (5 if args.quick else 15)
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    # An installed app runs from compiled bytecode: let the warm-up runs write it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as tmp:
        env.update(HOME=tmp, XDG_DATA_HOME=f"{tmp}/data", XDG_CONFIG_HOME=f"{tmp}/config",
                   XDG_STATE_HOME=f"{tmp}/state", XDG_CACHE_HOME=f"{tmp}/cache")
        env.pop("THERAPY_TIMER_DB", None)
        demo = Path(tmp) / "demo.db"
        empty = Path(tmp) / "empty.db"
        sys.path.insert(0, str(ROOT))
        from therapy_timer.demo import build_demo_file

        build_demo_file(demo, seed=1, end_date=date.today())
        commands = {
            "bare PySide6 window": [sys.executable, "-c", BARE],
            "  yardstick: bare + Qt enums, text, table": [sys.executable, "-c", FLOOR],
            "therapy-timer --check (demo clinic)": [
                sys.executable, "-m", "therapy_timer", "--db", str(demo), "--check"],
            "therapy-timer --check (empty database)": [
                sys.executable, "-m", "therapy_timer", "--db", str(empty), "--check"],
        }
        for cmd in commands.values():  # warm the file cache and the database files
            run_once(cmd, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        peaks: dict[str, list[int]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, cmd in commands.items():
                seconds, peak = run_once(cmd, env)
                times[name].append(seconds)
                peaks[name].append(peak)
    base = statistics.median(times["bare PySide6 window"])
    print(f"Start-up to an idle, shown main window; medians of {runs} alternating runs "
          f"(QT_QPA_PLATFORM={env['QT_QPA_PLATFORM']})")
    print(f"{'':42s} {'median':>9s} {'ratio':>7s} {'peak RSS':>10s}")
    worst = 0.0
    for name in commands:
        median = statistics.median(times[name])
        ratio = median / base
        if name.startswith("therapy-timer"):
            worst = max(worst, ratio)
        print(f"{name:42s} {median * 1000:7.0f} ms {ratio:6.2f}x {max(peaks[name]):7d} MiB")
    verdict = "meets" if worst <= TARGET else "MISSES"
    print(f"worst ratio {worst:.2f}x: {verdict} the target of {TARGET}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
