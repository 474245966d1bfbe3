"""The running visit: every start, stop, pause and edit goes through here to the store.

``SessionController`` is the one QObject that owns the open visit. Each action calls the
repository first (committed to disk), then reloads the visit's intervals and emits ``changed``;
the screen therefore never shows a timer the database does not have. Elapsed time always comes
from stored timestamps and the injected clock: the 1 Hz QTimer only asks views to repaint and
writes the heartbeat every few seconds. Each tick also asks the app's one ``ClockWatch`` to
compare the wall clock with a monotonic clock; when they disagree (the machine slept, or someone
changed the clock) the running intervals are flagged in the store, and the open visit shows its
flags as ``TimeJump`` notices for the clinician to confirm. While a flag holds, a running
timer counts what the monotonic clock measured (the wall clock only anchored its start): a clock
set back never stops the count, and a stop stores the measured end. A pause is stored too:
reopening a paused visit (or restarting the app) still offers Resume.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from PySide6.QtCore import QObject, QTimer, Signal

from therapy_timer.core.choices import Choices
from therapy_timer.core.codes import Catalog, default_catalog
from therapy_timer.core.live import LiveFacts, LiveTally
from therapy_timer.core.model import BillingError, Performer, Rule
from therapy_timer.core.records import ClockFlag, StoredInterval, Visit, VisitStatus
from therapy_timer.storage.errors import (
    ProviderBusyError,
    StorageError,
    VisitHeldElsewhereError,
)
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.clock import Clock, screen_time
from therapy_timer.ui.clock_watch import JUMP_TOLERANCE_SECONDS, ClockWatch
from therapy_timer.ui.station.takeover import StationView

log = logging.getLogger(__name__)

__all__ = ["JUMP_TOLERANCE_SECONDS", "SessionController", "TimeJump"]


@dataclass
class TimeJump:
    """The wall clock moved differently from real time while intervals were running: the
    visit's stored clock flags (one ``ClockFlag`` shared by ``interval_ids``) as one question.

    ``last_good`` is the last moment both clocks agreed; ``trusted_until`` adds the real time
    the monotonic clock saw pass (none while asleep). ``interval_ids`` were running then.
    """

    last_good: datetime
    now: datetime
    wall_seconds: float
    real_seconds: float
    interval_ids: tuple[int, ...]
    codes: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_flag(cls, flag: ClockFlag, intervals: list[StoredInterval]) -> TimeJump:
        return cls(flag.last_good, flag.now, flag.wall_seconds, flag.real_seconds,
                   tuple(i.id for i in intervals), tuple(dict.fromkeys(i.code for i in intervals)))

    @property
    def trusted_until(self) -> datetime:
        return self.last_good + timedelta(seconds=max(0.0, self.real_seconds))

    def describe(self) -> str:
        what = ", ".join(self.codes) or "the running timer"
        gap = abs(int(self.wall_seconds - self.real_seconds)) // 60
        if self.wall_seconds > self.real_seconds:
            kind = f"the computer slept or its clock jumped ahead ({gap} min unaccounted for)"
        else:
            kind = f"the computer's clock was set back ({gap} min)"
        return (f"While {what} ran, {kind} after {screen_time(self.last_good)}. "
                "The timer shows the time measured. Time is right: the computer's clock "
                "stands. Keep the measured time: the minutes measured count. Or stop the timer "
                "at the last certain moment.")


def measured_offsets(intervals: list[StoredInterval]) -> dict[str, float]:
    """For the live tally: each running code under a clock flag, with the seconds its measured
    time differs from the wall clock's (``ClockFlag.offset_seconds``)."""
    return {i.code: i.clock_flag.offset_seconds for i in intervals
            if i.end is None and i.clock_flag is not None}


