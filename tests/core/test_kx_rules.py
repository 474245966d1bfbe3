"""KX decisions (issue 10, "Also decide and document"; README, KX).

- Exactly at the threshold needs no KX: KX confirms services after the year has *exceeded* it
  (Pub 100-04 ch. 5 s. 10.3.3); a warning says the next billed service will need it.
- A visit that takes the year past the threshold carries KX on every billed line, whatever
  order the codes were started in.
- The amount counted is units x the payer's allowed amount as entered (no MPPR), said in the
  warning printed with the suggestion.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from therapy_timer.core.billing import BillingContext, bill_services
from therapy_timer.core.model import Service
from therapy_timer.core.modifiers import KX_HOW, kx_findings
from therapy_timer.core.rules_data import KxYear

DAY = date(2026, 11, 20)
KX_2026 = KxYear(2026, 248000, 300000, "V", "a test's own year")
ALLOWED = {"97110": 3000, "97112": 3200, "97140": 2800, "97530": 3300, "97535": 3100}


def kx_lines(lines, prior):
    finding = kx_findings(lines, prior, KX_2026, "PT+SLP")
    return [(s.code, s.units) for s in finding.suggestions], finding


@pytest.mark.parametrize(
    ("prior", "lines", "expected"),
    [
        # (code, units, allowed cents per unit); the threshold is $2,480.00
        (242000, [("97110", 2, 3000)], []),  # 2,480.00 exactly: not past it
        (242001, [("97110", 2, 3000)], [("97110", 2)]),  # one cent past
        (241999, [("97110", 2, 3000)], []),
        (248000, [("97110", 1, 3000)], [("97110", 1)]),  # at it before: this visit exceeds
        (248001, [("97110", 1, 0)], [("97110", 1)]),  # already past: every service needs KX
        (248000, [("97110", 1, 0)], []),  # at it and adds nothing: still not past
        (242000, [("97110", 2, 3000), ("97140", 2, 3000)], [("97110", 2), ("97140", 2)]),
        (242000, [("97140", 2, 3000), ("97110", 2, 3000)], [("97140", 2), ("97110", 2)]),
        (0, [("97110", 4, 3000)], []),
        (300000, [("97110", 0, 3000), ("97140", 1, 2800)], [("97140", 1)]),  # 0 units: no line
    ],
)
def test_kx_boundaries(prior, lines, expected):
    assert kx_lines(lines, prior)[0] == expected


def test_exactly_at_the_threshold_warns_that_the_next_service_needs_kx():
    suggestions, finding = kx_lines([("97110", 2, 3000)], 242000)
    assert suggestions == []
    assert finding.warnings == (
        "PT+SLP allowed amount for 2026 reaches exactly the KX threshold of $2,480.00 with this "
        "visit: KX confirms services above the threshold, so none is needed yet; the next "
        "billed service will need it",)


def test_the_reason_and_the_warning_say_how_it_was_counted():
    _, finding = kx_lines([("97110", 2, 3000), ("97140", 2, 3000)], 242000)
    assert finding.suggestions[0].reason == (
        "PT+SLP allowed amount for 2026 goes from $2,420.00 to $2,540.00 with this visit, past "
        "the KX threshold of $2,480.00: attest medical necessity to add KX (on every line of "
        "the visit)")
    assert KX_HOW in finding.warnings
    assert "no multiple procedure payment reduction" in KX_HOW
    _, already = kx_lines([("97110", 1, 3000)], 250000)
    assert "was already $2,500.00 before this visit, past" in already.suggestions[0].reason


def test_a_line_without_an_allowed_amount_is_named():
    _, finding = kx_lines([("97110", 2, 3000), ("97535", 1, 0)], 0)
    assert finding.warnings == (
        "No allowed amount on file for 97535: it adds $0.00 toward the PT+SLP KX threshold, so "
        "the year's amount may be too low (set it in Settings, Payers)",)


# Minutes in whole 15s: each code's units are fixed whatever the order (no leftover ties).
visits = st.lists(st.tuples(st.sampled_from(sorted(ALLOWED)), st.integers(1, 4)), min_size=1,
                  max_size=5, unique_by=lambda t: t[0])


def _kx(pairs, prior):
    context = BillingContext(kx_applies=True, prior_kx_cents=prior, allowed_cents=ALLOWED)
    billing = bill_services([Service(code, 15 * n) for code, n in pairs], context, day=DAY)
    return billing, {(s.code, s.units) for s in billing.suggestions if s.modifier == "KX"}


@settings(max_examples=200, deadline=None)
@given(visits, st.integers(200000, 260000), st.randoms(use_true_random=False))
def test_kx_lines_do_not_depend_on_the_order_codes_were_started(pairs, prior, random):
    shuffled = list(pairs)
    random.shuffle(shuffled)
    assert _kx(pairs, prior)[1] == _kx(shuffled, prior)[1]


@settings(max_examples=200, deadline=None)
@given(visits, st.integers(200000, 260000))
def test_kx_on_every_billed_line_exactly_when_the_year_goes_past(pairs, prior):
    billing, kx = _kx(pairs, prior)
    after = prior + sum(line.units * ALLOWED[line.code] for line in billing.lines)
    billed = {(line.code, line.units) for line in billing.lines if line.units}
    assert kx == (billed if after > 248000 else set())
