"""Live updates: what another station (or window) changed shows here within a second.

``LiveStation(repo)`` owns the store's change feed (``storage/changes.py``). On a clinic
server that is a LISTEN connection of its own: a ``QSocketNotifier`` on its socket wakes the UI
thread when a notification arrives and ``drain()`` reads it without blocking; nothing polls.
On SQLite a short timer asks the file whether another connection committed (the feed's
docstring says why). Bursts (a finalize writes the visit, its lines and its audit entry) are
gathered for ``DEBOUNCE_MS`` and leave as one set of signals:

- ``visit_changed(visit_id)``: the visit, its timers, lines or amendment;
- ``payments_changed(visit_id)``: money or the printed mark of a finalized visit;
- ``patient_changed(patient_id)``: a patient, their insurance or plan of care;
- ``day_changed()``: the day's list (any visit, or a provider's name);
- ``reload_all()``: reload everything shown (changes were missed while the connection was
  down, or the feed cannot say what changed);
- ``settled()``: after each set, once.

This station's own changes are left out on a server (each screen already shows what it did);
SQLite's feed never reports them. A dropped LISTEN connection is retried on a thread of its
own (every ``RETRY_S`` seconds, never on the UI thread); when it is back, ``reload_all``.

``follow(window)`` connects the main window's pages: the page on screen reloads (Today and
the front desk keep their selected row and scroll position); an open visit finalized
elsewhere turns read-only with a notice saying by whom and when.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal

from therapy_timer.core.model import BillingError
from therapy_timer.storage.changes import Change, open_feed, session_of
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.clock import screen_time
from therapy_timer.ui.station.views import kept_place

log = logging.getLogger(__name__)

DEBOUNCE_MS = 100
#: Seconds between tries to get a dropped LISTEN connection back.
RETRY_S = (0.2, 1.0, 2.0, 5.0)

_VISIT_TABLES = {"visits", "intervals", "charge_lines", "amendments"}
_DESK_TABLES = {"payments", "printed_visits"}
_PATIENT_TABLES = {"patients", "policies", "plans"}


class LiveStation(QObject):
    """The change feed on the UI thread, as Qt signals (see the module's docstring)."""

    visit_changed = Signal(int)
    payments_changed = Signal(int)
    patient_changed = Signal(int)
    day_changed = Signal()
    reload_all = Signal()
    settled = Signal()
    #: True while the feed is connected (always True on SQLite).
    listening = Signal(bool)
    _reconnected = Signal()

    def __init__(self, repo, parent: QObject | None = None, *,
                 debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self.repo = repo
        self.feed = None
        self._notifier: QSocketNotifier | None = None
        self._poll: QTimer | None = None
        self._stop = threading.Event()
        self._retrying: threading.Thread | None = None
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(debounce_ms)
        self._debounce.timeout.connect(self._flush)
        self._clear()
        self._reconnected.connect(self._on_reconnected)
        #: How many changes arrived, and sets of signals left (tests, the benchmark).
        self.received = 0
        self.flushes = 0

    @property
    def kind(self) -> str:
        """"server" or "file" (what the notices call the other side)."""
        return getattr(self.feed, "kind", "file")

    # -- lifetime -----------------------------------------------------------------------------

    def start(self) -> None:
        """Opens the feed and starts watching it (once)."""
        if self.feed is not None:
            return
        self.feed = open_feed(self.repo)
        try:
            self.feed.connect()
        except StorageError as exc:
            log.warning("live updates not started: %s", exc)
            self.feed.lost = True
            self._retry()
            return
        self._watch()

    def stop(self) -> None:
        self._stop.set()
        self._unwatch()
        self._debounce.stop()
        feed, self.feed = self.feed, None
        if feed is not None:
            feed.close()

    def _watch(self) -> None:
        self._unwatch()
        fd = self.feed.fileno()
        if fd is not None:
            self._notifier = QSocketNotifier(fd, QSocketNotifier.Type.Read, self)
            self._notifier.activated.connect(self.read)
        elif self.feed.poll_ms:
            self._poll = QTimer(self)
            self._poll.setInterval(self.feed.poll_ms)
            self._poll.timeout.connect(self.read)
            self._poll.start()
        self.listening.emit(True)

    def _unwatch(self) -> None:
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        if self._poll is not None:
            self._poll.stop()
            self._poll.deleteLater()
            self._poll = None

    # -- reading ------------------------------------------------------------------------------

    def read(self, *_args) -> None:
        """Takes what the feed holds (never blocks) and schedules one flush."""
        feed = self.feed
        if feed is None:
            return
        changes = feed.drain()
        if changes:
            self.take(changes)
        if feed.lost:
            self._unwatch()
            self.listening.emit(False)
            self._retry()

    def take(self, changes: list[Change]) -> None:
        """Adds ``changes`` to the set the next flush emits."""
        own = session_of(self.repo.conn)
        for change in changes:
            self.received += 1
            if change.is_everything:
                self._everything = True
                continue
            if own is not None and change.session == own:
                continue  # this station's own change: its screen shows it already
            table = change.table
            if table in _VISIT_TABLES:
                self._day = True
                for visit_id in (change.visit_id, change.id if table == "amendments" else None):
                    if visit_id is not None:
                        self._visits.add(visit_id)
            elif table in _DESK_TABLES and change.visit_id is not None:
                self._payments.add(change.visit_id)
            elif table in _PATIENT_TABLES and change.patient_id is not None:
                self._patients.add(change.patient_id)
            elif table == "providers":
                self._day = True
        if self._pending() and not self._debounce.isActive():
            self._debounce.start()

    def _pending(self) -> bool:
        return bool(self._everything or self._day or self._visits or self._payments
                    or self._patients)

    def _clear(self) -> None:
        self._everything = False
        self._day = False
        self._visits: set[int] = set()
        self._payments: set[int] = set()
        self._patients: set[int] = set()

    def _flush(self) -> None:
        everything, day = self._everything, self._day
        visits, payments, patients = self._visits, self._payments, self._patients
        self._clear()
        self.flushes += 1
        if everything:
            self.reload_all.emit()
        else:
            for visit_id in sorted(visits):
                self.visit_changed.emit(visit_id)
            for visit_id in sorted(payments):
                self.payments_changed.emit(visit_id)
            for patient_id in sorted(patients):
                self.patient_changed.emit(patient_id)
            if day:
                self.day_changed.emit()
        self.settled.emit()

    # -- a dropped connection -----------------------------------------------------------------

    def _retry(self) -> None:
        """Tries to get the feed back on a thread of its own (connecting may take seconds)."""
        if self._retrying is not None and self._retrying.is_alive():
            return
        feed = self.feed

        def run() -> None:
            attempt = 0
            while not self._stop.is_set():
                if self._stop.wait(RETRY_S[min(attempt, len(RETRY_S) - 1)]):
                    return
                attempt += 1
                if feed.reconnect():
                    if self._stop.is_set():  # stopped meanwhile: nobody reads it
                        feed.close()
                    else:
                        self._reconnected.emit()  # queued to the UI thread
                    return

        self._retrying = threading.Thread(target=run, name="live-reconnect", daemon=True)
        self._retrying.start()

    def _on_reconnected(self) -> None:
        if self.feed is None or self._stop.is_set():
            return
        self._watch()
        self.read()  # "missed": everything shown reloads


# -- the main window's pages ------------------------------------------------------------------

def remote_freeze_notice(visit, kind: str) -> str:
    """"Finalized on another station by NAME at TIME: read only" (an amendment or a void says
    so instead)."""
    where = "on another station" if kind == "server" else "in another window"
    what = {"finalized": "Finalized", "amended": "Amended", "void": "Voided"}.get(
        visit.status.value, visit.status.value.capitalize())
    who = f" by {visit.finalized_by}" if visit.finalized_by else ""
    when = f" at {screen_time(visit.finalized_at)}" if visit.finalized_at else ""
    return f"{what} {where}{who}{when}: read only"


class Follower(QObject):
    """Reloads the main window's page on screen after each set of live signals, once."""

    def __init__(self, window, live: LiveStation) -> None:
        super().__init__(window)
        self.window = window
        self.live = live
        self._reset()
        live.visit_changed.connect(lambda visit_id: self._visits.add(visit_id))
        live.payments_changed.connect(lambda visit_id: self._payments.add(visit_id))
        live.patient_changed.connect(lambda patient_id: self._patients.add(patient_id))
        live.day_changed.connect(self._on_day)
        live.reload_all.connect(self._on_everything)
        live.settled.connect(self.apply)

    def _reset(self) -> None:
        self._visits: set[int] = set()
        self._payments: set[int] = set()
        self._patients: set[int] = set()
        self._day = False
        self._everything = False

    def _on_day(self) -> None:
        self._day = True

    def _on_everything(self) -> None:
        self._everything = True

    def apply(self) -> None:
        visits, payments, patients = self._visits, self._payments, self._patients
        day, everything = self._day, self._everything
        self._reset()
        window = self.window
        page = window.stack.currentWidget()
        try:
            if page is window.today:
                if everything or day or visits or patients:
                    window.today.refresh_live(patients=everything or bool(patients))
            elif page is window._frontdesk and page is not None:
                if everything or visits or payments or patients:
                    page.refresh_live(visits | payments, everything=everything)
            elif page is window._visit_panel and page is not None:
                self._follow_visit(everything, visits, patients)
            elif page is window._finalize_page and page is not None:
                self._follow_review(everything, visits, patients)
        except (StorageError, BillingError) as exc:  # the next change or action says it
            log.warning("live update not shown: %s", exc)

    def _follow_visit(self, everything: bool, visits: set[int], patients: set[int]) -> None:
        controller = self.window._controller
        visit = controller.visit if controller is not None else None
        if visit is None:
            return
        if not (everything or visit.id in visits or visit.patient_id in patients):
            return
        was_editable = controller.editable
        panel = self.window._visit_panel
        with kept_place(panel.table, lambda interval: interval.id,
                        panel.interval_model.interval_at):
            controller.reload()  # a timer started or stopped elsewhere shows
            if everything or visit.patient_id in patients:
                panel.load()  # the name in the title
        if was_editable and not controller.editable:
            panel.show_read_only(remote_freeze_notice(controller.visit, self.live.kind))

    def _follow_review(self, everything: bool, visits: set[int], patients: set[int]) -> None:
        page = self.window._finalize_page
        visit = page.visit
        if visit is None or not (everything or visit.id in visits
                                 or visit.patient_id in patients):
            return
        was_open = not visit.status.frozen
        page.load(visit.id)
        if was_open and page.visit.status.frozen:
            page.show_notice(remote_freeze_notice(page.visit, self.live.kind))


def follow(window, *, start: bool = True) -> LiveStation:
    """A ``LiveStation`` on the window's repository, its pages following it."""
    live = LiveStation(window.repo, window)
    window.live_follower = Follower(window, live)
    if start:
        live.start()
    return live
