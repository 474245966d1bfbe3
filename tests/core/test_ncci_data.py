"""The shipped NCCI pair file (issue 10, item 10): real sources only, and what ch. XI s. P says.

These tests read ``resources/ncci_pairs.csv`` as the product ships it, not a copy.
"""

from __future__ import annotations

import csv
import re
from datetime import date

import pytest

from therapy_timer.core.model import BillingError
from therapy_timer.core.rules_data import load_ncci
from therapy_timer.resources import resource_path

SHIPPED = resource_path("ncci_pairs.csv")
#: Words that mark a row as made up for a test or left unfinished, not taken from a source.
NOT_A_SOURCE = re.compile(r"test|fixture|placeholder|dummy|example row|todo|tbd|lorem|xxx",
                          re.IGNORECASE)
EVALUATIONS = [f"{n}" for n in range(97161, 97169)]


def shipped_rows() -> list[dict]:
    with SHIPPED.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_shipped_row_names_a_real_source():
    rows = shipped_rows()
    assert rows
    for line_no, row in enumerate(rows, start=2):
        source = (row.get("source") or "").strip()
        where = f"ncci_pairs.csv line {line_no} ({row['column1']}/{row['column2']})"
        assert len(source) >= 8, f"{where}: no source"
        assert not NOT_A_SOURCE.search(source), f"{where}: {source!r} is not a source"
        assert row["confidence"] in ("V", "S", "U"), where


def test_the_source_check_refuses_the_row_that_used_to_ship():
    assert NOT_A_SOURCE.search("test fixture: pair reported to have ended 2025-12-31")


@pytest.mark.parametrize("column2", ["97750", "97755", "97763"])
def test_evaluation_pairs_are_indicator_1_bypassed_only_by_a_different_specialty(column2):
    # NCCI Policy Manual ch. XI s. P; billing-rules.md e.: a different specialty (PT vs OT)
    # may use the modifier, which is modifier indicator 1 (it was 0 in the shipped file).
    pairs = {(p.column1, p.column2): p for p in load_ncci(SHIPPED)}
    for evaluation in EVALUATIONS:
        pair = pairs[(evaluation, column2)]
        assert (pair.modifier_indicator, pair.bypass) == ("1", "specialty")
        assert pair.valid_on(date(2026, 11, 20))
        assert "ch. XI s. P" in pair.source


def test_time_pairs_keep_the_distinct_interval_bypass():
    pairs = {(p.column1, p.column2): p for p in load_ncci(SHIPPED)}
    assert pairs[("97140", "97530")].bypass == "time"
    assert all(p.bypass in ("time", "specialty") for p in pairs.values())


@pytest.mark.parametrize(
    ("row", "message"),
    [("97140,97530,2,2020-01-01,,S,a source", "line 2: modifier_indicator '2' is not 0, 1 or 9"),
     ("97140,97530,1,2020-01-01,,S,a source,someday", "line 2: bypass 'someday' is not"),
     ("97140,97530,1,2020-13-01,,S,a source", "line 2: month must be in 1..12")],
)
def test_a_bad_row_is_named_by_its_line(tmp_path, row, message):
    path = tmp_path / "pairs.csv"
    path.write_text("column1,column2,modifier_indicator,effective_from,effective_to,confidence,"
                    "source,bypass\n" + row + "\n", encoding="utf-8")
    with pytest.raises(BillingError, match=re.escape(message)):
        load_ncci(path)


def test_a_file_without_the_bypass_column_reads_as_time_pairs(tmp_path):
    # CMS's own PTP file has no bypass column: its indicator-1 pairs are time pairs.
    path = tmp_path / "ptp.csv"
    path.write_text("column1,column2,modifier_indicator,effective_from\n"
                    "97140,97530,1,2020-01-01\n", encoding="utf-8")
    (pair,) = load_ncci(path)
    assert (pair.bypass, pair.confidence, pair.source) == ("time", "U", "")
