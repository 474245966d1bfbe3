"""The log file is rotated when the app starts: sizes, order of the old files, the limit."""

from __future__ import annotations

import pytest

from therapy_timer.logging_setup import rotate

pytestmark = pytest.mark.sqlite_only("the app's own log files: no clinic database is opened")


def test_small_or_missing_log_is_left_alone(tmp_path):
    log = tmp_path / "app.log"
    assert rotate(log, max_bytes=10) is False
    log.write_text("short")
    assert rotate(log, max_bytes=10) is False
    assert log.read_text() == "short"
    assert not (tmp_path / "app.log.1").exists()


def test_rotation_shifts_old_files_and_keeps_only_the_limit(tmp_path):
    log = tmp_path / "app.log"
    for day in range(5):  # five starts, each with a log over the limit
        log.write_text(f"day {day} " + "x" * 20)
        assert rotate(log, max_bytes=10, backups=3) is True
        assert not log.exists()
    kept = {p.name: p.read_text()[:5] for p in tmp_path.iterdir()}
    assert kept == {"app.log.1": "day 4", "app.log.2": "day 3", "app.log.3": "day 2"}
