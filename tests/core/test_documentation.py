"""Documentation prompts and the finalize span check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from therapy_timer.core.documentation import (
    check_span,
    code_prompts,
    most_units,
    progress_report_due,
)
from therapy_timer.core.model import Rule

# The CMS chart (Pub 100-04 ch. 5 s. 20.2) as printed: 1 unit from 8 minutes, 2 from 23, 3 from
# 38, ... one more unit every 15 minutes. Written out here, not computed with the engine.
CMS_CHART_STARTS = (8, 23, 38, 53, 68, 83, 98, 113, 128, 143, 158, 173, 188, 203, 218, 233,
                    248, 263, 278, 293, 308, 323, 338, 353, 368, 383, 398, 413, 428, 443, 458,
                    473, 488, 503, 518, 533, 548, 563, 578, 593, 608, 623, 638, 653, 668, 683,
                    698, 713, 728)
PER_CODE_STARTS = (8, 23, 38, 53, 68, 83, 98)  # one code on its own, same thresholds


def chart_units(minutes: int, starts=CMS_CHART_STARTS) -> int:
    return sum(1 for start in starts if minutes >= start)


def test_progress_report_every_tenth_visit():
    assert progress_report_due(9) is None
    assert "Visit 10" in progress_report_due(10)
    assert progress_report_due(20) == ("Visit 20 of this plan of care: a progress report is "
                                       "due (at least every 10 treatment visits)")
    assert progress_report_due(11) is None
    assert progress_report_due(0) is None


def test_manual_therapy_asks_technique_and_lymphatic_note_is_flagged():
    assert any("technique and the body region" in p for p in code_prompts("97140"))
    assert code_prompts("97110") == []
    assert any("lymphatic" in p for p in code_prompts("97140", "Manual lymph drainage L arm"))


def test_span_check_flags_over_billing_and_gaps():
    assert check_span(50, 47, 47, 3).flags == ()
    over = check_span(30, 30, 30, 3)
    assert any("over-billing" in f for f in over.flags)
    gap = check_span(60, 30, 30, 2)
    assert any("30 min of the session have no recorded" in f for f in gap.flags)
    longer = check_span(20, 25, 25, 2)
    assert any("longer than the session" in f for f in longer.flags)


def test_span_check_follows_the_payers_unit_rule():
    """Per-code payers round each code on its own: 24 min of 97112 and 23 of 97110 in a
    47-minute session earn 2 + 2 units, which is the rule, not over-billing (CMS: 3)."""
    assert check_span(47, 47, 47, 4, Rule.PER_CODE).flags == ()
    cms = check_span(47, 47, 47, 4, Rule.CMS)
    assert cms.flags == ("4 timed units bill more than a 47-minute session can hold under "
                         "the CMS rule (3): over-billing",)
    per_code = check_span(30, 30, 30, 4, Rule.PER_CODE)  # at most 3 codes of 8+ minutes
    assert any("under the per-code rule (3): over-billing" in f for f in per_code.flags)
    assert (most_units(47, Rule.CMS), most_units(47, Rule.PER_CODE)) == (3, 5)


@given(st.lists(st.integers(min_value=0, max_value=90), min_size=1, max_size=8),
       st.integers(min_value=0, max_value=60))
def test_honest_time_is_never_flagged_as_over_billing(minutes, rest):
    """Whatever split of one-on-one minutes across codes, with any rest, the units each rule
    gives for it fit the session: the check only flags what the recorded time cannot earn."""
    total = sum(minutes)
    span = total + rest
    for rule, units in ((Rule.CMS, chart_units(total)),
                        (Rule.PER_CODE, sum(chart_units(m, PER_CODE_STARTS) for m in minutes))):
        flags = check_span(span, total, total, units, rule).flags
        assert not any("over-billing" in f for f in flags), (rule, minutes, rest)
        assert units <= most_units(span, rule)


@pytest.mark.parametrize(("minutes", "units", "flagged"), [
    (7, 1, True), (8, 1, False), (22, 1, False), (22, 2, True), (23, 2, False),
    (37, 3, True), (38, 3, False), (52, 4, True), (53, 4, False),
])
def test_the_cms_span_check_at_the_charts_boundaries(minutes, units, flagged):
    flags = check_span(minutes, minutes, minutes, units, Rule.CMS).flags
    assert any("over-billing" in f for f in flags) is flagged


def test_missing_details_names_what_each_code_lacks():
    from types import SimpleNamespace as Row

    from therapy_timer.core.documentation import missing_details

    rows = [Row(code="97110", technique=None, body_region=None),
            Row(code="97140", technique="Joint mobilization", body_region=None),
            Row(code="97140", technique="", body_region="Knee"),
            Row(code="97530", technique=None, body_region=None)]
    assert missing_details(rows) == {"97140": ("technique", "body region")}
    assert missing_details(rows[:2]) == {"97140": ("body region",)}
    assert missing_details([Row(code="97140", technique="x", body_region="y")]) == {}
