"""Visits and their timer intervals: every start, stop and pause is committed before the
call returns, so what the screen shows is already on disk. Corrections of recorded time,
97140's details, diagnoses and notes are in ``visit_records``."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache

from therapy_timer.core.codes import Catalog, CodeKind
from therapy_timer.core.minutes import check_overlaps
from therapy_timer.core.model import BillingError, Interval, Performer
from therapy_timer.core.records import StoredInterval, Visit, VisitStatus
from therapy_timer.storage.base import interval_from, visit_from
from therapy_timer.storage.clock_flags import ClockFlagMixin
from therapy_timer.storage.db import day_text, to_text
from therapy_timer.storage.errors import (
    EarlierDayError,
    FrozenVisitError,
    InvalidDataError,
    ProviderBusyError,
)
from therapy_timer.storage.stations import MINE, StationMixin

#: ``edit_interval`` leaves a field alone when given this.
KEEP = object()
MAX_DIAGNOSES = 12
GROUP_CODE = "97150"


@cache
def _local_zone() -> tzinfo:
    return datetime.now().astimezone().tzinfo


def _one_on_one(kind: CodeKind) -> bool:
    """Codes that take the clinician's whole attention for one patient."""
    return kind.exclusive and kind is not CodeKind.GROUP


class TimerMixin(StationMixin, ClockFlagMixin):
    """Visits, intervals, pauses, heartbeats and diagnoses."""

    def clinic_zone(self) -> tzinfo:
        """The practice's time zone (decides a visit's calendar day)."""
        row = self._row("SELECT timezone FROM practice WHERE id = 1")
        if row and row["timezone"]:
            from zoneinfo import ZoneInfo

            return ZoneInfo(row["timezone"])
        return _local_zone()

    def service_day(self, moment: datetime) -> date:
        return moment.astimezone(self.clinic_zone()).date()

    # --- the visit's day (issue 16) ---
    #
    # A visit bills under one date of service, its ``day``. The CMS rule counts minutes per
    # calendar day (Pub 100-04 ch. 5 s. 20.2: "services delivered on any single calendar
    # day"), so no minute furnished on another day may reach that visit's claim:
    #
    # * a timer is never started (nor resumed, nor restarted) on a visit of an earlier day
    #   than ``now``'s: ``EarlierDayError`` names the visit's date. Such a visit is finished
    #   and finalized with the time it recorded; today's minutes go on a visit of today.
    # * the midnight edge: a timer started at 23:50 that still runs at 00:10 stops, for
    #   billing, at midnight. A stop or pause after midnight ends it at the end of the visit's
    #   day; the audit log keeps the moment it was really stopped. Our decision, where the
    #   manual is silent: the minutes after midnight are left off yesterday's claim (the
    #   clinician may record them on a visit of the new day, with a reason). Under-billing a
    #   few minutes is defensible in an audit; billing them under the earlier date is not.
    # * time entered or corrected by hand must fall within the visit's day.

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """The first moment of the clinic's calendar ``day`` and the first moment of the next
        (midnight to midnight in the clinic's zone), as UTC."""
        zone = self.clinic_zone()
        first = datetime.combine(day, time(0), tzinfo=zone)
        after = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        return first.astimezone(UTC), after.astimezone(UTC)

    def _refuse_earlier_day(self, visit: Visit, now: datetime) -> None:
        today = self.service_day(now)
        if visit.day < today:
            raise EarlierDayError(
                f"this visit is from {visit.day:%m/%d/%Y}: a timer started now would bill "
                f"the minutes of {today:%m/%d/%Y} under that earlier date of service. Finish "
                "that visit with the time it recorded (Finish visit), and start a new visit "
                "today for the patient's treatment now.", day=visit.day)

    def _end_in_day(self, visit: Visit, end: datetime) -> datetime:
        """``end``, or the end of the visit's day when it is later (the midnight edge)."""
        return min(end, self.day_bounds(visit.day)[1])

    def _check_in_day(self, visit: Visit, start: datetime, end: datetime | None) -> None:
        first, after = self.day_bounds(visit.day)
        if start < first or (end is not None and end > after):
            raise InvalidDataError(
                f"the visit is on {visit.day:%m/%d/%Y}: its recorded time must fall on that "
                "day (up to midnight). Time of another day belongs on a visit of that day.")

    # --- visits ---

    def start_visit(self, patient_id: int, provider_id: int, plan_id: int | None,
                    now: datetime, place_of_service: str = "11",
                    user: str | None = None) -> Visit:
        """Opens a visit for today (the clinic's calendar day of ``now``)."""
        _aware(now)
        provider = self._one("SELECT discipline FROM providers WHERE id = ?", (provider_id,),
                             f"provider {provider_id}")
        self._one("SELECT id FROM patients WHERE id = ?", (patient_id,), f"patient {patient_id}")
        discipline = provider["discipline"]
        diagnoses = ""  # a visit starts with its plan of care's diagnoses (a copy: issue 16)
        if plan_id is not None:
            plan = self._one("SELECT patient_id, discipline, diagnoses FROM plans WHERE id = ?",
                             (plan_id,), f"plan of care {plan_id}")
            if plan["patient_id"] != patient_id:
                raise InvalidDataError(f"plan of care {plan_id} belongs to another patient")
            discipline = plan["discipline"]
            diagnoses = plan["diagnoses"] or ""
        pos = str(place_of_service).strip()
        if not (len(pos) == 2 and pos.isdigit()):
            raise InvalidDataError(f"place of service {place_of_service!r} must be two digits "
                                   "(11 office, 12 home, 02 or 10 telehealth)")
        described = self._descriptions_text(diagnoses.split(","), {}, {})  # before the lock
        with self._write() as conn:
            visit_id = conn.execute(
                "INSERT INTO visits (patient_id, provider_id, plan_id, day, discipline,"
                " place_of_service, status, diagnoses, diagnosis_descriptions, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)",
                (patient_id, provider_id, plan_id, day_text(self.service_day(now)), discipline,
                 pos, diagnoses, described, to_text(now))).lastrowid
            self._audit(now, user, "start_visit", "visit", visit_id,
                        {"patient_id": patient_id, "provider_id": provider_id, "plan_id": plan_id,
                         "diagnoses": [d for d in diagnoses.split(",") if d]})
        return self.get_visit(visit_id)

    def get_visit(self, visit_id: int) -> Visit:
        return visit_from(self._one("SELECT * FROM visits WHERE id = ?", (visit_id,),
                                    f"visit {visit_id}"))

    def open_visits(self) -> list[Visit]:
        rows = self._rows("SELECT * FROM visits WHERE status = 'open' ORDER BY day, id")
        return [visit_from(r) for r in rows]

    def visits_for_patient(self, patient_id: int, limit: int = 500) -> list[Visit]:
        """A patient's history, newest first."""
        rows = self._rows("SELECT * FROM visits WHERE patient_id = ? ORDER BY day DESC, id DESC"
                          " LIMIT ?", (patient_id, limit))
        return [visit_from(r) for r in rows]

    def _open_visit(self, visit_id: int) -> Visit:
        visit = self.get_visit(visit_id)
        if visit.status is not VisitStatus.OPEN:
            raise FrozenVisitError(
                f"visit {visit_id} is {visit.status}: it cannot change in place"
                + (" (amend it to correct it)" if visit.status is VisitStatus.FINALIZED else ""))
        return visit

    # --- intervals ---

    def intervals_for(self, visit_id: int) -> list[StoredInterval]:
        """The visit's intervals that count: every reader of minutes and units goes through
        here, so a deleted interval (``delete_interval``) is left out everywhere."""
        rows = self._rows(
            "SELECT * FROM intervals WHERE visit_id = ? AND deleted_at IS NULL"
            ' ORDER BY start, "end" IS NULL, "end", id', (visit_id,))
        return [interval_from(r) for r in rows]

    def deleted_intervals(self, visit_id: int) -> list[StoredInterval]:
        """The visit's intervals deleted as mistakes (kept, with who, when and why)."""
        rows = self._rows("SELECT * FROM intervals WHERE visit_id = ? AND deleted_at IS NOT NULL"
                          " ORDER BY deleted_at, id", (visit_id,))
        return [interval_from(r) for r in rows]

    def get_interval(self, interval_id: int) -> StoredInterval:
        return interval_from(self._one("SELECT * FROM intervals WHERE id = ?", (interval_id,),
                                       f"interval {interval_id}"))

    def running_intervals(self, *, this_station: bool = False) -> list[StoredInterval]:
        """Every running timer of the clinic, or only those this station times."""
        if this_station:
            rows = self._rows('SELECT * FROM intervals WHERE "end" IS NULL AND deleted_at IS'
                              f" NULL AND {MINE} ORDER BY start, id", (self.station,))
            return [interval_from(r) for r in rows]
        rows = self._rows('SELECT * FROM intervals WHERE "end" IS NULL AND deleted_at IS NULL'
                          " ORDER BY start, id")
        return [interval_from(r) for r in rows]

    def _check_code(self, code: str, day: date) -> tuple[str, CodeKind]:
        try:
            info = self.code_catalog().get(code, day)
        except BillingError as exc:
            raise InvalidDataError(str(exc)) from exc
        if info.kind is CodeKind.PERIODIC:
            raise InvalidDataError(f"{info.code} ({info.label}) is billed per month or episode, "
                                   "not timed in a visit")
        return info.code, info.kind

    def _check_performer(self, visit: Visit, performer: Performer | str) -> Performer:
        try:
            performer = Performer(performer)
        except ValueError:
            raise InvalidDataError(f"unknown performer {performer!r}") from None
        if not performer.furnishes(visit.discipline):
            raise InvalidDataError(
                f"a {performer} cannot furnish services under a {visit.discipline} plan of care")
        return performer

    def start_interval(self, visit_id: int, code: str, performer: Performer | str,
                       now: datetime, technique: str | None = None,
                       body_region: str | None = None, provider_id: int | None = None,
                       user: str | None = None,
                       take_over: bool | str = False) -> StoredInterval:
        """Starts a timer, atomically stopping what it replaces.

        A one-on-one, constant-attendance or group code stops the visit's running exclusive
        timer; supervised modalities run alongside. A code already running is restarted,
        except when the tap takes the visit over and changes nothing of it (same performer
        and provider): the taken-over timer goes on (``storage.stations``).

        Args:
            take_over: True (or the name of the station the clinician was asked about) when
                another station times the visit and the clinician chose to take it over.

        Raises:
            ProviderBusyError: the provider runs a one-on-one timer for another patient (or
                this is one-on-one while they run any exclusive timer elsewhere); the UI may
                offer 97150 group instead.
            EarlierDayError: the visit is of an earlier day than ``now`` (see "the visit's
                day" above); nothing is stopped or started.
            VisitHeldElsewhereError: another station times the visit (``take_over`` not
                given, or naming another station than the one holding it now).
        """
        _aware(now)
        visit = self._open_visit(visit_id)
        self._refuse_earlier_day(visit, now)
        code, kind = self._check_code(code, visit.day)
        performer = self._check_performer(visit, performer)
        if provider_id is None:
            provider_id = self._default_provider(visit, performer)
        else:
            self._check_interval_provider(visit, performer, provider_id)
        with self._write() as conn:
            taking = take_over and self.visit_holder(visit_id, now) is not None
            self._hold(conn, visit_id, now, user, take_over, starting=True)
            if provider_id is not None and kind.exclusive:
                self._check_busy(visit, provider_id, kind)
            rows = conn.execute(
                'SELECT id, code, start, performer, provider_id FROM intervals WHERE'
                ' visit_id = ? AND "end" IS NULL AND deleted_at IS NULL',
                (visit_id,)).fetchall()
            if taking:
                for other_id, other_code, _start, other_performer, other_provider in rows:
                    if (other_code == code and other_performer == performer.value
                            and other_provider == provider_id):
                        # The tap's screen showed it stopped; it runs (taken over): it goes on.
                        return self._interval_in_tx(other_id)
            for other_id, other_code, _start, _performer, _provider in rows:
                other_kind = self.code_catalog().get(other_code).kind
                if other_code == code or (kind.exclusive and other_kind.exclusive):
                    # (its measured end when a clock flag holds one: issue 11)
                    end, detail, _n = self._stop_end(conn, self._interval_in_tx(other_id),
                                                     visit, now)
                    self._audit(now, user, "stop_interval", "interval", other_id,
                                {"visit_id": visit_id, "end": end, "by": "switch",
                                 "station": self.station, **detail})
            # Something runs again: the visit is no longer paused.
            conn.execute("UPDATE visits SET paused_codes = NULL WHERE id = ? AND"
                         " paused_codes IS NOT NULL", (visit_id,))
            interval_id = conn.execute(
                'INSERT INTO intervals (visit_id, code, start, "end", performer, provider_id,'
                " technique, body_region, heartbeat, station)"
                " VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)",
                (visit_id, code, to_text(now), performer.value, provider_id, technique,
                 body_region, to_text(now), self.station)).lastrowid
            self._audit(now, user, "start_interval", "interval", interval_id,
                        {"visit_id": visit_id, "code": code, "performer": performer.value,
                         "start": to_text(now), "station": self.station})
        return self.get_interval(interval_id)

    def _check_interval_provider(self, visit: Visit, performer: Performer,
                                 provider_id: int) -> None:
        """Who performed an interval must be a provider of that role and discipline: a PTA
        interval names a PTA (the superbill names them on the CQ line), never a PT."""
        row = self._one("SELECT name, role, discipline FROM providers WHERE id = ?",
                        (provider_id,), f"provider {provider_id}")
        if row["role"] != performer.value or row["discipline"] != visit.discipline.value:
            raise InvalidDataError(
                f"{row['name']} is a {row['role']} ({row['discipline']}): time recorded as "
                f"furnished by a {performer.value} must name a {performer.value}")

    def last_technique(self, patient_id: int, code: str) -> tuple[str, str] | None:
        """The technique and body region of the patient's last interval of ``code`` that has
        both (deleted intervals left out), or None: the 97140 prompt offers it again."""
        row = self._row(
            "SELECT i.technique, i.body_region FROM intervals i JOIN visits v ON v.id ="
            " i.visit_id WHERE v.patient_id = ? AND i.code = ? AND i.deleted_at IS NULL"
            " AND COALESCE(i.technique, '') <> '' AND COALESCE(i.body_region, '') <> ''"
            " ORDER BY i.start DESC, i.id DESC LIMIT 1", (patient_id, str(code).upper()))
        return (row["technique"], row["body_region"]) if row else None

    def _default_provider(self, visit: Visit, performer: Performer) -> int | None:
        row = self._row("SELECT role FROM providers WHERE id = ?", (visit.provider_id,))
        return visit.provider_id if row and row["role"] == performer.value else None

    def _check_busy(self, visit: Visit, provider_id: int, kind: CodeKind) -> None:
        rows = self.conn.execute(
            'SELECT i.visit_id, i.code FROM intervals i JOIN visits v ON v.id = i.visit_id'
            ' WHERE i."end" IS NULL AND i.provider_id = ? AND v.patient_id <> ?',
            (provider_id, visit.patient_id)).fetchall()
        for other_visit, other_code in rows:
            other_kind = self.code_catalog().get(other_code).kind
            if other_kind.exclusive and (_one_on_one(kind) or _one_on_one(other_kind)):
                raise ProviderBusyError(
                    f"this provider is already running {other_code} one-on-one with another "
                    f"patient (visit {other_visit}); one provider cannot bill one-on-one time "
                    f"for two patients at once. Stop that timer, or record {GROUP_CODE} "
                    "(group) for both patients instead.",
                    other_visit_id=other_visit)

    def stop_interval(self, interval_id: int, now: datetime, user: str | None = None,
                      take_over: bool | str = False) -> StoredInterval:
        """Stops a running timer at ``now`` (never before its start, never after the end of
        the visit's day: the midnight edge). Stopping a stopped one changes nothing.

        Raises:
            VisitHeldElsewhereError: another station times the visit (see ``start_interval``'s
                ``take_over``).
        """
        _aware(now)
        interval = self.get_interval(interval_id)
        if interval.end is not None:
            return interval
        visit = self._open_visit(interval.visit_id)
        with self._write() as conn:
            self._hold(conn, visit.id, now, user, take_over)
            end, detail, changed = self._stop_end(conn, interval, visit, now)
            if changed:
                self._audit(now, user, "stop_interval", "interval", interval_id,
                            {"visit_id": interval.visit_id, "end": end,
                             "station": self.station, **_midnight(end, now), **detail})
        return self.get_interval(interval_id)

    def pause_visit(self, visit_id: int, now: datetime, user: str | None = None,
                    take_over: bool | str = False) -> list[StoredInterval]:
        """Stops every running timer of the visit and remembers their codes (in the same
        commit) for ``resume_visit``; returns the intervals it stopped. Nothing running:
        nothing changes."""
        _aware(now)
        visit = self._open_visit(visit_id)
        with self._write() as conn:
            self._hold(conn, visit_id, now, user, take_over)
            rows = conn.execute('SELECT id, start, code FROM intervals WHERE visit_id = ? AND'
                                ' "end" IS NULL ORDER BY start, id', (visit_id,)).fetchall()
            measured = {}
            for interval_id, _start, _code in rows:
                end, detail, _n = self._stop_end(conn, self._interval_in_tx(interval_id),
                                                 visit, now)
                if detail:
                    measured[str(interval_id)] = detail
            if rows:
                codes = list(dict.fromkeys(r[2] for r in rows))
                conn.execute("UPDATE visits SET paused_codes = ? WHERE id = ?",
                             (json.dumps(codes), visit_id))
                self._audit(now, user, "pause_visit", "visit", visit_id,
                            {"stopped": [r[0] for r in rows], "end": to_text(now),
                             "codes": codes, "station": self.station,
                             **_midnight(to_text(self._end_in_day(visit, now)), now),
                             **({"measured": measured} if measured else {})})
        return [self.get_interval(r[0]) for r in rows]

    def resume_visit(self, visit_id: int, performer: Performer | str, now: datetime,
                     user: str | None = None, provider_id: int | None = None,
                     take_over: bool | str = False) -> list[StoredInterval]:
        """Restarts the codes a paused visit remembers, all in one commit (the pause ends).

        Raises:
            InvalidDataError: the visit is not paused.
            EarlierDayError: the visit is of an earlier day than ``now``.
            ProviderBusyError: as ``start_interval`` (nothing is restarted then).
        """
        _aware(now)
        visit = self._open_visit(visit_id)
        if not visit.paused_codes:
            raise InvalidDataError(f"visit {visit_id} is not paused: nothing to resume")
        self._refuse_earlier_day(visit, now)
        # Each code resumes with what its paused interval recorded (97140's technique and
        # body region): the clinician answered once, the pause does not forget it.
        last: dict[str, StoredInterval] = {}
        for interval in self.intervals_for(visit_id):  # by start: the latest one wins
            if interval.code in visit.paused_codes and interval.end is not None:
                last[interval.code] = interval
        with self._write() as conn:
            self._hold(conn, visit_id, now, user, take_over)
            started = [self.start_interval(
                visit_id, code, performer, now, user=user, provider_id=provider_id,
                technique=last[code].technique if code in last else None,
                body_region=last[code].body_region if code in last else None)
                for code in visit.paused_codes]
            self._audit(now, user, "resume_visit", "visit", visit_id,
                        {"codes": list(visit.paused_codes), "start": to_text(now),
                         "station": self.station})
        return started

    def heartbeat(self, now: datetime) -> int:
        """Marks every running timer of the station alive at ``now`` (whichever visit it
        belongs to); returns how many. Not audited. Another station's timers are left alone:
        their heartbeat tells whether that station is still there (``storage.stations``).

        A timer with a clock flag is marked alive at ``now`` on its measured timeline
        (``ClockFlag.measured``): after a clock set back, its last-alive moment still moves on
        with the real minutes, so "stop at last alive" after a crash keeps them. A heartbeat
        never moves a last-alive moment back.
        """
        _aware(now)
        mine = (self.station,)
        flagged = self._rows('SELECT * FROM intervals WHERE "end" IS NULL AND'
                             f" clock_flag IS NOT NULL AND {MINE}", mine)
        if not flagged and self._row(f'SELECT 1 FROM intervals WHERE "end" IS NULL AND {MINE}'
                                     " LIMIT 1", mine) is None:
            return 0  # nothing runs here: no write, no fsync
        with self._write() as conn:
            count = conn.execute('UPDATE intervals SET heartbeat = ? WHERE "end" IS NULL AND'
                                 " clock_flag IS NULL AND (heartbeat IS NULL OR heartbeat < ?)"
                                 f" AND {MINE}", (to_text(now), to_text(now), *mine)).rowcount
            for row in flagged:
                alive = to_text(interval_from(row).measured_end(now))
                count += conn.execute('UPDATE intervals SET heartbeat = ? WHERE id = ? AND'
                                      ' "end" IS NULL AND (heartbeat IS NULL OR heartbeat < ?)',
                                      (alive, row["id"], alive)).rowcount
            return count

    def _interval_in_tx(self, interval_id: int) -> StoredInterval:
        cursor = self.conn.cursor()
        cursor.row_factory = sqlite3.Row
        return interval_from(cursor.execute("SELECT * FROM intervals WHERE id = ?",
                                            (interval_id,)).fetchone())

    def _descriptions_text(self, codes, kept: Mapping[str, str],
                           given: Mapping[str, str]) -> str:
        """The stored form (JSON {code: description}) of ``codes``' descriptions: the one
        already kept, else the one given, else what ``describe_diagnosis`` finds."""
        out = {}
        for code in (c for c in codes if c):
            text = kept.get(code) or given.get(code) or self._describe(code)
            out[code] = str(text or "")
        return json.dumps(out, ensure_ascii=False, sort_keys=True)

    def _describe(self, code: str) -> str:
        describe = self.describe_diagnosis
        if describe is None:
            if self._index_describer is None:
                from therapy_timer.storage.icd_index import IndexDescriber

                self._index_describer = IndexDescriber()
            describe = self._index_describer
        try:
            return describe(code) or ""
        except Exception:  # noqa: BLE001 - a missing description never stops the change
            return ""

    def visit_count_in_plan(self, plan_id: int) -> int:
        """Visits under a plan of care (an amended visit counts once, through its amendment)."""
        row = self._row("SELECT count(*) FROM visits WHERE plan_id = ? AND status IN"
                        " ('open', 'finalized')", (plan_id,))
        return int(row[0])


