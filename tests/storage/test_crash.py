"""Crash safety: a real child process records timers and is killed with SIGKILL at random
moments; after every kill the reopened database must be intact, hold every change the child
had reported as committed, and show running timers with their heartbeat for recovery."""

from __future__ import annotations

import os
import random
import selectors
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from therapy_timer.core.records import VisitStatus
from therapy_timer.storage.repository import open_repository

from . import crash_child
from .conftest import build_clinic

KILLS = 200


class Expected:
    """What the child reported as committed."""

    def __init__(self) -> None:
        self.intervals: dict[int, dict] = {}
        self.heartbeat: datetime | None = None
        self.finalized: dict[int, int] = {}
        self.voided: set[int] = set()
        self.amended: dict[int, int] = {}
        self.recovered = 0
        self.lines = 0

    def entry(self, interval_id: int) -> dict:
        """An interval's record (its start may have committed just before an unreported kill)."""
        return self.intervals.setdefault(interval_id, {"start": None, "end": None})

    def apply(self, line: str) -> None:
        parts = line.split()
        self.lines += 1
        kind = parts[0]
        if kind == "S":
            self.intervals[int(parts[1])] = {"visit": int(parts[2]),
                                             "start": datetime.fromisoformat(parts[3]),
                                             "end": None}
        elif kind == "E":
            entry = self.entry(int(parts[1]))
            entry["end"] = datetime.fromisoformat(parts[2])
            entry["pending_edits"] = 0
        elif kind == "H":  # every interval running now was marked alive at this moment
            self.heartbeat = datetime.fromisoformat(parts[1])
            for entry in self.intervals.values():
                if entry["end"] is None and entry["start"] is not None:
                    entry["alive"] = self.heartbeat
        elif kind == "P":  # an edit is about to be written: it may land unreported
            entry = self.entry(int(parts[1]))
            entry["pending_edits"] = entry.get("pending_edits", 0) + 1
        elif kind == "F":
            self.finalized[int(parts[1])] = int(parts[2])
        elif kind == "X":
            self.voided.add(int(parts[1]))
        elif kind == "A":
            self.amended[int(parts[1])] = int(parts[2])
        elif kind == "R":
            self.recovered += 1
            interval_id, alive, end = int(parts[1]), parts[2], parts[3]
            if end != "-":
                # Stopped at the last moment the app was alive, or at the end of the visit's
                # day when that came first (the midnight edge, issue 16).
                alive_at, day_end = datetime.fromisoformat(alive), datetime.fromisoformat(parts[4])
                assert datetime.fromisoformat(end) == min(alive_at, day_end)
                entry = self.entry(interval_id)
                entry["end"] = datetime.fromisoformat(end)

    def check(self, db: Path | str) -> int:
        """Reopens the database and checks everything reported; returns running count."""
        repo = open_repository(db)
        try:
            assert repo.integrity_check() == "ok"
            assert repo.audit_verify() is None
            for interval_id, want in self.intervals.items():
                got = repo.get_interval(interval_id)  # NotFoundError if it were lost
                if want["start"] is not None:
                    assert got.start == want["start"]
                if want["end"] is not None:
                    # Each edit moves the end back one second; several may have landed
                    # unreported, one per kill, before the next one was reported.
                    allowed = {max(got.start, want["end"] - timedelta(seconds=k))
                               for k in range(want.get("pending_edits", 0) + 1)}
                    assert got.end in allowed, f"interval {interval_id} lost its stop"
            crashed = repo.crashed_intervals()
            for item in crashed:
                interval = item.interval
                assert interval.heartbeat is not None
                assert item.last_alive >= interval.start
                alive = self.intervals.get(interval.id, {}).get("alive")
                if alive is not None:
                    assert item.last_alive >= alive
            for visit_id, count in self.finalized.items():
                status = repo.get_visit(visit_id).status
                assert status in (VisitStatus.FINALIZED, VisitStatus.AMENDED)
                assert len(repo.charge_lines(visit_id)) == count
            for visit_id in self.voided:
                assert repo.get_visit(visit_id).status is VisitStatus.VOID
            for original, new in self.amended.items():
                assert repo.get_visit(original).status is VisitStatus.AMENDED
                assert repo.get_visit(new).amends_id == original
            return len(crashed)
        finally:
            repo.close()


