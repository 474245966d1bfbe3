"""Visits as JSON: the input and output shapes of ``therapy-timer units`` (a stable contract).

Input: one visit object with ``services`` (minutes per code) or ``intervals`` (timer records);
output: units, modifiers, ties, warnings and the explanation. Pure Python, like the engine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from therapy_timer.core.billing import (
    BillingContext,
    DayBilling,
    bill_intervals,
    bill_services,
    self_pay_context,
)
from therapy_timer.core.model import (
    MEDICARE_RULE_REASON,
    BillingError,
    Discipline,
    Interval,
    Performer,
    Rule,
    Service,
)

#: A day has 1,440 minutes: more for one code is a typing error, never a visit.
MAX_MINUTES = 24 * 60
#: $10,000,000 in cents: above it a money field is a typing error (and JSON-safe to print).
MAX_CENTS = 1_000_000_000

#: Every field a visit object may carry, with the JSON type it needs. null means "not given".
VISIT_FIELDS = {
    "rule": "string", "date": "string", "discipline": "string",
    "services": "list", "intervals": "list", "untimed_ok": "list",
    "medicare": "boolean", "self_pay": "boolean", "kx_applies": "boolean",
    "therapy_modifiers": "boolean", "assistant_modifiers": "boolean",
    "distinct_modifier": "string", "prior_kx_cents": "whole number",
    "fees_cents": "object", "allowed_cents": "object",
}
SERVICE_FIELDS = {"code": "string", "minutes": "whole number",
                  "assistant_minutes": "whole number"}
INTERVAL_FIELDS = {"code": "string", "start": "string", "end": "string",
                   "performer": "string"}
_NEEDS = {"boolean": "a boolean (true or false)", "string": "a string",
          "whole number": "a whole number", "list": "a list", "object": "an object"}
_NEEDS_FOR = {"untimed_ok": "a list of codes, e.g. [\"97161\"]",
              "fees_cents": "an object of code: cents",
              "allowed_cents": "an object of code: cents",
              "services": "a list of {\"code\", \"minutes\"} objects",
              "intervals": "a list of {\"code\", \"start\", \"end\"} objects"}


class ClinicData(Protocol):
    """A clinic database's rule data for ``units --db`` (issue 12): its code catalog (the
    shipped codes plus its own), and its fees and a payer's allowed amounts by date of
    service. A visit's own ``fees_cents`` / ``allowed_cents`` win code by code."""

    catalog: Any

    def fees_on(self, day: date) -> Mapping[str, int]: ...

    def allowed_on(self, day: date) -> Mapping[str, int]: ...


def _fail(prefix: str, message: str) -> BillingError:
    return BillingError(prefix + message)


