"""Auto-lock after N idle minutes: a lock screen that hides patient names and asks for a PIN.

Idle time is read from the injected clock (both the monotonic and the wall reading; the larger
wins, so a machine that slept, or a wall clock moved forward, locks rather than stays open).
An application-wide event filter resets the idle time on every key, click, wheel or touch and,
while locked, swallows all input (shortcuts such as Space or the digit keys included) that is
not meant for the lock screen. The lock screen is an application-modal, opaque window laid over
the main window (and over any dialog open at the time), so no patient name shows through.

Running timers (issue 16, item 8). During manual therapy nobody touches the computer, yet the
timer is the clinician's record of treatment time: idle time with a timer running is not time
away. Two things need protecting then, and the lock protects both: the patient's name (a
treatment-room screen faces the door; after the idle minutes it is hidden, as always) and the
therapist's minutes (they keep running in the store, and the lock screen shows every running
code, its time so far and the next-unit countdown in large type, updated every second, from
the visit screen's own live tally; see ``lock_board``). Nothing on it names anyone.

PINs (item 9). Once any active provider has a PIN, unlocking needs one: a provider without a PIN
cannot unlock (the screen says so, and how to set one), nor can "nobody". The one who unlocks is
the acting user (``unlocked(provider)``). The locked state is kept per computer (QSettings,
``lock/locked``): an app closed while locked starts locked. While locked, every other window of
the app (a patient dialog left open, a question box) has its title replaced and its contents
hidden, and the main window's title says only "locked"; all come back on unlock. Wrong PINs:
after ``MAX_TRIES`` in a row, ``LOCKOUT_SECONDS`` of waiting (kept across a restart).

Public API:

* ``LockController(window, clock, repo, minutes=None, settings=None, current_provider=None,
  timers=None, parent=None)``: one per main window. ``minutes=None`` reads "auto-lock after"
  from the app settings on each check (``settings.lock_minutes``); 0 means never. ``check()``
  (called every few seconds by its own timer; tests call it after advancing a FakeClock),
  ``lock()``, ``unlock(provider_id, pin) -> bool``, ``is_locked``, ``was_locked`` (the
  computer's stored state: lock at start when true), ``pins_in_use()``, ``lock_screen``.
  Signals ``locked()`` and ``unlocked(object)`` (the Provider who unlocked, or None when no
  provider is set up: make them the acting user). ``current_provider`` is a callable
  returning the provider (or its id) to preselect: the one on the clock. ``timers`` is a
  ``lock_board.TimerBoardSource`` (or anything with ``refresh()`` and ``entries(now)``).
* ``LockScreen``: the widget (``board``, ``provider_box``, ``pin_edit``, ``unlock_button``,
  ``message``, ``hint``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import shiboken6
from PySide6.QtCore import QEvent, QObject, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QWindow
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.records import Provider
from therapy_timer.core.unlock import PIN, pins_in_use, unlock_need
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui import settings as app_settings
from therapy_timer.ui.lock_board import TimerBoard

#: Input that counts as "someone is here".
_ACTIVITY = frozenset(
    int(t.value)
    for t in (
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseButtonDblClick,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TouchUpdate,
        QEvent.Type.TabletPress,
    )
)
#: Input blocked outside the lock screen while locked.
_BLOCKED = _ACTIVITY | frozenset(
    int(t.value)
    for t in (
        QEvent.Type.KeyRelease,
        QEvent.Type.MouseButtonRelease,
        QEvent.Type.Shortcut,
        QEvent.Type.ShortcutOverride,
        QEvent.Type.TouchEnd,
        QEvent.Type.ContextMenu,
    )
)
log = logging.getLogger(__name__)
_SHOW = int(QEvent.Type.Show.value)
CHECK_MS = 5000
TICK_MS = 1000
MAX_TRIES = 5
LOCKOUT_SECONDS = 30
LOCKED_TITLE = "Therapy Timer (locked)"
#: Per-computer state (QSettings): locked now; wrong PINs in a row; wait until (UTC ISO).
LOCKED_KEY = "lock/locked"
TRIES_KEY = "lock/failed_tries"
WAIT_KEY = "lock/wait_until"


class LockScreen(QWidget):
    """The opaque screen shown while locked: the running timers, who unlocks, their PIN;
    nothing that names a patient."""

    unlock_requested = Signal(object, str)  # provider id (or None), PIN

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            parent,
            Qt.WindowType.Window
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint,
        )
        self.setObjectName("lockScreen")
        self.setWindowTitle("Therapy Timer is locked")
        self.setWindowModality(Qt.WindowModality.ApplicationModal)
        self.setAutoFillBackground(True)
        self.setStyleSheet(
            "#lockScreen { background: #1f2937; }"
            "#lockScreen QLabel { color: white; font-size: 16px; }"
            "#lockCard { background: #374151; border-radius: 12px; }"
            "#lockScreen #lockTitle { font-size: 26px; font-weight: 700; }"
            "#lockScreen #lockMessage { color: #fecaca; font-size: 16px; font-weight: 600; }"
            "#lockScreen QComboBox, #lockScreen QLineEdit { font-size: 18px; padding: 6px;"
            " min-height: 36px; }"
            "#lockScreen QPushButton { font-size: 18px; font-weight: 700; padding: 6px 28px;"
            " min-height: 36px; }"
        )
        #: While True the screen refuses to close (Alt+F4 on it is no way around the lock).
        self.holding = False
        self.board = TimerBoard(self)
        self.board.setMaximumWidth(980)
        card = QWidget(self)
        card.setObjectName("lockCard")
        card.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        card.setMaximumWidth(560)
        title = QLabel("Therapy Timer is locked")
        title.setObjectName("lockTitle")
        self.hint = QLabel("Patient details are hidden. Pick who you are to continue.")
        self.hint.setWordWrap(True)
        self.provider_box = QComboBox()
        self.provider_box.setAccessibleName("Unlock as")
        self.pin_edit = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.pin_edit.setAccessibleName("PIN")
        self.pin_edit.setPlaceholderText("PIN")
        self.pin_label = QLabel("PIN")
        self.unlock_button = QPushButton("Unlock")
        self.unlock_button.setDefault(True)
        self.message = QLabel()
        self.message.setObjectName("lockMessage")
        self.message.setWordWrap(True)
        form = QGridLayout()
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(10)
        form.setColumnStretch(1, 1)
        form.addWidget(QLabel("Unlock as"), 0, 0)
        form.addWidget(self.provider_box, 0, 1, 1, 2)
        form.addWidget(self.pin_label, 1, 0)
        form.addWidget(self.pin_edit, 1, 1)
        form.addWidget(self.unlock_button, 1, 2)
        inner = QVBoxLayout(card)
        inner.setContentsMargins(24, 16, 24, 16)
        inner.setSpacing(8)
        inner.addWidget(title)
        inner.addWidget(self.hint)
        inner.addLayout(form)
        inner.addWidget(self.message)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 12, 16, 12)
        outer.setSpacing(12)
        outer.addStretch(1)
        # Centred by stretches, not by alignment: an aligned widget with wrapping text gets
        # its height for the wrong width, and the PIN row was squeezed against the name box.
        for widget in (self.board, card):
            row = QHBoxLayout()
            row.addStretch(1)
            row.addWidget(widget, 100)
            row.addStretch(1)
            outer.addLayout(row)
        outer.addStretch(2)

        self._pin_needed: dict[int | None, bool] = {}
        self._refused: dict[int | None, str] = {}
        self.provider_box.currentIndexChanged.connect(self._provider_changed)
        self.unlock_button.clicked.connect(self._submit)
        self.pin_edit.returnPressed.connect(self._submit)

    def set_providers(self, providers: list[Provider], preselect: int | None) -> None:
        """Fills "unlock as" (name and credentials only: never a patient). While PINs are in
        use a provider without one is listed but cannot unlock (the message says why)."""
        pins = pins_in_use(providers)
        self.provider_box.blockSignals(True)
        self.provider_box.clear()
        self._pin_needed = {}
        self._refused = {}
        for provider in providers:
            need = unlock_need(providers, provider.id)
            label = provider.name + (f", {provider.credentials}" if provider.credentials else "")
            if need.kind == PIN:
                label += "  (PIN)"
            elif need.refused:
                label += "  (no PIN: cannot unlock)"
                self._refused[provider.id] = need.reason
            self.provider_box.addItem(label, provider.id)
            self._pin_needed[provider.id] = need.kind == PIN
        if not providers:
            self.provider_box.addItem("Anyone (no providers set up)", None)
            self._pin_needed[None] = False
        if pins and preselect not in self._refused and preselect in self._pin_needed:
            index = self.provider_box.findData(preselect)
        elif pins:  # the first who can unlock
            index = next((i for i in range(self.provider_box.count())
                          if self.provider_box.itemData(i) not in self._refused), 0)
        else:
            index = self.provider_box.findData(preselect) if preselect is not None else -1
        self.provider_box.setCurrentIndex(max(index, 0))
        self.provider_box.blockSignals(False)
        self.hint.setText("Patient details are hidden. Pick who you are and enter your PIN."
                          if pins else
                          "Patient details are hidden. Pick who you are to continue.")
        self._provider_changed()

    def show_message(self, text: str) -> None:
        self.message.setText(text)

    def set_waiting(self, waiting: bool) -> None:
        """During the wait after too many wrong PINs nothing can be typed or pressed."""
        if self.pin_edit.isEnabled() != waiting:
            return  # no change (called every second: the focus stays where the user put it)
        self.pin_edit.setEnabled(not waiting)
        self.unlock_button.setEnabled(not waiting and
                                      self.provider_box.currentData() not in self._refused)
        if not waiting and self.pin_edit.isVisible():
            self.pin_edit.setFocus()

    def _provider_changed(self, *_args) -> None:
        current = self.provider_box.currentData()
        needs = self._pin_needed.get(current, False)
        self.pin_edit.setVisible(needs)
        self.pin_label.setVisible(needs)
        self.pin_edit.clear()
        refused = self._refused.get(current)
        self.message.setText(refused or "")
        self.unlock_button.setEnabled(refused is None and self.pin_edit.isEnabled())
        (self.pin_edit if needs else self.unlock_button).setFocus()

    def _submit(self) -> None:
        self.unlock_requested.emit(self.provider_box.currentData(), self.pin_edit.text())

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self.holding and not QGuiApplication.instance().isSavingSession():
            event.ignore()  # only unlocking (or the app ending) takes the screen away
            return  # (a log-out or shut-down is not held up: the app then starts locked)
        super().closeEvent(event)


class LockController(QObject):
    """Watches for idle time and locks; unlocks with the chosen provider's PIN."""

    locked = Signal()
    unlocked = Signal(object)

    def __init__(
        self,
        window: QWidget,
        clock,
        repo,
        minutes: int | None = None,
        settings=None,
        current_provider: Callable[[], int | None] | None = None,
        timers=None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent or window)
        self.window = window
        self.clock = clock
        self.repo = repo
        self._minutes = minutes
        self._settings = settings
        self._current_provider = current_provider
        self.timers = timers
        self._mono = clock.monotonic()
        self._wall: datetime = clock.now()
        self._tries = 0
        self._locked_out_until: float | None = None
        self._concealed: list[tuple[QWidget, str, list[QWidget]]] = []
        self._hidden: list[QWidget] = []
        self._saved_title = window.windowTitle()
        self._restore_wait()
        self.lock_screen = LockScreen(window)  # its own window, deleted with the main one
        self.lock_screen.unlock_requested.connect(self._on_unlock_requested)
        self.timer = QTimer(self)
        self.timer.setInterval(CHECK_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()
        #: Repaints the running timers (and the wait after wrong PINs) once a second while
        #: locked. Time comes from the clock, the tick only repaints.
        self.tick_timer = QTimer(self)
        self.tick_timer.setInterval(TICK_MS)
        self.tick_timer.timeout.connect(self.tick)
        app = QApplication.instance()
        app.installEventFilter(self)
        window.destroyed.connect(self.detach)

    # -- idle time -----------------------------------------------------------------------------

    @property
    def is_locked(self) -> bool:
        return shiboken6.isValid(self.lock_screen) and self.lock_screen.isVisible()

    @property
    def minutes(self) -> int:
        """Idle minutes before locking; 0 = never."""
        if self._minutes is not None:
            return self._minutes
        return app_settings.lock_minutes(self._settings)

    @property
    def was_locked(self) -> bool:
        """This computer's app was locked when it last closed (or crashed)."""
        return bool(app_settings.app_settings(self._settings).value(LOCKED_KEY, False,
                                                                     type=bool))

    def touch(self) -> None:
        """Someone is here: the idle time starts again."""
        self._mono = self.clock.monotonic()
        self._wall = self.clock.now()

    def idle_seconds(self) -> float:
        mono = self.clock.monotonic() - self._mono
        wall = (self.clock.now() - self._wall).total_seconds()
        return max(mono, wall)

    def check(self) -> bool:
        """Locks when idle long enough; returns True when locked now.

        A running timer does not stop the lock (the name is hidden all the same): it is shown
        on the lock screen, and keeps running, so idle treatment time is never lost."""
        minutes = self.minutes
        if not self.is_locked and minutes > 0 and self.idle_seconds() >= minutes * 60:
            self.lock()
        elif self.is_locked and self.timers is not None:
            self.timers.refresh()  # a timer started or stopped elsewhere (another station)
            self.tick()
        return self.is_locked

    def pins_in_use(self) -> bool:
        """Any active provider has a PIN: from then on every unlock needs one."""
        return pins_in_use(self.repo.list_providers())

    # -- lock / unlock -------------------------------------------------------------------------

    def lock(self) -> None:
        """Shows the lock screen over the window (and any open dialog)."""
        if self.is_locked:
            return
        self._set_stored(LOCKED_KEY, True)  # first: a crash from here on restarts locked
        providers = []
        try:
            providers = self.repo.list_providers()
        except StorageError as exc:  # locking must never fail
            self.lock_screen.show_message(f"Providers could not be read: {exc}")
        current = self._current_provider() if self._current_provider else None
        current = getattr(current, "id", current)  # a Provider or its id
        self.lock_screen.set_providers(providers, current)
        self._saved_title = self.window.windowTitle()
        self.window.setWindowTitle(LOCKED_TITLE)
        # Belt and braces: the page under the lock screen is hidden too, so no name shows in
        # a task-switcher thumbnail or past the edge of the lock window; so is every other
        # window of ours (a dialog keeps running, its title and contents hidden).
        self._hidden = []
        central = getattr(self.window, "centralWidget", lambda: None)()
        for widget in (central, self.window.findChild(QStatusBar)):
            if widget is not None and not widget.isHidden():
                widget.hide()
                self._hidden.append(widget)
        for widget in QApplication.topLevelWidgets():
            self._conceal(widget)
        self.lock_screen.setGeometry(self._cover_rect())
        if self.timers is not None:
            self.timers.refresh()
        self.tick()
        self.lock_screen.holding = True
        self.lock_screen.show()
        if QGuiApplication.platformName() != "offscreen":  # offscreen warns it cannot raise
            self.lock_screen.raise_()
        self.lock_screen.activateWindow()
        self.tick_timer.start()
        self.locked.emit()

    def tick(self) -> None:
        """Once a second while locked: the running timers and the wait after wrong PINs."""
        if not shiboken6.isValid(self.lock_screen):
            return
        entries = []
        if self.timers is not None:
            entries = self.timers.entries(self.clock.now())
        self.lock_screen.board.show_entries(entries)
        wait = self._wait_left()
        if wait is not None:
            self.lock_screen.show_message(f"Too many wrong PINs: wait {wait} s and try again.")
        elif not self.lock_screen.pin_edit.isEnabled():
            self.lock_screen.show_message("You can try your PIN again now.")
        self.lock_screen.set_waiting(wait is not None)

    def unlock(self, provider_id: int | None, pin: str = "") -> bool:
        """Unlocks when ``pin`` is the provider's, or, while no provider has a PIN, for anyone
        who picks their name. Returns True on success; otherwise the message says why."""
        if not self.is_locked:
            return True
        screen = self.lock_screen
        wait = self._wait_left()
        if wait is not None:
            screen.show_message(f"Too many wrong PINs: wait {wait} s and try again.")
            screen.set_waiting(True)
            return False
        try:
            providers = self.repo.list_providers()
        except StorageError as exc:  # cannot tell who may unlock: stay locked
            screen.show_message(f"Providers could not be read: {exc}")
            return False
        need = unlock_need(providers, provider_id)
        provider = next((p for p in providers if p.id == provider_id), None)
        if need.refused:
            screen.show_message(need.reason)
            self._record(provider, ok=False, why="refused")
            return False
        if need.kind == PIN:
            if not pin:
                screen.show_message(f"Enter the PIN for {provider.name}.")
                return False
            if not self.repo.verify_pin(provider.id, pin):
                self._wrong_pin(provider)
                return False
        self._tries = 0
        self._locked_out_until = None
        self._set_stored(TRIES_KEY, 0)
        self._set_stored(WAIT_KEY, "")
        self._set_stored(LOCKED_KEY, False)
        self._release()
        self.touch()
        self._record(provider, ok=True)
        self.unlocked.emit(provider)
        return True

    def _record(self, provider: Provider | None, ok: bool, why: str = "") -> None:
        """The audit log notes each unlock (who is acting from now on) and each refusal; a
        store that cannot write does not keep anyone locked out."""
        try:
            self.repo.record_unlock(provider.id if provider else None, self.clock.now(),
                                    ok=ok, why=why)
        except StorageError as exc:
            log.warning("unlock not written to the audit log: %s", exc)

    def _wrong_pin(self, provider: Provider) -> None:
        self._record(provider, ok=False, why="wrong PIN")
        self._tries += 1
        self.lock_screen.pin_edit.clear()
        if self._tries >= MAX_TRIES:
            self._tries = 0
            self._locked_out_until = self.clock.monotonic() + LOCKOUT_SECONDS
            until = self.clock.now() + timedelta(seconds=LOCKOUT_SECONDS)
            self._set_stored(WAIT_KEY, until.isoformat())  # a restart waits too
            self.lock_screen.show_message(
                f"Wrong PIN for {provider.name}, {MAX_TRIES} times: wait {LOCKOUT_SECONDS} s "
                "and try again.")
            self.lock_screen.set_waiting(True)
        else:
            left = MAX_TRIES - self._tries
            self.lock_screen.show_message(
                f"Wrong PIN for {provider.name}. {left} more wrong "
                f"tr{'y' if left == 1 else 'ies'} and unlocking waits {LOCKOUT_SECONDS} s.")
        self._set_stored(TRIES_KEY, self._tries)

    def _wait_left(self) -> int | None:
        """Whole seconds still to wait after too many wrong PINs, or None."""
        if self._locked_out_until is None:
            return None
        left = self._locked_out_until - self.clock.monotonic()
        if left <= 0:
            self._locked_out_until = None
            self._set_stored(WAIT_KEY, "")
            return None
        return int(left) + (0 if left == int(left) else 1)

    def _restore_wait(self) -> None:
        """A wait after wrong PINs, or the tries so far, survive closing the app."""
        store = app_settings.app_settings(self._settings)
        try:
            self._tries = max(0, min(MAX_TRIES - 1, int(store.value(TRIES_KEY, 0) or 0)))
        except (TypeError, ValueError):
            self._tries = 0
        raw = store.value(WAIT_KEY, "") or ""
        try:
            until = datetime.fromisoformat(str(raw)) if raw else None
        except ValueError:
            until = None
        if until is not None and until.tzinfo is not None:
            left = (until - self.clock.now()).total_seconds()
            if 0 < left <= LOCKOUT_SECONDS:  # a clock set far ahead waits no longer
                self._locked_out_until = self.clock.monotonic() + left

    def _release(self) -> None:
        """Takes the lock screen away and brings back what it hid."""
        self.tick_timer.stop()
        screen = self.lock_screen
        screen.holding = False
        screen.pin_edit.clear()
        screen.message.clear()
        screen.hide()
        for widget in self._hidden:
            if shiboken6.isValid(widget):
                widget.show()
        self._hidden = []
        for widget, title, children in self._concealed:
            if not shiboken6.isValid(widget):
                continue
            widget.setWindowTitle(title)
            for child in children:
                if shiboken6.isValid(child):
                    child.show()
        self._concealed = []
        self.window.setWindowTitle(self._saved_title or "Therapy Timer")

    def _conceal(self, widget: QWidget, showing: bool = False) -> None:
        """Hides what another window of ours shows (not the window itself: a dialog hidden
        would end, and lose what was typed in it). Menus and tooltips just close."""
        if (widget is self.window or widget is self.lock_screen or not widget.isWindow()
                or not (showing or widget.isVisible()) or self._inside_lock_screen(widget)
                or any(widget is w for w, _t, _c in self._concealed)):
            return
        kind = widget.windowType()
        if kind in (Qt.WindowType.Popup, Qt.WindowType.ToolTip):
            widget.hide()
            return
        children = [child for child in widget.findChildren(
            QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
            if not child.isWindow() and not child.isHidden()]
        self._concealed.append((widget, widget.windowTitle(), children))
        widget.setWindowTitle(LOCKED_TITLE)
        for child in children:
            child.hide()

    def _set_stored(self, key: str, value) -> None:
        store = app_settings.app_settings(self._settings)
        store.setValue(key, value)
        store.sync()

    def _on_unlock_requested(self, provider_id, pin: str) -> None:
        self.unlock(provider_id, pin)

    def _cover_rect(self) -> QRect:
        """The main window plus every other visible window of ours (open dialogs)."""
        rect = self.window.frameGeometry()
        for widget in QApplication.topLevelWidgets():
            if widget is not self.lock_screen and widget.isVisible() and widget.isWindow():
                rect = rect.united(widget.frameGeometry())
        screen = self.window.screen() or QGuiApplication.primaryScreen()
        if screen is not None:
            inside = rect.intersected(screen.virtualGeometry())
            if not inside.isEmpty():
                rect = inside
        return rect

    def detach(self, *_args) -> None:
        """The main window is going: stop watching input, take the lock screen down (safe to
        call more than once). The stored locked state stays: the next start is locked."""
        app = QApplication.instance()
        if app is not None and shiboken6.isValid(self):
            app.removeEventFilter(self)
        for timer in ("timer", "tick_timer"):
            qtimer = getattr(self, timer, None)
            if qtimer is not None and shiboken6.isValid(qtimer):
                qtimer.stop()
        screen = getattr(self, "lock_screen", None)
        if screen is not None and shiboken6.isValid(screen):
            screen.holding = False
            screen.hide()  # else it would keep a closed app running

    # -- input ---------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        kind = int(event.type().value)
        if kind == _SHOW:
            if (self.is_locked and isinstance(watched, QWidget) and watched.isWindow()
                    and not self._inside_lock_screen(watched)):
                self._conceal_late(watched)
            return False
        if kind not in _BLOCKED or not shiboken6.isValid(self.lock_screen):
            return False
        if not self.lock_screen.isVisible():
            if kind in _ACTIVITY:
                self._mono = self.clock.monotonic()
                self._wall = self.clock.now()
            return False
        if isinstance(watched, QWindow):
            return False  # the window passes it on to a widget, filtered below
        return not self._inside_lock_screen(watched)

    def _conceal_late(self, widget: QWidget) -> None:
        """A window that opens while locked (a question from a timer, say) is hidden too,
        before it is first painted."""
        if shiboken6.isValid(widget):
            self._conceal(widget, showing=True)
            if widget.windowModality() != Qt.WindowModality.NonModal:
                # A modal window shown later would take the keyboard from the lock screen
                # (and, its contents hidden, could not be answered): put the lock back on top.
                QTimer.singleShot(0, self._on_top)
            elif QGuiApplication.platformName() != "offscreen":
                self.lock_screen.raise_()

    def _on_top(self) -> None:
        """Makes the lock screen the newest modal window again (the one that gets input)."""
        if not self.is_locked:
            return
        screen = self.lock_screen
        screen.holding = False
        screen.hide()
        screen.holding = True
        screen.show()
        if QGuiApplication.platformName() != "offscreen":
            screen.raise_()
        screen.activateWindow()

    def _inside_lock_screen(self, obj: QObject | None) -> bool:
        while obj is not None:
            if obj is self.lock_screen:
                return True
            obj = obj.parent()
        return False
