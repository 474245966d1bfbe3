"""The status bar's clock notice: shown while this computer's clock is off from the clinic
server's by more than ``NOTICE_SECONDS``, so staff know why the app's times differ from the
clock in the corner of the screen (the app records the server's).

Hidden on the embedded file (one computer, one clock) and while the clocks agree. The window
refreshes it with each heartbeat, after the offset is measured again.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.clock import screen_time
from therapy_timer.ui.station.server_clock import NOTICE_SECONDS, behind_or_ahead
from therapy_timer.ui.style import WARN_BG, WARN_INK


def notice_text(offset: float | None) -> str:
    """What the status bar says about an offset (seconds the server is ahead); "" when the
    clocks agree to within ``NOTICE_SECONDS`` (in the whole seconds it would show) or nothing
    was measured."""
    if offset is None or round(abs(offset)) <= NOTICE_SECONDS:
        return ""
    return (f"This computer's clock is {behind_or_ahead(offset)} the clinic server's; "
            "times are recorded by the server's clock")


class ClockNotice(QLabel):
    """A permanent status-bar label over the app's clock (a ``ServerClock`` or any other)."""

    def __init__(self, clock, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("clockNotice")
        self.clock = clock
        self.setStyleSheet(f"QLabel#clockNotice {{ background: {WARN_BG}; color: {WARN_INK};"
                           " padding: 2px 8px; border-radius: 4px; font-weight: 600; }")
        self.setVisible(False)
        self.refresh()

    def refresh(self) -> None:
        """Shows (or hides) the notice for the offset measured last."""
        text = notice_text(getattr(self.clock, "offset", None))
        reading = getattr(self.clock, "reading", None)
        if text and reading is not None:
            self.setToolTip(f"Measured at {screen_time(reading.server_time(), seconds=True)} "
                            f"(server time), to within {reading.error * 1000:.0f} ms. Set this "
                            "computer's clock right (or turn on its automatic time) to end "
                            "the difference.")
        if text != self.text():
            self.setText(text)
        self.setVisible(bool(text))
