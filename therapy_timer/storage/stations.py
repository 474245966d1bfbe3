"""Several stations, one visit: which station times a visit, and the take-over (issue 14).

Every interval records the station (the computer, by its name: "Room 2", "Front desk") that
times it; that station alone writes its heartbeat. A visit's running timers belong to one
station at a time. What happens when two stations act on one visit at once:

* A tap (start, stop, pause, resume, a performer switch, deleting a running timer) from a
  station on a visit whose running timers belong to another station is refused with
  ``VisitHeldElsewhereError`` naming that station, unless the call says ``take_over``. The
  question is decided inside the tap's own write transaction, so what it read cannot change
  before it writes.
* ``take_over`` moves the running timers to this station in the same transaction as the tap
  (one audit entry: "taken over from Room 2 by Room 1"). They are never stopped and started
  again: each keeps its interval, its start and its heartbeat, so no minute is lost and no
  interval is duplicated. ``take_over`` may name the station the clinician was asked about:
  when a third station took the visit meanwhile, the tap is refused again, naming it.
* A holder whose timers have had no heartbeat for ``STALE_SECONDS`` (two minutes: the app
  beats every five seconds while it runs) is still asked about; the question says it has been
  silent since then (its app may be closed or off the network). We ask rather than take over
  silently: a station that lost the network for a minute keeps timing, and its clinician must
  not find their visit gone without anyone choosing that.
* Two stations tapping the same code at the same moment: the writes are serialized (SQLite's
  ``BEGIN IMMEDIATE``, the server's write lock) and the second sees the first's timer, held
  elsewhere. Whatever the app checks, the database itself keeps at most one running interval
  per visit and code (the unique index ``intervals_one_running``, migration 13).

Intervals recorded before stations were kept (``station`` NULL) belong to no station: any
station may change them and writes their heartbeat, as on one computer before.
"""

from __future__ import annotations

import socket
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from therapy_timer.storage.base import RepositoryBase
from therapy_timer.storage.db import from_text, to_text
from therapy_timer.storage.errors import InvalidDataError, VisitHeldElsewhereError

#: A holder whose timers' last heartbeat is older than this is "silent" (the question says
#: since when). The app beats every 5 s while timers run; two minutes is well past a slow
#: network's hiccup and short enough for a therapist walking to the next room.
STALE_SECONDS = 120
MAX_STATION_NAME = 60
#: The SQL condition (one ``?``: this station's name) for intervals this station times.
MINE = "(station = ? OR station IS NULL)"


def default_station() -> str:
    """This computer's host name: the station's name until Settings gives another."""
    try:
        name = socket.gethostname().strip()
    except OSError:
        name = ""
    return name[:MAX_STATION_NAME] or "this computer"


def clean_station(name: object) -> str:
    """A station name as stored: trimmed, one line, at most ``MAX_STATION_NAME`` characters."""
    text = " ".join(str(name or "").split())
    if not text:
        raise InvalidDataError("a station needs a name (for example \"Room 2\" or \"Front "
                               "desk\")")
    return text[:MAX_STATION_NAME]


@dataclass(frozen=True, slots=True)
class Holder:
    """The station whose running timers a visit has (``VisitHeldElsewhereError`` from it)."""

    station: str
    since: datetime | None
    last_alive: datetime | None
    silent: bool
    codes: tuple[str, ...]


