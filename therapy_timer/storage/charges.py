"""Billing a visit from stored data, freezing its charge lines, amending, KX spend, and the
front desk's printed marks.

A patient's visits on one day under one discipline pool their minutes (billing-rules.md,
decision 3): a visit is billed together with the day's already finalized visits, and its frozen
lines are what the pooled day adds beyond the lines those visits already carry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING

from therapy_timer.core.choices import (
    Choices,
    choices_from_record,
    choices_text,
    parse_choices,
    reconcile,
)
from therapy_timer.core.minutes import day_time
from therapy_timer.core.model import BillingError, Discipline, Rule
from therapy_timer.core.records import (
    Amendment,
    AuditBreak,
    ChargeLine,
    Payer,
    Visit,
    VisitStatus,
    VisitSummary,
)
from therapy_timer.storage import audit
from therapy_timer.storage.base import SYSTEM_USER, charge_from, visit_from
from therapy_timer.storage.db import day_text, from_text, to_text
from therapy_timer.storage.errors import FrozenVisitError, InvalidDataError, NotFoundError
from therapy_timer.storage.timers import TimerMixin, engine_order

if TYPE_CHECKING:  # the engine is imported where a visit is billed: not on every start
    from therapy_timer.core.billing import BillingContext, DayBilling

log = logging.getLogger(__name__)
POINTER_LETTERS = "ABCDEFGHIJKL"
MAX_POINTERS = 4
_BUCKET_DISCIPLINES = {"PT+SLP": ("PT", "SLP"), "OT": ("OT",)}


class ChargesMixin(TimerMixin):
    """Billing, finalize, amend and the KX year-to-date amount."""

    # --- reading ---

    def charge_lines(self, visit_id: int) -> list[ChargeLine]:
        rows = self._rows("SELECT * FROM charge_lines WHERE visit_id = ? ORDER BY line_no",
                          (visit_id,))
        return [charge_from(r) for r in rows]

    def amendments_for(self, visit_id: int) -> list[Amendment]:
        """Amendments where the visit is the original or the replacement, oldest first."""
        rows = self._rows("SELECT * FROM amendments WHERE original_visit_id = ? OR"
                          " new_visit_id = ? ORDER BY id", (visit_id, visit_id))
        return [Amendment(r["id"], r["original_visit_id"], r["new_visit_id"], r["reason"],
                          r["user"], from_text(r["at"])) for r in rows]

    def billing_record(self, visit_id: int) -> dict:
        """What finalize recorded beside the lines (rule, explanation, warnings, confirmations)."""
        row = self._one("SELECT billing_json FROM visits WHERE id = ?", (visit_id,),
                        f"visit {visit_id}")
        return json.loads(row["billing_json"]) if row["billing_json"] else {}

    def visits_on(self, day: date, now: datetime | None = None) -> list[VisitSummary]:
        """The day's visits with patient, provider, discipline, status and units.

        Finalized visits show their frozen units; open ones their units so far.
        """
        rows = self._rows(
            "SELECT v.*, p.first_name, p.last_name, p.chart_number, pr.name AS provider_name,"
            " (SELECT COALESCE(SUM(units), 0) FROM charge_lines c WHERE c.visit_id = v.id)"
            "   AS frozen_units,"
            ' EXISTS (SELECT 1 FROM intervals i WHERE i.visit_id = v.id AND i."end" IS NULL'
            "   AND i.deleted_at IS NULL) AS running,"
            " EXISTS (SELECT 1 FROM intervals i WHERE i.visit_id = v.id AND"
            "   i.clock_flag IS NOT NULL AND json_extract(i.clock_flag, '$.answer') IS NULL"
            "   AND i.deleted_at IS NULL) AS time_to_confirm"
            " FROM visits v JOIN patients p ON p.id = v.patient_id"
            " JOIN providers pr ON pr.id = v.provider_id"
            " WHERE v.day = ? ORDER BY v.created_at, v.id", (day_text(day),))
        out = []
        for row in rows:
            visit = visit_from(row)
            units = row["frozen_units"]
            if visit.status is VisitStatus.OPEN:
                units = self._units_so_far(visit, now or self.clock())
            out.append(VisitSummary(
                visit=visit, patient_name=f"{row['last_name']}, {row['first_name']}",
                chart_number=row["chart_number"], provider_name=row["provider_name"],
                discipline=visit.discipline, status=visit.status, units=units,
                running=bool(row["running"]),
                time_to_confirm=bool(row["time_to_confirm"])))
        return out

    def _units_so_far(self, visit: Visit, now: datetime) -> int:
        intervals = [i.billed_interval(now) for i in self.intervals_for(visit.id)]
        if not intervals:
            return 0
        from therapy_timer.core.billing import BillingContext, bill_intervals

        payer = self.billing_payer(visit.patient_id)
        try:  # a payer stored before Medicare's rule was enforced is refused: 0 units shown
            context = BillingContext(rule=payer.rule if payer else Rule.CMS,
                                     discipline=visit.discipline,
                                     medicare=bool(payer and payer.medicare))
            return bill_intervals(intervals, context, day=visit.day, now=now,
                                  catalog=self.code_catalog(),
                                  untimed_ok=self.visit_choices(visit.id).untimed_ok
                                  ).total_units
        except BillingError:
            return 0

    # --- KX ---

    def kx_year_to_date(self, patient_id: int, year: int, bucket: str,
                        exclude: Collection[int] = (), through: date | None = None) -> int:
        """Allowed cents in a KX bucket this year: finalized charge lines plus spend at other
        providers entered by staff. ``exclude`` leaves visits out; ``through`` stops at a day.
        """
        if bucket not in _BUCKET_DISCIPLINES:
            raise InvalidDataError(f"KX bucket must be 'PT+SLP' or 'OT', not {bucket!r}")
        disciplines = _BUCKET_DISCIPLINES[bucket]
        last = through.isoformat() if through else f"{year:04d}-12-31"
        marks = ",".join("?" * len(disciplines))
        sql = ("SELECT COALESCE(SUM(c.units * c.allowed_cents), 0) FROM visits v"
               " JOIN charge_lines c ON c.visit_id = v.id"
               " WHERE v.patient_id = ? AND v.day >= ? AND v.day <= ? AND v.status = 'finalized'"
               f" AND v.discipline IN ({marks})")
        args: list = [patient_id, f"{year:04d}-01-01", last, *disciplines]
        if exclude:
            sql += f" AND v.id NOT IN ({','.join('?' * len(exclude))})"
            args.extend(exclude)
        spent = int(self._row(sql, args)[0])
        prior = self._row("SELECT cents FROM prior_kx WHERE patient_id = ? AND year = ? AND"
                          " bucket = ?", (patient_id, year, bucket))
        return spent + (int(prior[0]) if prior else 0)

    # --- billing ---

    def _pool(self, visit: Visit) -> list[Visit]:
        """The visit plus the same patient's finalized visits that day in its discipline."""
        rows = self._rows(
            "SELECT * FROM visits WHERE patient_id = ? AND day = ? AND discipline = ? AND"
            " status = 'finalized' AND id <> ? ORDER BY id",
            (visit.patient_id, day_text(visit.day), visit.discipline.value, visit.id))
        return [visit, *(visit_from(r) for r in rows)]

    def billing_payer(self, patient_id: int) -> Payer | None:
        """The payer a patient's visits bill under: the primary policy's payer, or for a
        patient with no insurance the clinic's self-pay payer (the first, if it set up
        several); None when it has none."""
        payer = self.primary_payer(patient_id)
        if payer is not None:
            return payer
        row = self._row("SELECT id FROM payers WHERE self_pay = 1 ORDER BY id LIMIT 1", ())
        return None if row is None else self.get_payer(row["id"])

    def billing_context(self, visit: Visit, pool_ids: Collection[int] = ()) -> BillingContext:
        """The payer's rule and flags, the fee schedule, allowed amounts and prior KX spend.

        A patient with no insurance bills under the clinic's self-pay payer and its switches;
        with no self-pay payer set up, under ``core.billing.self_pay_context`` (no therapy,
        assistant, KX or NCCI modifiers), never the built-in insurer defaults. A self-pay
        payer has no NCCI edits: no insurer's claim system applies them (there is no switch
        for them in Settings).
        """
        from therapy_timer.core.billing import BillingContext, self_pay_context

        payer = self.billing_payer(visit.patient_id)
        discipline = Discipline(visit.discipline)
        practice = self.get_practice()
        list_bundled = bool(practice and practice.list_bundled)
        prior = 0
        if payer is not None and payer.kx_applies:
            prior = self.kx_year_to_date(visit.patient_id, visit.day.year, discipline.kx_bucket,
                                         exclude=set(pool_ids) | {visit.id}, through=visit.day)
        if payer is None:
            return self_pay_context(discipline, fees_cents=self.fee_schedule(visit.day),
                                    list_bundled=list_bundled)
        return BillingContext(
            **self.rule_context(),  # the clinic's imported NCCI pairs and MUEs
            rule=payer.rule, discipline=discipline, medicare=payer.medicare,
            therapy_modifiers=payer.therapy_modifiers,
            assistant_modifiers=payer.assistant_modifiers, kx_applies=payer.kx_applies,
            prior_kx_cents=prior, fees_cents=self.fee_schedule(visit.day),
            allowed_cents=self.allowed_on(payer.id, visit.day),
            distinct_modifier=payer.distinct_modifier,
            list_bundled=list_bundled, ncci_edits=not payer.self_pay,
            kx_thresholds=self.kx_thresholds() if payer.kx_applies else None)

    def bill_visit(self, visit_id: int, now: datetime | None = None,
                   untimed_ok: Collection[str] | None = None) -> DayBilling:
        """Bills the visit pooled with the day's finalized visits of the same discipline.

        Args:
            untimed_ok: untimed codes under a minute confirmed to bill; None takes the visit's
                stored confirmations. The pooled visits' own confirmations always count.

        Raises:
            BillingError: the intervals overlap or hold a code the engine refuses.
        """
        from therapy_timer.core.billing import bill_intervals

        visit = self.get_visit(visit_id)
        pool = self._pool(visit)
        now = now or self.clock()
        intervals = engine_order(i.billed_interval(now) for v in pool
                                 for i in self.intervals_for(v.id))
        context = self.billing_context(visit, [v.id for v in pool])
        if untimed_ok is None:
            untimed_ok = self.visit_choices(visit_id).untimed_ok
        confirmed = {*untimed_ok, *(c for v in pool[1:] for c in self.visit_choices(v.id)
                                     .untimed_ok)}
        earlier = [line for v in pool[1:] for line in self.charge_lines(v.id)]
        return bill_intervals(intervals, context, day=visit.day, now=now,
                              catalog=self.code_catalog(), untimed_ok=confirmed,
                              earlier=earlier)

    def finalize_visit(self, visit_id: int, confirmed: Collection[tuple[str, str]] | None,
                       user: str, now: datetime, choice: Mapping[str, int] | None = None,
                       pointers: Mapping[str, str] | None = None,
                       untimed_ok: Collection[str] | None = None) -> list[ChargeLine]:
        """Freezes the visit's claim lines; afterwards nothing about it changes in place.

        Whatever the caller leaves as None comes from the visit's stored choices (those whose
        reason still holds: ``core.choices.reconcile``); the choices it was locked with are
        kept in its billing record and its ``choices``.

        Args:
            confirmed: ``(code, modifier)`` suggestions the clinician confirmed. None: the
                stored ticks, or every suggestion when the visit has no stored modifier
                choice (scripts and the demo).
            choice: the clinician's allocation where the rule left a tie (code -> units);
                None: the stored tie choice.
            pointers: code -> its diagnosis pointer letters, primary first (``"BA"``): 1-4
                of A-L, each naming a diagnosis of the visit, none twice. Every line of that
                code gets them; codes left out point at the first four diagnoses. None: the
                stored pointers.
            untimed_ok: untimed codes timed under a minute confirmed to bill; None: the
                stored confirmations.

        Raises:
            FrozenVisitError: the visit is not open.
            InvalidDataError: timers still run, no diagnosis is recorded, or a pointer is
                bad (the message names the code and the pointer).
            BillingError: the engine refuses the intervals or the choice.
        """
        # One write transaction from the first read: another instance cannot finalize a
        # pooled visit of the same day in between.
        with self._write():
            return self._finalize(visit_id, confirmed, user, now, choice, pointers,
                                  untimed_ok)

    def _finalize(self, visit_id: int, confirmed: Collection[tuple[str, str]] | None,
                  user: str, now: datetime, choice: Mapping[str, int] | None,
                  pointers: Mapping[str, str] | None = None,
                  untimed_ok: Collection[str] | None = None) -> list[ChargeLine]:
        visit = self._open_visit(visit_id)
        if not user or not str(user).strip():
            raise InvalidDataError("finalizing needs the name of the user who signs it")
        if any(i.running for i in self.intervals_for(visit_id)):
            raise InvalidDataError("stop the running timers before finalizing the visit")
        if not visit.diagnoses:
            raise InvalidDataError("add at least one ICD-10-CM diagnosis before finalizing")
        pool = self._pool(visit)
        stored = self.visit_choices(visit_id)
        untimed_ok = sorted(stored.untimed_ok if untimed_ok is None
                            else {str(c).strip().upper() for c in untimed_ok})
        billing = self.bill_visit(visit_id, now, untimed_ok=untimed_ok)
        reset: list[str] = []
        if not stored.empty and None in (confirmed, choice, pointers):
            kept = reconcile(stored, billing, visit.diagnoses)
            reset = list(kept.notes)
            if choice is None:
                choice = kept.choices.tie or None
            if pointers is None:
                pointers = kept.choices.pointers
            if confirmed is None and stored.modifiers:
                confirmed = kept.confirmed()
        if choice:
            billing = billing.with_choice(choice)
        claim = billing.claim_lines(None if confirmed is None else set(confirmed))
        chosen = check_pointers(pointers or {}, len(visit.diagnoses),
                                {line.code for line in claim})
        # This visit's own units and modifiers: the pooled day's less the earlier visits'.
        lines, notes = billing.own_lines(None if confirmed is None else set(confirmed))
        notes = [n for n in notes if n not in billing.warnings]
        own = day_time(engine_order(i.interval for i in self.intervals_for(visit_id)), now,
                       self.code_catalog())
        payer = self.billing_payer(visit.patient_id)
        # The allowed amounts in force on the date of service (not on the day it is
        # finalized): they are frozen on the lines and add up toward KX from there.
        allowed = self.allowed_on(payer.id, visit.day) if payer else {}
        default = POINTER_LETTERS[: min(MAX_POINTERS, len(visit.diagnoses))]
        record = {
            "rule": billing.context.rule.value, "discipline": visit.discipline.value,
            "explanation": list(billing.explanation),
            "warnings": [*billing.warnings, *notes, *reset],
            "confirmed": None if confirmed is None else sorted(map(list, confirmed)),
            "choice": dict(choice) if choice else None,
            "suggestions": [s.as_dict() for s in billing.suggestions],
            "pooled_with": [v.id for v in pool[1:]],
            "day_timed_minutes": billing.total_timed_minutes,
            "day_treatment_minutes": billing.total_treatment_minutes,
            "payer_id": payer.id if payer else None,
            "pointers": chosen or None,
            # Medicare-bundled codes documented but not billed (or listed at $0.00).
            "bundled": [line.code for line in billing.lines if line.bundled] or None,
            "list_bundled": billing.context.list_bundled,
            "untimed_ok": untimed_ok,
            # The KX threshold checked against (another year's when none was on file).
            "kx_threshold": None if billing.kx is None else {
                "year": billing.kx.kx.year, "for_year": billing.kx.year,
                "threshold_cents": billing.kx.kx.threshold_cents,
                "fallback": billing.kx.fallback},
        }
        locked_with = _locked_choices(billing, confirmed, choice, chosen, visit.diagnoses,
                                      untimed_ok)
        with self._write() as conn:
            for number, line in enumerate(lines, start=1):
                conn.execute(
                    "INSERT INTO charge_lines (visit_id, line_no, code, label, modifiers, units,"
                    " minutes, fee_cents, charge_cents, allowed_cents, diagnosis_pointers)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (visit_id, number, line.code, line.label, " ".join(line.modifiers),
                     line.units, line.minutes, line.fee_cents, line.charge_cents,
                     int(allowed.get(line.code, 0)), chosen.get(line.code, default)))
            # The entry first: the database lets a visit become finalized only right after
            # its finalize entry (migration 8), so raw SQL cannot finalize one unrecorded.
            self._audit(now, user, "finalize", "visit", visit_id, {
                "lines": [[ln.code, list(ln.modifiers), ln.units, ln.charge_cents]
                          for ln in lines],
                "confirmed": record["confirmed"], "choice": record["choice"],
                "pointers": record["pointers"], "untimed_ok": untimed_ok})
            cur = conn.execute(
                "UPDATE visits SET status = 'finalized', session_start = ?, session_end = ?,"
                " timed_minutes = ?, treatment_minutes = ?, finalized_at = ?, finalized_by = ?,"
                " billing_json = ?, choices = ? WHERE id = ? AND status = 'open'",
                (to_text(own.session_start), to_text(own.session_end), own.total_timed_minutes,
                 own.total_treatment_minutes, to_text(now), str(user).strip(),
                 json.dumps(record, sort_keys=True), choices_text(locked_with), visit_id))
            if cur.rowcount != 1:  # the whole transaction, entry included, is rolled back
                raise FrozenVisitError(f"visit {visit_id} was finalized meanwhile")
        return self.charge_lines(visit_id)

    def amend_visit(self, visit_id: int, reason: str, user: str, now: datetime) -> Visit:
        """Opens a correction of a finalized visit. The original and its lines stay as they
        were (marked amended); the returned open visit carries copies of its intervals and
        diagnoses, to correct and finalize again."""
        if not reason or not str(reason).strip():
            raise InvalidDataError("a reason is required to amend a finalized visit")
        if not user or not str(user).strip():
            raise InvalidDataError("amending needs the name of the user")
        visit = self.get_visit(visit_id)
        if visit.status is not VisitStatus.FINALIZED:
            raise FrozenVisitError(f"only a finalized visit can be amended (visit {visit_id} is "
                                   f"{visit.status})")
        # The correction starts from the choices the original was locked with (ticks, tie,
        # pointers, confirmations): amending one line must not silently untick the others.
        try:
            carried = choices_from_record(self.billing_record(visit_id), visit.diagnoses)
        except (BillingError, KeyError, TypeError, ValueError) as exc:
            log.warning("visit %s: billing record choices not carried over: %s", visit_id, exc)
            carried = Choices()
        with self._write() as conn:
            new_id = conn.execute(
                "INSERT INTO visits (patient_id, provider_id, plan_id, day, discipline,"
                " place_of_service, status, diagnoses, diagnosis_descriptions, notes,"
                " created_at, amends_id)"
                " SELECT patient_id, provider_id, plan_id, day, discipline, place_of_service,"
                " 'open', diagnoses, diagnosis_descriptions, notes, ?, id FROM visits"
                " WHERE id = ?",
                (to_text(now), visit_id)).lastrowid
            conn.execute(
                'INSERT INTO intervals (visit_id, code, start, "end", performer, provider_id,'
                " technique, body_region, heartbeat, station) SELECT ?, code, start, \"end\","
                " performer, provider_id, technique, body_region, heartbeat, station FROM"
                " intervals"
                " WHERE visit_id = ? AND deleted_at IS NULL ORDER BY start, id", (new_id, visit_id))
            conn.execute("UPDATE visits SET choices = ? WHERE id = ?",
                         (choices_text(carried), new_id))
            # The amendment and its audit entry first: the status may change only with them
            # (trigger visits_amend_needs_amendment).
            conn.execute("INSERT INTO amendments (original_visit_id, new_visit_id, reason, user,"
                         " at) VALUES (?, ?, ?, ?, ?)",
                         (visit_id, new_id, str(reason).strip(), str(user).strip(),
                          to_text(now)))
            self._audit(now, user, "amend", "visit", visit_id,
                        {"new_visit_id": new_id, "reason": str(reason).strip(),
                         "choices": carried.to_json()})
            conn.execute("UPDATE visits SET status = 'amended' WHERE id = ? AND"
                         " status = 'finalized'", (visit_id,))
        return self.get_visit(new_id)

    def void_visit(self, visit_id: int, reason: str, user: str, now: datetime) -> Visit:
        """Voids a visit (kept, never deleted). Running timers must be stopped first."""
        if not reason or not str(reason).strip():
            raise InvalidDataError("a reason is required to void a visit")
        visit = self.get_visit(visit_id)
        if visit.status not in (VisitStatus.OPEN, VisitStatus.FINALIZED):
            raise FrozenVisitError(f"visit {visit_id} is {visit.status}; it cannot be voided")
        with self._write() as conn:
            # Read in the write transaction: a timer another station started a moment ago
            # counts (and the database refuses a running one: visits_close_with_timers_stopped).
            if any(i.running for i in self.intervals_for(visit_id)):
                raise InvalidDataError("stop the running timers before voiding the visit")
            # The audit entry with the reason first: a visit becomes void only right after it
            # (trigger visits_void_needs_reason).
            self._audit(now, user, "void", "visit", visit_id, {"reason": str(reason).strip()})
            conn.execute("UPDATE visits SET status = 'void' WHERE id = ?", (visit_id,))
        return self.get_visit(visit_id)

    # --- printed marks (front desk) ---

    def mark_printed(self, visit_ids: Collection[int], at: datetime,
                     user: str | None = None) -> None:
        """Records that these visits' superbills were printed at ``at`` (a reprint moves the
        mark to the later time). One audited transaction.

        Raises:
            NotFoundError: a visit does not exist; nothing is marked.
            InvalidDataError: ``at`` has no time zone.
        """
        ids = list(dict.fromkeys(int(v) for v in visit_ids))
        stamp = to_text(at)
        with self._write() as conn:
            for visit_id in ids:
                if conn.execute("SELECT 1 FROM visits WHERE id = ?", (visit_id,)
                                ).fetchone() is None:
                    raise NotFoundError(f"visit {visit_id} not found; nothing marked printed")
                conn.execute(
                    "INSERT INTO printed_visits (visit_id, printed_at, user) VALUES (?, ?, ?)"
                    " ON CONFLICT(visit_id) DO UPDATE SET printed_at = excluded.printed_at,"
                    " user = excluded.user", (visit_id, stamp, user or SYSTEM_USER))
                self._audit(at, user, "printed", "visit", visit_id)

    def printed_at(self, visit_id: int) -> datetime | None:
        """When the visit's superbill was last printed (UTC), or None."""
        row = self._row("SELECT printed_at FROM printed_visits WHERE visit_id = ?",
                        (visit_id,))
        return None if row is None else from_text(row["printed_at"])

    def printed_marks(self, visit_ids: Collection[int]) -> dict[int, datetime]:
        """``printed_at`` for many visits at once: visit id -> time, printed ones only."""
        ids = list(dict.fromkeys(int(v) for v in visit_ids))
        marks: dict[int, datetime] = {}
        for start in range(0, len(ids), 500):  # stay under SQLite's parameter limit
            chunk = ids[start:start + 500]
            rows = self._rows("SELECT visit_id, printed_at FROM printed_visits WHERE visit_id"
                              f" IN ({','.join('?' * len(chunk))})", chunk)
            marks.update({r["visit_id"]: from_text(r["printed_at"]) for r in rows})
        return marks

    # --- audit ---

    def audit_verify(self) -> AuditBreak | None:
        """The first problem ``verify`` finds (a broken link, a bad keyed hash, a checkpoint
        not held, data that differs from the log, a guard trigger missing), or None.
        ``verify_report`` says everything it checked and what it could not."""
        return self.verify_report().first()

    def audit_entries(self, entity: str | None = None, entity_id: int | None = None,
                      limit: int = 1000):
        return audit.entries(self.conn, entity, entity_id, limit)


