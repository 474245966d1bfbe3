"""``therapy-timer units`` with an untimed code under a minute: not billed unless the input
lists it in ``untimed_ok``; the output names it in ``untimed_under_a_minute``."""

from __future__ import annotations

import json

from tests.cli.test_units_cli import run_units

VISIT = {"rule": "cms", "date": "2026-11-20", "discipline": "PT",
         "services": [{"code": "97161", "minutes": 0}, {"code": "97110", "minutes": 15}]}


def test_under_a_minute_is_reported_and_billed_only_when_confirmed(monkeypatch, capsys):
    code, out, err = run_units(monkeypatch, capsys, VISIT)
    assert code == 0 and err == ""
    result = json.loads(out)
    assert result["untimed_under_a_minute"] == ["97161"]
    assert result["total_units"] == 1
    [evaluation] = [x for x in result["lines"] if x["code"] == "97161"]
    assert evaluation["units"] == 0 and "under a minute" in evaluation["notes"][0]
    assert [c["code"] for c in result["claim_lines"]] == ["97110"]

    code, out, _err = run_units(monkeypatch, capsys, {**VISIT, "untimed_ok": ["97161"]})
    result = json.loads(out)
    assert code == 0 and result["total_units"] == 2
    assert [c["code"] for c in result["claim_lines"]] == ["97161", "97110"]


def test_a_bad_untimed_ok_is_a_clear_usage_error(monkeypatch, capsys):
    code, out, err = run_units(monkeypatch, capsys, {**VISIT, "untimed_ok": "97161"})
    assert code == 2 and out == ""
    assert "untimed_ok" in err and "list of codes" in err
