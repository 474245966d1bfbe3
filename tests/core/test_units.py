"""Unit rules: boundary tables, leftover assignment, ties, untimed codes, catalog errors."""

from __future__ import annotations

import pytest

from therapy_timer.core.codes import default_catalog
from therapy_timer.core.model import BillingError, Rule, Service
from therapy_timer.core.units import allocate, cms_units, per_code_units


@pytest.mark.parametrize(
    ("minutes", "units"),
    [(0, 0), (7, 0), (8, 1), (22, 1), (23, 2), (37, 2), (38, 3), (52, 3), (53, 4), (67, 4),
     (68, 5), (127, 8), (128, 9), (142, 9), (143, 10)],
)
def test_cms_chart_boundaries(minutes, units):
    assert cms_units(minutes) == units
    assert per_code_units(minutes) == units


def test_leftover_goes_to_largest_remainder_not_last_entered():
    # 97110 33 min (3 left over) vs 97140 7 min: the manual bills the larger leftover, 97140.
    result = allocate([Service("97110", 33), Service("97140", 7)])
    assert result.as_dict() == {"97110": 2, "97140": 1}
    assert "97140 (7 min)" in result.explanation[-1]


def test_tie_picks_code_started_first_and_lists_alternatives():
    result = allocate([Service("97116", 10), Service("97110", 10)])
    assert result.as_dict() == {"97116": 1, "97110": 0}
    (tie,) = result.ties
    assert tie.codes == ("97116", "97110")
    assert tie.alternatives == ({"97116": 1, "97110": 0}, {"97116": 0, "97110": 1})


def test_explicit_order_breaks_ties_regardless_of_list_position():
    result = allocate([Service("97116", 10, order=5), Service("97110", 10, order=1)])
    assert result.as_dict() == {"97116": 0, "97110": 1}


def test_tie_that_decides_nothing_is_not_reported():
    # Both 20 min, total 40 -> 3 units: full 1+1, one leftover between equal 5s -> tie.
    assert allocate([Service("97110", 20), Service("97112", 20)]).ties
    # Both 15 min: no leftover at all -> no tie.
    assert not allocate([Service("97110", 15), Service("97112", 15)]).ties


def test_with_choice_accepts_only_allowed_allocations():
    result = allocate([Service("97112", 20), Service("97110", 20)])
    chosen = result.with_choice({"97112": 1, "97110": 2})
    assert chosen.as_dict() == {"97112": 1, "97110": 2}
    assert chosen.total_units == 3
    with pytest.raises(BillingError, match="not allowed"):
        result.with_choice({"97112": 3, "97110": 0})
    with pytest.raises(BillingError, match="not allowed"):
        result.with_choice({"97112": 2, "97110": 2})


def test_same_code_twice_adds_minutes():
    result = allocate([Service("97110", 5), Service("97140", 3), Service("97110", 5)])
    assert result.lines[0].minutes == 10
    assert result.as_dict() == {"97110": 1, "97140": 0}


def test_untimed_codes_bill_one_unit_and_stay_out_of_timed_total():
    result = allocate([Service("97163", 45), Service("97010", 15), Service("97110", 7)])
    assert result.total_timed_minutes == 7
    assert result.as_dict() == {"97163": 1, "97010": 1, "97110": 0}


def test_per_code_never_pools():
    result = allocate([Service("97110", 7), Service("97112", 7)], Rule.PER_CODE)
    assert result.total_units == 0


def test_cognitive_minutes_bill_as_97129_then_97130():
    result = allocate([Service("97129", 40)])
    assert result.as_dict() == {"97129": 1, "97130": 2}
    assert result.total_timed_minutes == 40
    # 97130 timed on its own pools with 97129
    pooled = allocate([Service("97129", 10), Service("97130", 20)])
    assert pooled.as_dict() == {"97129": 1, "97130": 1}


@pytest.mark.parametrize("bad", ["97999", "ABCDE", ""])
def test_unknown_code_is_an_error_naming_it(bad):
    with pytest.raises(BillingError, match="unknown code"):
        allocate([Service(bad, 10)])


def test_negative_minutes_rejected():
    with pytest.raises(BillingError, match="negative"):
        allocate([Service("97110", -1)])


def test_periodic_codes_are_outside_the_visit_engine():
    with pytest.raises(BillingError, match="monthly or per episode"):
        allocate([Service("98980", 20)])


def test_catalog_rows_cover_reference_table_with_kinds():
    catalog = default_catalog()
    for code in ["97161", "97164", "97168", "97010", "97014", "G0283", "97032", "97035",
                 "97110", "97140", "97150", "97530", "97542", "97750", "97763", "97129",
                 "92526", "98975", "98979", "29540", "97545", "97039", "97139"]:
        assert code in catalog, code
    assert catalog.get("97014").medicare_substitute == "G0283"
    assert catalog.get("97010").medicare_bundled
    assert catalog.get("97140").asks_technique
    assert not catalog.get("97150").timed
    assert catalog.get("97035").timed
    assert catalog.get("97039").needs_confirmation


def test_catalog_is_effective_dated():
    from datetime import date

    catalog = default_catalog()
    with pytest.raises(BillingError, match="not valid on 2025-06-01"):
        catalog.get("98979", date(2025, 6, 1))
    assert catalog.get("98979", date(2026, 2, 1)).code == "98979"
