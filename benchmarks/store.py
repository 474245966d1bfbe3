"""Visit store speed on a 10-year, 10-therapist clinic (about 300,000 visits, 1.5 million
intervals, 2.8 million audit entries, 1.3 GB), each figure beside a baseline measured in the
same run.

Queries (target: each under 10 ms, beside the same SQL through plain sqlite3): a day's visit
list, a patient's history, a patient's year-to-date KX amount, and finalizing a visit (the
engine's billing plus the committed, fsynced write).

Documents and safety (issue 11), each a ratio or a time measured in this run:

- ``superbill --visit`` as a whole process on the demo clinic, within 2x of a bare Python
  process that imports reportlab and writes the same one-page table PDF;
- one superbill on the 10-year clinic within 1.5x of the same superbill on the demo clinic
  (the same visit added to both; whole processes);
- a day's superbills (``superbill --date``, 120 visits, whole process) within 1.5x of rendering
  the same superbills from data already in memory;
- ``verify`` (the audit chain) and ``backup`` of the 10-year clinic, each under 10 s (with
  ``--scale`` below 1, verify's time is also scaled up to 2.7 million audit entries, linearly;
  its CPU time, worker processes included, is printed beside it).

Run: .venv/bin/python benchmarks/store.py [--scale 0.1] [--quick] [--db FILE] [--keep]
``--scale`` shrinks the clinic (0.1 = one year); ``--quick`` is ``--scale 0.05``. The clinic is
written straight into the store's schema with bulk inserts in one transaction, with a valid
audit chain of nine entries per visit (hashed as the store hashes them); the timed finalize
goes through the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from therapy_timer.core.model import Discipline, Performer, Rule  # noqa: E402
from therapy_timer.core.records import (  # noqa: E402
    InsurancePolicy,
    Patient,
    Payer,
    PlanOfCare,
    Practice,
    Provider,
)
from therapy_timer.storage import audit, tamper  # noqa: E402
from therapy_timer.storage.migrations import restore_guard_triggers  # noqa: E402
from therapy_timer.storage.repository import open_repository  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DESCRIPTIONS = json.dumps({"R26.89": "Other abnormalities of gait and mobility"})
#: Audit entries written per visit (start, five timers, pause, diagnoses, finalize).
AUDIT_PER_VISIT = 9

END = date(2026, 11, 20)
YEARS = 10
THERAPISTS = 10
VISITS_PER_DAY = 12  # per therapist
INTERVALS_PER_VISIT = 5
VISITS_PER_PATIENT = 20
PT_CODES = ["97110", "97112", "97116", "97140", "97530"]
OT_CODES = ["97110", "97530", "97535", "97140", "97112"]
FEES = {"97110": 4500, "97112": 4800, "97116": 4500, "97140": 4600, "97530": 5200,
        "97535": 4900}
ALLOWED = {"97110": 2980, "97112": 3390, "97116": 2960, "97140": 2720, "97530": 3530,
           "97535": 3210}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def build(path: Path, scale: float, seed: int = 1) -> dict:
    """Writes the clinic; returns counts."""
    rng = random.Random(seed)
    repo = open_repository(path)
    repo.save_practice(Practice("Benchmark Clinic (synthetic)", timezone="UTC"))
    providers = []
    for n in range(THERAPISTS):
        ot = n >= 7
        providers.append(repo.save_provider(Provider(
            f"Therapist {n + 1}", Discipline.OT if ot else Discipline.PT,
            Performer.OT if ot else Performer.PT)))
    medicare = repo.save_payer(Payer("Medicare (bench)", Rule.CMS, medicare=True,
                                     assistant_modifiers=True, kx_applies=True,
                                     allowed_cents=ALLOWED))
    commercial = repo.save_payer(Payer("Commercial (bench)", Rule.PER_CODE,
                                       allowed_cents=ALLOWED))
    for code, cents in FEES.items():
        repo.save_fee(code, cents, date(END.year - YEARS, 1, 1))
    # The bulk entries are signed with the clinic's anchor key, as the app signs its own.
    key = repo.anchor.key if repo.anchor is not None else None
    repo.close()

    conn = sqlite3.connect(path, isolation_level=None)
    # Years of synthetic history are written straight in (minutes, not hours): the guard
    # triggers, which let a visit be finalized only through the app's own steps, are laid
    # aside for the load and put back from the migrations' own statements afterwards.
    guards = [name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    for name in guards:
        conn.execute(f'DROP TRIGGER "{name}"')
    conn.execute("PRAGMA foreign_keys = ON")
    days = []
    day = END - timedelta(days=int(365 * YEARS * scale))
    while day <= END:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    total_visits = len(days) * THERAPISTS * VISITS_PER_DAY
    patients = max(1, total_visits // VISITS_PER_PATIENT)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO patients (id, first_name, last_name, birth_date, chart_number)"
        " VALUES (?, ?, ?, ?, ?)",
        ((p, f"First{p}", f"Last{p:06d}", "1950-01-01", f"B-{p:06d}")
         for p in range(1, patients + 1)))
    conn.executemany(
        "INSERT INTO policies (patient_id, payer_id, member_id, priority) VALUES (?, ?, ?, 1)",
        ((p, medicare.id if p % 2 else commercial.id, f"M{p}") for p in range(1, patients + 1)))
    # Each patient gets a run of visits with one therapist (their plan of care).
    conn.executemany(
        "INSERT INTO plans (id, patient_id, discipline, therapist_id, start_date)"
        " VALUES (?, ?, ?, ?, ?)",
        ((p, p, providers[(p - 1) % THERAPISTS].discipline.value,
          providers[(p - 1) % THERAPISTS].id,
          days[0].isoformat()) for p in range(1, patients + 1)))
    visit_id = interval_id = 0
    visit_rows, interval_rows, line_rows, audit_rows = [], [], [], []
    chain = [int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM audit_log").fetchone()[0]),
             conn.execute("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()[0]
             if conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] else audit.GENESIS]

    def log(at: datetime, action: str, entity: str, entity_id: int, detail: dict) -> None:
        seq, prev = chain[0] + 1, chain[1]
        at_text = iso(at)
        text = json.dumps(detail, sort_keys=True, separators=(",", ":"))
        digest = audit.entry_hash(prev, seq, at_text, "bench", action, entity, entity_id, text)
        audit_rows.append((seq, at_text, "bench", action, entity, entity_id, text, prev, digest,
                           key.mac(digest) if key is not None else None))
        chain[0], chain[1] = seq, digest
    next_patient = {t: t + 1 for t in range(THERAPISTS)}

    def flush():
        conn.executemany(
            "INSERT INTO visits (id, patient_id, provider_id, plan_id, day, discipline, status,"
            " diagnoses, diagnosis_descriptions, session_start, session_end, timed_minutes,"
            " treatment_minutes, created_at, finalized_at, finalized_by)"
            f" VALUES (?, ?, ?, ?, ?, ?, 'open', 'R26.89', '{DESCRIPTIONS}', ?, ?, ?, ?, ?, ?,"
            " 'bench')", visit_rows)
        conn.executemany(
            "INSERT INTO audit_log (seq, at, user, action, entity, entity_id, detail,"
            " prev_hash, hash, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", audit_rows)
        conn.executemany(
            'INSERT INTO intervals (id, visit_id, code, start, "end", performer, provider_id,'
            " heartbeat) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", interval_rows)
        conn.executemany(
            "INSERT INTO charge_lines (visit_id, line_no, code, label, modifiers, units,"
            " minutes, fee_cents, charge_cents, allowed_cents, diagnosis_pointers)"
            " VALUES (?, ?, ?, '', ?, ?, ?, ?, ?, ?, 'A')", line_rows)
        visit_rows.clear()
        interval_rows.clear()
        line_rows.clear()
        audit_rows.clear()

    for day in days:
        for t, provider in enumerate(providers):
            codes = OT_CODES if provider.discipline is Discipline.OT else PT_CODES
            performer = provider.role.value
            modifier = provider.discipline.therapy_modifier
            for slot in range(VISITS_PER_DAY):
                patient = next_patient[t]
                if rng.random() < 1 / VISITS_PER_PATIENT:
                    patient = next_patient[t] = min(patient + THERAPISTS, patients)
                visit_id += 1
                start = datetime(day.year, day.month, day.day, 7 + slot % 11, 0, tzinfo=UTC)
                log(start, "start_visit", "visit", visit_id,
                    {"patient_id": patient, "plan_id": patient, "provider_id": provider.id,
                     "diagnoses": []})
                moment = start
                minutes_by_code: dict[str, int] = {}
                for _ in range(INTERVALS_PER_VISIT):
                    code = rng.choice(codes)
                    length = rng.randrange(5, 12)
                    interval_id += 1
                    interval_rows.append((interval_id, visit_id, code, iso(moment),
                                          iso(moment + timedelta(minutes=length)), performer,
                                          provider.id, iso(moment + timedelta(minutes=length))))
                    log(moment, "start_interval", "interval", interval_id,
                        {"visit_id": visit_id, "code": code, "performer": performer})
                    moment += timedelta(minutes=length)
                    minutes_by_code[code] = minutes_by_code.get(code, 0) + length
                total = sum(minutes_by_code.values())
                log(moment, "pause_visit", "visit", visit_id, {"codes": sorted(minutes_by_code)})
                log(moment, "set_diagnoses", "visit", visit_id, {"diagnoses": ["R26.89"]})
                visit_rows.append((visit_id, patient, provider.id, patient, day.isoformat(),
                                   provider.discipline.value, iso(start), iso(moment), total,
                                   total, iso(start), iso(moment + timedelta(minutes=2))))
                frozen = []
                for number, (code, minutes) in enumerate(sorted(minutes_by_code.items()), 1):
                    units = (minutes + 7) // 15
                    if units:
                        line_rows.append((visit_id, number, code, modifier, units, minutes,
                                          FEES[code], FEES[code] * units, ALLOWED[code]))
                        frozen.append([code, [modifier], units, FEES[code] * units])
                # As the app's finalize records them, so verify compares like with like.
                log(moment + timedelta(minutes=2), "finalize", "visit", visit_id,
                    {"lines": frozen, "timed_minutes": total})
        if len(interval_rows) > 200_000:
            flush()
    flush()
    conn.execute("UPDATE visits SET status = 'finalized'")
    conn.execute("COMMIT")
    restore_guard_triggers(conn)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    counts = dict(zip(("visits", "intervals", "charge_lines", "patients", "audit"),
                      conn.execute(
        "SELECT (SELECT count(*) FROM visits), (SELECT count(*) FROM intervals),"
        " (SELECT count(*) FROM charge_lines), (SELECT count(*) FROM patients),"
        " (SELECT count(*) FROM audit_log)").fetchone(), strict=True))
    conn.close()
    return counts


def median_ms(func, repeat: int = 30) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


DAY_SQL = (
    "SELECT v.*, p.first_name, p.last_name, p.chart_number, pr.name AS provider_name,"
    " (SELECT COALESCE(SUM(units), 0) FROM charge_lines c WHERE c.visit_id = v.id)"
    "   AS frozen_units,"
    ' EXISTS (SELECT 1 FROM intervals i WHERE i.visit_id = v.id AND i."end" IS NULL)'
    "   AS running"
    " FROM visits v JOIN patients p ON p.id = v.patient_id"
    " JOIN providers pr ON pr.id = v.provider_id"
    " WHERE v.day = ? ORDER BY v.created_at, v.id")
HISTORY_SQL = ("SELECT * FROM visits WHERE patient_id = ? ORDER BY day DESC, id DESC"
               " LIMIT 500")
KX_SQL = ("SELECT COALESCE(SUM(c.units * c.allowed_cents), 0) FROM visits v"
          " JOIN charge_lines c ON c.visit_id = v.id WHERE v.patient_id = ? AND v.day >= ?"
          " AND v.day <= ? AND v.status = 'finalized' AND v.discipline IN ('PT', 'SLP')")


# --- documents and safety on the 10-year clinic (issue 11) ---


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}


def process_seconds(argv: list[str], repeat: int = 5) -> float:
    """Best wall time of ``repeat`` runs of a whole child process (start-up, imports, work,
    exit): the run least disturbed by other processes on a shared machine."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=_env())
        samples.append(time.perf_counter() - start)
        if proc.returncode:
            raise RuntimeError(f"{' '.join(argv[1:4])}... failed: {proc.stderr.strip()[-500:]}")
    return min(samples)


