"""The clinician's billing choices on an open visit, and what becomes of them when the visit
changes.

A visit keeps (in ``visits.choices``, JSON) what the clinician decided on the review and the
visit screen, so leaving the review, saving Diagnoses, reopening the visit or amending it never
forgets them:

``{"tie": {code: units}, "modifiers": {code: {modifier: true/false}},
"pointers": {code: letters}, "pointer_diagnoses": [icd10, ...], "untimed_ok": [code, ...]}``

* ``tie``: the allocation chosen where the CMS rule left a tie (timed codes).
* ``modifiers``: the ticks (true) and unticks (false) of suggested CQ/CO, 59/XU, KX.
* ``pointers``: each code's diagnosis pointer letters, primary first; ``pointer_diagnoses`` is
  the diagnosis list those letters were chosen against, so a reordered or shortened list keeps
  each line pointing at the same diagnoses (never silently at another one).
* ``untimed_ok``: untimed codes timed under a minute the clinician confirmed to bill.

``reconcile`` applies the choices to a fresh billing of the visit and drops a choice only when
its reason is gone (the tie no longer exists, the suggestion is no longer made, the diagnosis
was removed), with a note saying what was reset and why. Pure Python: no Qt, no SQL.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from therapy_timer.core.model import BillingError

if TYPE_CHECKING:  # the store reads choices on every visit open: the engine loads later
    from therapy_timer.core.billing import DayBilling

POINTER_LETTERS = "ABCDEFGHIJKL"
MAX_POINTERS = 4
DISTINCT = ("59", "XE", "XS", "XP", "XU")


def _code(value: Any, what: str) -> str:
    code = str(value).strip().upper() if isinstance(value, str) else ""
    if not (len(code) == 5 and code.isalnum()):
        raise BillingError(f"{what}: {value!r} is not a 5-character CPT/HCPCS code")
    return code


def _letters(code: str, value: Any) -> str:
    if not isinstance(value, str):
        raise BillingError(f"pointers for {code}: give letters A-L as text, not {value!r}")
    letters = "".join(ch for ch in value.upper() if not ch.isspace() and ch != ",")
    if not 1 <= len(letters) <= MAX_POINTERS:
        raise BillingError(f"pointers for {code}: give 1 to {MAX_POINTERS} letters A-L "
                           f"({value!r})")
    bad = [ch for ch in letters if ch not in POINTER_LETTERS]
    if bad:
        raise BillingError(f"pointers for {code}: {bad[0]!r} is not a letter A-L")
    if len(set(letters)) != len(letters):
        raise BillingError(f"pointers for {code}: a letter is given twice ({value!r})")
    return letters


@dataclass(frozen=True)
class Choices:
    """One visit's billing choices (immutable; the ``with_*`` methods return a new one)."""

    tie: Mapping[str, int] = field(default_factory=dict)
    modifiers: Mapping[str, Mapping[str, bool]] = field(default_factory=dict)
    pointers: Mapping[str, str] = field(default_factory=dict)
    pointer_diagnoses: tuple[str, ...] = ()
    untimed_ok: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.tie or self.modifiers or self.pointers or self.untimed_ok)

    def to_json(self) -> dict:
        """The stored JSON shape (keys sorted by the writer)."""
        return {
            "tie": dict(self.tie),
            "modifiers": {code: dict(mods) for code, mods in self.modifiers.items()},
            "pointers": dict(self.pointers),
            "pointer_diagnoses": list(self.pointer_diagnoses),
            "untimed_ok": list(self.untimed_ok),
        }

    def ticked(self, code: str, modifier: str) -> bool:
        """Whether the clinician ticked ``modifier`` on ``code`` (unticked by default)."""
        return bool(self.modifiers.get(code, {}).get(modifier, False))

    def confirmed(self) -> set[tuple[str, str]]:
        """The ``(code, modifier)`` suggestions ticked."""
        return {(code, mod) for code, mods in self.modifiers.items()
                for mod, on in mods.items() if on}

    def with_tie(self, tie: Mapping[str, int] | None) -> Choices:
        return replace(self, tie=_tie(tie or {}))

    def with_modifier(self, code: str, modifier: str, on: bool) -> Choices:
        code = _code(code, "modifier choice")
        mods = dict(self.modifiers)
        mods[code] = {**mods.get(code, {}), str(modifier).strip().upper(): bool(on)}
        return replace(self, modifiers=mods)

    def with_pointers(self, code: str, letters: str | None,
                      diagnoses: Sequence[str]) -> Choices:
        """``letters`` for ``code`` (None or "" goes back to the default), chosen against
        ``diagnoses`` (the visit's list now; other codes' letters are moved onto it)."""
        code = _code(code, "diagnosis pointers")
        pointers = dict(_remap(self.pointers, self.pointer_diagnoses, diagnoses)[0])
        if letters:
            pointers[code] = _letters(code, letters)
        else:
            pointers.pop(code, None)
        return replace(self, pointers=pointers, pointer_diagnoses=tuple(diagnoses))

    def with_untimed(self, code: str, ok: bool) -> Choices:
        code = _code(code, "untimed confirmation")
        codes = [c for c in self.untimed_ok if c != code] + ([code] if ok else [])
        return replace(self, untimed_ok=tuple(sorted(codes)))


