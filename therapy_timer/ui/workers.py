"""One background-job helper: slow work (PDF builds, big queries, the ICD index) off the UI thread.

In the style of Anki's ``QueryOp``: a job is a plain callable that runs on the single worker
thread, one job at a time in the order submitted; its result or its exception comes back on the
UI thread, through the ``job_succeeded`` / ``job_failed`` signals and the job's own callbacks.

A job never shares a database connection with the UI thread: a job that needs the store opens
its own connection inside the job (``Worker.submit_with_repo`` does that for you and closes it
when the job ends).

Public API (other UI modules import these):

* ``Worker(parent=None)``: one per main window. ``submit(fn, *args, on_success=None,
  on_failure=None, owner=None, label="")`` returns a ``Job``. Callbacks run on the UI thread;
  they are skipped when ``owner`` (a QObject, usually the widget that asked) was deleted
  meanwhile. Call ``shutdown()`` before the app quits (waits for the running job).
* Signals: ``job_succeeded(Job, object)``, ``job_failed(Job, object)`` (the exception),
  ``busy_changed(bool)``, ``idle()`` (the queue just drained). Tests wait on them with
  ``qtbot.waitSignal``.
"""

from __future__ import annotations

import itertools
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)

log = logging.getLogger(__name__)

_ids = itertools.count(1)


@dataclass(eq=False)
class Job:
    """One submitted job; ``label`` says what it does (shown in the status bar)."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    label: str = ""
    on_success: Callable[[Any], None] | None = None
    on_failure: Callable[[BaseException], None] | None = None
    owner: QObject | None = None
    id: int = field(default_factory=lambda: next(_ids))
    done: bool = False
    cancelled: bool = False

    def cancel(self) -> None:
        """Drops the callbacks: the job may still run, but nobody hears about it."""
        self.cancelled = True


class _Relay(QObject):
    """Lives on the UI thread; its signals carry results across the thread boundary."""

    finished = Signal(object, bool, object)  # job, ok, result-or-exception


class _Runner(QRunnable):
    def __init__(self, job: Job, relay: _Relay) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._job = job
        self._relay = relay

    def run(self) -> None:  # Qt override, runs on the worker thread
        try:
            result = self._job.fn(*self._job.args)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the UI
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            self._relay.finished.emit(self._job, False, exc)
        else:
            self._relay.finished.emit(self._job, True, result)


class Worker(QObject):
    """Runs callables on one background thread, one at a time, results back by signal."""

    job_succeeded = Signal(object, object)
    job_failed = Signal(object, object)
    busy_changed = Signal(bool)
    idle = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._on_finished)
        self._pending = 0
        self._closed = False

    @property
    def busy(self) -> bool:
        """True while a job runs or waits."""
        return self._pending > 0

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        owner: QObject | None = None,
        label: str = "",
    ) -> Job:
        """Queues ``fn(*args)`` on the worker thread.

        Args:
            fn: the work; must not touch widgets or a connection owned by the UI thread.
            on_success: called on the UI thread with the result.
            on_failure: called on the UI thread with the exception; without it the failure is
                logged (and still emitted as ``job_failed``).
            owner: callbacks are skipped once this QObject has been deleted.
            label: a short description for logs and the status bar.

        Raises:
            RuntimeError: after ``shutdown()``.
        """
        if self._closed:
            raise RuntimeError("the background worker has been shut down")
        job = Job(fn, args, label, on_success, on_failure, owner)
        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)
        self._pool.start(_Runner(job, self._relay))
        return job

    def submit_with_repo(
        self,
        repo_path: str | Path,
        fn: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> Job:
        """Like ``submit`` but ``fn(repo, *args)`` gets a repository opened for this job only."""
        return self.submit(_with_repo, str(repo_path), fn, args, **kwargs)

    def wait(self, msecs: int = -1) -> bool:
        """Blocks until the queue is empty (tests and shutdown only). Returns True if it is."""
        return self._pool.waitForDone(msecs)

    def shutdown(self, msecs: int = 30000) -> None:
        """Refuses new jobs and waits for the queued ones to end."""
        self._closed = True
        self._pool.clear()
        self._pool.waitForDone(msecs)

    @Slot(object, bool, object)
    def _on_finished(self, job: Job, ok: bool, payload: object) -> None:
        job.done = True
        self._pending = max(0, self._pending - 1)
        alive = not job.cancelled and (job.owner is None or shiboken6.isValid(job.owner))
        try:
            if ok:
                self.job_succeeded.emit(job, payload)
                if alive and job.on_success is not None:
                    job.on_success(payload)
            else:
                assert isinstance(payload, BaseException)
                if job.on_failure is None or not alive:
                    log.error(
                        "background job %r failed:\n%s",
                        job.label or getattr(job.fn, "__name__", "job"),
                        getattr(payload, "__traceback_text__", repr(payload)),
                    )
                self.job_failed.emit(job, payload)
                if alive and job.on_failure is not None:
                    job.on_failure(payload)
        finally:
            if self._pending == 0:
                self.busy_changed.emit(False)
                self.idle.emit()


def _with_repo(repo_path: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """Opens a repository on the worker thread, runs ``fn(repo, *args)``, closes it."""
    from therapy_timer.storage.repository import open_repository

    with open_repository(repo_path) as repo:
        return fn(repo, *args)