def check_pointers(pointers: Mapping[str, str], diagnoses: int,
                   codes: Collection[str]) -> dict[str, str]:
    """The clinician's diagnosis pointers per code, checked and normalised (``"b a"`` ->
    ``"BA"``; order kept: the first letter is the line's primary diagnosis).

    Args:
        pointers: code -> pointer letters (a text, or a sequence of letters).
        diagnoses: how many diagnoses the visit has (letters past them point at nothing).
        codes: the codes the visit's lines carry.

    Raises:
        InvalidDataError: naming the code and the bad pointer.
    """
    if not isinstance(pointers, Mapping):
        raise InvalidDataError("diagnosis pointers must map each code to its letters, "
                               f"not {type(pointers).__name__}")
    out: dict[str, str] = {}
    for code, given in pointers.items():
        key = str(code).strip().upper()
        if key not in codes:
            raise InvalidDataError(f"diagnosis pointers for {code!r}: the visit has no "
                                   "line with that code")
        if isinstance(given, str):
            letters = [ch for ch in given.upper() if not ch.isspace() and ch != ","]
        elif isinstance(given, Collection):
            letters = [str(p).strip().upper() for p in given]
        else:
            raise InvalidDataError(f"{key}: diagnosis pointers must be letters A-L, "
                                   f"not {given!r}")
        if not letters:
            raise InvalidDataError(f"{key}: give 1 to {MAX_POINTERS} diagnosis pointers "
                                   "(none given)")
        if len(letters) > MAX_POINTERS:
            raise InvalidDataError(f"{key}: a line points at most at {MAX_POINTERS} diagnoses "
                                   f"({''.join(letters)!r} has {len(letters)})")
        for letter in letters:
            if len(letter) != 1 or letter not in POINTER_LETTERS:
                raise InvalidDataError(f"{key}: diagnosis pointer {letter!r} is not a letter "
                                       "A-L")
            if POINTER_LETTERS.index(letter) >= diagnoses:
                raise InvalidDataError(
                    f"{key}: diagnosis pointer {letter} points at no diagnosis (the visit has "
                    f"{diagnoses}: {POINTER_LETTERS[:diagnoses] or 'none'})")
        repeated = sorted({p for p in letters if letters.count(p) > 1})
        if repeated:
            raise InvalidDataError(f"{key}: diagnosis pointer {repeated[0]} is given twice")
        if key in out:
            raise InvalidDataError(f"diagnosis pointers for {key} are given twice")
        out[key] = "".join(letters)
    return out


def _locked_choices(billing: DayBilling, confirmed: Collection[tuple[str, str]] | None,
                    choice: Mapping[str, int] | None, pointers: Mapping[str, str],
                    diagnoses, untimed_ok) -> Choices:
    """The choices a visit is locked with, in the stored shape (every suggestion ticked or
    not, the tie, the pointers, the confirmed untimed codes)."""
    ticks: dict[str, dict[str, bool]] = {}
    for s in billing.suggestions:
        on = confirmed is None or (s.code, s.modifier) in set(confirmed)
        ticks.setdefault(s.code, {})[s.modifier] = on
    return parse_choices({"tie": dict(choice or {}), "modifiers": ticks,
                          "pointers": dict(pointers),
                          "pointer_diagnoses": list(diagnoses) if pointers else [],
                          "untimed_ok": list(untimed_ok)})
