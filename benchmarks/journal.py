"""The treatment room's offline journal (issue 14, item 4): what keeping a tap on the station
costs while the clinic server is away, and how fast the kept taps reach the server when it
is back.

- journal append: one tap written to the journal (SQLite, WAL, synchronous=FULL: fsynced
  before the call returns), beside the baseline of one 200-byte ``os.write`` + ``os.fsync``
  to a plain file in the same folder (the disk's own cost of durability);
- replay: N taps (alternating 97110 / 97530 starts, one second apart: each stops the one
  before) kept while offline, then sent by ``JournaledTimers.replay`` to a PostgreSQL server
  on loopback (fsync on), in entries per second, beside the same taps sent online one by one
  through the Repository (the server's own rate; replay also reads, to recognise an entry
  already sent, and deletes each entry from the journal after its commit).

The server is a throwaway one started in a temporary folder as the tests start theirs
(``tests/pg_server.py``).

Run: .venv/bin/python benchmarks/journal.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.pg_server import running_server  # noqa: E402
from tests.storage.conftest import build_clinic  # noqa: E402
from therapy_timer.storage.journal import Journal  # noqa: E402
from therapy_timer.storage.offline import JournaledTimers  # noqa: E402
from therapy_timer.storage.repository import open_repository  # noqa: E402

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
CODES = ("97110", "97530")
APPEND_TARGET_MS = 20.0  # a tap must feel instant on the screen even offline


def ms(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return (statistics.median(ordered) * 1000,
            ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000)


def bench_append(folder: Path, n: int) -> tuple[tuple[float, float], tuple[float, float]]:
    plain = folder / "plain.log"
    fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    base = []
    record = b"x" * 199 + b"\n"
    for _ in range(n):
        started = time.perf_counter()
        os.write(fd, record)
        os.fsync(fd)
        base.append(time.perf_counter() - started)
    os.close(fd)
    journal = Journal(folder / "append.sqlite3")
    taken = []
    for k in range(n):
        started = time.perf_counter()
        journal.append("start_interval", 1, T0 + timedelta(seconds=k), code=CODES[k % 2],
                       performer="PT", user="Bench")
        taken.append(time.perf_counter() - started)
    journal.close()
    return ms(base), ms(taken)


class Offline(Exception):
    pass


def bench_replay(server, folder: Path, n: int) -> tuple[float, float]:
    """(online taps per second, replayed entries per second)."""
    uri = server.new_database()
    repo = open_repository(uri)
    clinic = build_clinic(repo)
    online = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    started = time.perf_counter()
    for k in range(n):
        repo.start_interval(online.id, CODES[k % 2], "PT", T0 + timedelta(seconds=k))
    online_rate = n / (time.perf_counter() - started)
    repo.pause_visit(online.id, T0 + timedelta(seconds=n))
    visit = repo.start_visit(clinic.other.id, clinic.pt.id, clinic.other_plan.id, T0)
    timers = JournaledTimers(repo, Journal(folder / "replay.sqlite3"))
    timers.get_visit(visit.id)
    timers.intervals_for(visit.id)
    timers._went_offline(Offline("benchmark: the server is away"))  # as a failed tap does
    for k in range(n):
        timers.start_interval(visit.id, CODES[k % 2], "PT", T0 + timedelta(seconds=k))
    assert timers.waiting == n
    started = time.perf_counter()
    assert timers.replay() is True
    replay_rate = n / (time.perf_counter() - started)
    assert timers.waiting == 0 and len(repo.intervals_for(visit.id)) == n
    timers.journal.close()
    repo.close()
    return online_rate, replay_rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer taps (a smoke run)")
    args = parser.parse_args(argv)
    n_append, n_replay = (50, 50) if args.quick else (300, 300)
    with tempfile.TemporaryDirectory(prefix="tt-journal-") as tmp, running_server() as server:
        folder = Path(tmp)
        (base, base95), (append, append95) = bench_append(folder, n_append)
        online, replay = bench_replay(server, folder, n_replay)
    print(f"Offline journal: {n_append} appends, {n_replay} taps replayed to a loopback "
          "PostgreSQL server (fsync on)")
    print(f"{'':40} {'median':>9} {'p95':>9}   ratio")
    print(f"{'baseline: 200 B write + fsync':40} {base:7.2f} ms {base95:6.2f} ms   1.00x")
    verdict = "OK" if append < APPEND_TARGET_MS else "MISSES"
    print(f"{'journal append (WAL, synchronous=FULL)':40} {append:7.2f} ms {append95:6.2f} ms"
          f"   {append / base:.2f}x   target < {APPEND_TARGET_MS:.0f} ms  {verdict}")
    print(f"{'':40} {'per second':>20}")
    print(f"{'baseline: taps sent online':40} {online:14.0f} taps   1.00x")
    print(f"{'journal replay':40} {replay:12.0f} entries   {replay / online:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