def _tie(tie: Any) -> dict[str, int]:
    if not isinstance(tie, Mapping):
        raise BillingError(f"a tie choice maps each code to its units, not {tie!r}")
    out = {}
    for code, units in tie.items():
        key = _code(code, "tie choice")
        if isinstance(units, bool) or not isinstance(units, int) or units < 0:
            raise BillingError(f"tie choice for {key}: units must be a whole number 0 or more, "
                               f"not {units!r}")
        out[key] = units
    return out


def parse_choices(data: Any) -> Choices:
    """Validates and normalises choices given as the JSON shape (or None: no choices).

    Raises:
        BillingError: naming the part that is wrong.
    """
    if data is None:
        return Choices()
    if isinstance(data, Choices):
        data = data.to_json()
    if not isinstance(data, Mapping):
        raise BillingError(f"billing choices must be an object, not {type(data).__name__}")
    unknown = set(data) - {"tie", "modifiers", "pointers", "pointer_diagnoses", "untimed_ok"}
    if unknown:
        raise BillingError(f"unknown billing choice {sorted(unknown)[0]!r}")
    modifiers: dict[str, dict[str, bool]] = {}
    raw_mods = data.get("modifiers") or {}
    if not isinstance(raw_mods, Mapping):
        raise BillingError("modifier choices map each code to {modifier: true/false}")
    for code, mods in raw_mods.items():
        key = _code(code, "modifier choice")
        if not isinstance(mods, Mapping):
            raise BillingError(f"modifier choices for {key} must be {{modifier: true/false}}")
        for mod, on in mods.items():
            name = str(mod).strip().upper()
            if not (len(name) == 2 and name.isalnum()):
                raise BillingError(f"modifier choice for {key}: {mod!r} is not a modifier")
            if not isinstance(on, bool):
                raise BillingError(f"modifier choice {name} on {key} must be true or false")
            modifiers.setdefault(key, {})[name] = on
    raw_pointers = data.get("pointers") or {}
    if not isinstance(raw_pointers, Mapping):
        raise BillingError("diagnosis pointers map each code to its letters")
    pointers = {}
    for code, letters in raw_pointers.items():
        key = _code(code, "diagnosis pointers")
        pointers[key] = _letters(key, letters)
    diagnoses = data.get("pointer_diagnoses") or []
    if not isinstance(diagnoses, list) or not all(isinstance(d, str) for d in diagnoses):
        raise BillingError("pointer_diagnoses must be the list of diagnoses the letters name")
    untimed = data.get("untimed_ok") or []
    if not isinstance(untimed, list | tuple):
        raise BillingError("untimed_ok must be a list of codes")
    return Choices(
        tie=_tie(data.get("tie") or {}),
        modifiers=modifiers,
        pointers=pointers,
        pointer_diagnoses=tuple(d.strip().upper() for d in diagnoses),
        untimed_ok=tuple(sorted({_code(c, "untimed confirmation") for c in untimed})),
    )


def choices_from_text(text: str | None) -> Choices:
    """The stored JSON text (None or "" when nothing was chosen).

    Raises:
        BillingError: the text is not valid choices.
    """
    if not text:
        return Choices()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BillingError(f"stored billing choices are not JSON ({exc})") from None
    return parse_choices(data)


def choices_text(choices: Choices) -> str | None:
    """The JSON text to store (None when nothing is chosen)."""
    # Keys in the order chosen (a tie reads in the order the codes were started).
    return None if choices.empty else json.dumps(choices.to_json())


def choices_from_record(record: Mapping[str, Any], diagnoses: Sequence[str]) -> Choices:
    """The choices a finalized visit was locked with (its billing record), for an amendment
    to start from: the confirmed modifiers (all suggestions when the record says none were
    singled out), the tie choice, the pointers and the confirmed untimed codes."""
    confirmed = record.get("confirmed")
    if confirmed is None:
        pairs = [(s["code"], s["modifier"]) for s in record.get("suggestions") or []]
    else:
        pairs = [tuple(p) for p in confirmed]
    modifiers: dict[str, dict[str, bool]] = {}
    for code, mod in pairs:
        modifiers.setdefault(str(code), {})[str(mod)] = True
    return parse_choices({
        "tie": record.get("choice") or {},
        "modifiers": modifiers,
        "pointers": record.get("pointers") or {},
        "pointer_diagnoses": list(diagnoses),
        "untimed_ok": record.get("untimed_ok") or [],
    })


