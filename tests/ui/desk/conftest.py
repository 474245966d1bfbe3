"""Shared front-desk fixtures: a copy of the demo clinic per test, a worker, a fixed clock."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime

import pytest

from therapy_timer.demo import build_demo_file
from therapy_timer.storage.repository import open_repository
from therapy_timer.ui.clock import FakeClock
from therapy_timer.ui.frontdesk import FrontDeskPage
from therapy_timer.ui.workers import Worker

END = date(2026, 3, 6)
TIMEOUT = 30000  # ms: PDF jobs on a loaded 2-core machine


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


def open_desk(qtbot, repo, worker, clock, **options) -> FrontDeskPage:
    """The front-desk page, shown at 1280x800, once its first listing is done."""
    with qtbot.waitSignal(worker.idle, timeout=TIMEOUT):
        page = FrontDeskPage(repo, worker, clock=clock, user="Front Desk", **options)
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()
    qtbot.waitExposed(page)
    return page


@pytest.fixture
def page(qtbot, repo, worker, clock):
    return open_desk(qtbot, repo, worker, clock)
