"""What the clinician records about a visit beyond starting and stopping timers: corrections
of recorded time (edit, add, delete a mistaken tap; each with a reason, audited), 97140's
technique and body region, the diagnoses with their descriptions as documented, and notes.
Every change is committed before the call returns, and refused on a finalized visit.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from datetime import datetime

from therapy_timer.core.model import BillingError, Interval, Performer
from therapy_timer.core.records import StoredInterval, Visit
from therapy_timer.storage.db import to_text
from therapy_timer.storage.errors import (
    InvalidDataError,
)
from therapy_timer.storage.timers import (
    KEEP,
    MAX_DIAGNOSES,
    TimerMixin,
    _aware,
    _check_overlaps,
    _interval_detail,
    _not_deleted,
)


class VisitRecordsMixin(TimerMixin):
    """Corrections, code details, diagnoses and notes of an open visit."""

    def edit_interval(self, interval_id: int, *, start=KEEP, end=KEEP, code=KEEP,
                      performer=KEEP, reason: str, user: str,
                      now: datetime | None = None) -> StoredInterval:
        """Corrects a saved interval of an open visit; the reason and the old values are
        audit-logged.

        Raises:
            InvalidDataError: no reason, an end before the start, an unknown code, or one-on-one
                time that would overlap another interval of the visit.
        """
        if not reason or not str(reason).strip():
            raise InvalidDataError("a reason is required to edit a recorded interval")
        now = now or self.clock()
        old = self.get_interval(interval_id)
        visit = self._open_visit(old.visit_id)
        _not_deleted(old)
        new_code = old.code if code is KEEP else self._check_code(code, visit.day)[0]
        new_performer = (old.performer if performer is KEEP
                         else self._check_performer(visit, performer))
        new_start = old.start if start is KEEP else _aware(start)
        new_end = old.end if end is KEEP else (None if end is None else _aware(end))
        if old.end is not None and new_end is None:
            raise InvalidDataError("a stopped interval cannot be made to run again; start a new "
                                   "timer instead")
        # Only a time being changed is checked: a measured end stored after the clock was set
        # back may lie ahead of the wall clock (issue 11), and a code fix must still go in.
        changed = [t for t, given in ((new_start, start), (new_end, end))
                   if given is not KEEP and t is not None]
        if changed and max(changed) > now:
            raise InvalidDataError("an interval cannot start or end in the future")
        if start is not KEEP or end is not KEEP:
            self._check_in_day(visit, new_start, new_end)
        try:
            edited = Interval(new_code, new_start, new_end, new_performer)
            others = [i.interval for i in self.intervals_for(visit.id) if i.id != interval_id]
            _check_overlaps([*others, edited], self.code_catalog())
        except BillingError as exc:
            raise InvalidDataError(str(exc)) from exc
        with self._write() as conn:
            conn.execute(
                'UPDATE intervals SET code = ?, performer = ?, start = ?, "end" = ? WHERE id = ?',
                (new_code, new_performer.value, to_text(new_start), to_text(new_end),
                 interval_id))
            self._audit(now, user, "edit_interval", "interval", interval_id, {
                "visit_id": visit.id, "reason": str(reason).strip(),
                "before": _interval_detail(old),
                "after": {"code": new_code, "performer": new_performer.value,
                          "start": to_text(new_start), "end": to_text(new_end)}})
        return self.get_interval(interval_id)

    def add_interval(self, visit_id: int, code: str, performer: Performer | str,
                     start: datetime, end: datetime, *, reason: str, user: str,
                     technique: str | None = None, body_region: str | None = None,
                     now: datetime | None = None) -> StoredInterval:
        """Records time that ran without a timer (entered afterwards, with a reason)."""
        if not reason or not str(reason).strip():
            raise InvalidDataError("a reason is required to add time by hand")
        now = now or self.clock()
        visit = self._open_visit(visit_id)
        code, _kind = self._check_code(code, visit.day)
        performer = self._check_performer(visit, performer)
        if max(_aware(start), _aware(end)) > now:
            raise InvalidDataError("time entered by hand cannot be in the future")
        self._check_in_day(visit, start, end)
        try:
            new = Interval(code, start, end, performer)
            _check_overlaps([*(i.interval for i in self.intervals_for(visit_id)), new],
                            self.code_catalog())
        except BillingError as exc:
            raise InvalidDataError(str(exc)) from exc
        with self._write() as conn:
            interval_id = conn.execute(
                'INSERT INTO intervals (visit_id, code, start, "end", performer, provider_id,'
                " technique, body_region, heartbeat, station)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (visit_id, code, to_text(start), to_text(end), performer.value,
                 self._default_provider(visit, performer), technique, body_region,
                 to_text(end), self.station)).lastrowid
            self._audit(now, user, "add_interval", "interval", interval_id,
                        {"visit_id": visit_id, "reason": str(reason).strip(),
                         "after": _interval_detail(self._interval_in_tx(interval_id))})
        return self.get_interval(interval_id)

    def delete_interval(self, interval_id: int, *, reason: str, user: str,
                        now: datetime | None = None,
                        take_over: bool | str = False) -> StoredInterval:
        """Deletes an interval recorded by mistake (a wrong tap) by marking it: who, when and
        why are kept on the row and in the audit log; it counts no minutes anywhere after.

        A running interval is stopped at ``now`` first, in the same commit (the clinician
        confirmed deleting it): a deleted interval never runs. A pending clock flag on it goes
        with it. Returns the deleted interval.

        Raises:
            InvalidDataError: no reason, or the interval is already deleted.
            FrozenVisitError: the visit is finalized (amend it to correct it).
        """
        if not reason or not str(reason).strip():
            raise InvalidDataError("a reason is required to delete a recorded interval")
        if not user or not str(user).strip():
            raise InvalidDataError("deleting a recorded interval needs the name of the user")
        now = _aware(now or self.clock())
        old = self.get_interval(interval_id)
        visit = self._open_visit(old.visit_id)
        if old.deleted:
            raise InvalidDataError(f"this {old.code} interval was already deleted")
        reason, user = str(reason).strip(), str(user).strip()
        with self._write() as conn:
            end = old.end
            if end is None:  # a running timer: another station's only once taken over
                self._hold(conn, visit.id, now, user, take_over)
                end = max(now, old.start)
                conn.execute('UPDATE intervals SET "end" = ?, heartbeat = ? WHERE id = ?',
                             (to_text(end), to_text(end), interval_id))
                self._audit(now, user, "stop_interval", "interval", interval_id,
                            {"visit_id": visit.id, "end": to_text(end), "by": "delete",
                             "station": self.station})
            conn.execute("UPDATE intervals SET deleted_at = ?, deleted_by = ?,"
                         " delete_reason = ?, clock_flag = NULL WHERE id = ?",
                         (to_text(now), user, reason, interval_id))
            self._forget_paused(conn, visit, old.code, end)
            self._audit(now, user, "delete_interval", "interval", interval_id,
                        {"visit_id": visit.id, "reason": reason,
                         "before": _interval_detail(old)})
        return self.get_interval(interval_id)

    def _forget_paused(self, conn, visit: Visit, code: str, end: datetime | None) -> None:
        """A paused visit does not resume a code whose paused interval was deleted."""
        if code not in visit.paused_codes:
            return
        still = conn.execute(
            'SELECT 1 FROM intervals WHERE visit_id = ? AND code = ? AND "end" = ? AND'
            " deleted_at IS NULL", (visit.id, code, to_text(end))).fetchone()
        if still is None:
            codes = [c for c in visit.paused_codes if c != code]
            conn.execute("UPDATE visits SET paused_codes = ? WHERE id = ?",
                         (json.dumps(codes) if codes else None, visit.id))

    def set_technique(self, interval_id: int, technique: str | None,
                      body_region: str | None, user: str | None = None) -> StoredInterval:
        """Records the manual-therapy technique and body region asked for by the catalog."""
        old = self.get_interval(interval_id)
        self._open_visit(old.visit_id)
        _not_deleted(old)
        with self._write() as conn:
            conn.execute("UPDATE intervals SET technique = ?, body_region = ? WHERE id = ?",
                         (technique, body_region, interval_id))
            self._audit(self.clock(), user, "set_technique", "interval", interval_id,
                        {"technique": technique, "body_region": body_region})
        return self.get_interval(interval_id)

    def fill_code_details(self, visit_id: int, code: str, technique: str | None,
                          body_region: str | None, *, user: str,
                          now: datetime | None = None) -> list[StoredInterval]:
        """Fills in what a code's documentation needs (97140's technique and body region) on
        every interval of ``code`` in the visit that lacks it; what an interval already
        records is kept. Each changed interval is audited. Returns the changed intervals.

        Raises:
            InvalidDataError: a needed detail is still missing (the message names it), or the
                visit has no interval of ``code``.
            FrozenVisitError: the visit is finalized (amend it to correct it).
        """
        now = _aware(now or self.clock())
        visit = self._open_visit(visit_id)
        code = str(code).strip().upper()
        technique = (technique or "").strip() or None
        body_region = (body_region or "").strip() or None
        intervals = [i for i in self.intervals_for(visit.id) if i.code == code]
        if not intervals:
            raise InvalidDataError(f"this visit has no {code} time to document")
        changed = []
        with self._write() as conn:
            for interval in intervals:
                new_technique = interval.technique or technique
                new_region = interval.body_region or body_region
                if (new_technique, new_region) == (interval.technique, interval.body_region):
                    continue
                missing = [name for name, value in (("technique", new_technique),
                                                    ("body region", new_region)) if not value]
                if missing:
                    raise InvalidDataError(f"{code}: give the {' and the '.join(missing)}")
                conn.execute("UPDATE intervals SET technique = ?, body_region = ? WHERE id = ?",
                             (new_technique, new_region, interval.id))
                self._audit(now, user, "set_technique", "interval", interval.id, {
                    "visit_id": visit.id, "by": "review",
                    "before": {"technique": interval.technique,
                               "body_region": interval.body_region},
                    "technique": new_technique, "body_region": new_region})
                changed.append(interval.id)
        return [self.get_interval(i) for i in changed]

    # --- diagnoses and notes ---

    def set_diagnoses(self, visit_id: int, codes, user: str | None = None,
                      validate: bool = True,
                      descriptions: Mapping[str, str] | None = None) -> Visit:
        """Sets the visit's ordered ICD-10-CM list (primary first, at most 12, no repeats).

        Each code keeps the description it was documented with: a code the visit already had
        keeps its stored one; a new code takes ``descriptions[code]`` when given, else the
        one ``describe_diagnosis`` finds (the compact index; "" when it is not built).

        ``validate`` checks each code against the ICD-10-CM release (loads it once, ~2 s).
        """
        from therapy_timer.core.validation import normalise_icd10, validate_icd10

        check = validate_icd10 if validate else normalise_icd10
        try:
            normal = [check(c) for c in codes]
        except BillingError as exc:
            raise InvalidDataError(str(exc)) from exc
        if len(normal) > MAX_DIAGNOSES:
            raise InvalidDataError(f"a claim holds at most {MAX_DIAGNOSES} diagnoses "
                                   f"({len(normal)} given)")
        if len(set(normal)) != len(normal):
            raise InvalidDataError("a diagnosis is listed twice")
        visit = self._open_visit(visit_id)
        given = {}
        for code, text in (descriptions or {}).items():
            with contextlib.suppress(BillingError):
                given[normalise_icd10(code)] = str(text or "").strip()
        if validate:
            from therapy_timer.core.validation import icd10_description

            for code in normal:  # the release is loaded already: describe from it
                given.setdefault(code, icd10_description(code))
        kept = dict(zip(visit.diagnoses, visit.diagnosis_descriptions, strict=False))
        text = self._descriptions_text(normal, kept, given)
        with self._write() as conn:
            conn.execute("UPDATE visits SET diagnoses = ?, diagnosis_descriptions = ?"
                         " WHERE id = ?", (",".join(normal), text, visit_id))
            self._audit(self.clock(), user, "set_diagnoses", "visit", visit_id,
                        {"diagnoses": normal})
        return self.get_visit(visit_id)

    def set_notes(self, visit_id: int, notes: str, user: str | None = None) -> Visit:
        self._open_visit(visit_id)
        with self._write() as conn:
            conn.execute("UPDATE visits SET notes = ? WHERE id = ?", (notes, visit_id))
            self._audit(self.clock(), user, "set_notes", "visit", visit_id)
        return self.get_visit(visit_id)
