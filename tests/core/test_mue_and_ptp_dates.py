"""The engine's use of CMS's imported edits (issue 12): MUE warnings at their boundary, a
deleted PTP edit's last day, and ch. XI s. P's same-specialty pairs."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.ncci_samples import ptp_row, write_ptp
from therapy_timer.core.billing import BillingContext, bill_services
from therapy_timer.core.day_warnings import mue_warnings
from therapy_timer.core.model import Service
from therapy_timer.core.ncci_files import read_ptp
from therapy_timer.core.rules_data import MueLimit, default_ncci, ptp_bypass

DAY = date(2026, 11, 20)


@pytest.mark.parametrize("units, limit, mai, warned", [
    (1, 1, "3", False), (2, 1, "3", True), (6, 6, "2", False), (7, 6, "2", True),
    (5, 4, "1", True), (0, 0, "3", False),
])
def test_mue_boundary(units, limit, mai, warned):
    out = mue_warnings({"97110": units}, {"97110": MueLimit("97110", limit, mai)})
    assert bool(out) is warned


def test_mue_wording_names_the_limit_its_kind_and_the_table():
    assert mue_warnings({"97110": 7}, {"97110": MueLimit("97110", 6, "1")}, "table X") == [
        "97110: 7 units billed, more than CMS's Medically Unlikely Edit of 6 per claim line "
        "(MAI 1, line edit; table X): the units above 6 are likely denied; check the minutes "
        "and the documentation"]


@given(st.integers(0, 40), st.integers(0, 40))
def test_a_warning_exactly_when_the_units_exceed_the_limit(units, limit):
    out = mue_warnings({"97530": units}, {"97530": MueLimit("97530", limit, "3")})
    assert (len(out) == 1) == (units > limit)


def test_the_engine_warns_from_the_context_and_not_for_self_pay():
    services = [Service("97110", 38)]  # 3 units
    limits = {"97110": MueLimit("97110", 2, "3")}
    insured = bill_services(services, BillingContext(mue_limits=limits), day=DAY)
    assert [w for w in insured.warnings if "Unlikely" in w]
    from therapy_timer.core.billing import self_pay_context

    self_pay = bill_services(services, self_pay_context(mue_limits=limits), day=DAY)
    assert not [w for w in self_pay.warnings if "Unlikely" in w]


@pytest.mark.parametrize("day, applies", [
    (date(2025, 12, 31), True),   # the day before the deletion date
    (date(2026, 1, 1), False),    # the deletion date: no longer in effect
    (date(2014, 12, 31), False), (date(2015, 1, 1), True),
])
def test_a_deleted_edit_applies_up_to_the_day_before_its_deletion_date(tmp_path, day, applies):
    txt = write_ptp(tmp_path / "ccipra-v321r0-f1.TXT",
                    [ptp_row("97110", "97112", "20150101", "20260101", "0")])
    [pair] = list(read_ptp([txt], ["97110", "97112"]))
    assert pair.valid_on(day) is applies
    billing = bill_services([Service("97110", 15), Service("97112", 15)],
                            BillingContext(ncci_pairs=(pair,)), day=day)
    assert bool([w for w in billing.warnings if "97110/97112" in w]) is applies


def test_an_edit_deleted_on_its_effective_date_never_applies(tmp_path):
    txt = write_ptp(tmp_path / "ccipra-v321r0-f1.TXT",
                    [ptp_row("97110", "97112", "20200101", "20200101", "0")])
    [pair] = list(read_ptp([txt], ["97110", "97112"]))
    assert not pair.valid_on(date(2020, 1, 1))


@pytest.mark.parametrize("column1, column2, bypass", [
    ("97161", "97750", "specialty"), ("97168", "97763", "specialty"),
    ("97164", "97760", "specialty"), ("97760", "97164", "specialty"),
    ("97168", "97761", "specialty"), ("97162", "97760", "time"), ("97140", "97530", "time"),
])
def test_ch_xi_s_p_same_specialty_pairs(column1, column2, bypass):
    assert ptp_bypass(column1, column2) == bypass


def test_the_seed_takes_the_same_policy_for_97760_with_a_re_evaluation():
    pairs = {(p.column1, p.column2): p for p in default_ncci()}
    assert pairs[("97760", "97164")].bypass == "specialty"
    assert pairs[("97760", "97110")].bypass == "time"
