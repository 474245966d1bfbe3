"""``therapy-timer units``: the JSON contract and every bad-input path (exit 2, stderr only)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from therapy_timer.cli import main


def run_units(monkeypatch, capsys, payload, *args):
    text = payload if isinstance(payload, str) else json.dumps(payload)
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    code = main(["units", *args])
    out, err = capsys.readouterr()
    return code, out, err


ISSUE_EXAMPLE = {"rule": "cms", "date": "2026-11-20", "discipline": "PT",
                 "services": [{"code": "97110", "minutes": 33}, {"code": "97140", "minutes": 7}]}


def test_issue_example_shape(monkeypatch, capsys):
    code, out, err = run_units(monkeypatch, capsys, ISSUE_EXAMPLE)
    assert code == 0 and err == ""
    result = json.loads(out)
    assert result["rule"] == "cms"
    assert (result["total_timed_minutes"], result["total_treatment_minutes"],
            result["total_units"]) == (40, 40, 3)
    assert [(x["code"], x["minutes"], x["units"], x["timed"], x["modifiers"])
            for x in result["lines"]] == [("97110", 33, 2, True, ["GP"]),
                                          ("97140", 7, 1, True, ["GP"])]
    assert result["ties"] == [] and result["warnings"] == []
    assert result["explanation"][0] == "40 timed minutes -> 3 units"


def test_list_in_list_out_and_rule_flag(monkeypatch, capsys):
    visits = [ISSUE_EXAMPLE, {**ISSUE_EXAMPLE, "rule": None}]
    code, out, _ = run_units(monkeypatch, capsys, visits, "--rule", "per-code")
    results = json.loads(out)
    assert code == 0 and len(results) == 2
    assert all(r["rule"] == "per-code" and r["total_units"] == 2 for r in results)


def test_intervals_input_with_assistant(monkeypatch, capsys):
    visit = {"date": "2026-11-20", "intervals": [
        {"code": "97110", "start": "2026-11-20T09:00:00-05:00",
         "end": "2026-11-20T09:23:00-05:00", "performer": "PTA"},
        {"code": "97110", "start": "2026-11-20T09:23:00-05:00",
         "end": "2026-11-20T09:36:00-05:00", "performer": "PT"},
        {"code": "97140", "start": "2026-11-20T09:40:00-05:00",
         "end": "2026-11-20T10:10:00-05:00", "performer": "PT"}]}
    code, out, _ = run_units(monkeypatch, capsys, visit)
    result = json.loads(out)
    assert code == 0
    assert result["total_timed_minutes"] == 66
    assert result["total_treatment_minutes"] == 66
    assert result["lines"][0]["suggested_modifiers"][0]["modifier"] == "CQ"
    assert result["claim_lines"][0] == {"code": "97110", "modifiers": ["GP", "CQ"], "units": 1,
                                        "minutes": 36, "charge_cents": 0}


def test_same_code_twice_adds_minutes(monkeypatch, capsys):
    visit = {"services": [{"code": "97110", "minutes": 5}, {"code": "97110", "minutes": 5}]}
    _, out, _ = run_units(monkeypatch, capsys, visit)
    assert json.loads(out)["lines"] == [json.loads(out)["lines"][0]]
    assert json.loads(out)["lines"][0]["minutes"] == 10


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("{not json", "malformed JSON at line 1"),
        ({"services": [{"code": "97999", "minutes": 10}]}, "unknown code '97999'"),
        ({"services": [{"code": "97110", "minutes": -3}]}, "minutes cannot be negative"),
        ({"services": [{"code": "97110"}]}, "has no 'minutes'"),
        ({"services": [{"code": "97110", "minutes": 7.5}]}, "whole number"),
        ({"services": [{"minutes": 7}]}, "has no 'code'"),
        ({"services": []}, "'services' is empty"),
        ({}, "needs 'services' or 'intervals'"),
        ([1], "visit 1: a visit must be a JSON object"),
        ({"rule": "fast", "services": [{"code": "97110", "minutes": 8}]}, "unknown unit rule"),
        ({"discipline": "XX", "services": [{"code": "97110", "minutes": 8}]},
         "unknown discipline"),
        ({"date": "20/11/2026", "services": [{"code": "97110", "minutes": 8}]}, "bad date"),
        ({"intervals": [{"code": "97110", "start": "2026-11-20T09:30:00-05:00",
                         "end": "2026-11-20T09:00:00-05:00"}]}, "end .* is before start"),
        ({"intervals": [{"code": "97110", "start": "2026-11-20T09:00:00",
                         "end": "2026-11-20T09:10:00"}]}, "needs a UTC offset"),
        ({"intervals": [{"code": "97110", "start": "2026-11-20T09:00:00-05:00"}]},
         "has no 'end' time"),
        ({"intervals": [
            {"code": "97110", "start": "2026-11-20T09:00:00-05:00",
             "end": "2026-11-20T09:20:00-05:00"},
            {"code": "97140", "start": "2026-11-20T09:10:00-05:00",
             "end": "2026-11-20T09:30:00-05:00"}]}, "overlap"),
        ({"intervals": [{"code": "97110", "start": "2026-11-20T09:00:00-05:00",
                         "end": "2026-11-20T09:10:00-05:00", "performer": "MD"}]},
         "unknown performer 'MD'"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_stdout(monkeypatch, capsys, payload, message):
    code, out, err = run_units(monkeypatch, capsys, payload)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("therapy-timer: ")
    import re

    assert re.search(message, err), err


def test_missing_file_is_exit_2(capsys, tmp_path):
    assert main(["units", str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_file_argument(tmp_path, capsys):
    path = tmp_path / "visit.json"
    path.write_text(json.dumps(ISSUE_EXAMPLE))
    assert main(["units", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["total_units"] == 3


def test_real_process_answers_without_importing_qt():
    code = (
        f"import sys, io, json; sys.stdin = io.StringIO(json.dumps({ISSUE_EXAMPLE!r}));"
        "from therapy_timer.cli import main; rc = main(['units']);"
        "assert not any(m.startswith(('PySide6', 'reportlab', 'sqlite_utils')) "
        "for m in sys.modules), 'heavy import'; sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["total_units"] == 3


@pytest.mark.parametrize(("payload", "expected"), [
    ({"discipline": "OT", "intervals": [
        {"code": "97530", "start": "2026-11-20T09:00:00-06:00",
         "end": "2026-11-20T09:20:00-06:00", "performer": "PTA"}]},
     "a PTA cannot furnish services under a OT plan of care"),
    ({"discipline": "PT", "services": [{"code": "97161", "minutes": 40,
                                        "assistant_minutes": 10}]},
     "assistants do not evaluate or re-evaluate"),
])
def test_assistant_time_the_rules_refuse_is_exit_2_with_one_line(monkeypatch, capsys, payload,
                                                                 expected):
    code, out, err = run_units(monkeypatch, capsys, payload)
    assert code == 2 and out == ""
    assert expected in err and err.count("\n") == 1


# --- KX thresholds: the clinic's database, and a year with none on file (issue 12) ---

KX_2027 = {"date": "2027-01-05", "medicare": True, "kx_applies": True,
           "prior_kx_cents": 247000, "allowed_cents": {"97110": 3000},
           "services": [{"code": "97110", "minutes": 30}]}
NOTICE = ("2026's threshold used: enter 2027's in Settings (Rule data). No KX threshold is on "
          "file for 2027, so the KX and targeted-review checks of this visit use 2026's amounts")


def test_a_year_without_a_threshold_bills_with_the_latest_and_warns(monkeypatch, capsys):
    code, out, err = run_units(monkeypatch, capsys, KX_2027)
    assert code == 0
    assert err == (f"therapy-timer: warning: {NOTICE} (the shipped data billed: give --db PATH "
                   "for a clinic's own thresholds)\n")
    result = json.loads(out)
    assert result["warnings"][0] == NOTICE
    assert result["kx_threshold"] == {"year": 2026, "for_year": 2027, "threshold_cents": 248000,
                                      "review_cents": 300000, "confidence": "S",
                                      "fallback": True, "notice": NOTICE}
    assert result["claim_lines"][0]["modifiers"] == ["GP", "KX"]


def test_a_list_warns_once_per_notice(monkeypatch, capsys):
    code, _out, err = run_units(monkeypatch, capsys, [KX_2027, KX_2027])
    assert code == 0 and err.count("warning:") == 1


def test_units_db_bills_with_the_clinics_thresholds(monkeypatch, capsys, cli_target):
    """On both databases: ``--db`` names a file or a clinic server (with a password, which
    no output carries)."""
    from therapy_timer.storage.repository import open_repository

    path = cli_target
    repo = open_repository(path)
    repo.set_kx_threshold(2027, 260000, 300000, "V", "CY2027 PFS final rule", "pat")
    repo.close()
    code, out, err = run_units(monkeypatch, capsys, KX_2027, "--db", str(path))
    assert code == 0 and err == ""
    result = json.loads(out)
    assert result["kx_threshold"]["threshold_cents"] == 260000
    assert result["kx_threshold"]["fallback"] is False
    assert result["claim_lines"][0]["modifiers"] == ["GP"]  # $2,530 is under $2,600
    # A 2028 visit against that database falls back to its own 2027, and says so.
    code, out, err = run_units(monkeypatch, capsys, {**KX_2027, "date": "2028-01-04"},
                               "--db", str(path))
    assert code == 0
    assert err.startswith("therapy-timer: warning: 2027's threshold used: enter 2028's in "
                          "Settings (Rule data).") and "--db" not in err
    assert json.loads(out)["kx_threshold"]["threshold_cents"] == 260000
    assert "secret" not in out + err


def test_units_db_that_is_missing_is_refused(monkeypatch, capsys, tmp_path):
    code, out, err = run_units(monkeypatch, capsys, KX_2027, "--db", str(tmp_path / "no.db"))
    assert (code, out) == (2, "")
    assert err.startswith("therapy-timer: no database at ") and err.count("\n") == 1


def test_units_without_db_ignores_the_environment_database(monkeypatch, capsys, tmp_path):
    """Without --db the shipped data bills, as before, even with THERAPY_TIMER_DB set."""
    monkeypatch.setenv("THERAPY_TIMER_DB", str(tmp_path / "not-there.db"))
    code, out, _err = run_units(monkeypatch, capsys, KX_2027)
    assert code == 0 and json.loads(out)["kx_threshold"]["year"] == 2026
