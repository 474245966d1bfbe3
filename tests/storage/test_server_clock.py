"""One clock for the clinic (issue 14, item 3), the store's side: a station measures its
clock's offset from the server's with one round trip (NTP-style), keeps the best of a few
samples, and corrects what it stores with it (``repo.server_now()``, ``repo.clock``). On the
embedded file there is one computer: the offset is 0.

The test server runs on this machine, so its clock is the system clock: a station clock
deliberately off by +90 s must measure an offset of -90 s, to within the round trip.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from therapy_timer.core.records import Patient
from therapy_timer.storage.errors import ConnectionLostError
from therapy_timer.storage.repository import open_repository
from therapy_timer.storage.server_clock import MAX_DRIFT, ClockReading, better

AT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


class SkewedClock:
    """This computer's clocks, the wall clock off by ``skew`` seconds (a station whose clock
    is wrong); the monotonic clock is the real one."""

    def __init__(self, skew: float) -> None:
        self.skew = skew

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.skew)

    def monotonic(self) -> float:
        return time.monotonic()


def server_now(uri: str) -> datetime:
    import psycopg

    with psycopg.connect(uri, autocommit=True) as conn:
        return conn.execute("SELECT clock_timestamp()").fetchone()[0]


@pytest.fixture
def server_repo(pg_database):
    repo = open_repository(pg_database)
    yield repo
    repo.close()


@pytest.mark.parametrize("skew", [90.0, -200.0])
def test_the_offset_is_measured_within_the_round_trip(server_repo, skew):
    reading = server_repo.measure_clock(SkewedClock(skew), samples=3)
    assert reading is server_repo.clock_reading
    assert 0 < reading.round_trip < 1.0
    assert abs(reading.offset - (-skew)) <= reading.round_trip
    assert server_repo.clock_offset == reading.offset


def test_the_repository_measures_when_it_connects(server_repo):
    # the computer's own clock is the server's here: the offset is no more than the round trip
    reading = server_repo.clock_reading
    assert reading is not None
    assert abs(reading.offset) <= reading.round_trip
    assert abs(server_repo.clock_offset) < 0.5


@pytest.mark.parametrize("skew", [90.0, -200.0])
def test_server_now_and_the_audit_time_are_the_servers(server_repo, pg_database, skew):
    server_repo.measure_clock(SkewedClock(skew), samples=3)
    before = server_now(pg_database)
    corrected = server_repo.server_now()
    saved = server_repo.save_patient(Patient("Cleo", "Sample", None, chart_number="C1"))
    after = server_now(pg_database)
    assert before - timedelta(seconds=0.5) <= corrected <= after + timedelta(seconds=0.5)
    # a change that takes no ``now`` is audited at repo.clock(): the server's time too
    at = server_repo._row("SELECT at FROM audit_log WHERE entity = 'patient' AND entity_id = ?",
                          (saved.id,))["at"]
    stored = datetime.fromisoformat(at)
    assert before - timedelta(seconds=0.5) <= stored <= after + timedelta(seconds=0.5)


def test_a_station_clock_changed_since_is_taken_up_at_the_next_sample(server_repo):
    station = SkewedClock(0.0)
    server_repo.measure_clock(station, samples=3)
    assert abs(server_repo.clock_offset) < 0.5
    station.skew = -3600.0  # someone sets this computer's clock back an hour
    server_repo.measure_clock()  # a heartbeat's one sample
    assert abs(server_repo.clock_offset - 3600.0) < 0.5


def test_a_server_not_answering_keeps_the_reading_in_use(server_repo, monkeypatch):
    kept = server_repo.measure_clock(SkewedClock(90.0), samples=3)

    def away(conn):
        raise ConnectionLostError("the clinic server is not answering")

    monkeypatch.setattr("therapy_timer.storage.dialect.server_epoch", away)
    with pytest.raises(ConnectionLostError):
        server_repo.measure_clock()
    assert server_repo.clock_reading is kept


def test_on_the_embedded_file_the_offset_is_zero(tmp_path):
    repo = open_repository(tmp_path / "clinic.db")
    try:
        assert repo.clock_offset == 0.0
        assert repo.measure_clock(SkewedClock(90.0), samples=3) is None
        assert repo.clock_reading is None
        assert repo.clock_offset == 0.0
        # the one computer's clock, as it reads (no correction): 90 s ahead of real time here
        ahead = (repo.server_now() - datetime.now(UTC)).total_seconds()
        assert 89.5 < ahead < 90.5
    finally:
        repo.close()


def reading(offset: float, round_trip: float, at: float) -> ClockReading:
    return ClockReading(offset, round_trip, at, AT)


# (kept offset, kept round trip, kept at; new offset, new round trip, new at; which is kept)
KEEP_TABLE = [
    # as precise or better: the new one
    (-90.000, 0.004, 0.0, -90.001, 0.004, 5.0, "new"),
    (-90.000, 0.004, 0.0, -90.001, 0.002, 5.0, "new"),
    # a slow answer that agrees: the precise one stays
    (-90.000, 0.004, 0.0, -90.100, 0.400, 5.0, "old"),
    # a slow answer that disagrees beyond both bounds (0.2 + 0.002 + aging): a clock moved
    (-90.000, 0.004, 0.0, -89.700, 0.400, 5.0, "new"),
    # an old precise reading has aged: after 1000 s its bound is 0.002 + 0.5 = 0.502 s
    (-90.000, 0.004, 0.0, -90.100, 0.400, 1000.0, "new"),
    # ... but not yet after 100 s (0.052 s < 0.2 s) and within it: kept
    (-90.000, 0.004, 0.0, -90.010, 0.400, 100.0, "old"),
]


@pytest.mark.parametrize(("old_offset", "old_rtt", "old_at", "new_offset", "new_rtt",
                          "new_at", "kept"), KEEP_TABLE)
def test_which_reading_is_kept(old_offset, old_rtt, old_at, new_offset, new_rtt, new_at, kept):
    old = reading(old_offset, old_rtt, old_at)
    new = reading(new_offset, new_rtt, new_at)
    assert better(old, new) is (new if kept == "new" else old)
    assert better(None, new) is new


def test_a_reading_ages_at_the_drift_bound():
    assert MAX_DRIFT == 500e-6
    assert reading(0.0, 0.010, 100.0).aged_error(1100.0) == pytest.approx(0.005 + 0.5)
    assert reading(0.0, 0.010, 100.0).aged_error(50.0) == pytest.approx(0.005)
