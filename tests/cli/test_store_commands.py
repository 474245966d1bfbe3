"""The verify, backup, restore and demo commands, run through the real command line."""

from __future__ import annotations

import json
import re
import sqlite3
import stat
from datetime import date

import pytest

from therapy_timer.cli import main

END = "2026-11-20"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    assert main(["demo", "--db", str(path), "--seed", "7", "--end-date", END]) == 0
    # Each test runs with its own config folder (another computer): the anchor key and the
    # checkpoints travel in the companion file, as they would to a clinic's other computer.
    assert main(["anchor", "--db", str(path), "--out", str(path) + ".anchor"]) == 0
    return path


def dump(path) -> list[str]:
    """The file's SQL, less what is random by design: the audit anchor key's id and each
    entry's keyed hash (the last value of an audit_log row)."""
    conn = sqlite3.connect(path)
    try:
        return [re.sub(r",'[0-9a-f]{64}'\);$", ");", line) if "audit_log" in line else line
                for line in conn.iterdump() if 'INSERT INTO "audit_anchor"' not in line]
    finally:
        conn.close()


def test_demo_is_deterministic_for_seed_and_end_date(demo_db, tmp_path, capsys):
    again = tmp_path / "again.db"
    assert main(["demo", "--db", str(again), "--seed", "7", "--end-date", END]) == 0
    assert "40 patients" in capsys.readouterr().out
    assert dump(again) == dump(demo_db)
    other = tmp_path / "other.db"
    assert main(["--db", str(other), "demo", "--seed", "8", "--end-date", END]) == 0
    assert dump(other) != dump(demo_db)


