"""One visit, two stations: the take-over question and what the other station shows.

When a tap meets a visit another station times (the store's ``VisitHeldElsewhereError``),
``TakeOver.ask`` puts the question: "This visit is being timed on Room 2: take it over?"
(Take over / Cancel), saying since when Room 2 has been silent when its heartbeat stopped.
Taking over moves the running timers here with their time; nothing is stopped.

``StationView`` follows, for the open visit, which station times it: the visit screen shows
the tiles of timers running elsewhere as that station's (not this one's), and once this
station's timers were taken over, "Taken over by Room 1 at 10:42".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from PySide6.QtWidgets import QWidget

from therapy_timer.storage.errors import StorageError, VisitHeldElsewhereError
from therapy_timer.ui.clock import screen_time
from therapy_timer.ui.dialogs import Ask

TAKE_OVER, CANCEL = "Take over", "Cancel"


def question(held: VisitHeldElsewhereError, here: str) -> tuple[str, str]:
    """The question's title and text for ``held`` (the store's refusal), asked on ``here``."""
    title = f"This visit is being timed on {held.station}: take it over?"
    lines = [title, ""]  # in the text too: some systems show no title on a question box
    codes = ", ".join(held.codes)
    since = f" since {screen_time(held.since)}" if held.since else ""
    lines.append(f"{held.station} has timed it{since} ({codes} running).")
    if held.silent and held.last_alive is not None:
        lines.append(f"{held.station} has been silent since {screen_time(held.last_alive)}: "
                     "its app may be closed or off the network.")
    lines.append(f"Take over: the timers go on here on {here} with their time so far (none "
                 f"is stopped or started again), and {held.station} shows that {here} took "
                 "the visit over.")
    return title, "\n".join(lines)


class TakeOver:
    """The take-over question (replace ``ask`` in tests)."""

    @classmethod
    def ask(cls, parent: QWidget | None, held: VisitHeldElsewhereError, here: str) -> bool:
        """True when the clinician chose Take over."""
        title, text = question(held, here)
        return Ask.confirm(parent, title, text, yes=TAKE_OVER, no=CANCEL)


@dataclass(frozen=True)
class TakenOver:
    station: str
    at: datetime | None

    def describe(self) -> str:
        """"Taken over by Room 1 at 10:42 AM" (the time never split from "at" by a wrap)."""
        when = f"at {screen_time(self.at)}".replace(" ", "\u00a0") if self.at else ""
        return f"Taken over by {self.station} {when}".rstrip()


class StationView:
    """Which station times the open visit, as this station last read it."""

    def __init__(self, repo) -> None:
        self.repo = repo
        self.visit_id: int | None = None
        #: The station timing the visit's running timers when it is another one, else None.
        self.elsewhere: str | None = None
        #: Set once this station's timers were taken over by another (until it times again).
        self.taken_over: TakenOver | None = None
        self._held_here = False

    @property
    def here(self) -> str:
        return self.repo.station

    def update(self, visit_id: int, intervals) -> TakenOver | None:
        """Reads the visit's intervals (as just loaded); returns a new take-over, if any."""
        if visit_id != self.visit_id:
            self.visit_id, self.taken_over, self._held_here = visit_id, None, False
        running = [i for i in intervals if i.end is None]
        others = [i.station for i in running if i.station not in (None, self.here)]
        self.elsewhere = others[0] if others else None
        new = None
        if self.elsewhere is not None and self._held_here:
            try:
                station, at = self.repo.visit_station(visit_id)
            except StorageError:  # the notice still names the station, without the time
                station, at = self.elsewhere, None
            self.taken_over = new = TakenOver(self.elsewhere,
                                              at if station == self.elsewhere else None)
        if any(i.station == self.here for i in running):
            self._held_here, self.taken_over = True, None
        elif self.elsewhere is not None or not running:
            self._held_here = False
        return new

    def timed_elsewhere(self, interval) -> bool:
        return interval.end is None and interval.station not in (None, self.here)

    def banner(self) -> tuple[str, str] | None:
        """(main line, detail) for the visit screen's banner, or None when this station (or
        no other) times the visit."""
        if self.elsewhere is None:
            return None
        if self.taken_over is not None:  # a long line already: it wraps to the second
            return self.taken_over.describe(), ""
        return f"Timed on {self.elsewhere}", "Tap a tile to take the visit over"
