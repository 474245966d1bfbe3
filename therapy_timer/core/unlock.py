"""Who may unlock the lock screen, and how: the rule as plain data (issue 16, item 9).

A PIN that anyone can step around protects nothing. So once any active provider has a PIN,
every unlock needs one: a provider without a PIN cannot unlock (they are told how to get one),
and neither can "nobody". Before any PIN is set, the lock only hides names and anyone may
unlock by picking who they are (a clinic that has not chosen PINs is not locked out).

Public API: ``pins_in_use(providers) -> bool``; ``unlock_need(providers, provider_id) ->
UnlockNeed`` (``kind`` is ``PIN``, ``TAP`` or ``REFUSED``; ``reason`` says why refused);
``no_pin_message(name)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from therapy_timer.core.records import Provider

PIN, TAP, REFUSED = "pin", "tap", "refused"
SET_PIN_HELP = "A PIN is set in Settings > Providers (New PIN), by anyone who can unlock."


@dataclass(frozen=True, slots=True)
class UnlockNeed:
    """What unlocking as one provider takes: their PIN, a tap, or nothing will do."""

    kind: str
    reason: str = ""

    @property
    def refused(self) -> bool:
        return self.kind == REFUSED


def pins_in_use(providers: Sequence[Provider]) -> bool:
    """Any active provider has a PIN."""
    return any(p.has_pin and p.active for p in providers)


def no_pin_message(name: str) -> str:
    return (f"{name} has no PIN. While PINs are in use, only a provider with a PIN can "
            f"unlock: ask one of them to unlock. {SET_PIN_HELP}")


def unlock_need(providers: Sequence[Provider], provider_id: int | None) -> UnlockNeed:
    """What unlocking as ``provider_id`` (None: nobody picked) takes, given the clinic's
    providers (inactive ones never unlock)."""
    active = [p for p in providers if p.active]
    pins = pins_in_use(active)
    provider = next((p for p in active if p.id == provider_id), None)
    if provider_id is not None and provider is None:
        return UnlockNeed(REFUSED, "That provider is not active any more: pick another.")
    if provider is None:
        if not active:  # a clinic with no providers yet: nobody to ask for
            return UnlockNeed(TAP)
        return UnlockNeed(REFUSED, "Pick who you are, then enter your PIN." if pins
                          else "Pick who you are.")
    if provider.has_pin:
        return UnlockNeed(PIN)
    if pins:
        return UnlockNeed(REFUSED, no_pin_message(provider.name))
    return UnlockNeed(TAP)
