"""Every worked example of the CMS manual (and the derived ones) through the engine and the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from therapy_timer.cli import main
from therapy_timer.core.model import Rule, Service
from therapy_timer.core.units import allocate

EXAMPLES_FILE = Path(__file__).resolve().parents[1] / "data" / "cms-examples.json"
EXAMPLES = json.loads(EXAMPLES_FILE.read_text())


def _key(allocation: dict) -> str:
    return json.dumps(allocation, sort_keys=True)


@pytest.mark.parametrize("case", EXAMPLES, ids=[c["id"] for c in EXAMPLES])
def test_engine_reproduces_example(case):
    services = [Service(s["code"], s["minutes"]) for s in case["services"]]
    result = allocate(services, Rule.parse(case["rule"]))
    assert result.total_units == case["expected_total_units"]
    assert result.timed_units == case["expected_timed_units"]
    if "choice" in case:
        assert _key(result.as_dict()) in {_key(c) for c in case["choice"]}
        assert sorted(map(_key, result.allowed_allocations())) == sorted(map(_key,
                                                                             case["choice"]))
    else:
        assert result.as_dict() == case["expected_units"]
        assert not result.ties


@pytest.mark.parametrize("case", EXAMPLES, ids=[c["id"] for c in EXAMPLES])
def test_cli_reproduces_example(case, monkeypatch, capsys):
    visit = {"rule": case["rule"], "date": "2026-11-20", "services": case["services"]}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(visit)))
    assert main(["units"]) == 0
    out = json.loads(capsys.readouterr().out)
    got = {line["code"]: line["units"] for line in out["lines"]}
    assert set(got) == {s["code"] for s in case["services"]}  # every code, 0 units included
    assert out["total_units"] == case["expected_total_units"]
    assert out["timed_units"] == case["expected_timed_units"]
    if "choice" in case:
        choices = {_key(c) for c in case["choice"]}
        assert _key(got) in choices
        # ties lists every other allowed allocation, and nothing else
        assert {_key(t) for t in out["ties"]} == choices - {_key(got)}
    else:
        assert got == case["expected_units"]
        assert out["ties"] == []
