"""The visit screen's store when the clinic server can go away (issue 14, item 4).

``JournaledTimers(repo, journal)`` stands where the Repository stood for the visit screen:
every attribute is the Repository's, except the four timer writes (``start_interval``,
``stop_interval``, ``pause_visit``, ``resume_visit``) and the two reads the screen's timers
are built from (``get_visit``, ``intervals_for``).

* Online with nothing waiting, a write goes to the server as before.
* A write that fails because the server is away (``ConnectionLostError``; also a COMMIT whose
  outcome is unknown) is written to the journal (fsynced) and answered with a provisional
  result; from then on the station is *offline* (``offline_since``) and every timer write
  goes to the journal, in order, behind what waits: a tap never skips ahead of an earlier one.
* The screen's reads are the last state read from the server with the waiting entries
  applied on top (a start stops the exclusive timer it replaces, as the store does; a pause
  stops everything and remembers the codes; a resume restarts them), so the visit screen
  keeps counting from stored start times with no server at all.
* ``replay()`` (the window calls it with each heartbeat, and at start) sends the waiting
  entries in order, each with the moment it was taken. An entry leaves the journal only after
  the server committed it. An entry the server refuses (the visit was finalized elsewhere, the
  provider runs a timer elsewhere, an earlier day, invalid data) stays, marked with the
  server's reason, and replay stops behind it until the clinician answers: ``discard`` or
  ``retry``.

Replay is idempotent, so a crash between the server's commit and the journal's delete (or a
COMMIT whose answer was lost) never duplicates a tap. An entry is marked *attempted* in the
journal (fsynced) before it is sent, and at once when a live tap's COMMIT went unanswered; an
entry never attempted cannot be on the server (a ``ConnectionLostError`` other than
``CommitOutcomeUnknownError`` means nothing of it was saved: storage/pg/connection.py). An
attempted entry is looked for before it is sent again:

* a start: the visit already has an interval (kept or deleted) of that code starting at
  exactly the entry's moment (stored to the microsecond; two taps of one station never share
  a microsecond): that interval is the start's, nothing is sent;
* a resume: each paused code already has an interval starting at the entry's moment;
* a stop: stopping a stopped interval changes nothing (the store's own rule);
* a pause: pausing with nothing running changes nothing (the store's own rule).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from therapy_timer.core.model import BillingError, Performer
from therapy_timer.core.records import StoredInterval, Visit
from therapy_timer.storage.errors import (
    CommitOutcomeUnknownError,
    ConnectionLostError,
    FrozenVisitError,
    InvalidDataError,
    NotFoundError,
    ProviderBusyError,
    StorageError,
    VisitHeldElsewhereError,
)
from therapy_timer.storage.journal import Entry, Journal

log = logging.getLogger(__name__)

#: What the server says when it refuses a change (it stays for the clinician to answer).
REFUSALS = (FrozenVisitError, ProviderBusyError, VisitHeldElsewhereError, InvalidDataError,
            NotFoundError, BillingError)


#: Reads the visit screen needs, answered offline with what was last read.
CACHED = frozenset({"code_catalog", "visit_choices", "billing_context", "list_providers",
                    "visits_for_patient", "clinic_zone", "get_practice"})


class JournaledTimers:
    """The Repository for the visit screen, with the offline journal in front of its timer
    writes; ``now`` is the app's clock (when it went offline). ``listeners`` are called
    (no arguments) whenever the offline state, the waiting count or a refusal changes."""

    def __init__(self, repo, journal: Journal, now=None) -> None:
        #: The app's clock (``now()``: when the station went offline, for the banner).
        self._now = now or (lambda: datetime.now(UTC))
        self._repo = repo
        self.journal = journal
        self.listeners: list = []
        self._visits: dict[int, Visit] = {}
        self._intervals: dict[int, list[StoredInterval]] = {}
        self._kinds: dict[str, bool] = {}  # code -> exclusive (read while online)
        self._reads: dict[tuple, object] = {}
        self.offline_since: datetime | None = journal.offline_since()

    def __getattr__(self, name):
        """The Repository's attribute. While offline its methods fail at once (no wait for
        a server that is away: a treatment room's screen never hangs on it); the reads the
        visit screen is built from answer with what was last read (``CACHED``)."""
        value = getattr(self._repo, name)
        if not callable(value):
            return value
        if name in CACHED:
            return lambda *args, **kwargs: self._cached(name, value, args, kwargs)
        if name.startswith("_"):
            return value

        def call(*args, **kwargs):
            if self.offline:
                raise ConnectionLostError(self._away())
            try:
                return value(*args, **kwargs)
            except ConnectionLostError as exc:
                self._went_offline(exc)
                raise
        return call

    def _away(self) -> str:
        return (f"{self._repo.where} is away: this needs the clinic server (the timers keep "
                "counting, their changes are kept on this computer)")

    def _cached(self, name: str, method, args, kwargs):
        key = (name, *(getattr(a, "id", a) for a in args), *sorted(kwargs.items()))
        if not self.offline:
            try:
                self._reads[key] = method(*args, **kwargs)
            except ConnectionLostError as exc:
                self._went_offline(exc)
        if key in self._reads:
            return self._reads[key]
        raise ConnectionLostError(self._away())

    # -- state ----------------------------------------------------------------------------

    @property
    def repo(self):
        return self._repo

    @property
    def offline(self) -> bool:
        return self.offline_since is not None

    @property
    def waiting(self) -> int:
        return len(self.journal)

    def refused(self) -> list[Entry]:
        return self.journal.refused()

    def _notify(self) -> None:
        for listener in list(self.listeners):
            try:
                listener()
            except Exception:  # a view's bug never stops the journal
                log.exception("offline listener failed")

    def _went_offline(self, exc: Exception) -> None:
        if self.offline_since is None:
            self.offline_since = self._now()
            self.journal.set_offline_since(self.offline_since)
            log.warning("clinic server away: timer changes go to the journal (%s)", exc)
            self._notify()

    def _back_online(self) -> None:
        if self.offline_since is not None:
            self.offline_since = None
            self.journal.set_offline_since(None)
            log.info("clinic server back")
            self._notify()

    # -- the screen's reads ---------------------------------------------------------------

    def get_visit(self, visit_id: int) -> Visit:
        if not self.offline:
            try:
                self._visits[visit_id] = self._repo.get_visit(visit_id)
            except ConnectionLostError as exc:
                self._went_offline(exc)
        if visit_id not in self._visits:
            if self.offline:
                raise ConnectionLostError(self._away())
            return self._repo.get_visit(visit_id)  # never read: the error says why
        return self._view(visit_id)[0]

    def intervals_for(self, visit_id: int) -> list[StoredInterval]:
        if not self.offline:
            try:
                self._intervals[visit_id] = list(self._repo.intervals_for(visit_id))
                self._learn_kinds(self._intervals[visit_id])
            except ConnectionLostError as exc:
                self._went_offline(exc)
        if visit_id not in self._intervals:
            if self.offline:
                raise ConnectionLostError(self._away())
            return self._repo.intervals_for(visit_id)
        return self._view(visit_id)[1]

    def heartbeat(self, now: datetime) -> int:
        if self.offline:
            return 0  # nothing to mark on a server that is away; replay says when it is back
        try:
            return self._repo.heartbeat(now)
        except ConnectionLostError as exc:
            self._went_offline(exc)
            return 0

    def _learn_kinds(self, intervals) -> None:
        """Which of the visit's codes are exclusive, learnt while online (the overlay's
        switch rule offline); the catalog is read only for a code not seen yet."""
        missing = {i.code for i in intervals} - set(self._kinds)
        if not missing:
            return
        try:
            catalog = self.code_catalog()
            for code in missing:
                self._kinds[code] = catalog.get(code).kind.exclusive
        except (StorageError, BillingError):
            pass

    def _exclusive(self, code: str) -> bool:
        if code not in self._kinds:
            try:
                self._kinds[code] = self.code_catalog().get(code).kind.exclusive
            except (StorageError, BillingError):
                from therapy_timer.core.codes import default_catalog

                try:
                    self._kinds[code] = default_catalog().get(code).kind.exclusive
                except BillingError:
                    return True
        return self._kinds[code]

    def _view(self, visit_id: int) -> tuple[Visit, list[StoredInterval]]:
        """The last server state of the visit with its waiting entries applied."""
        visit = self._visits.get(visit_id)
        intervals = list(self._intervals.get(visit_id, []))
        for entry in self.journal.entries():
            if entry.visit_id == visit_id:
                visit, intervals = self._apply(entry, visit, intervals)
        return visit, sorted(intervals, key=lambda i: (i.start, i.end is None, abs(i.id)))

    def _apply(self, entry: Entry, visit: Visit | None, intervals: list[StoredInterval],
               real_ids: list[int] | None = None):
        """``entry`` applied to a visit's state, as the store applies it."""
        at, args = entry.at, entry.args
        out = list(intervals)

        def start(code: str, k: int, performer: str, technique=None, body_region=None,
                  provider_id=None) -> None:
            exclusive = self._exclusive(code)
            for n, other in enumerate(out):
                if other.end is None and (other.code == code
                                          or (exclusive and self._exclusive(other.code))):
                    out[n] = replace(other, end=at)
            new_id = real_ids[k] if real_ids else entry.provisional(k)
            out.append(StoredInterval(new_id, entry.visit_id, code, at, None,
                                      Performer(performer), provider_id, technique,
                                      body_region, at))

        if entry.op == "start_interval":
            start(args["code"], 0, args["performer"], args.get("technique"),
                  args.get("body_region"), args.get("provider_id"))
            if visit is not None:
                visit = replace(visit, paused_codes=())
        elif entry.op == "stop_interval":
            target = self.journal.resolve(args["interval_id"])
            for n, other in enumerate(out):
                if other.end is None and other.id in (args["interval_id"], target):
                    out[n] = replace(other, end=max(at, other.start))
        elif entry.op == "pause_visit":
            codes = tuple(dict.fromkeys(i.code for i in out if i.end is None))
            out = [replace(i, end=at) if i.end is None else i for i in out]
            if visit is not None and codes:
                visit = replace(visit, paused_codes=codes)
        elif entry.op == "resume_visit":
            codes = visit.paused_codes if visit is not None else ()
            last = {i.code: i for i in out if i.end is not None}
            for k, code in enumerate(codes):
                before = last.get(code)
                start(code, k, args["performer"],
                      before.technique if before else None,
                      before.body_region if before else None, args.get("provider_id"))
            if visit is not None:
                visit = replace(visit, paused_codes=())
        return visit, out

    # -- the four timer writes --------------------------------------------------------------

    def start_interval(self, visit_id: int, code: str, performer: Performer | str,
                       now: datetime, technique: str | None = None,
                       body_region: str | None = None, provider_id: int | None = None,
                       user: str | None = None, take_over: bool | str = False):
        return self._write("start_interval", visit_id, now, code=str(code).upper(),
                           performer=Performer(performer).value, technique=technique,
                           body_region=body_region, provider_id=provider_id, user=user,
                           take_over=take_over or None)

    def stop_interval(self, interval_id: int, now: datetime, user: str | None = None,
                      take_over: bool | str = False):
        return self._write("stop_interval", self._visit_of(interval_id), now,
                           interval_id=interval_id, user=user, take_over=take_over or None)

    def pause_visit(self, visit_id: int, now: datetime, user: str | None = None,
                    take_over: bool | str = False):
        return self._write("pause_visit", visit_id, now, user=user,
                           take_over=take_over or None)

    def resume_visit(self, visit_id: int, performer: Performer | str, now: datetime,
                     user: str | None = None, provider_id: int | None = None,
                     take_over: bool | str = False):
        return self._write("resume_visit", visit_id, now, performer=Performer(performer).value,
                           user=user, provider_id=provider_id, take_over=take_over or None)

    def _visit_of(self, interval_id: int) -> int:
        if interval_id < 0:
            return self.journal.get(-interval_id // 100).visit_id
        for visit_id, intervals in self._intervals.items():
            if any(i.id == interval_id for i in intervals):
                return visit_id
        if self.offline:
            raise ConnectionLostError(self._away())
        return self._repo.get_interval(interval_id).visit_id

    def _write(self, op: str, visit_id: int, now: datetime, **args):
        entry_args = {k: v for k, v in args.items() if v is not None}
        attempted = False
        if not self.offline and not len(self.journal):
            try:
                result = self._send(op, visit_id, now, args)
            except CommitOutcomeUnknownError as exc:  # replay looks whether the server kept it
                attempted = True
                self._went_offline(exc)
            except ConnectionLostError as exc:  # nothing of it was saved
                self._went_offline(exc)
            else:
                return result
        entry = self.journal.append(op, visit_id, now, attempted=attempted, **entry_args)
        log.info("kept in the journal: %s (visit %s)", entry.describe(), visit_id)
        self._notify()
        if not self.offline:
            self.replay()  # online behind a refusal: goes as soon as the way is clear
        return None

    def _send(self, op: str, visit_id: int, now: datetime, args: dict):
        repo = self._repo
        # (the take-over answer only when given: a store without stations takes none)
        more = {"take_over": args["take_over"]} if args.get("take_over") else {}
        if op == "start_interval":
            return repo.start_interval(visit_id, args["code"], args["performer"], now,
                                       technique=args.get("technique"),
                                       body_region=args.get("body_region"),
                                       provider_id=args.get("provider_id"),
                                       user=args.get("user"), **more)
        if op == "stop_interval":
            return repo.stop_interval(args["interval_id"], now, user=args.get("user"), **more)
        if op == "pause_visit":
            return repo.pause_visit(visit_id, now, user=args.get("user"), **more)
        return repo.resume_visit(visit_id, args["performer"], now, user=args.get("user"),
                                 provider_id=args.get("provider_id"), **more)

    # -- replay -----------------------------------------------------------------------------

    def replay(self) -> bool:
        """Sends what waits, in order. True when the journal is empty and the server
        answers; False while it is away or a refused entry waits for the clinician."""
        entries = self.journal.entries()
        if not entries:
            if self.offline:
                try:
                    self._repo.conn.execute("SELECT 1").fetchone()
                except StorageError as exc:
                    log.debug("clinic server still away: %s", exc)
                    return False
                self._back_online()
            return True
        touched: set[int] = set()
        try:
            for entry in entries:
                if entry.refused is not None:
                    self._notify()
                    return False
                maybe_sent = entry.attempted
                try:
                    real_ids = self._replay_one(self.journal.attempt(entry), maybe_sent)
                except ConnectionLostError as exc:
                    self._went_offline(exc)
                    return False
                except REFUSALS as exc:
                    log.warning("the server refused %s: %s", entry.describe(), exc)
                    self.journal.refuse(entry, str(exc), type(exc).__name__)
                    self._back_online()
                    self._notify()
                    return False
                except StorageError as exc:  # locked, busy: the next heartbeat tries again
                    log.warning("replay of %s waits: %s", entry.describe(), exc)
                    return False
                self.journal.done(entry, real_ids)
                self._settle(entry, real_ids)
                touched.add(entry.visit_id)
                log.info("sent from the journal: %s", entry.describe())
        finally:
            self._reread(touched)
        self._back_online()
        self._notify()
        return True

    def _replay_one(self, entry: Entry, maybe_sent: bool) -> list[int]:
        """Sends ``entry``; when an earlier attempt may have reached the server
        (``maybe_sent``), a start or a resume looks for it first."""
        repo, args, at = self._repo, entry.args, entry.at
        if entry.op == "start_interval":
            same = self._started_at(entry.visit_id, at, [args["code"]]) if maybe_sent else []
            if same:
                return same
            started = self._send("start_interval", entry.visit_id, at, args)
            return [started.id]
        if entry.op == "stop_interval":
            real = self.journal.resolve(args["interval_id"])
            if real is not None:
                self._send("stop_interval", entry.visit_id, at, {**args, "interval_id": real})
            return []
        if entry.op == "pause_visit":
            self._send("pause_visit", entry.visit_id, at, args)
            return []
        if maybe_sent and not repo.get_visit(entry.visit_id).paused_codes:
            # sent before the crash (its intervals start at the entry's moment), or not
            # paused any more: the store's refusal names that
            started = self._started_at(entry.visit_id, at, None)
            if started:
                return started
        started = self._send("resume_visit", entry.visit_id, at, args)
        return [i.id for i in started]

    def _started_at(self, visit_id: int, at: datetime, codes) -> list[int]:
        kept = list(self._repo.intervals_for(visit_id)) + list(
            self._repo.deleted_intervals(visit_id))
        return [i.id for i in sorted(kept, key=lambda i: i.id)
                if i.start == at and (codes is None or i.code in codes)]

    def _settle(self, entry: Entry, real_ids: list[int]) -> None:
        """The cached server state learns what the server now holds of ``entry``."""
        visit_id = entry.visit_id
        if visit_id in self._intervals:
            visit, intervals = self._apply(entry, self._visits.get(visit_id),
                                           self._intervals[visit_id], real_ids or None)
            self._intervals[visit_id] = intervals
            if visit is not None:
                self._visits[visit_id] = visit

    def _reread(self, visit_ids) -> None:
        """After a replay: the visits it touched as the server now holds them."""
        for visit_id in visit_ids:
            try:
                self._visits[visit_id] = self._repo.get_visit(visit_id)
                self._intervals[visit_id] = list(self._repo.intervals_for(visit_id))
            except StorageError:  # the cache already learnt each entry (``_settle``)
                pass

    # -- the clinician's answers --------------------------------------------------------------

    def discard(self, entry_id: int) -> None:
        gone = self.journal.discard(entry_id)
        log.warning("discarded by the clinician: %s", "; ".join(e.describe() for e in gone))
        self._notify()
        self.replay()

    def retry(self, entry_id: int) -> bool:
        """Sends a refused change again. Refused because another station times the visit
        (``VisitHeldElsewhereError``), the clinician's "send it again" takes the visit over,
        as the take-over question's yes does."""
        entry = self.journal.get(entry_id)
        take_over = entry.refused_kind == VisitHeldElsewhereError.__name__
        self.journal.retry(entry_id, take_over=True if take_over else None)
        return self.replay()