class StationMixin(RepositoryBase):
    """The station this store speaks for, and the referee of two stations on one visit."""

    _station: str | None = None

    @property
    def station(self) -> str:
        """This station's name (what the audit log and the take-over question say)."""
        if self._station is None:
            self._station = default_station()
        return self._station

    @station.setter
    def station(self, name: str) -> None:
        self._station = clean_station(name)

    def visit_holder(self, visit_id: int, now: datetime) -> Holder | None:
        """The station timing the visit, when it is another than this one; None when nothing
        runs or this station (or no known station) times it."""
        rows = self._rows('SELECT code, station, start, heartbeat FROM intervals WHERE'
                          ' visit_id = ? AND "end" IS NULL AND deleted_at IS NULL'
                          " ORDER BY start, id", (visit_id,))
        return self._holder_from(rows, visit_id, now)

    def visit_station(self, visit_id: int) -> tuple[str | None, datetime | None]:
        """The station that last took hold of the visit (its first timer there, or a
        take-over) and when; (None, None) when none has."""
        row = self._one("SELECT station, station_at FROM visits WHERE id = ?", (visit_id,),
                        f"visit {visit_id}")
        return row["station"], from_text(row["station_at"])

    def _holder_from(self, rows, visit_id: int, now: datetime) -> Holder | None:
        mine = self.station
        others = [r for r in rows if r["station"] is not None and r["station"] != mine]
        if not others:
            return None
        station = others[0]["station"]
        theirs = [r for r in others if r["station"] == station]
        alive = max(from_text(r["heartbeat"] or r["start"]) for r in theirs)
        held_by, at = self.visit_station(visit_id)
        since = at if held_by == station else min(from_text(r["start"]) for r in theirs)
        silent = now - alive > timedelta(seconds=STALE_SECONDS)
        return Holder(station, since, alive, silent,
                      tuple(dict.fromkeys(r["code"] for r in theirs)))

    def _hold(self, conn, visit_id: int, now: datetime, user: str | None,
              take_over: bool | str, *, starting: bool = False) -> None:
        """Inside a tap's write transaction: refuses it when another station times the visit
        (unless ``take_over``: then its timers become this station's, audited), and records
        this station as the visit's when ``starting`` a timer on a visit nobody else times."""
        cursor = conn.cursor()
        cursor.row_factory = sqlite3.Row  # PgConnection rows read by name already
        rows = cursor.execute(
            'SELECT id, code, station, start, heartbeat FROM intervals WHERE visit_id = ? AND'
            ' "end" IS NULL AND deleted_at IS NULL ORDER BY start, id', (visit_id,)).fetchall()
        holder = self._holder_from(rows, visit_id, now)
        mine = self.station
        if holder is not None:
            asked_about = take_over if isinstance(take_over, str) else None
            if not take_over or (asked_about is not None and asked_about != holder.station):
                raise VisitHeldElsewhereError(self._held_text(holder), station=holder.station,
                                              since=holder.since, last_alive=holder.last_alive,
                                              silent=holder.silent, codes=holder.codes)
            ids = [r["id"] for r in rows if r["station"] == holder.station]
            # Alive here from now on: the clinician who takes it over says it runs on.
            conn.execute('UPDATE intervals SET station = ?, heartbeat = CASE WHEN heartbeat IS'
                         " NULL OR heartbeat < ? THEN ? ELSE heartbeat END WHERE visit_id = ?"
                         ' AND "end" IS NULL AND deleted_at IS NULL AND station = ?',
                         (mine, to_text(now), to_text(now), visit_id, holder.station))
            conn.execute("UPDATE visits SET station = ?, station_at = ? WHERE id = ?",
                         (mine, to_text(now), visit_id))
            self._audit(now, user, "take_over", "visit", visit_id, {
                "from": holder.station, "to": mine, "station": mine, "intervals": ids,
                "codes": list(holder.codes), "last_alive": to_text(holder.last_alive),
                "silent": holder.silent,
                "text": f"taken over from {holder.station} by {mine}"})
            return
        if starting and not rows:  # the visit's first running timer: this station holds it
            conn.execute("UPDATE visits SET station = ?, station_at = ? WHERE id = ?",
                         (mine, to_text(now), visit_id))

    def _held_text(self, holder: Holder) -> str:
        codes = ", ".join(holder.codes)
        text = f"this visit is being timed on {holder.station} ({codes})"
        if holder.silent and holder.last_alive is not None:
            zone = getattr(self, "clinic_zone", None)
            alive = holder.last_alive.astimezone(zone()) if zone else holder.last_alive
            text += (f"; {holder.station} has been silent since "
                     f"{alive:%I:%M %p}".replace(" 0", " ") +
                     " (its app may be closed or off the network)")
        return text + ". Take it over to go on here: its timers continue with their time."
