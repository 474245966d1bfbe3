"""The visit store on both databases side by side, in one run: the embedded SQLite file and a
PostgreSQL clinic server on loopback (issue 13).

Each figure is measured through the repository on both, beside the plain driver's cost of the
same kind of work measured in the same run:

- a timer tap committed (a code tile pressed: the running one-on-one timer stops, the new one
  starts, both audit-logged, one durable commit); target: median under 5 ms on the server;
- the 10-year clinic's queries (a day's visit list, a patient's history, a patient's KX year
  to date); target: each under 10 ms;
- finalizing a visit (the engine's billing plus the committed write).

The clinic is the one ``benchmarks/store.py`` builds (``--scale``, ``--quick`` as there),
written to an SQLite file and copied to the server with a bulk COPY per table (triggers laid
aside for the copy by ``session_replication_role``, identities moved past the copied ids):
a quick copy for measuring, not ``server migrate``. The server is a throwaway one started in a
temporary folder as the tests start theirs (``tests/pg_server.py``), with fsync on.

Run: .venv/bin/python benchmarks/server.py [--scale 0.1] [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from store import END, build, iso, median_ms  # noqa: E402

from tests.pg_server import Server  # noqa: E402
from therapy_timer.storage.repository import open_repository  # noqa: E402

TAP_TARGET_MS = 5.0
QUERY_TARGET_MS = 10.0
TAP_CODES = ["97110", "97140", "97530", "97112"]


class BenchServer(Server):
    """The tests' throwaway server with PostgreSQL's own memory settings (as a clinic's
    server is installed), not the tests' smaller ones."""

    def start(self) -> BenchServer:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder}"
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.folder / "log", "-w",
                  "-t", "60", "-o", options, "start")
        return self


def copy_to_server(sqlite_path: Path, server: Server) -> tuple[str, float, int]:
    """A new server database holding the SQLite clinic: (its URI, seconds, rows copied)."""
    import psycopg

    uri = server.new_database()
    open_repository(uri).close()  # the schema, migrated as a station would find it
    started = time.perf_counter()
    source = sqlite3.connect(sqlite_path)
    tables = [name for (name,) in source.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " ORDER BY name")]
    rows = 0
    with psycopg.connect(uri) as target:
        target.execute("SET session_replication_role = replica")  # no triggers, no FK checks
        present = {name for (name,) in target.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        copied = [t for t in tables if t in present and t != "therapy_timer_meta"]
        target.execute("TRUNCATE " + ", ".join(copied))
        for table in copied:
            pg_columns = {name for (name,) in target.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
                (table,))}
            columns = [r[1] for r in source.execute(f'PRAGMA table_info("{table}")')
                       if r[1] in pg_columns]
            quoted = ", ".join(f'"{c}"' for c in columns)
            with target.cursor().copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
                for row in source.execute(f'SELECT {quoted} FROM "{table}"'):
                    copy.write_row(row)
                    rows += 1
            if "id" in columns:
                target.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" GREATEST((SELECT max(id) FROM \"{table}\"), 1))")
        target.commit()
    source.close()
    with psycopg.connect(uri, autocommit=True) as target:
        target.execute("VACUUM ANALYZE")
    return uri, time.perf_counter() - started, rows


def prepare_visits(repo, patients: list[int], now: datetime) -> list[int]:
    """Open visits with five intervals each, ready to finalize (one per patient)."""
    visits = []
    for patient in patients:
        plan = repo._row("SELECT therapist_id FROM plans WHERE id = ?", (patient,))[0]
        start = now - timedelta(hours=10)
        visit = repo.start_visit(patient, plan, patient, start)
        moment = start
        for code in ("97110", "97140", "97530", "97112", "97110"):
            repo.start_interval(visit.id, code, repo.get_provider(plan).role, moment)
            moment += timedelta(minutes=9)
        repo.pause_visit(visit.id, moment)
        repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
        visits.append(visit.id)
    return visits


