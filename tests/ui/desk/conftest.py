"""Shared front-desk fixtures: a copy of the demo clinic per test, a worker, a fixed clock."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime

import pytest

from therapy_timer.demo import build_demo_file
from therapy_timer.storage.repository import open_repository
from therapy_timer.ui.clock import FakeClock
from therapy_timer.ui.workers import Worker

END = date(2026, 3, 6)


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / "frontdesk-demo.sqlite"
    if not path.exists():
        build_demo_file(path, seed=1, end_date=END)
    return path


@pytest.fixture
def repo(demo_file, tmp_path):
    copy = tmp_path / "clinic.sqlite"
    shutil.copy(demo_file, copy)
    store = open_repository(copy)
    yield store
    store.close()


@pytest.fixture
def worker(qtbot):
    w = Worker()
    yield w
    w.shutdown()


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 3, 7, 0, 30, tzinfo=UTC))  # 18:30 on END in Chicago
