"""Versioned, append-only schema migrations.

``PRAGMA user_version`` holds the schema version. Each migration runs in its own transaction
together with the version bump, so a crash leaves the database at the old version or the new one,
never between. Never edit a released migration: append a new one.
"""

from __future__ import annotations

import logging
import sqlite3

from therapy_timer.storage.db import APPLICATION_ID, translating
from therapy_timer.storage.errors import SchemaTooNewError

log = logging.getLogger(__name__)

_V1_TABLES = [
    """CREATE TABLE practice (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        name TEXT NOT NULL,
        address TEXT NOT NULL DEFAULT '',
        phone TEXT NOT NULL DEFAULT '',
        npi TEXT NOT NULL DEFAULT '',
        tax_id TEXT NOT NULL DEFAULT '',
        taxonomy TEXT NOT NULL DEFAULT '',
        timezone TEXT NOT NULL DEFAULT '')""",
    """CREATE TABLE providers (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL CHECK (name <> ''),
        credentials TEXT NOT NULL DEFAULT '',
        discipline TEXT NOT NULL CHECK (discipline IN ('PT', 'OT', 'SLP')),
        role TEXT NOT NULL CHECK (role IN ('PT', 'PTA', 'OT', 'OTA', 'SLP')),
        npi TEXT NOT NULL DEFAULT '',
        license TEXT NOT NULL DEFAULT '',
        supervisor_id INTEGER REFERENCES providers(id),
        pin_hash TEXT,
        active INTEGER NOT NULL DEFAULT 1)""",
    """CREATE TABLE patients (
        id INTEGER PRIMARY KEY,
        first_name TEXT NOT NULL,
        last_name TEXT NOT NULL CHECK (last_name <> ''),
        birth_date TEXT,
        sex TEXT NOT NULL DEFAULT '',
        address TEXT NOT NULL DEFAULT '',
        phone TEXT NOT NULL DEFAULT '',
        chart_number TEXT NOT NULL DEFAULT '')""",
    """CREATE TABLE payers (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE CHECK (name <> ''),
        rule TEXT NOT NULL CHECK (rule IN ('cms', 'per-code')),
        medicare INTEGER NOT NULL DEFAULT 0,
        therapy_modifiers INTEGER NOT NULL DEFAULT 1,
        assistant_modifiers INTEGER NOT NULL DEFAULT 0,
        kx_applies INTEGER NOT NULL DEFAULT 0,
        self_pay INTEGER NOT NULL DEFAULT 0,
        distinct_modifier TEXT NOT NULL DEFAULT 'XU')""",
    """CREATE TABLE payer_allowed (
        payer_id INTEGER NOT NULL REFERENCES payers(id) ON DELETE CASCADE,
        code TEXT NOT NULL,
        cents INTEGER NOT NULL CHECK (cents >= 0),
        PRIMARY KEY (payer_id, code))""",
    """CREATE TABLE policies (
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES patients(id),
        payer_id INTEGER NOT NULL REFERENCES payers(id),
        member_id TEXT NOT NULL DEFAULT '',
        group_number TEXT NOT NULL DEFAULT '',
        subscriber TEXT NOT NULL DEFAULT '',
        relationship TEXT NOT NULL DEFAULT 'self',
        priority INTEGER NOT NULL DEFAULT 1 CHECK (priority >= 1),
        UNIQUE (patient_id, priority))""",
    """CREATE TABLE fees (
        id INTEGER PRIMARY KEY,
        code TEXT NOT NULL,
        cents INTEGER NOT NULL CHECK (cents >= 0),
        effective_from TEXT NOT NULL,
        effective_to TEXT)""",
    """CREATE TABLE plans (
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES patients(id),
        discipline TEXT NOT NULL CHECK (discipline IN ('PT', 'OT', 'SLP')),
        therapist_id INTEGER NOT NULL REFERENCES providers(id),
        start_date TEXT NOT NULL,
        certified_through TEXT,
        visits_authorized INTEGER)""",
    """CREATE TABLE prior_kx (
        patient_id INTEGER NOT NULL REFERENCES patients(id),
        year INTEGER NOT NULL,
        bucket TEXT NOT NULL CHECK (bucket IN ('PT+SLP', 'OT')),
        cents INTEGER NOT NULL CHECK (cents >= 0),
        note TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (patient_id, year, bucket))""",
    """CREATE TABLE visits (
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES patients(id),
        provider_id INTEGER NOT NULL REFERENCES providers(id),
        plan_id INTEGER REFERENCES plans(id),
        day TEXT NOT NULL,
        discipline TEXT NOT NULL CHECK (discipline IN ('PT', 'OT', 'SLP')),
        place_of_service TEXT NOT NULL DEFAULT '11',
        status TEXT NOT NULL DEFAULT 'open'
            CHECK (status IN ('open', 'finalized', 'amended', 'void')),
        diagnoses TEXT NOT NULL DEFAULT '',
        session_start TEXT,
        session_end TEXT,
        timed_minutes INTEGER,
        treatment_minutes INTEGER,
        notes TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        finalized_at TEXT,
        finalized_by TEXT NOT NULL DEFAULT '',
        billing_json TEXT,
        amends_id INTEGER REFERENCES visits(id))""",
    """CREATE TABLE intervals (
        id INTEGER PRIMARY KEY,
        visit_id INTEGER NOT NULL REFERENCES visits(id),
        code TEXT NOT NULL,
        start TEXT NOT NULL,
        "end" TEXT CHECK ("end" IS NULL OR "end" >= start),
        performer TEXT NOT NULL CHECK (performer IN ('PT', 'PTA', 'OT', 'OTA', 'SLP')),
        provider_id INTEGER REFERENCES providers(id),
        technique TEXT,
        body_region TEXT,
        heartbeat TEXT)""",
    """CREATE TABLE charge_lines (
        id INTEGER PRIMARY KEY,
        visit_id INTEGER NOT NULL REFERENCES visits(id),
        line_no INTEGER NOT NULL,
        code TEXT NOT NULL,
        label TEXT NOT NULL DEFAULT '',
        modifiers TEXT NOT NULL DEFAULT '',
        units INTEGER NOT NULL CHECK (units >= 0),
        minutes INTEGER NOT NULL CHECK (minutes >= 0),
        fee_cents INTEGER NOT NULL CHECK (fee_cents >= 0),
        charge_cents INTEGER NOT NULL CHECK (charge_cents >= 0),
        allowed_cents INTEGER NOT NULL DEFAULT 0,
        diagnosis_pointers TEXT NOT NULL DEFAULT '',
        UNIQUE (visit_id, line_no))""",
    """CREATE TABLE amendments (
        id INTEGER PRIMARY KEY,
        original_visit_id INTEGER NOT NULL REFERENCES visits(id),
        new_visit_id INTEGER NOT NULL UNIQUE REFERENCES visits(id),
        reason TEXT NOT NULL CHECK (reason <> ''),
        user TEXT NOT NULL,
        at TEXT NOT NULL)""",
    """CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        user TEXT NOT NULL,
        action TEXT NOT NULL,
        entity TEXT NOT NULL,
        entity_id INTEGER,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL)""",
]