def process_cpu(argv: list[str], repeat: int = 3) -> tuple[float, float]:
    """``process_seconds``, and the CPU time (user and system, its own worker processes
    included) of that least disturbed run."""
    best = None
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=_env())
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode:
            raise RuntimeError(f"{' '.join(argv[1:4])}... failed: {proc.stderr.strip()[-500:]}")
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        if best is None or wall < best[0]:
            best = (wall, cpu)
    return best


#: The 10-year clinic's audit log, as issue 11 sizes it.
TARGET_ENTRIES = 2_700_000


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "therapy_timer", *[str(a) for a in args]]


BARE_CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
from pdf import bare_superbill, sample
with open(sys.argv[2], "wb") as stream:
    bare_superbill(sample(), stream)
"""

RENDER_CHILD = """
import sys, time
from datetime import date
from therapy_timer.commands.documents import icd_describer
from therapy_timer.core.superbill_build import billable_visit_ids, superbill_for_visit
from therapy_timer.pdf import render_superbills, write_atomically
from therapy_timer.storage.repository import open_repository
repo = open_repository(sys.argv[1])
day = date.fromisoformat(sys.argv[2])
describe = icd_describer()
items = [superbill_for_visit(repo, v, describe) for v in billable_visit_ids(repo, day, day)]
repo.close()
write_atomically(sys.argv[3], lambda stream: render_superbills(items[:1], stream))  # warm-up
start = time.perf_counter()
write_atomically(sys.argv[3], lambda stream: render_superbills(items, stream))
print(time.perf_counter() - start, len(items))
"""


def same_visit(path: Path, day: date) -> int:
    """Adds one finalized visit with the same people, times and codes to a clinic; its id."""
    repo = open_repository(path)
    try:
        for code, cents in (("97110", 4500), ("97140", 4600), ("97530", 5200)):
            repo.save_fee(code, cents, day)
        provider = repo.save_provider(Provider("Same Therapist", Discipline.PT, Performer.PT,
                                               credentials="PT, DPT", npi="1558598797"))
        payer = next((p for p in repo.list_payers() if p.name == "Same Medicare (bench)"),
                     None) or repo.save_payer(Payer("Same Medicare (bench)", Rule.CMS,
                                                    medicare=True, kx_applies=True))
        patient = repo.save_patient(Patient("Sam", "Sameday", date(1950, 3, 4),
                                            chart_number="SAME-1"))
        repo.save_policy(InsurancePolicy(patient.id, payer.id, "1EG4TE5MK72"))
        plan = repo.save_plan(PlanOfCare(patient.id, Discipline.PT, provider.id, day,
                                         diagnoses=("M54.50", "R26.89")))
        start = datetime(day.year, day.month, day.day, 14, 0, tzinfo=UTC)
        visit = repo.start_visit(patient.id, provider.id, plan.id, start)
        repo.set_diagnoses(visit.id, ["M54.50", "R26.89"], validate=False, descriptions={
            "M54.50": "Low back pain, unspecified",
            "R26.89": "Other abnormalities of gait and mobility"})
        moment = start
        for code, minutes in (("97110", 23), ("97140", 15), ("97530", 15)):
            repo.start_interval(visit.id, code, Performer.PT, moment)
            moment += timedelta(minutes=minutes)
            repo.pause_visit(visit.id, moment)
        repo.finalize_visit(visit.id, None, "bench", moment + timedelta(minutes=2))
        return visit.id
    finally:
        repo.close()


def documents(path: Path, day: date) -> None:
    """Prints the issue-11 document and safety figures for the clinic at ``path``."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="tt-docs-") as tmp:
        folder = Path(tmp)
        demo = folder / "demo.db"
        subprocess.run(cli("demo", "--db", demo, "--end-date", day - timedelta(days=1)),
                       check=True, capture_output=True, cwd=ROOT, env=_env())
        demo_visit = same_visit(demo, day)
        big_visit = same_visit(path, day)
        out = folder / "one.pdf"
        bare = process_seconds([sys.executable, "-c", BARE_CHILD, str(Path(__file__).parent),
                                str(folder / "bare.pdf")])
        on_demo = process_seconds(cli("superbill", "--db", demo, "--visit", demo_visit,
                                      "--out", out))
        on_big = process_seconds(cli("superbill", "--db", path, "--visit", big_visit,
                                     "--out", out))
        rows.append(("superbill --visit (demo clinic), whole process", on_demo,
                     "bare reportlab process, same one-page tables", bare, 2.0))
        rows.append(("superbill --visit (10-year clinic), whole process", on_big,
                     "the same superbill on the demo clinic", on_demo, 1.5))
        busiest = day - timedelta(days=1)
        while busiest.weekday() >= 5:
            busiest -= timedelta(days=1)
        command = process_seconds(cli("superbill", "--db", path, "--date", busiest, "--out",
                                      folder / "day.pdf"), repeat=3)
        renders = []
        for _ in range(3):
            proc = subprocess.run([sys.executable, "-c", RENDER_CHILD, str(path), str(busiest),
                                   str(folder / "memory.pdf")], capture_output=True, text=True,
                                  check=True, cwd=ROOT, env=_env())
            seconds, count = proc.stdout.split()
            renders.append(float(seconds))
        rows.append((f"superbill --date (a day, {count} visits), whole process", command,
                     "rendering the same superbills from memory", min(renders), 1.5))
        verify, verify_cpu = process_cpu(cli("verify", "--db", path), repeat=3)
        backup = process_seconds(cli("backup", "--db", path, "--out", folder / "copy.db"),
                                 repeat=1)
        # What both spend most on: SQLite's full check of the file (the copy's, for backup).
        plain = sqlite3.connect(path)
        started = time.perf_counter()
        plain.execute("PRAGMA integrity_check").fetchall()
        integrity = time.perf_counter() - started
        entries = plain.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        plain.close()
    print(f"\n{'documents and safety (best of 3-5 runs)':50} {'ours':>8}  {'baseline':46} "
          f"{'ratio':>6}  target")
    for name, ours, base_name, base, target in rows:
        ratio = ours / base
        ok = "ok" if ratio <= target else "OVER"
        print(f"{name:50} {ours:6.2f} s  {base_name:40} {base:5.2f} s {ratio:6.2f}  "
              f"<= {target}x  {ok}")
    for name, seconds in (("verify (integrity + the audit chain)", verify),
                          ("backup of the clinic", backup)):
        ok = "ok" if seconds < 10 else "SLOW"
        print(f"{name:50} {seconds:6.2f} s  {'':46} {'':6}  < 10 s  {ok}")
    print(f"  (of which PRAGMA integrity_check of the file alone: {integrity:.2f} s)")
    workers = tamper._worker_count(None, path, entries)
    print(f"  (verify: {entries:,} audit entries, the chain walked by "
          + (f"{workers} worker processes" if workers > 1 else "one process")
          + f"; CPU {verify_cpu:.2f} s in all on {os.cpu_count()} cores)")
    if entries < TARGET_ENTRIES:
        scaled = verify * TARGET_ENTRIES / entries
        ok = "ok" if scaled < 10 else "SLOW"
        print(f"{'verify scaled to 2,700,000 entries (linearly)':50} {scaled:6.2f} s  "
              f"{'':46} {'':6}  < 10 s  {ok}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the 10-year clinic (default 1.0)")
    parser.add_argument("--quick", action="store_true", help="same as --scale 0.05")
    parser.add_argument("--db", help="build into (or reuse) this file")
    parser.add_argument("--keep", action="store_true", help="keep the database file")
    args = parser.parse_args()
    scale = 0.05 if args.quick else args.scale
    folder = None
    if args.db:
        path = Path(args.db)
    else:
        folder = tempfile.TemporaryDirectory(prefix="tt-bench-")
        path = Path(folder.name) / "bench.db"
    started = time.perf_counter()
    if path.exists():
        conn = sqlite3.connect(path)
        counts = {"visits": conn.execute("SELECT count(*) FROM visits").fetchone()[0],
                  "intervals": conn.execute("SELECT count(*) FROM intervals").fetchone()[0],
                  "audit": conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]}
        conn.close()
        print(f"reusing {path}")
    else:
        counts = build(path, scale)
        print(f"built in {time.perf_counter() - started:.1f} s")
    size = path.stat().st_size
    print(f"clinic: {counts['visits']:,} visits, {counts['intervals']:,} intervals, "
          f"{counts['audit']:,} audit entries (scale {scale}), file {size / 1e6:.1f} MB")

    rng = random.Random(7)
    repo = open_repository(path)
    plain = sqlite3.connect(path, isolation_level=None)
    plain.execute("PRAGMA synchronous = FULL")
    days = [r[0] for r in plain.execute("SELECT DISTINCT day FROM visits ORDER BY day")]
    max_patient = plain.execute("SELECT max(id) FROM patients").fetchone()[0]
    sample_days = [date.fromisoformat(rng.choice(days)) for _ in range(30)]
    sample_patients = [rng.randrange(1, max_patient + 1) for _ in range(30)]
    year = END.year
    it_days, it_patients = iter(sample_days * 100), iter(sample_patients * 100)
    last = date.fromisoformat(days[-1])  # a reused file may hold earlier runs' visits
    # The documents and the safety commands first, on the clinic as the app recorded it (the
    # finalize baseline below writes bare-SQL visits that verify rightly reports).
    documents(path, last + timedelta(days=1))
    now = datetime(last.year, last.month, last.day, 23, 0, tzinfo=UTC)

    results = []
    day_rows = len(repo.visits_on(sample_days[0], now))
    results.append(("a day's visit list", median_ms(lambda: repo.visits_on(next(it_days), now)),
                    median_ms(lambda: plain.execute(DAY_SQL, (next(it_days).isoformat(),))
                              .fetchall()), f"{day_rows} visits"))
    results.append(("a patient's history",
                    median_ms(lambda: repo.visits_for_patient(next(it_patients))),
                    median_ms(lambda: plain.execute(HISTORY_SQL, (next(it_patients),))
                              .fetchall()), f"{len(repo.visits_for_patient(1))} visits"))
    results.append(("a patient's KX year to date",
                    median_ms(lambda: repo.kx_year_to_date(next(it_patients), year, "PT+SLP")),
                    median_ms(lambda: plain.execute(KX_SQL, (next(it_patients), f"{year}-01-01",
                                                             f"{year}-12-31")).fetchone()),
                    ""))

    # Finalizing: fresh open visits with five intervals each, for 20 different patients on
    # the day after the history (so no visit pools with an older one).
    prepared = []
    now += timedelta(days=1)
    for patient in rng.sample(range(1, max_patient + 1), min(20, max_patient)):
        plan = plain.execute("SELECT therapist_id FROM plans WHERE id = ?",
                             (patient,)).fetchone()[0]
        start = now - timedelta(hours=10)
        visit = repo.start_visit(patient, plan, patient, start)
        moment = start
        for code in ("97110", "97140", "97530", "97112", "97110"):
            repo.start_interval(visit.id, code, repo.get_provider(plan).role, moment)
            moment += timedelta(minutes=9)
        repo.pause_visit(visit.id, moment)
        repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
        prepared.append(visit.id)
    it_visits = iter(prepared)
    finalize_ms = median_ms(lambda: repo.finalize_visit(next(it_visits), None, "bench", now),
                            repeat=len(prepared))

    def plain_finalize():
        plain.execute("BEGIN IMMEDIATE")
        plain.execute("INSERT INTO visits (patient_id, provider_id, plan_id, day, discipline,"
                      " status, created_at) VALUES (1, 1, 1, ?, 'PT', 'open', ?)",
                      (END.isoformat(), iso(now)))
        new_id = plain.execute("SELECT last_insert_rowid()").fetchone()[0]
        plain.executemany(
            "INSERT INTO charge_lines (visit_id, line_no, code, modifiers, units, minutes,"
            " fee_cents, charge_cents) VALUES (?, ?, ?, 'GP', 1, 9, 4500, 4500)",
            [(new_id, k, c) for k, c in enumerate(("97110", "97140", "97530"), 1)])
        plain.execute("UPDATE visits SET status = 'finalized' WHERE id = ?", (new_id,))
        plain.execute("COMMIT")

    # The baseline is the bare SQL of a finalize, without the guard that wants its audit
    # entry first (the app's own cost includes writing that entry).
    plain.execute("DROP TRIGGER visits_finalize_needs_entry")
    baseline_ms = median_ms(plain_finalize, repeat=20)
    restore_guard_triggers(plain)
    results.append(("finalizing a visit (engine + fsynced commit)", finalize_ms,
                    baseline_ms, "5 intervals, 4 codes"))
    repo.close()
    plain.close()

    print(f"\n{'operation':46} {'store':>9} {'sqlite3':>9} {'ratio':>6}  target < 10 ms")
    for name, ours, bare, note in results:
        ok = "ok" if ours < 10 else "SLOW"
        print(f"{name:46} {ours:7.2f}ms {bare:7.2f}ms {ours / bare:6.1f}  {ok}  {note}")
    if folder is not None and not args.keep:
        folder.cleanup()
    elif args.keep:
        print(f"kept {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