def engine_order(intervals):
    """Intervals by start, then end (running last): a zero-length interval sorts before a
    longer one with the same start, so the engine never sees it as overlapping."""
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(intervals, key=lambda i: (i.start, i.end or far))


def _check_overlaps(intervals: list[Interval], catalog: Catalog | None = None) -> None:
    """Overlap check where a running interval runs on indefinitely (it will, until stopped).

    Zero-length intervals sort first among equal starts, so they never count as overlapping.
    """
    check_overlaps(engine_order(intervals), now=None, catalog=catalog)


def _not_deleted(interval: StoredInterval) -> None:
    if interval.deleted:
        raise InvalidDataError(f"this {interval.code} interval was deleted "
                               f"({interval.delete_reason}); it cannot change")


def _aware(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise InvalidDataError(f"time {moment!r} must be a datetime with a time zone")
    return moment


def _midnight(end: str, now: datetime) -> dict:
    """Audit detail when a stop after midnight was ended at the end of the visit's day."""
    asked = to_text(now)
    return {"asked": asked, "by": "end of the visit's day"} if end < asked else {}


def _interval_detail(interval: StoredInterval) -> dict:
    return {"code": interval.code, "performer": interval.performer.value,
            "start": to_text(interval.start), "end": to_text(interval.end)}
