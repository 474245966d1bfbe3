"""Who may unlock the lock screen (issue 16, item 9): once any active provider has a PIN,
only a PIN unlocks; before that, a tap on one's name does."""

from __future__ import annotations

import dataclasses

import pytest

from therapy_timer.core.model import Discipline, Performer
from therapy_timer.core.records import Provider
from therapy_timer.core.unlock import PIN, REFUSED, TAP, pins_in_use, unlock_need

DANA = Provider("Dana Test", Discipline.PT, Performer.PT, id=1, has_pin=True)
LEE = Provider("Lee Test", Discipline.PT, Performer.PTA, id=2)
ROBIN = Provider("Robin Test", Discipline.PT, Performer.PT, id=3)
GONE = Provider("Gone Test", Discipline.PT, Performer.PT, id=4, has_pin=True, active=False)


@pytest.mark.parametrize(("providers", "who", "kind", "words"), [
    # PINs in use (Dana has one): only a PIN unlocks.
    ([DANA, LEE], 1, PIN, ""),
    ([DANA, LEE], 2, REFUSED, "Lee Test has no PIN"),
    ([DANA, LEE], None, REFUSED, "Pick who you are, then enter your PIN."),
    ([DANA, LEE], 99, REFUSED, "not active any more"),
    ([DANA, LEE, GONE], 4, REFUSED, "not active any more"),  # a PIN of someone who left
    # No PIN anywhere (an inactive provider's does not count): a tap on a name.
    ([LEE, ROBIN], 2, TAP, ""),
    ([LEE, ROBIN, GONE], 3, TAP, ""),
    ([LEE, ROBIN], None, REFUSED, "Pick who you are."),
    # No providers at all yet: nobody to ask for.
    ([], None, TAP, ""),
])
def test_unlock_need(providers, who, kind, words):
    need = unlock_need(providers, who)
    assert need.kind == kind
    assert words in need.reason
    assert need.refused == (kind == REFUSED)


def test_the_refusal_says_how_to_get_a_pin():
    reason = unlock_need([DANA, LEE], LEE.id).reason
    assert "only a provider with a PIN can unlock" in reason
    assert "Settings > Providers" in reason


def test_pins_in_use_counts_active_providers_only():
    assert pins_in_use([DANA, LEE])
    assert not pins_in_use([LEE, ROBIN, GONE])
    assert not pins_in_use([])
    assert pins_in_use([dataclasses.replace(LEE, has_pin=True)])