class Station:
    """One database's store, with what the figures need ready (a visit to tap on, visits
    to finalize)."""

    def __init__(self, target, samples: dict, rounds: int) -> None:
        self.repo = repo = open_repository(target)
        last = date.fromisoformat(repo._row("SELECT max(day) FROM visits")[0])
        self.now = datetime(last.year, last.month, last.day, 23, 0, tzinfo=UTC)
        self.days = iter(samples["days"] * 100)
        self.patients = iter(samples["patients"] * 100)
        # Timer taps on a visit of the next day: each tap switches the running timer.
        self.tomorrow = self.now + timedelta(days=1, hours=-14)
        patient = samples["tap_patient"]
        plan = repo._row("SELECT therapist_id FROM plans WHERE id = ?", (patient,))[0]
        self.visit = repo.start_visit(patient, plan, patient, self.tomorrow)
        self.role = repo.get_provider(plan).role
        self.taps = 0
        self.rounds = rounds
        self.finalize_at = self.now + timedelta(days=2)
        self.prepared = iter(prepare_visits(repo, samples["finalize_patients"],
                                            self.finalize_at))

    def tap(self) -> None:
        self.taps += 1
        self.repo.start_interval(self.visit.id, TAP_CODES[self.taps % len(TAP_CODES)],
                                 self.role, self.tomorrow + timedelta(seconds=20 * self.taps))

    def day(self) -> None:
        self.repo.visits_on(next(self.days), self.now)

    def history(self) -> None:
        self.repo.visits_for_patient(next(self.patients))

    def kx(self) -> None:
        self.repo.kx_year_to_date(next(self.patients), END.year, "PT+SLP")

    def finalize(self) -> None:
        self.repo.finalize_visit(next(self.prepared), None, "bench", self.finalize_at)

    def close(self) -> None:
        self.repo.close()


def paired_medians(stations: dict[str, Station], name: str, repeat: int) -> dict[str, float]:
    """Median ms of ``name`` on each station, the calls alternating between the databases
    (so both see the same load of a shared machine)."""
    samples: dict[str, list[float]] = {key: [] for key in stations}
    for _ in range(repeat):
        for key, station in stations.items():
            started = time.perf_counter()
            getattr(station, name)()
            samples[key].append(time.perf_counter() - started)
    return {key: statistics.median(values) * 1000 for key, values in samples.items()}


def plain_commits(sqlite_path: Path, uri: str, rounds: int) -> tuple[float, float]:
    """The driver's own cost of one durable one-row commit, on each database."""
    import psycopg

    lite = sqlite3.connect(sqlite_path, isolation_level=None)
    lite.execute("PRAGMA synchronous = FULL")
    lite.execute("CREATE TABLE IF NOT EXISTS bench_commit (id INTEGER PRIMARY KEY, at TEXT)")

    def lite_commit():
        lite.execute("BEGIN IMMEDIATE")
        lite.execute("INSERT INTO bench_commit (at) VALUES (?)", (iso(datetime.now(UTC)),))
        lite.execute("COMMIT")

    lite_ms = median_ms(lite_commit, repeat=rounds)
    lite.execute("DROP TABLE bench_commit")
    lite.close()
    with psycopg.connect(uri, autocommit=True) as pg:
        pg.execute("CREATE TABLE bench_commit (id bigint GENERATED ALWAYS AS IDENTITY, at text)")

        def pg_commit():
            with pg.transaction():
                pg.execute("INSERT INTO bench_commit (at) VALUES (%s)",
                           (iso(datetime.now(UTC)),))

        pg_ms = median_ms(pg_commit, repeat=rounds)
        pg.execute("DROP TABLE bench_commit")
    return lite_ms, pg_ms


