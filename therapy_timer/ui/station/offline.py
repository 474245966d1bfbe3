"""What a treatment room shows while the clinic server is away (issue 14, item 4).

``station_timers(repo)`` gives the visit screen its store: on a clinic server the
Repository behind this station's offline journal (``storage.offline.JournaledTimers``; the
journal file is in the user's data folder, one per station name and server), on the
embedded file the Repository itself (nothing to lose there).

``OfflineBanner`` is the plain notice at the top of the visit screen:

    Offline since 10:42 AM — 3 changes waiting, safe on this computer. They are sent when
    the clinic server is back.

and, when the server refused a change on replay, that change, the server's reason and what
to do (Discard this change / Send it again); the journal keeps it until answered. It also
holds the controls that need the server (``guard``): disabled while offline, their tooltip
saying why.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.clock import screen_time
from therapy_timer.ui.style import WARN_BG, WARN_INK

log = logging.getLogger(__name__)

#: Why a control that needs the server is disabled (its tooltip while offline).
NEEDS_SERVER = ("Not available while the clinic server is away: {what} needs it. The timers "
                "keep counting and their changes are safe on this computer.")


def station_timers(repo, settings=None, clock=None):
    """The visit screen's store: journaled on a clinic server, the Repository on a file."""
    if not getattr(repo, "on_server", False):
        return repo
    from therapy_timer.paths import data_dir, ensure_private_dir
    from therapy_timer.storage.journal import Journal, journal_path
    from therapy_timer.storage.offline import JournaledTimers

    folder = ensure_private_dir(data_dir())
    from therapy_timer.ui.station.name import station_name

    station = getattr(repo, "station", None) or station_name(settings)
    journal = Journal(journal_path(folder, station, str(repo.path)))
    return JournaledTimers(repo, journal, now=clock.now if clock is not None else None)


def is_offline(timers) -> bool:
    return bool(getattr(timers, "offline", False))


def banner_text(timers) -> str:
    """The banner's sentence ("" while online with nothing waiting)."""
    since = getattr(timers, "offline_since", None)
    waiting = getattr(timers, "waiting", 0)
    changes = ("no changes waiting" if waiting == 0 else
               "1 change waiting" if waiting == 1 else f"{waiting} changes waiting")
    if since is not None:
        return (f"Offline since {screen_time(since)} — {changes}, safe on this computer. "
                "They are sent when the clinic server is back.")
    if waiting:
        return (f"The clinic server is back — {changes}, safe on this computer, until the "
                "change below is answered.")
    return ""


def refusal_text(entry) -> str:
    change = entry.describe(screen_time(entry.at))
    return (f"The clinic server refused a change made while offline: {change}. "
            f"It said: {entry.refused} It is kept on this computer until you answer: "
            "Discard this change if it no longer applies (it is not recorded), or fix the "
            "cause and Send it again. Changes after it wait behind it.")


class _Relay(QObject):
    changed = Signal()


