"""A date of service whose year has no KX threshold on file (issue 12, item 1).

Billing never stops: the latest year on file before it stands in (thresholds rise every year,
so the app asks for KX no later than Medicare needs it), and the day's warnings say so with
the words the visit screen, the review and the superbill show.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from therapy_timer.core.billing import BillingContext, bill_services
from therapy_timer.core.model import BillingError, Service
from therapy_timer.core.rules_data import KxYear, check_kx_year, default_kx, kx_lookup

TABLE = {
    2024: KxYear(2024, 233000, 300000, "V", "NGS"),
    2026: KxYear(2026, 248000, 300000, "S", "secondary"),
}


@pytest.mark.parametrize(("year", "used", "fallback"), [
    (2026, 2026, False),
    (2024, 2024, False),
    (2025, 2024, True),  # a gap: the latest year before it
    (2027, 2026, True),  # next year, not yet entered
    (2040, 2026, True),
    (2023, 2024, True),  # before every year on file: the earliest (the nearest amount)
])
def test_lookup_boundaries(year, used, fallback):
    found = kx_lookup(year, TABLE)
    assert (found.year, found.kx.year, found.fallback) == (year, used, fallback)
    assert (found.notice is not None) == fallback


def test_the_notice_names_both_years():
    assert kx_lookup(2027, TABLE).notice == (
        "2026's threshold used: enter 2027's in Settings (Rule data). No KX threshold is on "
        "file for 2027, so the KX and targeted-review checks of this visit use 2026's amounts")


def test_an_empty_table_is_refused_naming_the_year():
    with pytest.raises(BillingError, match="no KX threshold on file for 2027 .nor for any"):
        kx_lookup(2027, {})


def test_the_shipped_seed_falls_back_too():
    assert kx_lookup(2027).kx == default_kx()[2026]


@given(st.dictionaries(st.integers(2000, 2060), st.just(0), min_size=1),
       st.integers(1999, 2100))
def test_lookup_property(years, year):
    table = {y: KxYear(y, 100000 + y, 300000, "V", "t") for y in years}
    found = kx_lookup(year, table).kx.year
    earlier = [y for y in years if y <= year]
    assert found == (max(earlier) if earlier else min(years))
    assert (found == year) == (year in years)


def medicare_2027(prior: int, table=None) -> object:
    context = BillingContext(medicare=True, kx_applies=True, prior_kx_cents=prior,
                             allowed_cents={"97110": 3000}, kx_thresholds=table)
    return bill_services([Service("97110", 30)], context, day=date(2027, 1, 5))


def test_a_2027_visit_bills_with_2026_and_says_so():
    billing = medicare_2027(247000, TABLE)
    assert billing.warnings[0].startswith("2026's threshold used: enter 2027's in Settings")
    [kx] = [s for s in billing.suggestions if s.modifier == "KX"]
    assert kx.reason == (
        "PT+SLP allowed amount for 2027 goes from $2,470.00 to $2,530.00 with this visit, past "
        "the KX threshold of $2,480.00 (2026's, none on file for 2027): attest medical "
        "necessity to add KX (on every line of the visit)")
    assert (billing.kx.year, billing.kx.kx.year, billing.kx.fallback) == (2027, 2026, True)


def test_with_the_year_entered_there_is_no_notice_and_its_amount_counts():
    table = {**TABLE, 2027: KxYear(2027, 255000, 300000, "V", "CY2027 PFS final rule")}
    billing = medicare_2027(247000, table)
    assert not any("threshold used" in w for w in billing.warnings)
    assert [s for s in billing.suggestions if s.modifier == "KX"] == []  # $2,530 < $2,550
    assert billing.kx.fallback is False
    assert medicare_2027(250000, table).suggestions[0].reason.startswith(
        "PT+SLP allowed amount for 2027 goes from $2,500.00 to $2,560.00 with this visit, past "
        "the KX threshold of $2,550.00: attest")


def test_no_notice_when_kx_does_not_apply():
    context = BillingContext(kx_thresholds=TABLE)
    billing = bill_services([Service("97110", 30)], context, day=date(2027, 1, 5))
    assert billing.kx is None and not any("threshold used" in w for w in billing.warnings)


def test_a_tie_choice_keeps_the_fallback():
    context = BillingContext(medicare=True, kx_applies=True, prior_kx_cents=0,
                             allowed_cents={"97110": 3000, "97112": 3000},
                             kx_thresholds=TABLE)
    billing = bill_services([Service("97110", 20), Service("97112", 20)], context,
                            day=date(2027, 1, 5))
    other = billing.with_choice({"97110": 1, "97112": 2})
    assert other.kx.fallback and other.warnings[0].startswith("2026's threshold used")


@pytest.mark.parametrize(("args", "message"), [
    ((2027, 255000, 300000, "V", "CMS"), None),
    ((1998, 255000, 300000, "V", "CMS"), "year 1998 is outside 1999-2100"),
    ((2101, 255000, 300000, "V", "CMS"), "year 2101 is outside 1999-2100"),
    ((2027, 0, 300000, "V", "CMS"), "the KX threshold must be more than $0"),
    ((2027, 255000, 255000, "V", "CMS"), "review level ($2,550.00) must be above the KX"),
    ((2027, 10_000_001, 20_000_000, "V", "CMS"), "at most $100,000"),
    ((2027, 255000, 300000, "X", "CMS"), "confidence must be V (official), S"),
    ((2027, 255000, 300000, "V", "  "), "say where the amount comes from"),
    ((2027, 2550.0, 300000, "V", "CMS"), "threshold_cents must be a whole number"),
    (("2027", 255000, 300000, "V", "CMS"), "year must be a whole number"),
])
def test_entry_checks(args, message):
    if message is None:
        assert check_kx_year(*args) == KxYear(2027, 255000, 300000, "V", "CMS")
    else:
        with pytest.raises(BillingError) as refused:
            check_kx_year(*args)
        assert message in str(refused.value)
