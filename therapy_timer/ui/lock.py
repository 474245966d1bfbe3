"""Auto-lock after N idle minutes: a lock screen that hides patient names and asks for a PIN.

Idle time is read from the injected clock (both the monotonic and the wall reading; the larger
wins, so a machine that slept, or a wall clock moved forward, locks rather than stays open).
An application-wide event filter resets the idle time on every key, click, wheel or touch and,
while locked, swallows all input (shortcuts such as Space or the digit keys included) that is
not meant for the lock screen. The lock screen is an application-modal, opaque window laid over
the main window (and over any dialog open at the time), so no patient name shows through.

Public API:

* ``LockController(window, clock, repo, minutes=None, settings=None, current_provider=None,
  parent=None)``: one per main window. ``minutes=None`` reads "auto-lock after" from the app
  settings on each check (``settings.lock_minutes``); 0 means never. ``check()`` (called every
  few seconds by its own timer; tests call it after advancing a FakeClock), ``lock()``,
  ``unlock(provider_id, pin) -> bool``, ``is_locked``, ``lock_screen``. Signals ``locked()``
  and ``unlocked(object)`` (the Provider who unlocked: make them the acting user).
  ``current_provider`` is a callable returning the provider (or its id) to preselect: the
  one on the clock.
* ``LockScreen``: the widget (``provider_box``, ``pin_edit``, ``unlock_button``, ``message``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import shiboken6
from PySide6.QtCore import QEvent, QObject, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QWindow
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.records import Provider
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui import settings as app_settings

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
CHECK_MS = 5000
MAX_TRIES = 5
LOCKOUT_SECONDS = 30


class LockScreen(QWidget):
    """The opaque screen shown while locked: who unlocks, their PIN, nothing about patients."""

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
            "#lockTitle { font-size: 28px; font-weight: 700; }"
            "#lockMessage { color: #fecaca; font-size: 16px; font-weight: 600; }"
            "#lockScreen QComboBox, #lockScreen QLineEdit { font-size: 18px; padding: 6px;"
            " min-height: 36px; }"
            "#lockScreen QPushButton { font-size: 18px; font-weight: 700; padding: 10px 28px;"
            " min-height: 40px; }"
        )
        card = QWidget(self)
        card.setObjectName("lockCard")
        card.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        card.setMaximumWidth(520)
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
        form = QFormLayout()
        form.addRow(QLabel("Unlock as"), self.provider_box)
        form.addRow(self.pin_label, self.pin_edit)
        inner = QVBoxLayout(card)
        inner.setContentsMargins(32, 28, 32, 28)
        inner.setSpacing(14)
        inner.addWidget(title)
        inner.addWidget(self.hint)
        inner.addLayout(form)
        inner.addWidget(self.message)
        inner.addWidget(self.unlock_button, 0, Qt.AlignmentFlag.AlignRight)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(card, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(2)

        self._pin_needed: dict[int | None, bool] = {}
        self.provider_box.currentIndexChanged.connect(self._provider_changed)
        self.unlock_button.clicked.connect(self._submit)
        self.pin_edit.returnPressed.connect(self._submit)

    def set_providers(self, providers: list[Provider], preselect: int | None) -> None:
        """Fills "unlock as" (name and credentials only: never a patient)."""
        self.provider_box.blockSignals(True)
        self.provider_box.clear()
        self._pin_needed = {}
        for provider in providers:
            label = provider.name + (f", {provider.credentials}" if provider.credentials else "")
            if provider.has_pin:
                label += "  (PIN)"
            self.provider_box.addItem(label, provider.id)
            self._pin_needed[provider.id] = provider.has_pin
        if not providers:
            self.provider_box.addItem("Anyone (no providers set up)", None)
            self._pin_needed[None] = False
        index = self.provider_box.findData(preselect) if preselect is not None else -1
        self.provider_box.setCurrentIndex(max(index, 0))
        self.provider_box.blockSignals(False)
        self._provider_changed()

    def show_message(self, text: str) -> None:
        self.message.setText(text)

    def _provider_changed(self, *_args) -> None:
        needs = self._pin_needed.get(self.provider_box.currentData(), False)
        self.pin_edit.setVisible(needs)
        self.pin_label.setVisible(needs)
        self.pin_edit.clear()
        self.message.clear()
        (self.pin_edit if needs else self.unlock_button).setFocus()

    def _submit(self) -> None:
        self.unlock_requested.emit(self.provider_box.currentData(), self.pin_edit.text())


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
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent or window)
        self.window = window
        self.clock = clock
        self.repo = repo
        self._minutes = minutes
        self._settings = settings
        self._current_provider = current_provider
        self._mono = clock.monotonic()
        self._wall: datetime = clock.now()
        self._tries = 0
        self._locked_out_until: float | None = None
        self.lock_screen = LockScreen(window)  # its own window, deleted with the main one
        self.lock_screen.unlock_requested.connect(self._on_unlock_requested)
        self.timer = QTimer(self)
        self.timer.setInterval(CHECK_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()
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

    def touch(self) -> None:
        """Someone is here: the idle time starts again."""
        self._mono = self.clock.monotonic()
        self._wall = self.clock.now()

    def idle_seconds(self) -> float:
        mono = self.clock.monotonic() - self._mono
        wall = (self.clock.now() - self._wall).total_seconds()
        return max(mono, wall)

    def check(self) -> bool:
        """Locks when idle long enough; returns True when locked now."""
        minutes = self.minutes
        if not self.is_locked and minutes > 0 and self.idle_seconds() >= minutes * 60:
            self.lock()
        return self.is_locked

    # -- lock / unlock -------------------------------------------------------------------------

    def lock(self) -> None:
        """Shows the lock screen over the window (and any open dialog)."""
        if self.is_locked:
            return
        providers = []
        try:
            providers = self.repo.list_providers()
        except StorageError as exc:  # locking must never fail
            self.lock_screen.show_message(f"Providers could not be read: {exc}")
        current = self._current_provider() if self._current_provider else None
        current = getattr(current, "id", current)  # a Provider or its id
        self.lock_screen.set_providers(providers, current)
        self.lock_screen.setGeometry(self._cover_rect())
        self._saved_title = self.window.windowTitle()
        self.window.setWindowTitle("Therapy Timer (locked)")
        # Belt and braces: the page under the lock screen is hidden too, so no name shows in
        # a task-switcher thumbnail or past the edge of the lock window.
        central = getattr(self.window, "centralWidget", lambda: None)()
        self._hidden = central if central is not None and central.isVisible() else None
        if self._hidden is not None:
            self._hidden.hide()
        self.lock_screen.show()
        if QGuiApplication.platformName() != "offscreen":  # offscreen warns it cannot raise
            self.lock_screen.raise_()
        self.lock_screen.activateWindow()
        self.locked.emit()

    def unlock(self, provider_id: int | None, pin: str = "") -> bool:
        """Unlocks when the provider has no PIN or ``pin`` is theirs. Returns True on success."""
        if not self.is_locked:
            return True
        now = self.clock.monotonic()
        if self._locked_out_until is not None and now < self._locked_out_until:
            wait = int(self._locked_out_until - now) + 1
            self.lock_screen.show_message(f"Too many wrong PINs: wait {wait} s and try again.")
            return False
        provider = None
        if provider_id is not None:
            try:
                provider = self.repo.get_provider(provider_id)
            except StorageError as exc:
                self.lock_screen.show_message(f"Provider not found: {exc}")
                return False
            if provider.has_pin:
                if not pin:
                    self.lock_screen.show_message(f"Enter the PIN for {provider.name}.")
                    return False
                if not self.repo.verify_pin(provider.id, pin):
                    self._tries += 1
                    self.lock_screen.pin_edit.clear()
                    if self._tries >= MAX_TRIES:
                        self._tries = 0
                        self._locked_out_until = now + LOCKOUT_SECONDS
                        self.lock_screen.show_message(
                            f"Wrong PIN for {provider.name}, {MAX_TRIES} times: wait "
                            f"{LOCKOUT_SECONDS} s and try again.")
                    else:
                        self.lock_screen.show_message(f"Wrong PIN for {provider.name}.")
                    return False
        self._tries = 0
        self._locked_out_until = None
        self.lock_screen.pin_edit.clear()
        self.lock_screen.hide()
        hidden = getattr(self, "_hidden", None)
        if hidden is not None and shiboken6.isValid(hidden):
            hidden.show()
        self._hidden = None
        self.window.setWindowTitle(getattr(self, "_saved_title", "Therapy Timer"))
        self.touch()
        self.unlocked.emit(provider)
        return True

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
        """The main window is going: stop watching input (safe to call more than once)."""
        app = QApplication.instance()
        if app is not None and shiboken6.isValid(self):
            app.removeEventFilter(self)
        if shiboken6.isValid(self.timer):
            self.timer.stop()

    # -- input ---------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        kind = int(event.type().value)
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

    def _inside_lock_screen(self, obj: QObject | None) -> bool:
        while obj is not None:
            if obj is self.lock_screen:
                return True
            obj = obj.parent()
        return False