class OfflineBanner(QFrame):
    """The offline notice and the refused change's question; hidden while online with
    nothing waiting. ``changed`` is emitted whenever the offline state changes."""

    def __init__(self, timers, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timers = timers
        self.setObjectName("offlineBanner")
        self.setStyleSheet(f"QFrame#offlineBanner {{ background: {WARN_BG}; border-radius: 6px;"
                           f" }} QFrame#offlineBanner QLabel {{ color: {WARN_INK};"
                           " font-weight: 600; }")
        self._relay = _Relay(self)
        self.changed = self._relay.changed
        self._guards: list[tuple[QWidget, str, str]] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        self.label = QLabel(self)
        self.label.setObjectName("offlineText")
        self.label.setWordWrap(True)
        layout.addWidget(self.label)
        self.refusal = QLabel(self)
        self.refusal.setObjectName("offlineRefusal")
        self.refusal.setWordWrap(True)
        layout.addWidget(self.refusal)
        buttons = QHBoxLayout()
        self.discard_button = QPushButton("Discard this change", self)
        self.discard_button.clicked.connect(self.on_discard)
        self.retry_button = QPushButton("Send it again", self)
        self.retry_button.clicked.connect(self.on_retry)
        buttons.addWidget(self.discard_button)
        buttons.addWidget(self.retry_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        listeners = getattr(timers, "listeners", None)
        if listeners is not None:
            listeners.append(self._relay.changed.emit)
        self._relay.changed.connect(self.refresh)
        self.refresh()

    def guard(self, widget: QWidget, what: str) -> None:
        """``widget`` needs the server (``what`` names it: "Finishing the visit"): disabled
        while offline, with a tooltip saying why."""
        self._guards.append((widget, what, widget.toolTip()))
        self.refresh()

    def refused_entry(self):
        refused = self.timers.refused() if hasattr(self.timers, "refused") else []
        return refused[0] if refused else None

    def refresh(self) -> None:
        text = banner_text(self.timers)
        entry = self.refused_entry()
        self.label.setText(text)
        self.label.setVisible(bool(text))
        self.refusal.setText(refusal_text(entry) if entry is not None else "")
        for widget in (self.refusal, self.discard_button, self.retry_button):
            widget.setVisible(entry is not None)
        held = entry is not None and entry.refused_kind == "VisitHeldElsewhereError"
        self.retry_button.setText("Take the visit over and send it" if held
                                  else "Send it again")
        self.setVisible(bool(text) or entry is not None)
        offline = is_offline(self.timers)
        for widget, what, tip in self._guards:
            widget.setEnabled(not offline)
            widget.setToolTip(NEEDS_SERVER.format(what=what.lower()) if offline else tip)

    def on_discard(self) -> None:
        entry = self.refused_entry()
        if entry is not None:
            self.timers.discard(entry.id)
            self.refresh()

    def on_retry(self) -> None:
        entry = self.refused_entry()
        if entry is not None:
            self.timers.retry(entry.id)
            self.refresh()


class OfflineGuard(QObject):
    """Window controls that need the server (the front desk's action): disabled while
    offline, their tooltip saying why; ``changed`` follows the offline state."""

    changed = Signal()

    def __init__(self, timers, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timers = timers
        self._actions: list[tuple[object, str, str]] = []
        listeners = getattr(timers, "listeners", None)
        if listeners is not None:
            listeners.append(self.changed.emit)
        self.changed.connect(self.refresh)

    def guard(self, action, what: str) -> None:
        self._actions.append((action, what, action.toolTip()))
        self.refresh()

    def refresh(self) -> None:
        offline = is_offline(self.timers)
        for action, what, tip in self._actions:
            action.setEnabled(not offline)
            action.setToolTip(NEEDS_SERVER.format(what=what.lower()) if offline else tip)


class ServerProbe(QObject):
    """Asks, on a thread of its own, whether the clinic server answers again (one new
    connection, ``SELECT 1``): while offline the heartbeat never waits on the screen's thread
    for a server that may take seconds to time out. ``answered(bool)`` comes on the UI
    thread; the window replays the journal when it is True."""

    answered = Signal(bool)

    def __init__(self, target: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.target = target
        self._busy = False

    def start(self) -> None:
        if self._busy:
            return
        self._busy = True
        threading.Thread(target=self._run, name="server-probe", daemon=True).start()

    def _run(self) -> None:
        ok = False
        try:
            import psycopg

            from therapy_timer.storage.pg.connection import CONNECT_TIMEOUT_S

            with psycopg.connect(self.target, connect_timeout=CONNECT_TIMEOUT_S,
                                 autocommit=True) as conn:
                conn.execute("SELECT 1")
            ok = True
        except Exception as exc:  # any failure means: still away
            log.debug("clinic server still away: %s", exc)
        finally:
            self._busy = False
        self.answered.emit(ok)
