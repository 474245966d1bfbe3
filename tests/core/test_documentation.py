"""Documentation prompts and the finalize span check."""

from __future__ import annotations

from therapy_timer.core.documentation import check_span, code_prompts, progress_report_due


def test_progress_report_every_tenth_visit():
    assert progress_report_due(9) is None
    assert "Visit 10" in progress_report_due(10)
    assert progress_report_due(20) is not None
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
