"""The background-job helper: one job at a time, off the UI thread, results back on it."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QObject, QThread
from PySide6.QtWidgets import QApplication

from therapy_timer.ui.workers import Worker


@pytest.fixture
def worker(qtbot):
    w = Worker()
    yield w
    w.shutdown()


def test_result_comes_back_on_the_ui_thread(qtbot, worker):
    seen = {}

    def job(x):
        seen["job_thread"] = threading.get_ident()
        return x * 2

    def done(result):
        seen["result"] = result
        seen["callback_in_gui"] = QThread.currentThread() is QApplication.instance().thread()

    with qtbot.waitSignal(worker.job_succeeded, timeout=5000) as blocker:
        job_obj = worker.submit(job, 21, on_success=done, label="double")
    assert blocker.args[0] is job_obj
    assert blocker.args[1] == 42
    assert seen["result"] == 42
    assert seen["callback_in_gui"] is True
    assert seen["job_thread"] != threading.get_ident()
    assert job_obj.done


def test_failure_comes_back_as_the_exception(qtbot, worker):
    failures = []

    def boom():
        raise ValueError("the printer is on fire")

    with qtbot.waitSignal(worker.job_failed, timeout=5000) as blocker:
        worker.submit(boom, on_failure=failures.append)
    assert isinstance(blocker.args[1], ValueError)
    assert str(failures[0]) == "the printer is on fire"


def test_jobs_run_one_at_a_time_in_order(qtbot, worker):
    running = []
    overlaps = []
    order = []
    lock = threading.Lock()

    def job(n):
        with lock:
            running.append(n)
            if len(running) > 1:
                overlaps.append(tuple(running))
        time.sleep(0.02)
        with lock:
            running.remove(n)
        order.append(n)
        return n

    with qtbot.waitSignal(worker.idle, timeout=5000):
        for n in range(5):
            worker.submit(job, n)
    assert overlaps == []
    assert order == [0, 1, 2, 3, 4]
    assert not worker.busy


def test_busy_changes_once_per_burst(qtbot, worker):
    states = []
    worker.busy_changed.connect(states.append)
    with qtbot.waitSignal(worker.idle, timeout=5000):
        worker.submit(lambda: 1)
        worker.submit(lambda: 2)
    assert states == [True, False]


def test_callbacks_skipped_when_owner_deleted(qtbot, worker):
    owner = QObject()
    calls = []
    gate = threading.Event()

    def job():
        gate.wait(5)
        return "late"

    worker.submit(job, on_success=calls.append, owner=owner)
    owner.deleteLater()
    qtbot.waitUntil(lambda: not _alive(owner), timeout=2000)
    with qtbot.waitSignal(worker.job_succeeded, timeout=5000):
        gate.set()
    assert calls == []


def test_cancelled_job_callbacks_are_dropped(qtbot, worker):
    calls = []
    gate = threading.Event()
    job = worker.submit(lambda: gate.wait(5), on_success=calls.append)
    job.cancel()
    with qtbot.waitSignal(worker.job_succeeded, timeout=5000):
        gate.set()
    assert calls == []


def test_submit_after_shutdown_refused(qtbot):
    w = Worker()
    w.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        w.submit(lambda: None)


def _alive(obj):
    import shiboken6

    return shiboken6.isValid(obj)


def test_pyside_none_refcount_guard_keeps_the_process_alive():
    """PySide6 6.12 on Python 3.11 drops a reference to None on every void call (see
    ui/pyside_guard.py); without the guard this loop aborts the interpreter."""
    import subprocess
    import sys

    code = (
        "import therapy_timer.ui.workers\n"
        "from PySide6.QtCore import QObject\n"
        "o = QObject()\n"
        "for _ in range(50_000):\n"
        "    o.setObjectName('x')\n"
        "print('alive')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == "alive"