def json_type(value: Any) -> str:
    """How a message names a JSON value's type, with the value when it is short."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, int):
        return "a whole number" + (f" ({value})" if abs(value) < 10**12 else "")
    if isinstance(value, float):
        return f"a number with a fraction ({value!r})"
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:27] + "..."
        return f"a string ({json.dumps(shown)})"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    return "an object"


def _is(value: Any, needs: str) -> bool:
    if needs == "boolean":
        return isinstance(value, bool)
    if needs == "whole number":
        return isinstance(value, int) and not isinstance(value, bool)
    if needs == "string":
        return isinstance(value, str)
    if needs == "list":
        return isinstance(value, list)
    return isinstance(value, dict)


def _typed(obj: dict, fields: Mapping[str, str], where: str) -> dict:
    """``obj``'s fields, each checked against the type it needs; null is "not given".

    Raises:
        BillingError: an unknown field (a misspelt switch must not be ignored) or a wrong
            type, naming the field, the type it has and the type it needs.
    """
    out = {}
    for key, value in obj.items():
        if key not in fields:
            known = ", ".join(fields)
            raise BillingError(f"{where}unknown field {json.dumps(str(key)[:40])} (known: "
                               f"{known})")
        if value is None:
            continue
        needs = fields[key]
        if not _is(value, needs):
            raise BillingError(f"{where}'{key}' is {json_type(value)}; it must be "
                               f"{_NEEDS_FOR.get(key, _NEEDS[needs])}")
        out[key] = value
    return out


def _bounded(value: int, name: str, high: int, unit: str) -> int:
    if value < 0:
        raise BillingError(f"{name} cannot be negative ({value if value > -10**12 else '...'})")
    if value > high:
        shown = value if value < 10**12 else f"a number of {len(str(value))} digits"
        raise BillingError(f"{name} is more than {high:,} {unit} ({shown})")
    return value


def bill_visit(visit: Any, forced_rule: str | None, prefix: str = "",
               today: date | None = None, rules: Mapping[str, Any] | None = None,
               clinic: ClinicData | None = None) -> dict:
    """Bills one visit object and returns the JSON-ready result.

    Every field is type-checked (``VISIT_FIELDS``). A visit given as ``services`` without a
    ``date`` is checked (NCCI pairs, the code catalog) as of ``today`` with a warning saying
    so; with ``kx_applies`` the date is required, because the KX threshold is per calendar
    year and a KX attestation on the wrong year's threshold would be false.

    ``rules``: ``BillingContext`` fields from the clinic's database (``units --db``): its KX
    thresholds by year, its imported NCCI pairs and MUEs; without them the shipped seed
    applies.

    Raises:
        BillingError: the visit cannot be billed as given; the message names the problem.
    """
    try:
        return _bill_visit(visit, forced_rule, today or date.today(), dict(rules or {}),
                           clinic)
    except BillingError as exc:
        raise _fail(prefix, str(exc)) from None


def _bill_visit(visit: Any, forced_rule: str | None, today: date, rules: dict,
                clinic: ClinicData | None = None) -> dict:
    if not isinstance(visit, dict):
        raise BillingError(f"a visit must be a JSON object, not {json_type(visit)}")
    fields = _typed(visit, VISIT_FIELDS, "")
    rule = Rule.parse(forced_rule or fields.get("rule") or "cms")
    try:
        discipline = Discipline(fields.get("discipline", "PT").strip().upper())
    except ValueError:
        raise BillingError(f"unknown discipline {fields['discipline'][:20]!r}: use "
                           "PT, OT or SLP") from None
    day = None
    if "date" in fields:
        try:
            day = date.fromisoformat(fields["date"].strip())
        except ValueError:
            raise BillingError(f"bad date {fields['date'][:30]!r}: use YYYY-MM-DD") \
                from None
    kx_applies = fields.get("kx_applies", False)
    if kx_applies and day is None and "intervals" not in fields:
        raise BillingError("'kx_applies' needs a 'date' (YYYY-MM-DD): the KX threshold is per "
                           "calendar year")
    switches = {key: fields[key] for key in ("therapy_modifiers", "assistant_modifiers")
                if key in fields}
    if "distinct_modifier" in fields:
        distinct = fields["distinct_modifier"].strip().upper()
        if distinct not in ("59", "XU"):
            shown = json_type(fields["distinct_modifier"])[2:]
            raise BillingError(f"'distinct_modifier' is {shown}: use \"59\" or \"XU\"")
        switches["distinct_modifier"] = distinct
    money = {
        "prior_kx_cents": _bounded(fields.get("prior_kx_cents", 0), "prior_kx_cents",
                                   MAX_CENTS, "cents"),
        "fees_cents": _cents(fields.get("fees_cents", {}), "fees_cents"),
        "allowed_cents": _cents(fields.get("allowed_cents", {}), "allowed_cents"),
    }
    catalog = None
    if clinic is not None:
        catalog = clinic.catalog
        priced = day or _first_day(fields) or today
        money["fees_cents"] = {**clinic.fees_on(priced), **money["fees_cents"]}
        money["allowed_cents"] = {**clinic.allowed_on(priced), **money["allowed_cents"]}
    medicare = fields.get("medicare", False)
    if medicare and rule is Rule.PER_CODE:
        # Refused, not overridden: a silent (or merely warned) change of rule would print
        # units the caller did not ask for (README, "Medicare is always the CMS rule").
        raise BillingError(f"{MEDICARE_RULE_REASON}: drop \"rule\": \"per-code\" (or --rule "
                           "per-code), or set 'medicare' to false")
    if fields.get("self_pay", False):
        if medicare:
            raise BillingError("'self_pay' and 'medicare' cannot both be true")
        context = self_pay_context(discipline, rule=rule, kx_applies=kx_applies, **switches,
                                   **money, **rules)
    else:
        context = BillingContext(rule=rule, discipline=discipline, medicare=medicare,
                                 kx_applies=kx_applies, **switches, **money, **rules)
    untimed_ok = _codes(fields.get("untimed_ok"), "untimed_ok")
    if "intervals" in fields and "services" in fields:
        raise BillingError("give either 'services' or 'intervals', not both")
    if "intervals" in fields:
        intervals = [_interval(item, n) for n, item in enumerate(fields["intervals"], start=1)]
        if not intervals:
            raise BillingError("'intervals' is empty")
        billing = bill_intervals(intervals, context, day=day, untimed_ok=untimed_ok,
                                 catalog=catalog)
        return to_json(billing)
    if "services" not in fields:
        raise BillingError("a visit needs 'services' or 'intervals'")
    services = [_service(item, n) for n, item in enumerate(fields["services"], start=1)]
    if not services:
        raise BillingError("'services' is empty")
    note = None
    if day is None:
        day = today
        note = (f"No 'date' given: NCCI pairs and the code catalog were checked as of "
                f"{today.isoformat()} (today); give the date of service for its own rules")
    result = to_json(bill_services(services, context, day=day, untimed_ok=untimed_ok,
                                   catalog=catalog))
    if note:
        result["warnings"].insert(0, note)
    return result


def _first_day(fields: dict) -> date | None:
    """The date of the earliest interval's start (as ``bill_intervals`` dates the day), or
    None; a bad interval is reported when the intervals are read."""
    starts = []
    for n, item in enumerate(fields.get("intervals") or (), start=1):
        try:
            starts.append(_interval(item, n).start)
        except BillingError:
            return None
    return min(starts).date() if starts else None


def _cents(value: dict, name: str) -> dict[str, int]:
    """An object of code: cents per unit."""
    out = {}
    for code, cents in value.items():
        if not _is(cents, "whole number"):
            raise BillingError(f"'{name}' for {json.dumps(code[:12])} is {json_type(cents)}; "
                               "it must be a whole number of cents")
        out[code.strip().upper()] = _bounded(cents, f"'{name}' for {code[:12]}", MAX_CENTS,
                                             "cents")
    return out


def _codes(value: list | None, name: str) -> list[str]:
    """A list of codes (``untimed_ok``: untimed codes under a minute confirmed to bill)."""
    if value is None:
        return []
    if not all(isinstance(c, str) and c.strip() for c in value):
        raise BillingError(f"'{name}' must be a list of codes, e.g. [\"97161\"]")
    return [c.strip().upper() for c in value]


def _item(item: Any, fields: Mapping[str, str], where: str) -> tuple[str, dict]:
    """A service or interval object: its code and its type-checked fields."""
    if not isinstance(item, dict):
        raise BillingError(f"{where} is {json_type(item)}; it must be an object")
    checked = _typed(item, fields, f"{where}: ")
    code = checked.get("code", "").strip().upper()
    if not code:
        raise BillingError(f"{where} has no 'code'")
    if len(code) > 10:
        raise BillingError(f"{where}: 'code' is {json_type(code)}, not a CPT/HCPCS code")
    return code, checked


def _service(item: Any, n: int) -> Service:
    code, fields = _item(item, SERVICE_FIELDS, f"service {n}")
    where = f"service {n} ({code})"
    if "minutes" not in fields:
        raise BillingError(f"{where} has no 'minutes'")
    minutes = _bounded(fields["minutes"], f"{where}: minutes", MAX_MINUTES, "minutes in a day")
    assistant = _bounded(fields.get("assistant_minutes", 0), f"{where}: assistant_minutes",
                         minutes, "minutes (the code's own minutes)")
    return Service(code, minutes, None, assistant)


def _when(item: dict, key: str, where: str) -> datetime:
    raw = item.get(key)
    if raw is None:
        raise BillingError(f"{where} has no '{key}' time")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BillingError(f"{where}: bad {key} time {raw[:40]!r} (use ISO 8601 with "
                           "an offset)") from None
    if moment.tzinfo is None:
        raise BillingError(f"{where}: {key} time {raw[:40]!r} needs a UTC offset, e.g. "
                           "-05:00")
    return moment


def _interval(item: Any, n: int) -> Interval:
    code, fields = _item(item, INTERVAL_FIELDS, f"interval {n}")
    where = f"interval {n} ({code})"
    start, end = _when(fields, "start", where), _when(fields, "end", where)
    if end < start:
        raise BillingError(f"{where}: end {fields['end']} is before start {fields['start']}")
    if end - start > timedelta(minutes=MAX_MINUTES):
        raise BillingError(f"{where}: runs more than a day ({fields['start']} to "
                           f"{fields['end']})")
    try:
        performer = Performer(fields.get("performer", "PT").strip().upper())
    except ValueError:
        raise BillingError(
            f"{where}: unknown performer {fields['performer'][:20]!r}: use PT, PTA, "
            "OT, OTA or SLP"
        ) from None
    return Interval(code, start, end, performer)


def to_json(billing: DayBilling) -> dict:
    """The JSON shape of the ``units`` command (a stable contract)."""
    allocation = billing.allocation
    picked = allocation.as_dict()
    ties = []
    for tie in allocation.ties:
        ties.extend(alt for alt in tie.alternatives if alt != picked)
    return {
        "rule": billing.context.rule.value,
        "date": billing.day.isoformat() if billing.day else None,
        "discipline": billing.context.discipline.value,
        "total_timed_minutes": billing.total_timed_minutes,
        "total_treatment_minutes": billing.total_treatment_minutes,
        "total_units": billing.total_units,
        "timed_units": allocation.timed_units,
        "lines": [
            {
                "code": line.code,
                "label": line.label,
                "minutes": line.minutes,
                "units": line.units,
                "timed": line.timed,
                "modifiers": list(line.modifiers),
                "suggested_modifiers": [s.as_dict() for s in line.suggestions],
                "charge_cents": line.charge_cents,
                "notes": list(line.notes),
            }
            for line in billing.lines
        ],
        "ties": ties,
        "tied_codes": [list(t.codes) for t in allocation.ties],
        # Untimed codes timed under a minute: billed only when listed in the input's untimed_ok.
        "untimed_under_a_minute": list(allocation.under_a_minute),
        "claim_lines": [
            {"code": c.code, "modifiers": list(c.modifiers), "units": c.units,
             "minutes": c.minutes, "charge_cents": c.charge_cents}
            for c in billing.claim_lines()
        ],
        "warnings": list(billing.warnings),
        "explanation": list(billing.explanation),
        # The KX threshold checked against (null when KX does not apply); "fallback": true
        # when the date's year had none on file and the latest year before it stood in.
        "kx_threshold": None if billing.kx is None else {
            "year": billing.kx.kx.year, "for_year": billing.kx.year,
            "threshold_cents": billing.kx.kx.threshold_cents,
            "review_cents": billing.kx.kx.review_cents,
            "confidence": billing.kx.kx.confidence, "fallback": billing.kx.fallback,
            "notice": billing.kx.notice},
    }
