"""Two stations tapping the same tile of one visit at the same moment (issue 14, item 2): two
processes, each with its own connection, released together by a barrier, round after round.
Exactly one interval results each round; the other tap is refused naming the station that
won. And the database is the referee even for writers that skip the store's checks: two
plain inserts of a running interval race, and one is refused by the unique index."""

from __future__ import annotations

import multiprocessing
import queue as queues
from datetime import timedelta

import pytest

from therapy_timer.core.model import Performer
from therapy_timer.storage.repository import open_repository

from .conftest import T0

ROUNDS = 8
TIMEOUT = 60


def _tap_rounds(target, station, visit_ids, barrier, results) -> None:
    """A station's process: for each visit, wait for the other, then tap 97110."""
    from therapy_timer.storage.errors import VisitHeldElsewhereError

    repo = open_repository(target)
    repo.station = station
    try:
        for n, visit_id in enumerate(visit_ids):
            barrier.wait(TIMEOUT)
            try:
                repo.start_interval(visit_id, "97110", Performer.PT,
                                    T0 + timedelta(minutes=n))
                results.put((station, visit_id, "started"))
            except VisitHeldElsewhereError as exc:
                results.put((station, visit_id, f"held by {exc.station}"))
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
        results.put((station, None, f"error {exc!r}"))
    finally:
        repo.close()


def _raw_inserts(target, visit_ids, barrier, results) -> None:
    """A writer that skips the store (no write lock, no check): plain SQL on a connection."""
    if isinstance(target, str):
        import psycopg

        conn = psycopg.connect(target, autocommit=False)
        sql = ('INSERT INTO intervals (visit_id, code, start, "end", performer, station)'
               " VALUES (%s, '97110', '2026-11-20T15:00:00+00:00', NULL, 'PT', 'raw')")
        errors = (psycopg.Error,)
    else:
        import sqlite3

        conn = sqlite3.connect(target, timeout=30)
        sql = ('INSERT INTO intervals (visit_id, code, start, "end", performer, station)'
               " VALUES (?, '97110', '2026-11-20T15:00:00+00:00', NULL, 'PT', 'raw')")
        errors = (sqlite3.Error,)
    for visit_id in visit_ids:
        barrier.wait(TIMEOUT)
        try:
            conn.execute(sql, (visit_id,))
            conn.commit()
            results.put((visit_id, "inserted"))
        except errors as exc:
            conn.rollback()
            results.put((visit_id, f"refused {exc}"))
    conn.close()


def _race(target, worker, args_by_process):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(args_by_process))
    results = context.Queue()
    processes = [context.Process(target=worker, args=(target, *args, barrier, results))
                 for args in args_by_process]
    for process in processes:
        process.start()
    out = []
    try:
        expected = sum(len(args[-1]) for args in args_by_process)
        for _ in range(expected):
            out.append(results.get(timeout=TIMEOUT))
    except queues.Empty:
        pytest.fail(f"the racing processes answered {out} only")
    finally:
        for process in processes:
            process.join(TIMEOUT)
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return out


@pytest.fixture
def visits(clinic):
    repo = clinic.repo
    return [repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0).id
            for _ in range(ROUNDS)]


def test_two_stations_tapping_one_tile_at_once_make_exactly_one_interval(clinic, visits):
    repo = clinic.repo
    answers = _race(repo.target, _tap_rounds,
                    [("Room 1", visits), ("Room 2", visits)])
    assert not [a for a in answers if a[2].startswith("error")], answers
    for visit_id in visits:
        mine = sorted(a[2] for a in answers if a[1] == visit_id)
        [interval] = repo.intervals_for(visit_id)  # never two, never none
        winner = interval.station
        loser = "Room 2" if winner == "Room 1" else "Room 1"
        assert mine == ["held by " + winner, "started"], (visit_id, answers)
        assert (winner, loser) in (("Room 1", "Room 2"), ("Room 2", "Room 1"))
        assert [a[0] for a in answers if a[1] == visit_id and a[2] == "started"] == [winner]
        assert interval.end is None


def test_the_database_refuses_the_second_of_two_plain_inserts_racing(clinic, visits):
    repo = clinic.repo
    answers = _race(repo.target, _raw_inserts, [(visits,), (visits,)])
    for visit_id in visits:
        outcomes = sorted(a[1].split()[0] for a in answers if a[0] == visit_id)
        assert outcomes == ["inserted", "refused"], answers
        assert len(repo.intervals_for(visit_id)) == 1
    refusals = [a[1] for a in answers if a[1].startswith("refused")]
    assert all("unique" in text.lower() or "intervals_one_running" in text
               for text in refusals), refusals