@pytest.fixture
def crash_db(store_target) -> Path | str:
    """The clinic the child records into: an SQLite file, or a database on the session's
    clinic server (the child then dies with its transaction open on the server, which rolls
    it back when the connection goes)."""
    repo = open_repository(store_target)
    build_clinic(repo)
    repo.close()
    return store_target


def _read_lines(fd: int, buffer: bytearray, until: str | None, timeout: float,
                at_most: int | None = None) -> list[str]:
    """Reads complete lines from ``fd``; stops after ``until``, ``at_most`` lines, or EOF."""
    lines: list[str] = []
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while True:
            while b"\n" in buffer:
                raw, _, rest = bytes(buffer).partition(b"\n")
                buffer[:] = rest
                lines.append(raw.decode())
                if (until is not None and lines[-1] == until) or len(lines) == at_most:
                    return lines
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"child silent for {timeout} s; last lines {lines[-3:]}")
            if not selector.select(left):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return lines
            buffer.extend(chunk)
    finally:
        selector.close()


def _fork_child(db: Path | str, seed: int) -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read_fd)

            def write(line: str) -> None:
                os.write(write_fd, (line + "\n").encode())

            crash_child.run(str(db), seed, write)
        except BaseException as exc:  # report, then die
            try:
                os.write(write_fd, f"ERROR {type(exc).__name__}: {exc}\n".encode())
            finally:
                code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_committed(crash_db):
    rng = random.Random(20261120)
    expected = Expected()
    running_after_kill = 0
    for kill in range(KILLS):
        pid, fd = _fork_child(crash_db, seed=kill)
        buffer = bytearray()
        try:
            lines = _read_lines(fd, buffer, "READY", timeout=20)
            for line in lines:
                assert not line.startswith("ERROR"), line
                if line != "READY":
                    expected.apply(line)
            # Let it commit a random number of changes (so the test works under load too),
            # then kill it a random moment later: often in the middle of a transaction.
            wanted = rng.randrange(0, 6)
            while wanted > 0:
                more = _read_lines(fd, buffer, None, timeout=20, at_most=wanted)
                assert more, f"child {kill} stopped talking"
                for line in more:
                    assert not line.startswith("ERROR"), f"kill {kill}: {line}"
                    expected.apply(line)
                wanted -= len(more)
            time.sleep(rng.uniform(0.0, 0.008))
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            for line in _read_lines(fd, buffer, None, timeout=20):
                assert not line.startswith("ERROR"), f"kill {kill}: {line}"
                expected.apply(line)
        finally:
            os.close(fd)
            if os.WIFSIGNALED(status) is False:
                pytest.fail(f"child {kill} exited by itself (status {status})")
        running_after_kill += expected.check(crash_db)
    # The kills really landed mid-work: timers were running and were recovered.
    assert len(expected.intervals) > KILLS // 2
    assert running_after_kill > KILLS // 10
    assert expected.recovered > KILLS // 10
    assert expected.finalized


def test_sigkill_of_a_fresh_interpreter(crash_db):
    """The same, with the child as a separate Python program (not a fork)."""
    script = Path(crash_child.__file__)
    root = Path(__file__).resolve().parents[2]
    expected = Expected()
    env = {**os.environ, "PYTHONPATH": str(root)}
    for seed in range(5):
        child = subprocess.Popen([sys.executable, str(script), str(crash_db), str(1000 + seed)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        buffer = bytearray()
        fd = child.stdout.fileno()
        for line in _read_lines(fd, buffer, "READY", timeout=30):
            if line != "READY":
                expected.apply(line)
        # Let it work until at least ten more changes are on disk, then kill. A child that
        # dies early fails the test with its own error instead of hanging it.
        seen = 0
        while seen < 10:
            more = _read_lines(fd, buffer, None, timeout=30, at_most=10 - seen)
            if not more:
                child.wait(timeout=10)
                pytest.fail(f"child {seed} died early (exit {child.returncode}): "
                            f"{child.stderr.read().decode(errors='replace')[-2000:]}")
            for line in more:
                assert not line.startswith("ERROR"), f"child {seed}: {line}"
                expected.apply(line)
            seen += len(more)
        child.send_signal(signal.SIGKILL)
        child.wait()
        for line in _read_lines(fd, buffer, None, timeout=10):
            expected.apply(line)
        child.stdout.close()
        child.stderr.close()
        assert child.returncode == -signal.SIGKILL
        expected.check(crash_db)
    assert len(expected.intervals) >= 5
