"""The clinic's reference data: practice, providers (with PINs and favourite tiles), patients,
payers, policies, fee schedule, plans of care and prior KX spend."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from therapy_timer.core.codes import CodeKind, default_catalog
from therapy_timer.core.model import BillingError, Discipline, check_medicare_rule
from therapy_timer.core.records import (
    FeeEntry,
    InsurancePolicy,
    Patient,
    Payer,
    PlanOfCare,
    Practice,
    Provider,
)
from therapy_timer.core.validation import (
    validate_code,
    validate_npi,
    validate_payer_code,
    validate_taxonomy,
)
from therapy_timer.storage.base import (
    RepositoryBase,
    fee_from,
    patient_from,
    payer_from,
    plan_from,
    policy_from,
    provider_from,
    put_row,
)
from therapy_timer.storage.db import day_text, from_text
from therapy_timer.storage.errors import InvalidDataError, PinRequiredError

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
#: Wrong PINs in a row (changing a PIN in Settings) before each further try waits, and how
#: long: as on the lock screen. Counted from the audit log, so a restart changes nothing.
PIN_TRIES = 5
PIN_WAIT_SECONDS = 30


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    """A salted scrypt hash of a PIN, as text: ``scrypt$n$r$p$salt$hash``."""
    if not pin or not str(pin).isdigit() or not 4 <= len(pin) <= 12:
        raise InvalidDataError("a PIN must be 4 to 12 digits")
    import hashlib  # loads OpenSSL: only when a PIN is set or checked, never at start-up

    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_pin(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    import hashlib
    import hmac

    actual = hashlib.scrypt(str(pin).encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                            p=int(p), dklen=len(digest) // 2)
    return hmac.compare_digest(actual.hex(), digest)


def _npi(text: str) -> str:
    if not text:
        return ""
    try:
        return validate_npi(text)
    except BillingError as exc:
        raise InvalidDataError(str(exc)) from exc


def _checked(check, text: str) -> str:
    """``check(text)`` for a filled-in identifier ("" stays ""), as a storage error."""
    if not str(text or "").strip():
        return ""
    try:
        return check(text)
    except BillingError as exc:
        raise InvalidDataError(str(exc)) from exc


def _code(text: str) -> str:
    try:
        return validate_code(text)
    except BillingError as exc:
        raise InvalidDataError(str(exc)) from exc


class ClinicMixin(RepositoryBase):
    """Reference data. Each save is one audited transaction."""

    # --- practice ---

    def get_practice(self) -> Practice | None:
        row = self._row("SELECT * FROM practice WHERE id = 1")
        if row is None:
            return None
        return Practice(row["name"], row["address"], row["phone"], row["npi"], row["tax_id"],
                        row["taxonomy"], row["timezone"], bool(row["list_bundled"]))

    def save_practice(self, practice: Practice, user: str | None = None) -> Practice:
        if not practice.name.strip():
            raise InvalidDataError("the practice needs a name")
        npi = _npi(practice.npi)
        practice = replace(practice, taxonomy=_checked(validate_taxonomy, practice.taxonomy))
        if practice.timezone:
            _zone(practice.timezone)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO practice (id, name, address, phone, npi, tax_id, taxonomy, timezone,"
                " list_bundled) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
                " name=excluded.name, address=excluded.address, phone=excluded.phone,"
                " npi=excluded.npi, tax_id=excluded.tax_id, taxonomy=excluded.taxonomy,"
                " timezone=excluded.timezone, list_bundled=excluded.list_bundled",
                (practice.name.strip(), practice.address, practice.phone, npi, practice.tax_id,
                 practice.taxonomy, practice.timezone, int(bool(practice.list_bundled))),
            )
            self._audit(self.clock(), user, "save", "practice", 1)
        return self.get_practice()

    # --- providers ---

    def list_providers(self, include_inactive: bool = False) -> list[Provider]:
        sql = "SELECT * FROM providers"
        if not include_inactive:
            sql += " WHERE active = 1"
        return [provider_from(r) for r in self._rows(sql + " ORDER BY name")]

    def get_provider(self, provider_id: int) -> Provider:
        return provider_from(self._one("SELECT * FROM providers WHERE id = ?", (provider_id,),
                                       f"provider {provider_id}"))

    def save_provider(self, provider: Provider, pin: str | None = None,
                      user: str | None = None, current_pin: str | None = None) -> Provider:
        """Inserts or updates a provider; ``pin`` (digits) sets a new PIN, "" clears it.

        A provider's PIN is theirs: changing or removing a PIN that is set needs
        ``current_pin``, that PIN or the clinic administrator PIN (``set_admin_pin``).

        Raises:
            PinRequiredError: the PIN is set and ``current_pin`` matches neither.
        """
        if provider.id is not None and pin is not None:
            self._check_pin_owner(provider.id, current_pin)
        if not provider.name.strip():
            raise InvalidDataError("a provider needs a name")
        if provider.role.discipline is not provider.discipline:
            raise InvalidDataError(
                f"a {provider.role} belongs to {provider.role.discipline}, not "
                f"{provider.discipline}")
        npi = _npi(provider.npi)
        pin_hash = None if not pin else hash_pin(pin)
        fields = {"name": provider.name.strip(), "credentials": provider.credentials,
                  "discipline": provider.discipline.value, "role": provider.role.value,
                  "npi": npi, "license": provider.license,
                  "supervisor_id": provider.supervisor_id, "active": int(provider.active)}
        fields["taxonomy"] = _checked(validate_taxonomy, provider.taxonomy)
        if provider.id is None or pin is not None:  # None keeps the stored PIN
            fields["pin_hash"] = pin_hash
        with self._write() as conn:
            provider_id = put_row(conn, "providers", "provider", provider.id, fields)
            self._audit(self.clock(), user, "save", "provider", provider_id,
                        {"pin_changed": pin is not None})
        return self.get_provider(provider_id)

    def _check_pin_owner(self, provider_id: int, current_pin: str | None) -> None:
        row = self._row("SELECT name, pin_hash FROM providers WHERE id = ?", (provider_id,))
        if row is None or row["pin_hash"] is None:
            return  # no PIN yet: nothing of theirs to protect
        if not current_pin:
            raise PinRequiredError(f"{row['name']}'s PIN changes or goes only with that PIN "
                                   "or the clinic administrator PIN: enter one of them")
        self._refuse_while_waiting("provider", provider_id, f"{row['name']}'s PIN")
        if check_pin(current_pin, row["pin_hash"]) or self._admin_matches(current_pin):
            return
        self._pin_refused("provider", provider_id)
        raise PinRequiredError(f"{row['name']}'s PIN changes or goes only with that PIN or "
                               "the clinic administrator PIN: the PIN given matches neither")

    def _refuse_while_waiting(self, entity: str, entity_id: int, what: str) -> None:
        """After ``PIN_TRIES`` wrong PINs in a row for ``what``, each try waits
        ``PIN_WAIT_SECONDS`` after the last wrong one (a guess costs half a minute)."""
        refused = []
        for entry in self._rows("SELECT action, entity, entity_id, at, detail FROM audit_log"
                                " ORDER BY seq DESC LIMIT 500"):
            if entry["entity"] != entity or entry["entity_id"] != entity_id:
                continue
            if entry["action"] == "pin_refused":
                refused.append(from_text(entry["at"]))
            elif entry["action"] == "admin_pin" or '"pin_changed":true' in entry["detail"]:
                break  # the right PIN was given since: the count starts again
        if len(refused) < PIN_TRIES:
            return
        left = PIN_WAIT_SECONDS - (self.clock() - refused[0]).total_seconds()
        if 0 < left <= PIN_WAIT_SECONDS:  # a clock set back far waits no longer than this
            raise PinRequiredError(f"{len(refused)} wrong PINs in a row for {what}: wait "
                                   f"{int(left) + (left > int(left))} s and try again")

    def _pin_refused(self, entity: str, entity_id: int) -> None:
        with self._write():
            self._audit(self.clock(), None, "pin_refused", entity, entity_id,
                        {"where": "settings"})

    def has_admin_pin(self) -> bool:
        return self._row("SELECT 1 FROM admin_pin WHERE id = 1") is not None

    def verify_admin_pin(self, pin: str) -> bool:
        return self._admin_matches(pin)

    def _admin_matches(self, pin: str | None) -> bool:
        row = self._row("SELECT pin_hash FROM admin_pin WHERE id = 1")
        return row is not None and bool(pin) and check_pin(pin, row["pin_hash"])

    def set_admin_pin(self, pin: str, current: str | None = None,
                      user: str | None = None) -> None:
        """Sets (or with "" removes) the clinic administrator PIN. Once one is set, changing
        or removing it needs it (``current``).

        Raises:
            PinRequiredError: an administrator PIN is set and ``current`` does not match it.
            InvalidDataError: the new PIN is not 4 to 12 digits.
        """
        if self.has_admin_pin():
            if not current:
                raise PinRequiredError("the clinic administrator PIN changes or goes only "
                                       "with the current one: enter it")
            self._refuse_while_waiting("practice", 1, "the clinic administrator PIN")
            if not self._admin_matches(current):
                self._pin_refused("practice", 1)
                raise PinRequiredError("the clinic administrator PIN changes or goes only "
                                       "with the current one: the PIN given does not match")
        pin_hash = hash_pin(pin) if pin else None
        with self._write() as conn:
            if pin_hash is None:
                conn.execute("DELETE FROM admin_pin WHERE id = 1")
            else:
                conn.execute("INSERT INTO admin_pin (id, pin_hash) VALUES (1, ?) ON CONFLICT(id)"
                             " DO UPDATE SET pin_hash = excluded.pin_hash", (pin_hash,))
            self._audit(self.clock(), user, "admin_pin", "practice", 1,
                        {"removed": pin_hash is None})

    def verify_pin(self, provider_id: int, pin: str) -> bool:
        """True when the provider has a PIN and ``pin`` matches it."""
        row = self._one("SELECT pin_hash FROM providers WHERE id = ?", (provider_id,),
                        f"provider {provider_id}")
        return row["pin_hash"] is not None and check_pin(pin, row["pin_hash"])

    def record_unlock(self, provider_id: int | None, at: datetime, *, ok: bool = True,
                      why: str = "") -> None:
        """Notes in the audit log who unlocked the lock screen (the acting user from then on:
        the entry is theirs) or, ``ok`` False, an unlock refused (``why``: "wrong PIN", ...;
        the entry names the provider tried, never as its user: nobody was proven)."""
        user = None
        if provider_id is not None and ok:
            user = self._one("SELECT name FROM providers WHERE id = ?", (provider_id,),
                             f"provider {provider_id}")["name"]
        with self._write():
            self._audit(at, user, "unlock" if ok else "unlock_refused", "provider",
                        provider_id, {"why": why} if why else None)

    # --- favourite tiles ---

    def favourite_codes(self, provider_id: int) -> list[str]:
        """A provider's favourite tile codes in order (empty: use the discipline's defaults)."""
        rows = self._rows("SELECT code FROM favourite_codes WHERE provider_id = ?"
                          " ORDER BY position", (provider_id,))
        return [r["code"] for r in rows]

    def set_favourite_codes(self, provider_id: int, codes: Sequence[str],
                            user: str | None = None) -> list[str]:
        """Replaces a provider's favourite tile codes (an empty list: the defaults again).

        Raises:
            InvalidDataError: a code is not in the catalog, is billed per month or episode
                (it cannot be a timer), or appears twice; nothing is written.
            NotFoundError: no such provider.
        """
        if isinstance(codes, str):
            raise InvalidDataError("favourite codes must be a list of codes, not one text")
        catalog = self.code_catalog() if hasattr(self, "code_catalog") else default_catalog()
        clean: list[str] = []
        for code in codes:
            try:
                info = catalog.get(code)
            except BillingError as exc:
                raise InvalidDataError(f"favourite tile: {exc}") from exc
            if info.kind is CodeKind.PERIODIC:
                raise InvalidDataError(f"favourite tile {info.code} is billed per month or "
                                       "episode; it cannot be a timer tile")
            if info.code in clean:
                raise InvalidDataError(f"favourite tile {info.code} is listed twice")
            clean.append(info.code)
        self.get_provider(provider_id)
        with self._write() as conn:
            conn.execute("DELETE FROM favourite_codes WHERE provider_id = ?", (provider_id,))
            conn.executemany(
                "INSERT INTO favourite_codes (provider_id, position, code) VALUES (?, ?, ?)",
                [(provider_id, position, code) for position, code in enumerate(clean)])
            self._audit(self.clock(), user, "favourites", "provider", provider_id,
                        {"codes": clean})
        return self.favourite_codes(provider_id)

    # --- patients ---

    def get_patient(self, patient_id: int) -> Patient:
        return patient_from(self._one("SELECT * FROM patients WHERE id = ?", (patient_id,),
                                      f"patient {patient_id}"))

    def search_patients(self, text: str = "", limit: int = 50) -> list[Patient]:
        """Patients whose last name, first name or chart number starts with ``text``
        ("last, first" also works), sorted by name."""
        text = (text or "").strip()
        if not text:
            rows = self._rows("SELECT * FROM patients ORDER BY last_name COLLATE NOCASE,"
                              " first_name LIMIT ?", (limit,))
            return [patient_from(r) for r in rows]
        last, _, first = (part.strip() for part in text.partition(","))
        like = _like(text)
        if first:
            sql = ("SELECT * FROM patients WHERE last_name LIKE ? ESCAPE '\\' AND first_name"
                   " LIKE ? ESCAPE '\\'")
            args: tuple = (_like(last), _like(first))
        else:
            sql = ("SELECT * FROM patients WHERE last_name LIKE ? ESCAPE '\\' OR first_name"
                   " LIKE ? ESCAPE '\\' OR chart_number LIKE ? ESCAPE '\\'"
                   " OR (first_name || ' ' || last_name) LIKE ? ESCAPE '\\'")
            args = (like, like, like, like)
        rows = self._rows(sql + " ORDER BY last_name COLLATE NOCASE, first_name LIMIT ?",
                          (*args, limit))
        return [patient_from(r) for r in rows]

    def save_patient(self, patient: Patient, user: str | None = None) -> Patient:
        if not patient.last_name.strip():
            raise InvalidDataError("a patient needs a last name")
        fields = {"first_name": patient.first_name.strip(),
                  "last_name": patient.last_name.strip(),
                  "birth_date": day_text(patient.birth_date), "sex": patient.sex,
                  "address": patient.address, "phone": patient.phone,
                  "chart_number": patient.chart_number.strip()}
        with self._write() as conn:
            patient_id = put_row(conn, "patients", "patient", patient.id, fields)
            self._audit(self.clock(), user, "save", "patient", patient_id)
        return self.get_patient(patient_id)

    # --- payers and policies ---

    def _allowed(self, payer_id: int) -> dict[str, int]:
        """The payer's allowed amounts in force today (the clinic's calendar day); billing
        asks ``allowed_on(payer_id, day)`` for the date of service."""
        today = self.clock().astimezone(self.clinic_zone()).date()
        return self.allowed_on(payer_id, today)

    def get_payer(self, payer_id: int) -> Payer:
        row = self._one("SELECT * FROM payers WHERE id = ?", (payer_id,), f"payer {payer_id}")
        return payer_from(row, self._allowed(payer_id))

    def list_payers(self) -> list[Payer]:
        return [payer_from(r, self._allowed(r["id"]))
                for r in self._rows("SELECT * FROM payers ORDER BY name")]

    def save_payer(self, payer: Payer, user: str | None = None,
                   allowed_from: date | None = None) -> Payer:
        """Inserts or updates a payer. Its ``allowed_cents`` become the amounts in force
        from ``allowed_from`` (None: from the start, every date of service): a changed or
        new code gets an entry from that date, a code left out stops then, and earlier
        dates keep their amounts."""
        if not payer.name.strip():
            raise InvalidDataError("a payer needs a name")
        try:
            check_medicare_rule(payer.medicare, payer.rule)
        except BillingError as exc:
            raise InvalidDataError(f"{payer.name.strip()}: {exc}") from None
        allowed = {}
        for code, cents in payer.allowed_cents.items():
            if isinstance(cents, bool) or not isinstance(cents, int) or cents < 0:
                raise InvalidDataError(f"allowed amount for {code} must be whole cents >= 0")
            allowed[_code(code)] = cents
        fields = {"name": payer.name.strip(), "rule": payer.rule.value,
                  "medicare": int(payer.medicare),
                  "therapy_modifiers": int(payer.therapy_modifiers),
                  "assistant_modifiers": int(payer.assistant_modifiers),
                  "kx_applies": int(payer.kx_applies), "self_pay": int(payer.self_pay),
                  "distinct_modifier": payer.distinct_modifier.upper()}
        fields["address"] = str(payer.address or "").strip()
        fields["payer_code"] = _checked(validate_payer_code, payer.payer_code)
        with self._write() as conn:
            payer_id = put_row(conn, "payers", "payer", payer.id, fields)
            self._write_allowed(conn, payer_id, allowed, allowed_from)
            self._audit(self.clock(), user, "save", "payer", payer_id,
                        {"allowed_from": day_text(allowed_from)} if allowed_from else None)
        return self.get_payer(payer_id)

    def policies_for(self, patient_id: int) -> list[InsurancePolicy]:
        rows = self._rows("SELECT * FROM policies WHERE patient_id = ? ORDER BY priority",
                          (patient_id,))
        return [policy_from(r) for r in rows]

    def save_policy(self, policy: InsurancePolicy, user: str | None = None) -> InsurancePolicy:
        fields = {"patient_id": policy.patient_id, "payer_id": policy.payer_id,
                  "member_id": policy.member_id.strip(),
                  "group_number": policy.group_number.strip(),
                  "subscriber": policy.subscriber, "relationship": policy.relationship,
                  "priority": policy.priority}
        with self._write() as conn:
            policy_id = put_row(conn, "policies", "insurance policy", policy.id, fields)
            self._audit(self.clock(), user, "save", "policy", policy_id,
                        {"patient_id": policy.patient_id})
        return policy_from(self._one("SELECT * FROM policies WHERE id = ?", (policy_id,),
                                     f"policy {policy_id}"))

    def primary_payer(self, patient_id: int) -> Payer | None:
        row = self._row("SELECT payer_id FROM policies WHERE patient_id = ? ORDER BY priority"
                        " LIMIT 1", (patient_id,))
        return None if row is None else self.get_payer(row["payer_id"])

    # --- fee schedule ---

    def fee_schedule(self, day: date) -> dict[str, int]:
        """Code -> charge per unit in cents for a date of service (the latest entry wins)."""
        rows = self._rows(
            "SELECT code, cents FROM fees WHERE effective_from <= ? AND (effective_to IS NULL"
            " OR effective_to >= ?) ORDER BY code, effective_from", (day_text(day),) * 2)
        return {r["code"]: r["cents"] for r in rows}

    def fee_entries(self) -> list[FeeEntry]:
        return [fee_from(r) for r in self._rows("SELECT * FROM fees ORDER BY code, "
                                                 "effective_from")]

    def save_fee(self, code: str, cents: int, effective_from: date,
                 effective_to: date | None = None, user: str | None = None) -> FeeEntry:
        """Sets a code's fee from ``effective_from``: the fee in force then ends the day
        before, a fee already starting that day is replaced, and the new one ends the day
        before a later entry (``storage.rates.put_dated``); ``effective_to`` ends it sooner."""
        code = _code(code)
        if isinstance(cents, bool) or not isinstance(cents, int) or cents < 0:
            raise InvalidDataError(f"the fee for {code} must be whole cents >= 0, got {cents!r}")
        if effective_to is not None and effective_to < effective_from:
            raise InvalidDataError(f"fee for {code}: ends before it starts")
        from therapy_timer.storage.rates import put_dated

        with self._write() as conn:
            put_dated(conn, "fees", {}, code, cents, effective_from)
            fee_id = conn.execute("SELECT id FROM fees WHERE code = ? AND effective_from = ?",
                                  (code, day_text(effective_from))).fetchone()[0]
            if effective_to is not None:
                conn.execute("UPDATE fees SET effective_to = ? WHERE id = ?",
                             (day_text(effective_to), fee_id))
            self._audit(self.clock(), user, "save", "fee", fee_id, {"code": code, "cents": cents})
        return fee_from(self._one("SELECT * FROM fees WHERE id = ?", (fee_id,), "fee"))

    # --- plans of care ---

    def plans_for(self, patient_id: int) -> list[PlanOfCare]:
        rows = self._rows("SELECT * FROM plans WHERE patient_id = ? ORDER BY start_date DESC,"
                          " id DESC", (patient_id,))
        return [plan_from(r) for r in rows]

    def get_plan(self, plan_id: int) -> PlanOfCare:
        return plan_from(self._one("SELECT * FROM plans WHERE id = ?", (plan_id,),
                                   f"plan of care {plan_id}"))

    def save_plan(self, plan: PlanOfCare, user: str | None = None) -> PlanOfCare:
        if plan.certified_through is not None and plan.certified_through < plan.start:
            raise InvalidDataError("the plan of care is certified through a date before it "
                                   "starts")
        fields = {"patient_id": plan.patient_id,
                  "discipline": Discipline(plan.discipline).value,
                  "therapist_id": plan.therapist_id, "start_date": day_text(plan.start),
                  "certified_through": day_text(plan.certified_through),
                  "visits_authorized": plan.visits_authorized}
        fields["diagnoses"] = _plan_diagnoses(plan.diagnoses)
        fields.update(_plan_referral(plan))
        with self._write() as conn:
            plan_id = put_row(conn, "plans", "plan of care", plan.id, fields)
            self._audit(self.clock(), user, "save", "plan", plan_id,
                        {"patient_id": plan.patient_id})
        return self.get_plan(plan_id)

    # --- KX spend entered by staff (other providers this year) ---

    def set_prior_kx(self, patient_id: int, year: int, bucket: str, cents: int,
                     note: str = "", user: str | None = None) -> None:
        if bucket not in ("PT+SLP", "OT"):
            raise InvalidDataError(f"KX bucket must be 'PT+SLP' or 'OT', not {bucket!r}")
        if isinstance(cents, bool) or not isinstance(cents, int) or cents < 0:
            raise InvalidDataError("prior KX spend must be whole cents >= 0")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO prior_kx (patient_id, year, bucket, cents, note) VALUES (?,?,?,?,?)"
                " ON CONFLICT (patient_id, year, bucket) DO UPDATE SET cents = excluded.cents,"
                " note = excluded.note",
                (patient_id, year, bucket, cents, note))
            self._audit(self.clock(), user, "prior_kx", "patient", patient_id,
                        {"year": year, "bucket": bucket, "cents": cents})

    def prior_kx(self, patient_id: int, year: int) -> dict[str, int]:
        """Spend at other providers entered for ``year``: KX bucket -> cents (entered ones)."""
        rows = self._rows("SELECT bucket, cents FROM prior_kx WHERE patient_id = ? AND year = ?",
                          (patient_id, year))
        return {row["bucket"]: int(row["cents"]) for row in rows}


def _plan_diagnoses(codes) -> str:
    """A plan's ICD-10-CM list as stored (the visits' format: codes joined by commas).

    Checked for form only (no ~2 s release load): the plan editor's picker, like the visit's,
    offers only billable codes of the release.
    """
    from therapy_timer.core.validation import normalise_icd10
    from therapy_timer.storage.timers import MAX_DIAGNOSES

    if isinstance(codes, str):
        codes = [c for c in codes.split(",") if c.strip()]
    try:
        normal = [normalise_icd10(c) for c in codes]
    except BillingError as exc:
        raise InvalidDataError(f"plan of care diagnoses: {exc}") from exc
    if len(normal) > MAX_DIAGNOSES:
        raise InvalidDataError(f"a plan of care holds at most {MAX_DIAGNOSES} diagnoses "
                               f"({len(normal)} given)")
    if len(set(normal)) != len(normal):
        raise InvalidDataError("plan of care diagnoses: a diagnosis is listed twice")
    return ",".join(normal)
def _plan_referral(plan: PlanOfCare) -> dict:
    """The plan's referring provider, NPI (check digit verified) and onset date, as stored."""
    return {"referring_name": str(plan.referring_name or "").strip(),
            "referring_npi": _npi(str(plan.referring_npi or "").strip()),
            "onset_date": day_text(plan.onset_date)}


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _zone(name: str):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidDataError(f"unknown time zone {name!r} (use a name like America/Chicago)"
                               ) from exc