# --- applying the choices to the visit as it is now ---


@dataclass(frozen=True)
class Reconciled:
    """A billing with the choices applied, the choices that still hold, and what was reset."""

    billing: DayBilling
    choices: Choices
    notes: tuple[str, ...] = ()
    changed: bool = False

    def confirmed(self) -> set[tuple[str, str]]:
        return self.choices.confirmed()


def _fmt(alloc: Mapping[str, int]) -> str:
    return ", ".join(f"{code} × {units}" for code, units in alloc.items() if units) or "none"


def _why_gone(code: str, modifier: str, billed: Collection[str]) -> str:
    if code not in billed:
        return f"{code} no longer bills"
    if modifier in DISTINCT:
        return (f"{code} no longer bills beside its NCCI pair in time the timers show as "
                "distinct")
    if modifier in ("CQ", "CO"):
        return f"no unit of {code} is furnished by an assistant now"
    if modifier == "KX":
        return "the year's amount no longer passes the KX threshold"
    return "the rules no longer suggest it"


def _remap(pointers: Mapping[str, str], chosen_for: Sequence[str],
           diagnoses: Sequence[str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Moves pointer letters chosen against ``chosen_for`` onto ``diagnoses`` (same
    diagnosis, perhaps a new letter). Returns the new letters (codes with none left are
    dropped) and, per code, the diagnoses it pointed at that are gone."""
    out: dict[str, str] = {}
    lost: dict[str, list[str]] = {}
    now = list(diagnoses)
    before = list(chosen_for) or now  # no record of the list: the letters name today's list
    for code, letters in pointers.items():
        kept = ""
        for letter in letters:
            index = POINTER_LETTERS.index(letter)
            name = before[index] if index < len(before) else None
            if name is not None and name in now:
                kept += POINTER_LETTERS[now.index(name)]
            else:
                lost.setdefault(code, []).append(name or f"letter {letter}")
        if kept:
            out[code] = kept
    return out, lost


def reconcile(choices: Choices, billing: DayBilling, diagnoses: Sequence[str]) -> Reconciled:
    """Applies ``choices`` to ``billing`` (billed with ``choices.untimed_ok``).

    A choice is kept while its reason holds and dropped, with a note, once it is gone: a tie
    choice the rule no longer allows, a ticked modifier no longer suggested, pointers at a
    removed diagnosis or for a code that no longer bills. Unticks and confirmations whose
    question is gone are dropped silently (nothing billed changes).
    """
    notes: list[str] = []
    tie = dict(choices.tie)
    if tie:
        try:
            chosen = billing.with_choice(tie)
        except BillingError:
            why = ("there is no tie any more" if not billing.allocation.ties
                   else "it is no longer an allocation the rule allows")
            order = [line.code for line in billing.allocation.lines]
            shown = dict(sorted(tie.items(), key=lambda kv: (
                order.index(kv[0]) if kv[0] in order else len(order), kv[0])))
            notes.append(f"Tie choice reset ({_fmt(shown)}): the times changed and {why}; "
                         "the rule's pick is shown.")
            tie = {}
        else:
            if billing.allocation.ties:
                billing = chosen
            else:  # the tie is gone but the units are the ones chosen: nothing to say
                tie = {}
    billed = {line.code for line in billing.lines if line.units > 0}
    suggested = {(s.code, s.modifier) for s in billing.suggestions}
    modifiers: dict[str, dict[str, bool]] = {}
    for code, mods in choices.modifiers.items():
        for mod, on in mods.items():
            if (code, mod) in suggested:
                modifiers.setdefault(code, {})[mod] = on
            elif on:
                notes.append(f"{mod} on {code} unticked: {_why_gone(code, mod, billed)}.")
    pointers, lost = _remap(choices.pointers, choices.pointer_diagnoses, diagnoses)
    for code in list(choices.pointers):
        if code not in billed:
            pointers.pop(code, None)
            notes.append(f"Diagnosis pointers of {code} reset: {code} no longer bills.")
        elif code in lost and code in pointers:
            notes.append(f"{code} no longer points at {', '.join(lost[code])}: removed from "
                         "the diagnoses.")
        elif code in lost:
            notes.append(f"Diagnosis pointers of {code} reset to the first diagnoses: "
                         f"{', '.join(lost[code])} removed from the diagnoses.")
    under = set(billing.under_a_minute)
    untimed = tuple(c for c in choices.untimed_ok if c in under)
    kept = Choices(tie=tie, modifiers=modifiers, pointers=pointers,
                   pointer_diagnoses=tuple(diagnoses) if pointers else (),
                   untimed_ok=untimed)
    changed = kept.to_json() != choices.to_json() and not (kept.empty and choices.empty)
    return Reconciled(billing, kept, tuple(notes), changed)
