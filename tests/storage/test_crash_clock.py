"""Crash safety with the clock set back (issue 11, item 4): a child records timers while its
wall clock is set back an hour now and then, during timers and across restarts, and is killed
with SIGKILL at random moments. After every kill the reopened database must be intact, every
stop must have stored what the monotonic clock measured (never the set-back wall clock's
shorter time), every heartbeat must keep the measured last-alive moment, and at each restart a
last-alive later than now must have been flagged and, stopped there, keep the measured minutes.
"""

from __future__ import annotations

import os
import random
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from therapy_timer.storage.repository import open_repository

from . import crash_clock_child
from .conftest import build_clinic
from .test_crash import _read_lines

KILLS = 60


class Expected:
    """What the child reported as committed, and what its monotonic clock measured."""

    def __init__(self) -> None:
        self.starts: dict[int, datetime] = {}
        self.stops: dict[int, tuple[datetime, int]] = {}
        self.alive: dict[int, datetime] = {}
        self.restart_wall: datetime | None = None
        self.flagged_at_restart: set[int] = set()
        self.flagged_behind = 0
        self.kept_measured = 0
        self.jumps = 0

    def apply(self, line: str) -> None:
        kind, *parts = line.split()
        if kind == "W":
            self.restart_wall = datetime.fromisoformat(parts[0])
            self.flagged_at_restart = set()
        elif kind == "B":
            self.flagged_at_restart.add(int(parts[0]))
            self.flagged_behind += 1
        elif kind == "R":
            interval_id, alive = int(parts[0]), datetime.fromisoformat(parts[1])
            if alive > self.restart_wall:  # the clock is behind: flagged like any jump
                assert interval_id in self.flagged_at_restart, line
            # the last-alive moment keeps every measured moment reported before the kill
            assert alive >= self.alive.get(interval_id, alive), line
            if parts[2] != "-":  # stopped at last alive (or at the end of the visit's day)
                end = min(alive, datetime.fromisoformat(parts[3]))
                assert datetime.fromisoformat(parts[2]) == end, line
                self.stops[interval_id] = (end, -1)
                if interval_id in self.flagged_at_restart:
                    self.kept_measured += 1
        elif kind == "S":
            self.starts[int(parts[0])] = datetime.fromisoformat(parts[1])
        elif kind == "E":
            interval_id, end = int(parts[0]), datetime.fromisoformat(parts[1])
            measured = int(parts[2])
            start = self.starts[interval_id]
            # The stored duration is the monotonic one, whatever the wall clock did.
            assert (end - start) // timedelta(seconds=1) == measured, line
            self.stops[interval_id] = (end, measured)
        elif kind == "A":
            self.alive[int(parts[0])] = datetime.fromisoformat(parts[1])
        elif kind == "J":
            self.jumps += 1

    def check(self, db: tuple[Path | str, str]) -> None:
        repo = open_repository(db[0])
        try:
            assert repo.integrity_check() == "ok"
            assert repo.audit_verify() is None
            for interval_id, start in self.starts.items():
                assert repo.get_interval(interval_id).start == start
            for interval_id, (end, _measured) in self.stops.items():
                assert repo.get_interval(interval_id).end == end, f"{interval_id} lost its stop"
            for item in repo.crashed_intervals():
                alive = self.alive.get(item.interval.id)
                if alive is not None:  # "stop at last alive" would keep the measured time
                    assert item.last_alive >= alive, item
        finally:
            repo.close()


@pytest.fixture
def crash_db(store_target, tmp_path) -> tuple[Path | str, str]:
    """The clinic (an SQLite file, or a database on the session's clinic server) and the
    file the child keeps the computer's clock in."""
    repo = open_repository(store_target)
    build_clinic(repo)
    repo.close()
    return store_target, str(tmp_path / "computer.wall")


def _fork_child(db: tuple[Path | str, str], seed: int) -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read_fd)
            target, clock_file = db
            crash_clock_child.run(str(target), seed,
                                  lambda line: os.write(write_fd, (line + "\n").encode()),
                                  clock_file)
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
def test_sigkill_with_the_clock_set_back_during_timers_and_across_restarts(crash_db):
    rng = random.Random(20261201)
    expected = Expected()
    for kill in range(KILLS):
        pid, fd = _fork_child(crash_db, seed=kill)
        buffer = bytearray()
        status = 0
        try:
            for line in _read_lines(fd, buffer, "READY", timeout=20):
                assert not line.startswith("ERROR"), f"kill {kill}: {line}"
                if line != "READY":
                    expected.apply(line)
            wanted = rng.randrange(2, 14)
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
        assert os.WIFSIGNALED(status), f"child {kill} exited by itself (status {status})"
        expected.check(crash_db)
    # The set-backs really happened, during timers and across restarts, and were survived.
    measured_stops = [m for _end, m in expected.stops.values() if m > 0]
    assert expected.jumps > KILLS // 4 and len(measured_stops) > KILLS // 4
    assert expected.flagged_behind > KILLS // 10
    assert expected.kept_measured > 0