def test_demo_file_is_private_and_verifies(demo_db, capsys):
    assert stat.S_IMODE(demo_db.stat().st_mode) == 0o600
    capsys.readouterr()
    assert main(["verify", "--db", str(demo_db), "--key", f"{demo_db}.anchor"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ok"
    assert not [line for line in out if line.startswith(("broken", "could not check"))], out


def test_demo_refuses_a_file_that_holds_a_clinic(demo_db, capsys):
    assert main(["demo", "--db", str(demo_db), "--end-date", END]) == 2
    assert "already holds a clinic" in capsys.readouterr().err


def test_demo_of_a_year_without_kx_data_bills_with_the_latest_year(tmp_path, capsys):
    """Issue 12: billing never stops for a missing year (the demo used to refuse 2031); its
    Medicare visits of 2031 record that 2026's threshold stood in."""
    path = tmp_path / "x.db"
    assert main(["demo", "--db", str(path), "--end-date", "2031-01-10"]) == 0
    conn = sqlite3.connect(path)
    records = [json.loads(r[0]) for r in conn.execute(
        "SELECT billing_json FROM visits WHERE day >= '2031-01-01' AND status = 'finalized'")]
    conn.close()
    used = [r["kx_threshold"] for r in records if r.get("kx_threshold")]
    assert used and all(u == {"year": 2026, "for_year": 2031, "threshold_cents": 248000,
                              "fallback": True} for u in used)
    assert all("2026's threshold used: enter 2031's in Settings (Rule data)." in
               " ".join(r["warnings"]) for r in records if r.get("kx_threshold"))


def test_verify_reports_the_first_tampered_entry(demo_db, tmp_path, capsys):
    copy = tmp_path / "tampered.db"
    assert main(["backup", "--db", str(demo_db), "--out", str(copy)]) == 0
    conn = sqlite3.connect(copy)
    conn.execute("DROP TRIGGER audit_no_update")  # an attacker goes around the trigger
    conn.execute("UPDATE audit_log SET detail = '{}' WHERE seq = 42")
    conn.commit()
    conn.close()
    capsys.readouterr()
    assert main(["verify", "--db", str(copy)]) == 1
    assert capsys.readouterr().out.strip().startswith("broken: audit entry 42:")


def test_verify_missing_and_foreign_files(tmp_path, capsys):
    assert main(["verify", "--db", str(tmp_path / "none.db")]) == 2
    assert "no database" in capsys.readouterr().err
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, just some words\n")
    assert main(["verify", "--db", str(text)]) == 2
    assert "not a Therapy Timer database" in capsys.readouterr().err


def test_backup_and_restore_round_trip(demo_db, tmp_path, capsys):
    work = tmp_path / "work.db"
    backup = tmp_path / "backup.db"
    assert main(["backup", "--db", str(demo_db), "--out", str(work)]) == 0
    assert main(["backup", "--db", str(work), "--out", str(backup)]) == 0
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    before = dump(work)
    conn = sqlite3.connect(work)
    conn.execute("UPDATE patients SET phone = 'changed'")
    conn.commit()
    conn.close()
    capsys.readouterr()
    assert main(["restore", "--db", str(work), "--from", str(backup)]) == 0
    out = capsys.readouterr().out
    assert "previous database was saved as" in out
    assert dump(work) == before
    saved = [p for p in tmp_path.iterdir() if ".before-restore-" in p.name]
    assert len(saved) == 1
    conn = sqlite3.connect(saved[0])
    assert conn.execute("SELECT DISTINCT phone FROM patients").fetchall() == [("changed",)]
    conn.close()


def test_restore_refuses_other_files_and_changes_nothing(demo_db, tmp_path, capsys):
    work = tmp_path / "work.db"
    assert main(["backup", "--db", str(demo_db), "--out", str(work)]) == 0
    before = dump(work)
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.commit()
    conn.close()
    text = tmp_path / "text.db"
    text.write_text("hello")
    for source, words in ((foreign, "not a Therapy Timer database"),
                          (text, "not a Therapy Timer database"),
                          (tmp_path / "missing.db", "no backup file")):
        capsys.readouterr()
        assert main(["restore", "--db", str(work), "--from", str(source)]) == 2
        assert words in capsys.readouterr().err
    assert dump(work) == before
    assert not [p for p in tmp_path.iterdir() if ".before-restore-" in p.name]


def test_backup_refuses_to_overwrite_the_database(demo_db, capsys):
    assert main(["backup", "--db", str(demo_db), "--out", str(demo_db)]) == 2
    assert "must be another file than the database itself" in capsys.readouterr().err


def test_demo_shows_every_rule_on_the_last_days(demo_db):
    import json

    conn = sqlite3.connect(demo_db)
    end = date.fromisoformat(END)
    for offset in (0, 1, 2):
        day = date.fromordinal(end.toordinal() - offset).isoformat()
        mods = {m for (text,) in conn.execute(
            "SELECT c.modifiers FROM charge_lines c JOIN visits v ON v.id = c.visit_id"
            " WHERE v.day = ?", (day,)) for m in text.split()}
        assert {"CQ", "CO", "XU", "KX", "GP", "GO"} <= mods, day
        records = [json.loads(b) for (b,) in conn.execute(
            "SELECT billing_json FROM visits WHERE day = ? AND status <> 'open'", (day,))]
        assert any("Tie" in line for r in records for line in r["explanation"]), day
    statuses = {s for (s,) in conn.execute("SELECT DISTINCT status FROM visits")}
    assert statuses == {"finalized", "amended", "open"}
    # The hard cases of a real day (demo.hard_cases): one visit left open yesterday, one
    # amendment, a code split between PT and PTA, two visits of one patient today, a tie beside
    # untimed codes, a plan about to expire.
    [(open_day,)] = conn.execute("SELECT day FROM visits WHERE status = 'open'").fetchall()
    assert open_day == date.fromordinal(end.toordinal() - 1).isoformat()
    assert conn.execute("SELECT count(*) FROM amendments").fetchone()[0] == 1
    split = conn.execute(
        "SELECT count(*) FROM (SELECT visit_id FROM intervals WHERE code = '97110'"
        " GROUP BY visit_id HAVING count(DISTINCT performer) = 2)").fetchone()[0]
    assert split >= 1
    twice = conn.execute(
        "SELECT count(*) FROM (SELECT patient_id FROM visits WHERE day = ? AND status ="
        " 'finalized' GROUP BY patient_id, discipline HAVING count(*) = 2)", (END,)).fetchone()[0]
    assert twice >= 1
    # A cognitive-function visit under an OT plan: the OT furnished 97129 (the first 15
    # minutes), the OTA the rest: CO rides on 97130's units, not on 97129.
    cognitive = conn.execute(
        "SELECT c.code, c.modifiers, c.units FROM charge_lines c JOIN visits v ON"
        " v.id = c.visit_id WHERE v.day = ? AND v.discipline = 'OT' AND c.code IN"
        " ('97129', '97130') ORDER BY c.line_no", (END,)).fetchall()
    assert cognitive == [("97129", "GO", 1), ("97130", "GO CO", 2)]
    tie_untimed = [json.loads(b) for (b,) in conn.execute(
        "SELECT v.billing_json FROM visits v JOIN charge_lines c ON c.visit_id = v.id"
        " WHERE v.day = ? AND c.code = '97164'", (END,))]
    assert any("Tie" in line for r in tie_untimed for line in r["explanation"])
    soon = conn.execute("SELECT count(*) FROM plans WHERE certified_through BETWEEN ? AND"
                        " date(?, '+7 days')", (END, END)).fetchone()[0]
    assert soon >= 1
    # Every assistant interval names its assistant (the superbill prints who, on CQ/CO lines).
    unnamed = conn.execute(
        "SELECT count(*) FROM intervals i LEFT JOIN providers p ON p.id = i.provider_id"
        " WHERE i.performer IN ('PTA', 'OTA') AND (p.role IS NULL OR p.role <> i.performer)"
        ).fetchone()[0]
    assert unnamed == 0
    assert conn.execute("SELECT count(*) FROM patients").fetchone()[0] == 40
    roles = sorted(r for (r,) in conn.execute("SELECT role FROM providers"))
    assert roles == ["OT", "OTA", "PT", "PT", "PTA"]
    rules = sorted(r for (r,) in conn.execute("SELECT rule FROM payers"))
    assert rules == ["cms", "cms", "per-code"]
    fee = conn.execute("SELECT cents FROM fees WHERE code = '97110'").fetchone()[0]
    assert fee == 4500
    conn.close()


def test_demo_diagnoses_are_billable_icd10_codes():
    from therapy_timer.core.validation import validate_icd10
    from therapy_timer.demo import OT_DX, PT_DX

    assert [validate_icd10(c) for c in PT_DX + OT_DX] == PT_DX + OT_DX


def _with_an_orphan_interval(demo_db, tmp_path):
    """A backup of the demo clinic holding an interval of a visit that does not exist."""
    copy = tmp_path / "orphan.db"
    assert main(["backup", "--db", str(demo_db), "--out", str(copy)]) == 0
    conn = sqlite3.connect(copy)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("INSERT INTO intervals (visit_id, code, start, performer) VALUES"
                 " (999999, '97110', '2026-11-20T15:00:00.000000+00:00', 'PT')")
    conn.commit()
    conn.close()
    return copy


def test_verify_reports_broken_references(demo_db, tmp_path, capsys):
    copy = _with_an_orphan_interval(demo_db, tmp_path)
    capsys.readouterr()
    assert main(["verify", "--db", str(copy)]) == 1
    assert "refers to a missing visits row" in capsys.readouterr().err


def test_demo_self_pay_visits_carry_no_insurer_modifiers(demo_db):
    """Issue 10, item 9: the demo's self-pay patients have no insurance policy, so they bill
    under the clinic's self-pay payer (GP on, as the demo clinic chose), never CQ/CO, 59/XU or
    KX, and no "Medicare pays" note (they used to get the built-in insurer defaults)."""
    import json

    conn = sqlite3.connect(demo_db)
    rows = conn.execute(
        "SELECT c.modifiers, v.billing_json FROM charge_lines c JOIN visits v ON v.id ="
        " c.visit_id WHERE v.status = 'finalized' AND NOT EXISTS (SELECT 1 FROM policies p"
        " WHERE p.patient_id = v.patient_id)").fetchall()
    conn.close()
    assert len(rows) >= 2
    mods = {m for text, _ in rows for m in text.split()}
    assert mods <= {"GP", "GO"}, mods
    for _, billing in rows:
        record = json.loads(billing)
        assert not [w for w in record["warnings"] if "NCCI" in w or "85%" in w]


def test_demo_cognitive_superbill_names_the_ota_on_97130s_co(demo_db):
    """The OTA's time ran on 97130's timer and CO rides on 97130: the superbill says who
    furnished it and why 97129 goes without (the OT furnished the first 15 minutes)."""
    from therapy_timer.core.superbill_build import superbill_for_visit
    from therapy_timer.storage.repository import open_repository

    repo = open_repository(demo_db)
    try:
        [(visit_id,)] = repo.conn.execute(
            "SELECT DISTINCT c.visit_id FROM charge_lines c WHERE c.code = '97130'").fetchall()
        doc = superbill_for_visit(repo, visit_id).documentation
        [co] = doc.assistant
        assert (co.code, co.modifier, co.units) == ("97130", "CO", 2)
        assert co.furnished_by == "Assistant: Alex Moss, COTA — supervised by Taylor Wren, OTR/L"
        assert "97129 is the service's first 15 minutes (furnished by the therapist" in co.reason
    finally:
        repo.close()


@pytest.mark.parametrize("worker", ["forked", "died"])
def test_a_large_files_page_check_beside_the_chain_walk_says_the_same(
        demo_db, tmp_path, capsys, monkeypatch, worker):
    """A large file's PRAGMA integrity_check runs in a process of its own while the chain is
    walked (issue 11: verify of the 10-year clinic under 10 s); what verify says is the same:
    ok for a sound file, "damaged" (and not the chain's findings) for a broken one, and the
    check done here when the process gives no answer."""
    import os

    import therapy_timer.commands.store as store

    monkeypatch.setattr(store, "INTEGRITY_ASIDE_BYTES", 0)  # every file counts as large
    started = []
    real_aside = store._integrity_aside
    monkeypatch.setattr(store, "_integrity_aside",
                        lambda path: started.append(path) or real_aside(path))
    if worker == "died":
        monkeypatch.setattr(store, "_integrity_worker", lambda send, path: os._exit(3))
    capsys.readouterr()
    assert main(["verify", "--db", str(demo_db), "--key", str(demo_db) + ".anchor"]) == 0
    assert capsys.readouterr().out.startswith("ok\n")
    copy = _with_an_orphan_interval(demo_db, tmp_path)
    capsys.readouterr()
    assert main(["verify", "--db", str(copy)]) == 1
    out, err = capsys.readouterr()
    assert "is damaged: intervals row" in err and "refers to a missing visits row" in err
    assert out == ""  # the chain walk's report is not printed for a damaged file
    assert len(started) == 2  # both ran the check beside the walk
