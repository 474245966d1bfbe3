"""The clock-set-back crash test's child: runs timers like the app, with a wall clock that is
set back an hour now and then (during timers, and across restarts), until it is SIGKILLed.

It keeps its own pair of clocks: ``wall`` (what the computer says; set back at times) and
``mono`` (the monotonic clock, never set back). Like the app it compares them at each step
(``JUMP_TOLERANCE_SECONDS``), flags a jump in the store, writes a heartbeat, and at start-up
flags timers whose last-alive moment is later than now, then resolves them. After each call
returns it writes one line saying what is now on disk and what its monotonic clock measured;
the parent checks every line against the reopened database.

Lines: ``W wall`` (started; the restart's wall time), ``B id`` (flagged at the restart),
``R id alive end|- day_end`` (recovered), ``S id start`` (started here), ``E id end measured``
(stopped here, with the seconds its monotonic clock measured), ``A id alive`` (heartbeat: alive
at this measured moment), ``J`` (a clock change during timers was flagged).
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta

from therapy_timer.core.model import Performer
from therapy_timer.storage.recovery import Resolution
from therapy_timer.storage.repository import open_repository

TOLERANCE = 10.0
CODES = ["97110", "97140", "97530", "97010"]
SET_BACK = timedelta(hours=1)
#: The computer's clock when the test begins: 07:00 in Chicago (the clinic's zone). Changes
#: keep it between 05:00 and 11:00 there, and no timer is kept running past two hours, so
#: the runs stay on one clinic day.
FIRST_WALL = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
LONGEST = timedelta(hours=2)
FLOOR, CEILING = FIRST_WALL - 2 * SET_BACK, FIRST_WALL + 4 * SET_BACK


def _changed(rng: random.Random, wall: datetime) -> datetime:
    """The wall clock set back an hour (mostly), or set forward again."""
    if wall - SET_BACK >= FLOOR and (rng.random() < 0.7 or wall + SET_BACK > CEILING):
        return wall - SET_BACK
    return wall + SET_BACK if wall + SET_BACK <= CEILING else wall


def _computer_clock(clock_file: str) -> datetime:
    """The computer's wall clock goes on while the app is down: kept in a file of the
    computer's (beside the SQLite database, or in the test's folder for a server's)."""
    try:
        with open(clock_file, encoding="ascii") as handle:
            return datetime.fromisoformat(handle.read().strip())
    except FileNotFoundError:
        return FIRST_WALL


def _keep_computer_clock(clock_file: str, wall: datetime) -> None:
    part = clock_file + ".part"
    with open(part, "w", encoding="ascii") as handle:
        handle.write(wall.isoformat())
    os.replace(part, clock_file)


def run(db_path: str, seed: int, write, clock_file: str | None = None) -> None:
    """Loops forever (until killed); ``write(line)`` must flush before returning.
    ``db_path`` is the SQLite file or the server's URI; ``clock_file`` where the computer's
    clock is kept (default: beside the SQLite file)."""
    rng = random.Random(seed)
    clock_file = clock_file or db_path + ".wall"
    repo = open_repository(db_path)
    wall = _computer_clock(clock_file) + timedelta(seconds=rng.randrange(1, 60))  # down a while
    if rng.random() < 0.5:  # the clock was changed while the app was closed
        wall = _changed(rng, wall)
    write(f"W {wall.isoformat()}")
    crashed = repo.crashed_intervals()
    for flagged in repo.flag_clock_behind(wall, crashed, user="crash"):
        write(f"B {flagged.id}")
    for item in repo.crashed_intervals():
        day = repo.get_visit(item.interval.visit_id).day
        choice = rng.choice([Resolution.KEEP_RUNNING, Resolution.STOP_AT_LAST_ALIVE,
                             Resolution.STOP_AT_LAST_ALIVE])
        if day < repo.service_day(wall) or item.last_alive - item.interval.start > LONGEST:
            choice = Resolution.STOP_AT_LAST_ALIVE
        done = repo.resolve_crashed(item.interval.id, choice, user="crash", now=wall)
        write(f"R {done.id} {item.last_alive.isoformat()} "
              f"{done.end.isoformat() if done.end else '-'} "
              f"{repo.day_bounds(day)[1].isoformat()}")
    visit = repo.start_visit(1, 1, 1, wall)
    mono = 0.0
    last_wall, last_mono = wall, mono
    started: dict[int, float] = {}  # interval id -> monotonic reading at its start
    write("READY")
    while True:
        step = rng.randrange(5, 30)
        wall += timedelta(seconds=step)
        mono += step
        if started and rng.random() < 0.25:  # someone changes the clock while a timer runs
            wall = _changed(rng, wall)
        _keep_computer_clock(clock_file, wall)
        wall_delta = (wall - last_wall).total_seconds()
        real_delta = mono - last_mono
        if abs(wall_delta - real_delta) > TOLERANCE:  # what ClockWatch.check does
            repo.flag_clock_jump(last_wall, wall, wall_delta, real_delta, user="crash")
            write("J")
        last_wall, last_mono = wall, mono
        running = {i.id: i for i in repo.intervals_for(visit.id) if i.running}
        roll = rng.random()
        if roll < 0.35:
            started_now = repo.start_interval(visit.id, rng.choice(CODES), Performer.PT, wall)
            started[started_now.id] = mono
            write(f"S {started_now.id} {started_now.start.isoformat()}")
            for interval in repo.intervals_for(visit.id):
                if interval.id in running and not interval.running and interval.id in started:
                    write(f"E {interval.id} {interval.end.isoformat()} "
                          f"{int(mono - started.pop(interval.id))}")
        elif roll < 0.55 and running:
            target = rng.choice(sorted(running))
            stopped = repo.stop_interval(target, wall)
            if target in started:
                write(f"E {stopped.id} {stopped.end.isoformat()} "
                      f"{int(mono - started.pop(target))}")
        repo.heartbeat(wall)
        for interval_id, at_start in started.items():
            interval = repo.get_interval(interval_id)
            if interval.running:
                alive = interval.start + timedelta(seconds=mono - at_start)
                write(f"A {interval_id} {alive.isoformat()}")