class SessionController(QObject):
    """Owns the open visit, its intervals and the live tally.

    Signals:
        changed: the visit or its intervals changed (after the store committed).
        ticked: once a second while a visit is open; views repaint from ``facts()``.
        failed(str): an action was refused; the message names the problem.
        provider_busy(str, str, int): (message, suggested group code, the other visit's id)
            when the provider is on the clock one-on-one with another patient.
        time_jump(object): a ``TimeJump`` the clinician must confirm.
        taken_over(object): another station took this station's timers of the open visit
            over (a ``ui.station.takeover.TakenOver``), seen when the visit was read again.

    A tap on a visit another station times asks ``ask_take_over(held)`` (the visit screen
    sets it: "This visit is being timed on Room 2: take it over?"); yes repeats the tap,
    taking the visit over (``storage.stations``).
    """

    changed = Signal()
    ticked = Signal()
    failed = Signal(str)
    provider_busy = Signal(str, str, int)
    time_jump = Signal(object)
    taken_over = Signal(object)

    def __init__(self, repo, clock: Clock, *, heartbeat_seconds: float = 5.0,
                 catalog: Catalog | None = None, watch: ClockWatch | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.repo = repo
        self.clock = clock
        self._catalog = catalog
        self.heartbeat_seconds = heartbeat_seconds
        self.signed_in = ""  # who unlocked the workstation last (set by the lock screen)
        self.visit: Visit | None = None
        self._visit_provider = ""
        self.rule = Rule.CMS
        self.medicare = False  # the visit's payer bundles 97010 (no unit of its own)
        self.intervals: list[StoredInterval] = []
        self.pooled: list[StoredInterval] = []  # the day's finalized visits, same discipline
        self.performer: Performer | None = None
        #: Which assistant furnishes the time while ``performer`` is an assistant (PTA/OTA).
        self.assistant_id: int | None = None
        self.paused_codes: tuple[str, ...] = ()
        self.jumps: list[TimeJump] = []
        #: The visit's stored billing choices (tie, ticks, pointers, untimed confirmations).
        self.choices = Choices()
        self._tally: LiveTally | None = None
        self._last_beat: float | None = None
        #: The app's one clock-jump watcher (the window's heartbeat checks through it too).
        self.watch = watch or ClockWatch(repo, clock, parent=self)
        self.watch.flagged.connect(self._on_flagged)
        #: Which station times the open visit (issue 14); the take-over question's hook.
        self.stations = StationView(repo)
        self.ask_take_over = None
        self._declined_take_over = False
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self.tick)

    # -- state -------------------------------------------------------------------------------

    @property
    def user(self) -> str:
        """The acting user the audit log names: who unlocked last, else the visit's provider."""
        return self.signed_in or self._visit_provider

    @user.setter
    def user(self, name: str) -> None:
        self.signed_in = name

    @property
    def is_open(self) -> bool:
        return self.visit is not None

    @property
    def editable(self) -> bool:
        return self.visit is not None and not self.visit.status.frozen

    @property
    def paused(self) -> bool:
        return bool(self.paused_codes) and not self.running()

    def paused_since(self) -> datetime | None:
        """When the pause began (the paused timers' stop), or None when not paused."""
        ends = [i.end for i in self.intervals if i.end is not None and i.code in self.paused_codes]
        return max(ends) if self.paused and ends else None

    def running(self) -> list[StoredInterval]:
        return [i for i in self.intervals if i.end is None]

    def running_codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.running())

    def facts(self, now: datetime | None = None) -> LiveFacts | None:
        """Live units and minutes as of ``now`` (the clock's now by default)."""
        if self._tally is None:
            return None
        return self._tally.facts(now or self.clock.now())

    def session_seconds(self, now: datetime | None = None) -> int:
        """Seconds from the first start to now (or the last stop when nothing runs); a timer
        under a clock flag counts to its measured now."""
        if not self.intervals:
            return 0
        now = now or self.clock.now()
        start = min(i.start for i in self.intervals)
        end = max(i.measured_end(now) for i in self.intervals)
        return max(0, int((end - start).total_seconds()))

    @property
    def catalog(self) -> Catalog:
        """The code catalog: the one given, else the database's (the shipped codes plus the
        clinic's own, re-read when the clinic adds one in Settings)."""
        if self._catalog is not None:
            return self._catalog
        code_catalog = getattr(self.repo, "code_catalog", None)
        if code_catalog is None:
            return default_catalog()
        try:
            return code_catalog()
        except StorageError as exc:  # a locked file: the shipped codes still work
            log.warning("clinic codes not read: %s", exc)
            return default_catalog()

    def tally_for(self, visit_id: int) -> LiveTally:
        """The live tally of any open visit, built as the visit screen builds its own (the
        payer's rule and flags, the day's finalized visits pooled in, the stored tie choice and
        confirmations): the lock screen's countdown and units are therefore the visit screen's.
        The open visit's own tally when it is that visit."""
        if self.visit is not None and self.visit.id == visit_id and self._tally is not None:
            return self._tally
        visit = self.repo.get_visit(visit_id)
        pooled = self._pooled_intervals(visit)
        choices, untimed_ok = self._choices_for(visit, pooled)
        own = list(self.repo.intervals_for(visit_id))
        return LiveTally([i.interval for i in pooled + own],
                         self._rule_for(visit), self.catalog, medicare=self._medicare_for(visit),
                         tie=choices.tie, untimed_ok=untimed_ok, offsets=measured_offsets(own))

    def _choices_for(self, visit: Visit, pooled: list[StoredInterval]
                     ) -> tuple[Choices, set[str]]:
        """The visit's stored choices, and the untimed confirmations of it and the visits
        pooled with it (they count as when the store bills the day)."""
        untimed_ok: set[str] = set()
        choices = Choices()
        try:
            choices = self.repo.visit_choices(visit.id)
            for visit_id in {visit.id, *(i.visit_id for i in pooled)}:
                untimed_ok.update(self.repo.visit_choices(visit_id).untimed_ok)
        except StorageError as exc:
            log.warning("visit %s: billing choices not read: %s", visit.id, exc)
        return choices, untimed_ok

    # -- opening and closing ------------------------------------------------------------------

    def open_visit(self, visit_id: int) -> None:
        """Makes ``visit_id`` the visit on screen and starts the repaint timer."""
        self.watch.check()  # a jump since the last heartbeat is stored before the flags load
        self.visit = self.repo.get_visit(visit_id)
        self.rule = self._rule_for(self.visit)
        self.medicare = self._medicare_for(self.visit)
        provider = self._provider(self.visit.provider_id)
        self.performer = provider.role if provider is not None else None
        self.assistant_id = None
        self._visit_provider = provider.name if provider is not None else ""
        self.pooled = self._pooled_intervals(self.visit)
        self._reload()
        running = self.running()
        if running:  # reopened while an assistant's timer runs: the assistant goes on
            self.performer = running[-1].performer
            self.assistant_id = (running[-1].provider_id if self.performer.is_assistant
                                 else None)
            self.changed.emit()
        self._last_beat = self.clock.monotonic()
        self.timer.start()

    def close_visit(self) -> None:
        """Leaves the visit screen; running timers keep running in the store."""
        self.timer.stop()
        self.visit = None
        self.intervals = []
        self.pooled = []
        self.paused_codes = ()
        self.jumps = []
        self.choices = Choices()
        self._tally = None
        self.changed.emit()

    def reload(self) -> None:
        """Re-reads the visit from the store (after a change made elsewhere)."""
        if self.visit is not None:
            self.visit = self.repo.get_visit(self.visit.id)
            self._reload()

    def _reload(self) -> None:
        assert self.visit is not None
        try:
            self.visit = self.repo.get_visit(self.visit.id)
        except StorageError as exc:  # keep what is on screen; the next action reports it
            log.warning("visit %s not re-read: %s", self.visit.id, exc)
        self.paused_codes = self.visit.paused_codes
        self.intervals = list(self.repo.intervals_for(self.visit.id))
        taken = self.stations.update(self.visit.id, self.intervals)
        if taken is not None:
            self.taken_over.emit(taken)
        self.jumps = self._stored_jumps()
        self.choices, untimed_ok = self._choices_for(self.visit, self.pooled)
        try:
            self._tally = LiveTally([i.interval for i in self.pooled + self.intervals],
                                    self.rule, self.catalog, medicare=self.medicare,
                                    tie=self.choices.tie, untimed_ok=untimed_ok,
                                    offsets=measured_offsets(self.intervals))
        except BillingError as exc:  # stored overlap: show it rather than crash
            log.warning("live tally refused the visit's intervals: %s", exc)
            self._tally = LiveTally([], self.rule, self.catalog)
            self.failed.emit(str(exc))
        self.changed.emit()

    def _stored_jumps(self) -> list[TimeJump]:
        """The visit's unconfirmed clock flags, one ``TimeJump`` per flag, oldest first."""
        groups: dict[ClockFlag, list[StoredInterval]] = {}
        for interval in self.intervals:
            flag = interval.clock_flag
            if flag is not None and flag.pending:  # one question per jump, stopped or not
                groups.setdefault(replace(flag, wall_end=None), []).append(interval)
        jumps = [TimeJump.from_flag(flag, group) for flag, group in groups.items()]
        return sorted(jumps, key=lambda j: (j.last_good, j.interval_ids))

    def _on_flagged(self, flagged: list[StoredInterval]) -> None:
        """The watch flagged running intervals: the open visit shows its new questions."""
        if self.visit is None or not any(i.visit_id == self.visit.id for i in flagged):
            return
        before = list(self.jumps)
        self._reload()
        for jump in self.jumps:
            if jump not in before:
                self.time_jump.emit(jump)

    def _pooled_intervals(self, visit: Visit) -> list[StoredInterval]:
        """Intervals of the patient's finalized visits that day in the same discipline: the
        CMS rule pools them with this visit, so the live units must too."""
        out: list[StoredInterval] = []
        for other in self.repo.visits_for_patient(visit.patient_id, limit=50):
            if (other.id != visit.id and other.day == visit.day
                    and other.discipline == visit.discipline
                    and other.status is VisitStatus.FINALIZED):
                out.extend(self.repo.intervals_for(other.id))
        return out

    def _rule_for(self, visit: Visit) -> Rule:
        try:
            return Rule(self.repo.billing_context(visit).rule)
        except (StorageError, ValueError) as exc:
            log.warning("no unit rule for visit %s: %s", visit.id, exc)
            return Rule.CMS

    def _medicare_for(self, visit: Visit) -> bool:
        try:
            return bool(self.repo.billing_context(visit).medicare)
        except StorageError as exc:
            log.warning("no payer flags for visit %s: %s", visit.id, exc)
            return False

    def _provider(self, provider_id: int):
        for provider in self.repo.list_providers():
            if provider.id == provider_id:
                return provider
        return None

    # -- actions (each: store first, then screen) ---------------------------------------------

    def tap(self, code: str, technique: str | None = None,
            body_region: str | None = None) -> bool:
        """A tile tap: stops ``code`` if it runs, otherwise starts it. Returns True on success.
        A code running on another station is taken over (asked first): it goes on here."""
        code = code.upper()
        running = [i for i in self.running() if i.code == code]
        if running and self.runs_elsewhere(code):
            return self.start(code)
        if running:
            return self.stop(code)
        return self.start(code, technique, body_region)

    def runs_elsewhere(self, code: str) -> bool:
        """True when ``code`` runs on another station (its tile is that station's)."""
        return any(i.code == code.upper() and self.stations.timed_elsewhere(i)
                   for i in self.running())

    def start(self, code: str, technique: str | None = None,
              body_region: str | None = None) -> bool:
        """Starts ``code`` (the store stops any running one-on-one code in the same commit)."""
        if not self._can_change():
            return False
        self.watch.check()  # a jump not noticed yet is flagged before anything stops
        performer = self.performer or Performer.PT
        ok = self._call(self.repo.start_interval, self.visit.id, code.upper(), performer,
                        self.clock.now(), technique=technique, body_region=body_region,
                        provider_id=self.performer_provider(), user=self.user or None)
        return ok

    def performer_provider(self) -> int | None:
        """The provider who furnishes the time from now on, when it is an assistant chosen
        at the PT | PTA switch (None: the store takes the visit's own provider)."""
        if self.performer is not None and self.performer.is_assistant:
            return self.assistant_id
        return None

    def stop(self, code: str | None = None) -> bool:
        """Stops ``code`` (every running interval when None). A timer under a clock flag
        stores its measured end (the store keeps the wall reading for the question)."""
        if not self._can_change():
            return False
        self.watch.check()  # a jump not noticed yet is flagged first: the stop is measured
        now = self.clock.now()
        targets = [i for i in self.running() if code is None or i.code == code.upper()]
        ok = True
        self._declined_take_over = False
        for interval in targets:
            if self._declined_take_over:  # asked once: "Cancel" holds for the whole tap
                break
            ok = self._call(self.repo.stop_interval, interval.id, now, user=self.user or None,
                            reload=False) and ok
        self._reload()
        return ok

    def toggle_pause(self) -> bool:
        """Pauses (stops every running timer; the store remembers their codes) or resumes
        them. Paused time is in no interval, so it is never treatment time."""
        if not self._can_change():
            return False
        self.watch.check()  # a jump not noticed yet is flagged first: the pause is measured
        if self.paused:
            return self._call(self.repo.resume_visit, self.visit.id,
                              self.performer or Performer.PT, self.clock.now(),
                              user=self.user or None, provider_id=self.performer_provider())
        if not self.running():
            return False
        return self._call(self.repo.pause_visit, self.visit.id, self.clock.now(),
                          user=self.user or None)

    def set_performer(self, performer: Performer, provider_id: int | None = None) -> bool:
        """Switches therapist/assistant for the running and following intervals.

        ``provider_id`` names the assistant (for PTA/OTA); the store records it as who
        performed each interval from now on. A running interval is split at now: the part so
        far keeps its performer.
        """
        performer = Performer(performer)
        assistant = provider_id if performer.is_assistant else None
        if performer == self.performer and assistant == self.performer_provider():
            return True
        self.performer = performer
        self.assistant_id = assistant
        if not self.editable:
            self.changed.emit()
            return True
        now = self.clock.now()
        ok = True
        self._declined_take_over = False
        for interval in self.running():
            if self._declined_take_over:
                break
            ok = self._call(self.repo.start_interval, self.visit.id, interval.code, performer,
                            now, technique=interval.technique,
                            body_region=interval.body_region, user=self.user or None,
                            provider_id=assistant, reload=False) and ok
        self._reload()
        return ok

    def start_group(self, group_code: str, other_visit_id: int) -> bool:
        """Records a group session for both patients: the other visit's one-on-one timer is
        switched to ``group_code`` (same moment, one commit each), then this visit's starts."""
        if not self._can_change():
            return False
        now = self.clock.now()
        try:  # (offline, the other visit cannot be read: said, not raised)
            running = [i for i in self.repo.intervals_for(other_visit_id) if i.end is None]
        except StorageError as exc:
            self.failed.emit(str(exc))
            return False
        performer = running[0].performer if running else (self.performer or Performer.PT)
        if not any(i.code == group_code for i in running):
            try:
                self.repo.start_interval(other_visit_id, group_code, performer, now,
                                         user=self.user or None)
            except (StorageError, BillingError) as exc:
                self.failed.emit(str(exc))
                return False
        return self._call(self.repo.start_interval, self.visit.id, group_code,
                          self.performer or Performer.PT, now, user=self.user or None,
                          provider_id=self.performer_provider())

    def edit_interval(self, interval_id: int, *, reason: str, **changes) -> bool:
        """Edits one interval's start, end, code or performer; ``reason`` goes to the audit."""
        if not reason or not reason.strip():
            self.failed.emit("Editing a recorded interval needs a reason (it goes to the audit "
                             "log).")
            return False
        return self._call(self.repo.edit_interval, interval_id, reason=reason.strip(),
                          user=self.user or "unknown", now=self.clock.now(), **changes)

    def delete_interval(self, interval_id: int, *, reason: str) -> bool:
        """Deletes a mistaken interval (a running one stops first); kept as deleted, audited."""
        if not reason or not reason.strip():
            self.failed.emit("Deleting a recorded interval needs a reason (it goes to the audit "
                             "log).")
            return False
        if not self._can_change():
            return False
        return self._call(self.repo.delete_interval, interval_id, reason=reason.strip(),
                          user=self.user or "unknown", now=self.clock.now())
    def choose_tie(self, allocation: dict[str, int] | None) -> bool:
        """Stores the clinician's choice among the tie's allowed allocations (None: the
        rule's pick); the tiles and totals show it at once, the review and finalize use it."""
        if not self._can_change():
            return False
        return self._call(self.repo.save_choices, self.visit.id,
                          self.choices.with_tie(allocation), self.user or None,
                          self.clock.now())

    def resolve_jump(self, jump: TimeJump, keep: bool | str) -> bool:
        """The clinician's answer to a flagged time jump (stored and audited).

        ``keep``: True (or "keep") accepts the computer's clock ("Time is right"); "measured"
        keeps the measured time (start + what the monotonic clock measured); False (or
        "stop") stops each flagged interval at ``jump.trusted_until`` (one already stopped is
        shortened to end there). See ``storage.clock_flags.ClockAnswer``.
        """
        if self.visit is None:
            return False
        answer = ("keep" if keep else "stop") if isinstance(keep, bool) else str(keep)
        log.info("time jump answered by the clinician: %s", answer)
        return self._call(self.repo.resolve_clock_flags, jump.interval_ids, answer=answer,
                          user=self.user or "unknown", now=self.clock.now())

    def _can_change(self) -> bool:
        if self.visit is None:
            self.failed.emit("No visit is open.")
            return False
        if self.visit.status.frozen:
            self.failed.emit(f"This visit is {self.visit.status.value}: it cannot change. "
                             "Use Amend to correct it.")
            return False
        return True

    def _call(self, fn, *args, reload: bool = True, **kwargs) -> bool:
        try:
            fn(*args, **kwargs)
        except ProviderBusyError as exc:
            self.provider_busy.emit(str(exc), exc.suggested_code, exc.other_visit_id)
            return False
        except VisitHeldElsewhereError as exc:
            return self._take_over(exc, fn, args, kwargs, reload)
        except (StorageError, BillingError) as exc:
            self.failed.emit(str(exc))
            if reload:
                self._reload()
            return False
        if reload:
            self._reload()
        return True

    def _take_over(self, held: VisitHeldElsewhereError, fn, args, kwargs, reload) -> bool:
        """Another station times the visit: the screen shows so (and a take-over of this
        station's timers), then asks; Take over repeats the action, taking the visit over
        from the station asked about (refused again, and asked again, if a third took it
        meanwhile)."""
        self._reload()
        if self.ask_take_over is None:
            self.failed.emit(str(held))
            return False
        if not self.ask_take_over(held):
            self._declined_take_over = True
            return False
        return self._call(fn, *args, reload=reload, take_over=held.station, **kwargs)

    # -- time ---------------------------------------------------------------------------------

    def tick(self) -> None:
        """Once a second: check the clocks, write the heartbeat, ask views to repaint.

        The heartbeat marks every running timer of the station alive (the store's
        ``heartbeat``), whether or not the visit on screen has one running: while this screen
        shows, the window leaves the beating to it, so another visit's timer must not go
        without (after a crash, "stop at last alive" would cut its time short)."""
        if self.visit is None:
            return
        self.watch.user = self.user or None
        self.watch.check()  # a jump flags the store; _on_flagged shows it
        wall, mono = self.clock.now(), self.clock.monotonic()
        if self._last_beat is None or mono - self._last_beat >= self.heartbeat_seconds:
            self._last_beat = mono
            try:
                self.repo.heartbeat(wall)  # no write when nothing runs anywhere
            except StorageError as exc:  # never stop the screen for a missed heartbeat
                log.warning("heartbeat not written: %s", exc)
        self.ticked.emit()
