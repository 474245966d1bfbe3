"""Shared test set-up: headless Qt, and no test ever touches the real user data folders."""

from __future__ import annotations

import os

import pytest

# Before any Qt call in the test process (pytest-qt creates the QApplication): PySide6 6.12's
# abi3 wheel leaks references to None on Python 3.11; see therapy_timer/ui/pyside_guard.py.
from therapy_timer.ui import pyside_guard  # noqa: F401

if not os.environ.get("DISPLAY"):
    os.environ["QT_QPA_PLATFORM"] = "offscreen"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Points every per-user folder (data, config, cache, logs) at a temporary directory."""
    home = tmp_path_factory.mktemp("home")
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("THERAPY_TIMER_DB", raising=False)
    yield home