def time_migrate(sqlite_path: Path, server: Server) -> tuple[float, int, int]:
    """``server migrate`` as the administrator runs it (``transfer.copy_clinic``), into a new
    empty clinic database: seconds, rows copied, audit entries among them."""
    from therapy_timer.storage.pg.transfer import copy_clinic

    target = server.new_database()
    open_repository(target).close()  # what server init leaves: the schema, no records
    started = time.perf_counter()
    result = copy_clinic(sqlite_path, target)
    seconds = time.perf_counter() - started
    if not (result.source_report.ok and result.target_report.ok):
        raise SystemExit(f"server migrate: verify failed: {result.target_report.problems[:3]}")
    return seconds, sum(result.counts.values()), result.counts.get("audit_log", 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the 10-year clinic (default 1.0)")
    parser.add_argument("--quick", action="store_true", help="same as --scale 0.05")
    args = parser.parse_args()
    scale = 0.05 if args.quick else args.scale
    rounds = 30 if args.quick else 60
    with tempfile.TemporaryDirectory(prefix="tt-bench-server-") as tmp:
        path = Path(tmp) / "bench.db"
        started = time.perf_counter()
        counts = build(path, scale)
        print(f"clinic: {counts['visits']:,} visits, {counts['intervals']:,} intervals, "
              f"{counts['audit']:,} audit entries (scale {scale}); SQLite file built in "
              f"{time.perf_counter() - started:.1f} s")
        server = BenchServer().init().start()  # its own folder, owned by postgres
        try:
            version = server.sql("SHOW server_version")[0][0].split()[0]
            buffers = server.sql("SHOW shared_buffers")[0][0]
            uri, seconds, rows = copy_to_server(path, server)
            print(f"PostgreSQL {version} on 127.0.0.1 (fsync on, shared_buffers {buffers}): "
                  f"{rows:,} rows copied in "
                  f"{seconds:.1f} s (bulk COPY)")
            rng = random.Random(7)
            plain = sqlite3.connect(path)
            days = [r[0] for r in plain.execute("SELECT DISTINCT day FROM visits")]
            max_patient = plain.execute("SELECT max(id) FROM patients").fetchone()[0]
            plain.close()
            picked = rng.sample(range(1, max_patient + 1), min(21, max_patient))
            samples = {"days": [date.fromisoformat(rng.choice(days)) for _ in range(30)],
                       "patients": [rng.randrange(1, max_patient + 1) for _ in range(30)],
                       "tap_patient": picked[0], "finalize_patients": picked[1:]}
            stations = {"SQLite file": Station(path, samples, rounds),
                        "PostgreSQL": Station(uri, samples, rounds)}
            figures = {name: paired_medians(stations, name, repeat)
                       for name, repeat in (("tap", rounds), ("day", 30), ("history", 30),
                                            ("kx", 30),
                                            ("finalize", len(samples["finalize_patients"])))}
            for station in stations.values():
                station.close()
            ours = {key: {name: figures[name][key] for name in figures} for key in stations}
            lite_commit, pg_commit = plain_commits(path, uri, rounds)
            migrated = time_migrate(path, server)
            load = os.getloadavg()[0]
        finally:
            server.destroy()
    rows_out = [
        ("a timer tap committed (switch timers)", "tap", TAP_TARGET_MS),
        ("a day's visit list", "day", QUERY_TARGET_MS),
        ("a patient's history", "history", QUERY_TARGET_MS),
        ("a patient's KX year to date", "kx", QUERY_TARGET_MS),
        ("finalizing a visit (engine + commit)", "finalize", None),
    ]
    print(f"\n{'operation (medians, through the store)':42} {'SQLite':>9} {'PostgreSQL':>11}"
          "  target on the server")
    worst = []
    for name, key, target in rows_out:
        lite, pg = ours["SQLite file"][key], ours["PostgreSQL"][key]
        verdict = "" if target is None else (
            f"< {target:.0f} ms  {'ok' if pg < target else 'SLOW'}")
        if target is not None and pg >= target:
            worst.append(name)
        print(f"{name:42} {lite:7.2f}ms {pg:9.2f}ms  {verdict}")
    print(f"{'baseline: one-row durable commit, driver':42} {lite_commit:7.2f}ms "
          f"{pg_commit:9.2f}ms  (sqlite3 / psycopg, same run)")
    print(f"timer tap on the server: {ours['PostgreSQL']['tap'] / pg_commit:.1f}x the "
          "driver's bare commit (the tap also reads the visit, checks the provider, stops "
          "the running timer and appends two audit entries, under the clinic's write lock)")
    seconds, copied, audit_rows = migrated
    print(f"server migrate of this clinic (the command's own copy: the file checked and "
          f"verified, one COPY transaction, verify on the copy before it commits): "
          f"{copied:,} rows ({audit_rows:,} audit entries) in {seconds:.1f} s")
    print(f"load average during the run: {load:.1f} on {os.cpu_count()} cores (calls "
          "alternate between the two databases, so both see the same load)")
    print("all targets met" if not worst else f"OVER target: {', '.join(worst)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
