"""Visits as JSON: the input and output shapes of ``therapy-timer units`` (a stable contract).

Input: one visit object with ``services`` (minutes per code) or ``intervals`` (timer records);
output: units, modifiers, ties, warnings and the explanation. Pure Python, like the engine.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from therapy_timer.core.billing import BillingContext, DayBilling, bill_intervals, bill_services
from therapy_timer.core.model import BillingError, Discipline, Interval, Performer, Rule, Service


def _fail(prefix: str, message: str) -> BillingError:
    return BillingError(prefix + message)


def bill_visit(visit: Any, forced_rule: str | None, prefix: str = "") -> dict:
    """Bills one visit object and returns the JSON-ready result."""
    if not isinstance(visit, dict):
        raise _fail(prefix, "a visit must be a JSON object")
    try:
        rule = Rule.parse(forced_rule or visit.get("rule") or "cms")
        discipline = Discipline(str(visit.get("discipline", "PT")).upper())
    except ValueError as exc:
        raise _fail(prefix, str(exc) if isinstance(exc, BillingError) else
                    f"unknown discipline {visit.get('discipline')!r}: use PT, OT or SLP") from None
    day = None
    if visit.get("date") is not None:
        try:
            day = date.fromisoformat(str(visit["date"]))
        except ValueError:
            raise _fail(prefix, f"bad date {visit['date']!r}: use YYYY-MM-DD") from None
    context = BillingContext(
        rule=rule,
        discipline=discipline,
        medicare=bool(visit.get("medicare", False)),
        kx_applies=bool(visit.get("kx_applies", False)),
        prior_kx_cents=_int(visit.get("prior_kx_cents", 0), "prior_kx_cents", prefix),
        fees_cents={str(k).upper(): _int(v, f"fee for {k}", prefix)
                    for k, v in _obj(visit.get("fees_cents"), "fees_cents", prefix).items()},
        allowed_cents={str(k).upper(): _int(v, f"allowed amount for {k}", prefix)
                       for k, v in _obj(visit.get("allowed_cents"), "allowed_cents",
                                        prefix).items()},
    )
    try:
        untimed_ok = _codes(visit.get("untimed_ok"), "untimed_ok")
        if "intervals" in visit and "services" in visit:
            raise BillingError("give either 'services' or 'intervals', not both")
        if "intervals" in visit:
            intervals = [_interval(item, n) for n, item in
                         enumerate(_list(visit["intervals"], "intervals"), start=1)]
            if not intervals:
                raise BillingError("'intervals' is empty")
            billing = bill_intervals(intervals, context, day=day, untimed_ok=untimed_ok)
        elif "services" in visit:
            services = [_service(item, n) for n, item in
                        enumerate(_list(visit["services"], "services"), start=1)]
            if not services:
                raise BillingError("'services' is empty")
            billing = bill_services(services, context, day=day, untimed_ok=untimed_ok)
        else:
            raise BillingError("a visit needs 'services' or 'intervals'")
    except BillingError as exc:
        raise _fail(prefix, str(exc)) from None
    return to_json(billing)


def _list(value: Any, name: str) -> list:
    if not isinstance(value, list):
        raise BillingError(f"'{name}' must be a list")
    return value


def _codes(value: Any, name: str) -> list[str]:
    """A list of codes (``untimed_ok``: untimed codes under a minute confirmed to bill)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, str) and c.strip() for c in value):
        raise BillingError(f"'{name}' must be a list of codes, e.g. [\"97161\"]")
    return [c.strip().upper() for c in value]


def _obj(value: Any, name: str, prefix: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(prefix, f"'{name}' must be an object of code: cents")
    return value


def _int(value: Any, name: str, prefix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(prefix, f"{name} must be a whole number of cents, got {value!r}")
    if value < 0:
        raise _fail(prefix, f"{name} cannot be negative ({value})")
    return value


def _code(item: Any, where: str) -> str:
    if not isinstance(item, dict):
        raise BillingError(f"{where} must be an object")
    code = item.get("code")
    if not isinstance(code, str) or not code.strip():
        raise BillingError(f"{where} has no 'code'")
    return code.strip().upper()


def _service(item: Any, n: int) -> Service:
    where = f"service {n}"
    code = _code(item, where)
    if "minutes" not in item:
        raise BillingError(f"{where} ({code}) has no 'minutes'")
    minutes = item["minutes"]
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise BillingError(f"{where} ({code}): minutes must be a whole number, got {minutes!r}")
    if minutes < 0:
        raise BillingError(f"{where} ({code}): minutes cannot be negative ({minutes})")
    assistant = item.get("assistant_minutes", 0)
    if isinstance(assistant, bool) or not isinstance(assistant, int):
        raise BillingError(f"{where} ({code}): assistant_minutes must be a whole number")
    return Service(code, minutes, None, assistant)


def _when(item: dict, key: str, where: str) -> datetime:
    raw = item.get(key)
    if not isinstance(raw, str):
        raise BillingError(f"{where} has no '{key}' time")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BillingError(f"{where}: bad {key} time {raw!r} (use ISO 8601 with an offset)") \
            from None
    if moment.tzinfo is None:
        raise BillingError(f"{where}: {key} time {raw!r} needs a UTC offset, e.g. -05:00")
    return moment


def _interval(item: Any, n: int) -> Interval:
    where = f"interval {n}"
    code = _code(item, where)
    where = f"{where} ({code})"
    start, end = _when(item, "start", where), _when(item, "end", where)
    if end < start:
        raise BillingError(f"{where}: end {item['end']} is before start {item['start']}")
    try:
        performer = Performer(str(item.get("performer", "PT")).upper())
    except ValueError:
        raise BillingError(
            f"{where}: unknown performer {item.get('performer')!r}: use PT, PTA, OT, OTA or SLP"
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
    }
