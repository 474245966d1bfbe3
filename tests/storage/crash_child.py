"""The crash test's child: records timers through the repository until it is killed.

After each call returns (so the change is committed) it writes one line to ``out`` saying what
is now on disk. The parent kills it with SIGKILL at a random moment and checks every reported
line against the reopened database. Run as a forked process, or as a script:
``python crash_child.py DB SEED`` (reports on stdout). ``DB`` is an SQLite file or a clinic
server's URI: the crash tests run on both.
"""

from __future__ import annotations

import os
import random
import sys
from datetime import UTC, datetime, timedelta

from therapy_timer.core.model import Performer
from therapy_timer.storage.recovery import Resolution
from therapy_timer.storage.repository import open_repository

BASE = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
CODES = ["97110", "97140", "97530", "97112", "97010"]


def _latest(repo) -> datetime:
    row = repo.conn.execute(
        'SELECT max(start), max(coalesce("end", start)), max(coalesce(heartbeat, start))'
        " FROM intervals").fetchone()
    audit = repo.conn.execute("SELECT max(at) FROM audit_log").fetchone()
    moments = [BASE] + [datetime.fromisoformat(t) for t in (*row, audit[0]) if t]
    return max(moments)


def run(db_path: str, seed: int, write) -> None:
    """Loops forever (until killed); ``write(line)`` must flush before returning."""
    rng = random.Random(seed)
    repo = open_repository(db_path)
    now = _latest(repo) + timedelta(seconds=1)
    patient_id, provider_id, plan_id = 1, 1, 1
    # Recovery first, as the app does at start-up.
    for crashed in repo.crashed_intervals():
        choice = rng.choice([Resolution.KEEP_RUNNING, Resolution.STOP_AT_LAST_ALIVE])
        day = repo.get_visit(crashed.interval.visit_id).day
        if day < repo.service_day(now):  # a timer of an earlier day cannot run on (issue 16)
            choice = Resolution.STOP_AT_LAST_ALIVE
        done = repo.resolve_crashed(crashed.interval.id, choice, user="crash", now=now)
        day_end = repo.day_bounds(day)[1]
        write(f"R {done.id} {crashed.last_alive.isoformat()} "
              f"{done.end.isoformat() if done.end else '-'} {day_end.isoformat()}")
    opened = repo.open_visits()
    visit = opened[-1] if opened else None
    if visit is not None and not visit.diagnoses:  # killed between the two calls last time
        visit = repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
    write("READY")
    while True:
        now += timedelta(seconds=rng.randrange(5, 120))
        if visit is None:
            visit = repo.start_visit(patient_id, provider_id, plan_id, now)
            repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
            write(f"V {visit.id}")
            continue
        if visit.day < repo.service_day(now):
            # Past midnight: the app finishes yesterday's visit with its recorded time and
            # times today's on a new visit (the store refuses a timer on an earlier day).
            for interval in repo.pause_visit(visit.id, now):
                write(f"E {interval.id} {interval.end.isoformat()}")
            if repo.intervals_for(visit.id):
                lines = repo.finalize_visit(visit.id, None, "crash", now)
                write(f"F {visit.id} {len(lines)}")
            else:
                repo.void_visit(visit.id, "crash test: nothing recorded", "crash", now)
                write(f"X {visit.id}")
            visit = None
            continue
        roll = rng.random()
        running = [i for i in repo.intervals_for(visit.id) if i.running]
        if roll < 0.35:
            before = {i.id for i in running}
            started = repo.start_interval(visit.id, rng.choice(CODES), Performer.PT, now)
            write(f"S {started.id} {visit.id} {started.start.isoformat()}")
            for interval in repo.intervals_for(visit.id):
                if interval.id in before and not interval.running:
                    write(f"E {interval.id} {interval.end.isoformat()}")
        elif roll < 0.5 and running:
            stopped = repo.stop_interval(rng.choice(running).id, now)
            write(f"E {stopped.id} {stopped.end.isoformat()}")
        elif roll < 0.72:
            repo.heartbeat(now)
            write(f"H {now.isoformat()}")
        elif roll < 0.8:
            for interval in repo.pause_visit(visit.id, now):
                write(f"E {interval.id} {interval.end.isoformat()}")
        elif roll < 0.86:
            done = [i for i in repo.intervals_for(visit.id) if not i.running]
            if done:
                target = rng.choice(done)
                end = max(target.start, target.end - timedelta(seconds=1))
                write(f"P {target.id}")
                edited = repo.edit_interval(target.id, end=end, reason="crash test edit",
                                            user="crash", now=now)
                write(f"E {edited.id} {edited.end.isoformat()}")
        elif roll < 0.93 and not running and repo.intervals_for(visit.id):
            lines = repo.finalize_visit(visit.id, None, "crash", now)
            write(f"F {visit.id} {len(lines)}")
            visit = None
        elif roll < 0.96 and visit.amends_id is None and not running:
            finalized = repo.conn.execute(
                "SELECT id FROM visits WHERE status = 'finalized' ORDER BY id DESC LIMIT 1"
            ).fetchone()
            if finalized:
                repo.pause_visit(visit.id, now)
                repo.void_visit(visit.id, "crash test: replaced by an amendment", "crash", now)
                write(f"X {visit.id}")
                visit = repo.amend_visit(finalized[0], "crash test amend", "crash", now)
                write(f"A {finalized[0]} {visit.id}")


def main() -> None:  # pragma: no cover - exercised by the subprocess test
    def write(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    run(sys.argv[1], int(sys.argv[2]), write)


if __name__ == "__main__":  # pragma: no cover
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    main()
