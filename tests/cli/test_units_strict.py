"""``therapy-timer units`` takes nothing on trust (issue 10, items 5-9).

Every field of the visit JSON is type-checked ("false" is not a boolean), Medicare with the
per-code rule is refused, a dated check is never skipped silently, hostile input is one line
(exit 2), and the payer switches Settings has can be given.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from therapy_timer.cli import main
from therapy_timer.core.visit_json import VISIT_FIELDS

from .test_units_cli import run_units

VISIT = {"date": "2026-11-20", "services": [{"code": "97110", "minutes": 30}]}
SERVICES_97140_97530 = [{"code": "97140", "minutes": 10}, {"code": "97530", "minutes": 25}]


def refused(monkeypatch, capsys, payload, *args) -> str:
    """Runs the command; asserts exit 2, nothing on stdout, one stderr line; returns it."""
    code, out, err = run_units(monkeypatch, capsys, payload, *args)
    assert (code, out) == (2, ""), err
    assert err.count("\n") == 1 and err.startswith("therapy-timer: "), err
    assert "Traceback" not in err
    return err.strip()


# --- item 6: every field type-checked ---


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("medicare", "false",
         "'medicare' is a string (\"false\"); it must be a boolean (true or false)"),
        ("kx_applies", "no",
         "'kx_applies' is a string (\"no\"); it must be a boolean (true or false)"),
        ("medicare", 0, "'medicare' is a whole number (0); it must be a boolean (true or false)"),
        ("self_pay", "yes", "'self_pay' is a string (\"yes\"); it must be a boolean"),
        ("assistant_modifiers", 1, "'assistant_modifiers' is a whole number (1); it must be a "
         "boolean"),
        ("therapy_modifiers", [], "'therapy_modifiers' is a list of 0 item(s); it must be a "
         "boolean"),
        ("prior_kx_cents", "900000", "'prior_kx_cents' is a string (\"900000\"); it must be a "
         "whole number"),
        ("prior_kx_cents", 12.5, "'prior_kx_cents' is a number with a fraction (12.5); it must "
         "be a whole number"),
        ("prior_kx_cents", True, "'prior_kx_cents' is a boolean (true); it must be a whole "
         "number"),
        ("rule", 1, "'rule' is a whole number (1); it must be a string"),
        ("date", 20261120, "'date' is a whole number (20261120); it must be a string"),
        ("discipline", {"PT": 1}, "'discipline' is an object; it must be a string"),
        ("fees_cents", [4500], "'fees_cents' is a list of 1 item(s); it must be an object of "
         "code: cents"),
        ("distinct_modifier", 59, "'distinct_modifier' is a whole number (59); it must be a "
         "string"),
        ("services", {"code": "97110"}, "'services' is an object; it must be a list of"),
    ],
)
def test_wrong_type_names_the_field_its_type_and_the_type_it_needs(monkeypatch, capsys, field,
                                                                   value, message):
    err = refused(monkeypatch, capsys, {**VISIT, field: value})
    assert message in err


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ({"code": "97110", "minutes": "30"},
         "service 1: 'minutes' is a string (\"30\"); it must be a whole number"),
        ({"code": "97110", "minutes": 7.5},
         "service 1: 'minutes' is a number with a fraction (7.5); it must be a whole number"),
        ({"code": "97110", "minutes": 30, "assistant_minutes": "10"},
         "service 1: 'assistant_minutes' is a string (\"10\"); it must be a whole number"),
        ({"code": 97110, "minutes": 30},
         "service 1: 'code' is a whole number (97110); it must be a string"),
        ({"code": "97110", "minutes": 1441}, "minutes is more than 1,440 minutes in a day"),
        ({"code": "97110", "minutes": 10, "assistant_minutes": 11},
         "assistant_minutes is more than 10 minutes"),
        ({"code": "97110", "minutes": 10, "performer": "PTA"},
         "service 1: unknown field \"performer\""),
        ("97110", "service 1 is a string (\"97110\"); it must be an object"),
    ],
)
def test_service_fields_are_type_checked(monkeypatch, capsys, service, message):
    assert message in refused(monkeypatch, capsys, {**VISIT, "services": [service]})


def test_interval_fields_are_type_checked(monkeypatch, capsys):
    interval = {"code": "97110", "start": "2026-11-20T09:00:00-05:00",
                "end": "2026-11-20T09:30:00-05:00", "performer": True}
    assert "interval 1: 'performer' is a boolean (true); it must be a string" in refused(
        monkeypatch, capsys, {"intervals": [interval]})


def test_a_misspelt_switch_is_refused_not_ignored(monkeypatch, capsys):
    err = refused(monkeypatch, capsys, {**VISIT, "kx_aplies": True})
    assert "unknown field \"kx_aplies\" (known: rule, date," in err


def test_null_means_not_given(monkeypatch, capsys):
    code, out, _ = run_units(monkeypatch, capsys, {**VISIT, "medicare": None, "rule": None})
    assert code == 0 and json.loads(out)["rule"] == "cms"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False,
                                                                       allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=3),
    max_leaves=6)


def _wrong_for(needs: str):
    ok = {"boolean": lambda v: isinstance(v, bool),
          "string": lambda v: isinstance(v, str),
          "whole number": lambda v: isinstance(v, int) and not isinstance(v, bool),
          "list": lambda v: isinstance(v, list),
          "object": lambda v: isinstance(v, dict)}[needs]
    return JSON_VALUES.filter(lambda v: v is not None and not ok(v))


FIELD_AND_WRONG_VALUE = st.sampled_from(sorted(VISIT_FIELDS)).flatmap(
    lambda field: st.tuples(st.just(field), _wrong_for(VISIT_FIELDS[field])))


def _run_real_main(payload: bytes) -> tuple[int, str, str]:
    stdin = io.TextIOWrapper(io.BytesIO(payload), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    real, sys.stdin = sys.stdin, stdin
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["units"])
    finally:
        sys.stdin = real
    return code, out.getvalue(), err.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FIELD_AND_WRONG_VALUE)
def test_any_wrong_type_for_any_field_is_exit_2_naming_the_field(field_and_value):
    field, value = field_and_value
    visit = {**VISIT, "kx_applies": False, field: value}
    code, out, err = _run_real_main(json.dumps(visit).encode())
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"'{field}' is " in err and "it must be" in err


# --- item 5: Medicare is always the CMS rule ---


@pytest.mark.parametrize(
    ("visit", "args"),
    [({**VISIT, "medicare": True, "rule": "per-code"}, ()),
     ({**VISIT, "medicare": True, "rule": "ama"}, ()),
     ({**VISIT, "medicare": True}, ("--rule", "per-code"))],
)
def test_medicare_with_the_per_code_rule_is_refused(monkeypatch, capsys, visit, args):
    err = refused(monkeypatch, capsys, visit, *args)
    assert "Medicare must use the CMS total-time rule" in err
    assert "Pub 100-04 ch. 5 s. 20.2" in err


def test_medicare_refusal_names_the_visit_in_a_list(monkeypatch, capsys):
    visits = [VISIT, {**VISIT, "medicare": True}]
    err = refused(monkeypatch, capsys, visits, "--rule", "per-code")
    assert err.startswith("therapy-timer: visit 2: Medicare must use")


@pytest.mark.parametrize(("medicare", "rule", "units"),
                         [(True, "cms", 1), (False, "per-code", 2), (False, "cms", 1)])
def test_medicare_and_the_rules_that_are_allowed(monkeypatch, capsys, medicare, rule, units):
    visit = {"date": "2026-11-20", "medicare": medicare, "rule": rule,
             "services": [{"code": "97110", "minutes": 10}, {"code": "97112", "minutes": 10}]}
    code, out, _ = run_units(monkeypatch, capsys, visit)
    assert code == 0 and json.loads(out)["total_units"] == units


# --- item 7: never skip a dated check silently ---


def test_kx_without_a_date_is_refused(monkeypatch, capsys):
    visit = {"kx_applies": True, "prior_kx_cents": 900000, "allowed_cents": {"97110": 3000},
             "services": [{"code": "97110", "minutes": 30}]}
    err = refused(monkeypatch, capsys, visit)
    assert err == ("therapy-timer: 'kx_applies' needs a 'date' (YYYY-MM-DD): the KX threshold "
                   "is per calendar year")


def test_kx_with_intervals_takes_the_date_of_the_session(monkeypatch, capsys):
    visit = {"kx_applies": True, "prior_kx_cents": 900000, "allowed_cents": {"97110": 3000},
             "intervals": [{"code": "97110", "start": "2026-11-20T09:00:00-05:00",
                            "end": "2026-11-20T09:30:00-05:00"}]}
    code, out, _ = run_units(monkeypatch, capsys, visit)
    result = json.loads(out)
    assert code == 0 and result["date"] == "2026-11-20"
    assert result["claim_lines"][0]["modifiers"] == ["GP", "KX"]


def test_ncci_without_a_date_runs_as_of_today_and_says_so(monkeypatch, capsys):
    code, out, err = run_units(monkeypatch, capsys, {"services": SERVICES_97140_97530})
    assert code == 0 and err == ""
    result = json.loads(out)
    today = date.today().isoformat()
    assert result["date"] == today
    assert result["warnings"][0] == (
        f"No 'date' given: NCCI pairs and the code catalog were checked as of {today} (today); "
        "give the date of service for its own rules")
    assert any("NCCI pair 97140/97530" in w for w in result["warnings"])


def test_a_dated_visit_has_no_date_warning(monkeypatch, capsys):
    _, out, _ = run_units(monkeypatch, capsys, {"date": "2026-11-20",
                                                "services": SERVICES_97140_97530})
    assert not any("No 'date' given" in w for w in json.loads(out)["warnings"])


# --- item 8: hostile input, one line, exit 2 ---


def test_hostile_files(tmp_path, capsys):
    cases = {
        "nested.json": ("[" * 100_000 + "]" * 100_000).encode(),
        "digits.json": ('{"services": [{"code": "97110", "minutes": ' + "9" * 5000
                        + "}]}").encode(),
        "latin1.json": '{"services": [{"code": "97110", "minutes": 8}], "note": "Zoë"}'
        .encode("latin-1"),
        "utf16.json": json.dumps(VISIT).encode("utf-16"),
    }
    expected = {
        "nested.json": "the JSON is nested too deeply to be a visit",
        "digits.json": "a number in the JSON is too long to read (Exceeds the limit (4300 "
                       "digits) for integer string conversion: value has 5000 digits)",
        "latin1.json": "is not UTF-8 text (byte 0xeb at offset 59): save it as UTF-8",
        "utf16.json": "is not UTF-8 text (byte 0xff at offset 0): save it as UTF-8",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert main(["units", str(path)]) == 2, name
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1, (name, err)
        assert expected[name] in err, (name, err)


def test_a_file_too_large_is_refused_before_it_is_parsed(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("therapy_timer.commands.units.MAX_BYTES", 1000)
    path = tmp_path / "big.json"
    path.write_text(json.dumps([VISIT] * 100))
    assert main(["units", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.endswith("big.json is larger than 1,000 bytes: not a file of visits\n")


def test_a_byte_order_mark_is_fine(tmp_path, capsys):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(VISIT).encode())
    assert main(["units", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["total_units"] == 2


def test_non_utf8_stdin_is_one_line():
    code, out, err = _run_real_main(b'{"services": [{"code": "97110", "minutes": 8}], '
                                    b'"x": "\xff"}')
    assert (code, out) == (2, "")
    assert err == ("therapy-timer: stdin is not UTF-8 text (byte 0xff at offset 54): save it "
                   "as UTF-8\n")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("prior_kx_cents", 10**4000, "prior_kx_cents is more than 1,000,000,000 cents (a number "
      "of 4001 digits)"),
     ("prior_kx_cents", -1, "prior_kx_cents cannot be negative (-1)"),
     ("fees_cents", {"97110": 10**30}, "'fees_cents' for 97110 is more than 1,000,000,000"),
     ("date", "x" * 5000, "bad date 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx': use YYYY-MM-DD")],
)
def test_huge_values_are_one_short_line(monkeypatch, capsys, field, value, message):
    err = refused(monkeypatch, capsys, {**VISIT, field: value})
    assert message in err and len(err) < 300


def test_a_huge_code_is_one_short_line(monkeypatch, capsys):
    err = refused(monkeypatch, capsys, {"services": [{"code": "9" * 100_000, "minutes": 8}]})
    assert "service 1: 'code' is a string (\"999999999999999999999999999...\"), not a " \
           "CPT/HCPCS code" in err


# --- item 9: the payer switches Settings has, and self-pay ---

PT_AND_PTA = {"date": "2026-11-20", "intervals": [
    {"code": "97140", "start": "2026-11-20T09:00:00-05:00", "end": "2026-11-20T09:15:00-05:00"},
    {"code": "97530", "start": "2026-11-20T09:15:00-05:00", "end": "2026-11-20T09:30:00-05:00",
     "performer": "PTA"}]}


def _claim(monkeypatch, capsys, **switches) -> list[tuple[str, list[str]]]:
    code, out, err = run_units(monkeypatch, capsys, {**PT_AND_PTA, **switches})
    assert code == 0, err
    return [(c["code"], c["modifiers"]) for c in json.loads(out)["claim_lines"]]


@pytest.mark.parametrize(
    ("switches", "claim"),
    [({}, [("97140", ["GP"]), ("97530", ["XU", "GP", "CQ"])]),
     ({"assistant_modifiers": False}, [("97140", ["GP"]), ("97530", ["XU", "GP"])]),
     ({"therapy_modifiers": False}, [("97140", []), ("97530", ["XU", "CQ"])]),
     ({"distinct_modifier": "59"}, [("97140", ["GP"]), ("97530", ["59", "GP", "CQ"])]),
     ({"distinct_modifier": "xu"}, [("97140", ["GP"]), ("97530", ["XU", "GP", "CQ"])]),
     ({"self_pay": True}, [("97140", []), ("97530", [])]),
     ({"self_pay": True, "therapy_modifiers": True}, [("97140", ["GP"]), ("97530", ["GP"])]),
     ({"self_pay": True, "assistant_modifiers": True}, [("97140", []), ("97530", ["CQ"])])],
)
def test_payer_switches(monkeypatch, capsys, switches, claim):
    assert _claim(monkeypatch, capsys, **switches) == claim


def test_self_pay_has_no_ncci_or_kx_and_no_medicare_note(monkeypatch, capsys):
    visit = {**PT_AND_PTA, "self_pay": True, "prior_kx_cents": 900000,
             "allowed_cents": {"97140": 3000, "97530": 3000}}
    code, out, _ = run_units(monkeypatch, capsys, visit)
    result = json.loads(out)
    assert code == 0
    assert [s for line in result["lines"] for s in line["suggested_modifiers"]] == []
    assert not [w for w in result["warnings"] if re.search("NCCI|KX|85%", w)]


@pytest.mark.parametrize(
    ("switches", "message"),
    [({"distinct_modifier": "XS"}, "'distinct_modifier' is string (\"XS\"): use \"59\" or "
      "\"XU\""),
     ({"self_pay": True, "medicare": True}, "'self_pay' and 'medicare' cannot both be true")],
)
def test_bad_switches(monkeypatch, capsys, switches, message):
    assert message in refused(monkeypatch, capsys, {**PT_AND_PTA, **switches})