_V2_INDEXES = [
    "CREATE INDEX visits_by_day ON visits(day)",
    "CREATE INDEX visits_by_patient_day ON visits(patient_id, day)",
    "CREATE INDEX visits_by_plan ON visits(plan_id)",
    "CREATE INDEX visits_open ON visits(id) WHERE status = 'open'",
    "CREATE INDEX intervals_by_visit ON intervals(visit_id, start)",
    'CREATE INDEX intervals_running ON intervals(visit_id) WHERE "end" IS NULL',
    "CREATE INDEX charge_lines_by_visit ON charge_lines(visit_id)",
    "CREATE INDEX policies_by_patient ON policies(patient_id)",
    "CREATE INDEX plans_by_patient ON plans(patient_id)",
    "CREATE INDEX patients_by_name ON patients(last_name COLLATE NOCASE, first_name)",
    "CREATE INDEX patients_by_chart ON patients(chart_number)",
    "CREATE INDEX fees_by_code ON fees(code, effective_from)",
    "CREATE INDEX amendments_by_original ON amendments(original_visit_id)",
]

_V3_TRIGGERS = [
    # The audit log is append-only.
    """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    # Charge lines are frozen at finalize.
    """CREATE TRIGGER charge_lines_no_update BEFORE UPDATE ON charge_lines
       BEGIN SELECT RAISE(ABORT, 'charge lines are frozen at finalize'); END""",
    """CREATE TRIGGER charge_lines_no_delete BEFORE DELETE ON charge_lines
       BEGIN SELECT RAISE(ABORT, 'charge lines are frozen at finalize'); END""",
    # Intervals of a finalized visit never change.
    """CREATE TRIGGER intervals_frozen_insert BEFORE INSERT ON intervals
       WHEN (SELECT status FROM visits WHERE id = NEW.visit_id) <> 'open'
       BEGIN SELECT RAISE(ABORT, 'the visit is finalized: its intervals are frozen'); END""",
    """CREATE TRIGGER intervals_frozen_update BEFORE UPDATE ON intervals
       WHEN (SELECT status FROM visits WHERE id = OLD.visit_id) <> 'open'
         OR (SELECT status FROM visits WHERE id = NEW.visit_id) <> 'open'
       BEGIN SELECT RAISE(ABORT, 'the visit is finalized: its intervals are frozen'); END""",
    """CREATE TRIGGER intervals_frozen_delete BEFORE DELETE ON intervals
       WHEN (SELECT status FROM visits WHERE id = OLD.visit_id) <> 'open'
       BEGIN SELECT RAISE(ABORT, 'the visit is finalized: its intervals are frozen'); END""",
    # A finalized visit may only become amended or void; nothing else about it changes.
    """CREATE TRIGGER visits_frozen BEFORE UPDATE ON visits
       WHEN OLD.status <> 'open' AND NOT (
            OLD.status = 'finalized' AND NEW.status IN ('amended', 'void')
            AND NEW.patient_id = OLD.patient_id AND NEW.provider_id = OLD.provider_id
            AND NEW.plan_id IS OLD.plan_id AND NEW.day = OLD.day
            AND NEW.discipline = OLD.discipline
            AND NEW.place_of_service = OLD.place_of_service
            AND NEW.diagnoses = OLD.diagnoses AND NEW.session_start IS OLD.session_start
            AND NEW.session_end IS OLD.session_end AND NEW.timed_minutes IS OLD.timed_minutes
            AND NEW.treatment_minutes IS OLD.treatment_minutes AND NEW.notes = OLD.notes
            AND NEW.finalized_at IS OLD.finalized_at AND NEW.finalized_by = OLD.finalized_by
            AND NEW.billing_json IS OLD.billing_json AND NEW.amends_id IS OLD.amends_id)
       BEGIN SELECT RAISE(ABORT, 'the visit is finalized: it cannot change in place'); END""",
    """CREATE TRIGGER visits_no_delete BEFORE DELETE ON visits WHEN OLD.status <> 'open'
       BEGIN SELECT RAISE(ABORT, 'the visit is finalized: it cannot be deleted'); END""",
]

_V4_FAVOURITES_AND_PRINTED = [
    # A provider's favourite intervention tiles, in the order the visit screen shows them.
    """CREATE TABLE favourite_codes (
        provider_id INTEGER NOT NULL REFERENCES providers(id),
        position INTEGER NOT NULL CHECK (position >= 0),
        code TEXT NOT NULL CHECK (code <> ''),
        PRIMARY KEY (provider_id, position),
        UNIQUE (provider_id, code))""",
    # When a visit's superbill was last printed (front desk), and by whom.
    """CREATE TABLE printed_visits (
        visit_id INTEGER PRIMARY KEY REFERENCES visits(id),
        printed_at TEXT NOT NULL,
        user TEXT NOT NULL)""",
]

_V5_PAYMENTS = [
    # Money received against a finalized visit. Rows are never deleted or changed, except that
    # a payment entered by mistake is voided once (kept, with the reason; totals leave it out).
    """CREATE TABLE payments (
        id INTEGER PRIMARY KEY,
        visit_id INTEGER NOT NULL REFERENCES visits(id),
        cents INTEGER NOT NULL CHECK (cents > 0),
        method TEXT NOT NULL CHECK (method IN ('cash', 'check', 'card', 'other')),
        reference TEXT NOT NULL DEFAULT '',
        received_at TEXT NOT NULL,
        user TEXT NOT NULL,
        voided_at TEXT,
        voided_by TEXT,
        void_reason TEXT)""",
    "CREATE INDEX payments_by_visit ON payments(visit_id)",
    """CREATE TRIGGER payments_no_delete BEFORE DELETE ON payments
       BEGIN SELECT RAISE(ABORT, 'payments are kept: void one instead'); END""",
    """CREATE TRIGGER payments_only_void BEFORE UPDATE ON payments
       WHEN OLD.voided_at IS NOT NULL OR NEW.voided_at IS NULL
         OR NEW.void_reason IS NULL OR NEW.void_reason = ''
         OR NEW.id <> OLD.id OR NEW.visit_id <> OLD.visit_id OR NEW.cents <> OLD.cents
         OR NEW.method <> OLD.method OR NEW.reference <> OLD.reference
         OR NEW.received_at <> OLD.received_at OR NEW.user <> OLD.user
       BEGIN SELECT RAISE(ABORT, 'a payment only changes by being voided, once'); END""",
]

_V6_PAUSE_AND_CLOCK_FLAGS = [
    # The codes a paused visit resumes (JSON list, in the order they ran); NULL when the visit
    # is not paused. Set with the pause, cleared by the next start of any timer of the visit.
    "ALTER TABLE visits ADD COLUMN paused_codes TEXT",
    # A wall-clock jump (sleep, clock change) seen while the interval ran, for the clinician to
    # confirm: JSON {last_good, now, wall_seconds, real_seconds}; NULL when nothing is pending.
    "ALTER TABLE intervals ADD COLUMN clock_flag TEXT",
    """CREATE TRIGGER visits_finalize_clock_flag BEFORE UPDATE OF status ON visits
       WHEN OLD.status = 'open' AND NEW.status <> 'open' AND EXISTS (
            SELECT 1 FROM intervals WHERE visit_id = OLD.id AND clock_flag IS NOT NULL)
       BEGIN SELECT RAISE(ABORT, 'the clock jumped while a timer ran: confirm its time first');
       END""",
]

_V7_CLINIC_DAY = [
    # The clinician's billing choices on an open visit, kept across leaving the review, saving
    # diagnoses and reopening (JSON: {"tie": {code: units}, "modifiers": {code: {mod: bool}},
    # "pointers": {code: letters}, "untimed_ok": [codes]}). An amendment starts from the choices
    # its original was finalized with.
    "ALTER TABLE visits ADD COLUMN choices TEXT",
    # A mistaken interval is deleted by marking it (who, when, why), never erased; a deleted
    # interval counts no minutes anywhere.
    "ALTER TABLE intervals ADD COLUMN deleted_at TEXT",
    "ALTER TABLE intervals ADD COLUMN deleted_by TEXT",
    "ALTER TABLE intervals ADD COLUMN delete_reason TEXT",
    """CREATE TRIGGER intervals_delete_needs_reason BEFORE UPDATE OF deleted_at ON intervals
       WHEN NEW.deleted_at IS NOT NULL AND (NEW.delete_reason IS NULL OR NEW.delete_reason = ''
            OR OLD.deleted_at IS NOT NULL)
       BEGIN SELECT RAISE(ABORT, 'an interval is deleted once, with a reason'); END""",
    """CREATE TRIGGER intervals_no_undelete BEFORE UPDATE OF deleted_at ON intervals
       WHEN OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL
       BEGIN SELECT RAISE(ABORT, 'a deleted interval stays deleted'); END""",
    # A plan of care keeps its diagnoses (the visit starts with them), onset and referral.
    "ALTER TABLE plans ADD COLUMN diagnoses TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE plans ADD COLUMN onset_date TEXT",
    "ALTER TABLE plans ADD COLUMN referring_name TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE plans ADD COLUMN referring_npi TEXT NOT NULL DEFAULT ''",
    # What payers need on the superbill.
    "ALTER TABLE providers ADD COLUMN taxonomy TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE payers ADD COLUMN address TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE payers ADD COLUMN payer_code TEXT NOT NULL DEFAULT ''",
    # Medicare-bundled codes (97010) are documented, not billed; a clinic may list them at $0.
    "ALTER TABLE practice ADD COLUMN list_bundled INTEGER NOT NULL DEFAULT 0",
    # Who paid: the patient, the insurance, or an adjustment / write-off by the desk.
    """ALTER TABLE payments ADD COLUMN kind TEXT NOT NULL DEFAULT 'patient'
       CHECK (kind IN ('patient', 'insurance', 'adjustment', 'write-off'))""",
    """CREATE TRIGGER payments_kind_fixed BEFORE UPDATE OF kind ON payments
       WHEN NEW.kind <> OLD.kind
       BEGIN SELECT RAISE(ABORT, 'a payment only changes by being voided, once'); END""",
    # Columns added after v3 freeze with the visit too.
    """CREATE TRIGGER visits_frozen_v7 BEFORE UPDATE OF choices, paused_codes ON visits
       WHEN OLD.status <> 'open' AND (NEW.choices IS NOT OLD.choices
            OR NEW.paused_codes IS NOT OLD.paused_codes)
       BEGIN SELECT RAISE(ABORT, 'the visit is finalized: it cannot change in place'); END""",
    """CREATE TRIGGER intervals_frozen_v7 BEFORE UPDATE OF deleted_at, clock_flag ON intervals
       WHEN (SELECT status FROM visits WHERE id = OLD.visit_id) <> 'open'
       BEGIN SELECT RAISE(ABORT, 'the visit is finalized: its intervals are frozen'); END""",
]

_V8_TAMPER_EVIDENCE = [
    # Each audit entry's keyed hash (HMAC-SHA256 of its hash, with the clinic's anchor key that
    # lives outside the database: storage/anchor.py); NULL when written where the key is not.
    "ALTER TABLE audit_log ADD COLUMN mac TEXT",
    # Which key anchors this database's chain, and from which entry on (written once).
    """CREATE TABLE audit_anchor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        key_id TEXT NOT NULL CHECK (key_id <> ''),
        first_seq INTEGER NOT NULL CHECK (first_seq >= 1),
        created_at TEXT NOT NULL)""",
    """CREATE TRIGGER audit_anchor_no_update BEFORE UPDATE ON audit_anchor
       BEGIN SELECT RAISE(ABORT, 'the audit anchor is written once'); END""",
    """CREATE TRIGGER audit_anchor_no_delete BEFORE DELETE ON audit_anchor
       BEGIN SELECT RAISE(ABORT, 'the audit anchor is written once'); END""",
    # No charge line joins a visit once it is finalized (finalize writes them while it is open).
    """CREATE TRIGGER charge_lines_frozen_insert BEFORE INSERT ON charge_lines
       WHEN (SELECT status FROM visits WHERE id = NEW.visit_id) IS NOT 'open'
       BEGIN SELECT RAISE(ABORT, 'charge lines are frozen at finalize'); END""",
    # A visit is born open: finalized, amended or void only through its own steps.
    """CREATE TRIGGER visits_born_open BEFORE INSERT ON visits
       WHEN NEW.status <> 'open' OR NEW.finalized_at IS NOT NULL OR NEW.billing_json IS NOT NULL
       BEGIN SELECT RAISE(ABORT, 'a visit starts open: it is finalized only by finalizing it');
       END""",
    # The columns the v3 guard left out freeze too.
    """CREATE TRIGGER visits_frozen_v8 BEFORE UPDATE OF id, created_at ON visits
       WHEN OLD.status <> 'open' AND (NEW.id IS NOT OLD.id OR NEW.created_at IS NOT OLD.created_at)
       BEGIN SELECT RAISE(ABORT, 'the visit is finalized: it cannot change in place'); END""",
    # Voiding and amending are allowed only together with their record: the app writes the
    # audit entry (and for an amendment its amendments row) first, in the same transaction,
    # so the newest audit entry must be this visit's void (with its reason) or amend.
    """CREATE TRIGGER visits_void_needs_reason BEFORE UPDATE OF status ON visits
       WHEN NEW.status = 'void' AND OLD.status <> 'void' AND NOT EXISTS (
            SELECT 1 FROM (SELECT action, entity, entity_id, detail FROM audit_log
                           ORDER BY seq DESC LIMIT 1) AS last
            WHERE last.action = 'void' AND last.entity = 'visit' AND last.entity_id = OLD.id
              AND trim(coalesce(json_extract(last.detail, '$.reason'), '')) <> '')
       BEGIN SELECT RAISE(ABORT, 'a visit is voided only with its reason in the audit log');
       END""",
    """CREATE TRIGGER visits_amend_needs_amendment BEFORE UPDATE OF status ON visits
       WHEN NEW.status = 'amended' AND OLD.status <> 'amended' AND (
            NOT EXISTS (SELECT 1 FROM amendments a JOIN visits n ON n.id = a.new_visit_id
                        WHERE a.original_visit_id = OLD.id AND n.amends_id = OLD.id)
            OR NOT EXISTS (
                SELECT 1 FROM (SELECT action, entity, entity_id, detail FROM audit_log
                               ORDER BY seq DESC LIMIT 1) AS last
                WHERE last.action = 'amend' AND last.entity = 'visit'
                  AND last.entity_id = OLD.id))
       BEGIN SELECT RAISE(ABORT,
             'a visit is amended only with its amendment and its audit entry'); END""",
    # Amendments are kept as recorded, and name a finalized visit and its correction.
    """CREATE TRIGGER amendments_no_update BEFORE UPDATE ON amendments
       BEGIN SELECT RAISE(ABORT, 'an amendment is kept as it was recorded'); END""",
    """CREATE TRIGGER amendments_no_delete BEFORE DELETE ON amendments
       BEGIN SELECT RAISE(ABORT, 'an amendment is kept as it was recorded'); END""",
    """CREATE TRIGGER amendments_of_finalized BEFORE INSERT ON amendments
       WHEN (SELECT status FROM visits WHERE id = NEW.original_visit_id) IS NOT 'finalized'
         OR (SELECT amends_id FROM visits WHERE id = NEW.new_visit_id)
            IS NOT NEW.original_visit_id
       BEGIN SELECT RAISE(ABORT, 'an amendment names a finalized visit and its correction');
       END""",
    # Finalizing, like voiding and amending, only together with its record: the app writes the
    # finalize entry (with the lines it froze) first, in the same transaction.
    """CREATE TRIGGER visits_finalize_needs_entry BEFORE UPDATE OF status ON visits
       WHEN NEW.status = 'finalized' AND OLD.status = 'open' AND NOT EXISTS (
            SELECT 1 FROM (SELECT action, entity, entity_id FROM audit_log
                           ORDER BY seq DESC LIMIT 1) AS last
            WHERE last.action = 'finalize' AND last.entity = 'visit'
              AND last.entity_id = OLD.id)
       BEGIN SELECT RAISE(ABORT,
             'a visit is finalized only with its finalize entry in the audit log'); END""",
    # Money is recorded only against a finalized visit, and starts not voided.
    """CREATE TRIGGER payments_of_finalized BEFORE INSERT ON payments
       WHEN (SELECT status FROM visits WHERE id = NEW.visit_id) IS NOT 'finalized'
         OR NEW.voided_at IS NOT NULL
       BEGIN SELECT RAISE(ABORT,
             'payments are recorded only against a finalized visit, not already voided'); END""",
]

_V9_DESCRIPTIONS_AND_IDS = [
    # Each diagnosis's description as documented when it was added to the visit (JSON
    # {code: description}; NULL on visits recorded before): the superbill prints it, so no
    # printing or export needs the ICD-10-CM package, and a later release never rewrites it.
    "ALTER TABLE visits ADD COLUMN diagnosis_descriptions TEXT",
    """CREATE TRIGGER visits_frozen_v9 BEFORE UPDATE OF diagnosis_descriptions ON visits
       WHEN OLD.status <> 'open'
            AND NEW.diagnosis_descriptions IS NOT OLD.diagnosis_descriptions
       BEGIN SELECT RAISE(ABORT, 'the visit is finalized: it cannot change in place'); END""",
    # The clinic administrator's PIN (a salted scrypt hash): it may reset any provider's PIN
    # (a provider's own PIN changes or goes only with that PIN, or this one).
    """CREATE TABLE admin_pin (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        pin_hash TEXT NOT NULL)""",
    # Ids the audit log names are never reused: no row that has one is ever erased (SQLite
    # hands a deleted highest id to the next insert). The app marks intervals deleted and
    # voids payments; nothing deletes these rows. Finalized visits' rows keep their own
    # triggers (their messages); these cover the rest.
    """CREATE TRIGGER intervals_never_erased BEFORE DELETE ON intervals
       WHEN COALESCE((SELECT status FROM visits WHERE id = OLD.visit_id), 'open') = 'open'
       BEGIN SELECT RAISE(ABORT, 'an interval is never erased: mark it deleted, with a reason');
       END""",
    """CREATE TRIGGER visits_never_erased BEFORE DELETE ON visits WHEN OLD.status = 'open'
       BEGIN SELECT RAISE(ABORT, 'a visit is never erased: its id is named in the audit log');
       END""",
    *(f"""CREATE TRIGGER {table}_never_erased BEFORE DELETE ON {table}
       BEGIN SELECT RAISE(ABORT, '{what} is never erased: its id is named in the audit log');
       END""" for table, what in (("patients", "a patient"), ("providers", "a provider"),
                                  ("payers", "a payer"), ("plans", "a plan of care"),
                                  ("policies", "an insurance policy"), ("fees", "a fee"),
                                  ("amendments", "an amendment"))),
]

_V10_KX_THRESHOLDS = [
    # KX thresholds by year, kept in the clinic's database (issue 12): seeded from
    # resources/kx_thresholds.toml ("shipped") and entered in Settings ("clinic"). A newer
    # release's value for a year the clinic entered is kept beside it as an offer (offer_*),
    # never written over the clinic's; declining it remembers which value was declined.
    """CREATE TABLE kx_thresholds (
        year INTEGER PRIMARY KEY CHECK (year BETWEEN 1999 AND 2100),
        threshold_cents INTEGER NOT NULL CHECK (threshold_cents > 0),
        review_cents INTEGER NOT NULL CHECK (review_cents > threshold_cents),
        confidence TEXT NOT NULL CHECK (confidence IN ('V', 'S', 'U')),
        source TEXT NOT NULL CHECK (source <> ''),
        origin TEXT NOT NULL CHECK (origin IN ('shipped', 'clinic')),
        entered_by TEXT NOT NULL CHECK (entered_by <> ''),
        entered_at TEXT NOT NULL,
        offer_threshold_cents INTEGER,
        offer_review_cents INTEGER,
        offer_confidence TEXT,
        offer_source TEXT,
        declined_offer TEXT)""",
    # A threshold stays on file once billed with: nothing deletes a year.
    """CREATE TRIGGER kx_thresholds_no_delete BEFORE DELETE ON kx_thresholds
       BEGIN SELECT RAISE(ABORT, 'a KX threshold year is kept: enter a corrected amount'); END""",
]

_V11_NCCI_RELEASES = [
    # Each import of CMS's NCCI files: which release, when, by whom, what it read. The
    # release in use for a kind is its newest row; its pairs or limits are the only ones kept.
    """CREATE TABLE rule_releases (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('ncci', 'mue')),
        version TEXT NOT NULL CHECK (version <> ''),
        effective TEXT,
        files TEXT NOT NULL,
        rows_read INTEGER NOT NULL CHECK (rows_read >= 0),
        rows_kept INTEGER NOT NULL CHECK (rows_kept >= 0),
        imported_at TEXT NOT NULL,
        imported_by TEXT NOT NULL)""",
    """CREATE TABLE ncci_pairs (
        release_id INTEGER NOT NULL REFERENCES rule_releases(id),
        column1 TEXT NOT NULL,
        column2 TEXT NOT NULL,
        modifier_indicator TEXT NOT NULL CHECK (modifier_indicator IN ('0', '1', '9')),
        effective_from TEXT NOT NULL,
        effective_to TEXT,
        prior_1996 INTEGER NOT NULL DEFAULT 0,
        bypass TEXT NOT NULL DEFAULT 'time' CHECK (bypass IN ('time', 'specialty')),
        source TEXT NOT NULL DEFAULT '')""",
    "CREATE INDEX ncci_pairs_release ON ncci_pairs (release_id)",
    """CREATE TABLE mue_limits (
        release_id INTEGER NOT NULL REFERENCES rule_releases(id),
        code TEXT NOT NULL,
        units INTEGER NOT NULL CHECK (units >= 0),
        mai TEXT NOT NULL CHECK (mai IN ('1', '2', '3')),
        mai_text TEXT NOT NULL DEFAULT '',
        rationale TEXT NOT NULL DEFAULT '',
        UNIQUE (release_id, code))""",
]

# Version 12 (issue 12): a payer's allowed amounts get effective dates, like the clinic's fees
# (a new schedule from 1 January must not reprice last year's visits); the rows of earlier
# versions stay in force from the start ('0001-01-01'). Codes a clinic adds to the shipped
# catalog live here too: a new release's codes.toml never touches them.
_V12_DATED_ALLOWED_AND_CLINIC_CODES = [
    """CREATE TABLE payer_allowed_dated (
        payer_id INTEGER NOT NULL REFERENCES payers(id) ON DELETE CASCADE,
        code TEXT NOT NULL,
        cents INTEGER NOT NULL CHECK (cents >= 0),
        effective_from TEXT NOT NULL DEFAULT '0001-01-01',
        effective_to TEXT,
        PRIMARY KEY (payer_id, code, effective_from),
        CHECK (effective_to IS NULL OR effective_to >= effective_from))""",
    "INSERT INTO payer_allowed_dated (payer_id, code, cents) SELECT payer_id, code, cents"
    " FROM payer_allowed",
    "DROP TABLE payer_allowed",
    "ALTER TABLE payer_allowed_dated RENAME TO payer_allowed",
    """CREATE TABLE clinic_codes (
        code TEXT PRIMARY KEY CHECK (code <> ''),
        label TEXT NOT NULL CHECK (label <> ''),
        kind TEXT NOT NULL CHECK (kind IN ('timed', 'untimed', 'supervised', 'add-on')),
        disciplines TEXT NOT NULL CHECK (disciplines <> ''),
        addon_of TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL DEFAULT '',
        CHECK ((kind = 'add-on') = (addon_of IS NOT NULL)))""",
]

# Version 13 (issue 14): several stations on one clinic server. Each interval records the
# station that times it (its heartbeat is written by that station only); a visit records the
# station holding its running timers and since when (the start of its first timer there, or a
# take-over). The database is the referee of two stations tapping at once: at most one running
# interval per visit and code, whatever the app checked first. A file damaged before this
# version that holds two running intervals of one code has the earlier one ended where the
# later one starts (what a restart of the code does), so the index can be built.
_V13_STATIONS = [
    "ALTER TABLE intervals ADD COLUMN station TEXT",
    "ALTER TABLE visits ADD COLUMN station TEXT",
    "ALTER TABLE visits ADD COLUMN station_at TEXT",
    """UPDATE intervals SET "end" = (
           SELECT min(later.start) FROM intervals later
           WHERE later.visit_id = intervals.visit_id AND later.code = intervals.code
             AND later."end" IS NULL AND later.deleted_at IS NULL
             AND (later.start > intervals.start
                  OR (later.start = intervals.start AND later.id > intervals.id)))
       WHERE "end" IS NULL AND deleted_at IS NULL
         AND visit_id IN (SELECT id FROM visits WHERE status = 'open')
         AND EXISTS (
           SELECT 1 FROM intervals later
           WHERE later.visit_id = intervals.visit_id AND later.code = intervals.code
             AND later."end" IS NULL AND later.deleted_at IS NULL
             AND (later.start > intervals.start
                  OR (later.start = intervals.start AND later.id > intervals.id)))""",
    'CREATE UNIQUE INDEX intervals_one_running ON intervals(visit_id, code)'
    ' WHERE "end" IS NULL AND deleted_at IS NULL',
    # A visit closes (finalized, void) only with every timer stopped, whichever station
    # checked what when: a timer started elsewhere a moment before is never left running on
    # a closed visit (and none starts on one after: intervals_frozen_insert).
    """CREATE TRIGGER visits_close_with_timers_stopped BEFORE UPDATE OF status ON visits
       WHEN OLD.status = 'open' AND NEW.status <> 'open' AND EXISTS (
            SELECT 1 FROM intervals WHERE visit_id = OLD.id AND "end" IS NULL
              AND deleted_at IS NULL)
       BEGIN SELECT RAISE(ABORT,
             'a timer of this visit runs (perhaps on another station): stop it first'); END""",
]

#: (version, description, statements). Append only.
MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "tables", _V1_TABLES),
    (2, "indexes for a day's visits, a patient's history, running timers", _V2_INDEXES),
    (3, "immutability: audit log append-only, finalized visits and charge lines frozen",
     _V3_TRIGGERS),
    (4, "favourite tile codes per provider; printed marks of visits",
     _V4_FAVOURITES_AND_PRINTED),
    (5, "payments received against finalized visits (voidable, never deleted)", _V5_PAYMENTS),
    (6, "paused visits remember their codes; clock-jump flags on intervals",
     _V6_PAUSE_AND_CLOCK_FLAGS),
    (7, "billing choices kept on open visits; deleted intervals; plan diagnoses and referral;"
        " payer address and ID; provider taxonomy; payment kinds", _V7_CLINIC_DAY),
    (8, "tamper evidence: keyed audit entries and their anchor; no line, payment or status"
        " change on a finalized visit without its record", _V8_TAMPER_EVIDENCE),
    (9, "diagnosis descriptions kept with the visit; ids named by the audit log never erased;"
        " the clinic administrator PIN",
     _V9_DESCRIPTIONS_AND_IDS),
    (10, "KX thresholds by year in the database (seeded from the shipped file, entered in"
         " Settings)", _V10_KX_THRESHOLDS),
    (11, "CMS's NCCI PTP edits and MUEs imported by the clinic, with their release",
     _V11_NCCI_RELEASES),
    (12, "payer allowed amounts by effective date; codes the clinic adds to the catalog",
     _V12_DATED_ALLOWED_AND_CLINIC_CODES),
    (13, "the station timing each interval and holding each visit; one running interval per"
         " visit and code; a visit closes only with its timers stopped", _V13_STATIONS),
]
LATEST_VERSION = MIGRATIONS[-1][0]


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_version(conn: sqlite3.Connection, where: str) -> int:
    """Returns the schema version; refuses one newer than this app knows."""
    version = schema_version(conn)
    if version > LATEST_VERSION:
        raise SchemaTooNewError(
            f"{where} was written by a newer Therapy Timer (schema {version}; this version knows "
            f"up to {LATEST_VERSION}); update the app. Nothing was changed."
        )
    return version


def migrate(conn: sqlite3.Connection, where: str = "the database",
            target: int = LATEST_VERSION) -> int:
    """Applies every migration above the file's version up to ``target``, each atomically.

    Returns:
        The schema version afterwards.
    """
    with translating(where):
        version = check_version(conn, where)
        for number, description, statements in MIGRATIONS:
            if number <= version or number > target:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Re-read inside the write lock: another instance may have migrated meanwhile.
                if schema_version(conn) >= number:
                    conn.execute("ROLLBACK")
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {number}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            log.info("database schema migrated to version %d (%s)", number, description)
            version = number
    return version


def guard_triggers() -> dict[str, str]:
    """Every trigger of the latest schema, name -> its CREATE statement (from the migrations
    themselves: a later ``DROP TRIGGER`` or re-creation wins)."""
    import re

    triggers: dict[str, str] = {}
    for _number, _description, statements in MIGRATIONS:
        for statement in statements:
            created = re.match(r"\s*CREATE\s+TRIGGER\s+(\w+)", statement, re.IGNORECASE)
            dropped = re.match(r"\s*DROP\s+TRIGGER\s+(?:IF\s+EXISTS\s+)?(\w+)", statement,
                               re.IGNORECASE)
            if created:
                triggers[created.group(1)] = statement
            elif dropped:
                triggers.pop(dropped.group(1), None)
    return triggers


def trigger_problems(conn: sqlite3.Connection) -> tuple[list[str], list[str]]:
    """The guard triggers missing from the file and those whose text differs from ours.

    Only meaningful on a file at the latest schema version.
    """
    present = {name: sql for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")}
    missing, changed = [], []
    for name, statement in guard_triggers().items():
        if name not in present:
            missing.append(name)
        elif _normal(present[name]) != _normal(statement):
            changed.append(name)
    return missing, changed


def _normal(sql: str) -> str:
    return " ".join(sql.split())


def restore_guard_triggers(conn: sqlite3.Connection, where: str = "the database") -> list[str]:
    """Re-creates every guard trigger that is missing or altered, in one transaction, from
    the same statements the migrations ran. Returns the names it re-created (logged as a
    warning: someone or something removed them)."""
    with translating(where):
        missing, changed = trigger_problems(conn)
        if not missing and not changed:
            return []
        statements = guard_triggers()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for name in changed:
                conn.execute(f'DROP TRIGGER "{name}"')
            for name in [*missing, *changed]:
                conn.execute(statements[name])
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    names = [*missing, *changed]
    log.warning("%s: guard triggers found missing (%s) or altered (%s) were re-created",
                where, ", ".join(missing) or "none", ", ".join(changed) or "none")
    return names
