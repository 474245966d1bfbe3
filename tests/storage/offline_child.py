"""The offline test's station: reads its visit while the server answers, then (told "go" on
stdin, the relay cut meanwhile) taps stop and start, which land in its journal, reports
"kept N" and waits to be killed. ``python offline_child.py URI JOURNAL VISIT INTERVAL``.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

from therapy_timer.storage.journal import Journal
from therapy_timer.storage.offline import JournaledTimers
from therapy_timer.storage.repository import open_repository

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def main(uri: str, journal_file: str, visit_id: int, interval_id: int) -> None:
    repo = open_repository(uri)
    repo.station = "Room 2"  # the station the journal belongs to (as the app applies it)
    timers = JournaledTimers(repo, Journal(journal_file))
    timers.get_visit(visit_id)
    timers.intervals_for(visit_id)
    print("ready", flush=True)
    sys.stdin.readline()
    timers.stop_interval(interval_id, T0 + timedelta(minutes=10))
    timers.start_interval(visit_id, "97530", "PT", T0 + timedelta(minutes=10))
    print(f"kept {timers.waiting} offline={timers.offline}", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
