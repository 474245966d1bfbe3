"""Shared test set-up: headless Qt, and no test ever touches the real user data folders."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# Before any Qt call in the test process (pytest-qt creates the QApplication): PySide6 6.12's
# abi3 wheel leaks references to None on Python 3.11; see therapy_timer/ui/pyside_guard.py.
from therapy_timer.ui import pyside_guard  # noqa: F401

if not os.environ.get("DISPLAY"):
    os.environ["QT_QPA_PLATFORM"] = "offscreen"

# Hypothesis profiles. "mutation" (set by `make mutants` through THERAPY_TIMER_HYPOTHESIS):
# every property runs a few fixed examples with no deadline, so thousands of mutants can each
# run the properties that reach them; the examples each test asks for are capped too (below).
MUTATION_EXAMPLES = 12
settings.register_profile("mutation", max_examples=MUTATION_EXAMPLES, deadline=None,
                          derandomize=True, database=None,
                          suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("THERAPY_TIMER_HYPOTHESIS", "default"))


def pytest_collection_modifyitems(config, items):
    """Under the mutation profile, caps a test's own ``@settings(max_examples=N)`` (and a
    state machine's ``TestCase.settings``) at the profile's few examples. And the tests
    marked ``sqlite_only`` (see ``_sqlite_only``)."""
    _sqlite_only(config, items)
    if os.environ.get("THERAPY_TIMER_HYPOTHESIS") != "mutation":
        return
    for item in items:
        target = getattr(item, "obj", None)
        cls = getattr(item, "cls", None)
        if target is not None and hasattr(target, "_hypothesis_internal_use_settings"):
            own = target._hypothesis_internal_use_settings
            target._hypothesis_internal_use_settings = settings(
                own, max_examples=min(own.max_examples, MUTATION_EXAMPLES), deadline=None,
                derandomize=True, database=None, suppress_health_check=list(HealthCheck))
        if cls is not None and isinstance(getattr(cls, "settings", None), settings):
            cls.settings = settings(cls.settings, max_examples=min(
                cls.settings.max_examples, MUTATION_EXAMPLES), deadline=None,
                derandomize=True, database=None, suppress_health_check=list(HealthCheck))


def _sqlite_only(config, items) -> None:
    """``@pytest.mark.sqlite_only("why")``: a test that only the SQLite file can run says why
    (a missing reason fails the collection), and its PostgreSQL parametrization, if a fixture
    it uses brings one, is left out (``pytest -m sqlite_only`` lists them all)."""
    kept, dropped = [], []
    for item in items:
        marks = list(item.iter_markers("sqlite_only"))
        for mark in marks:
            if not (mark.args and str(mark.args[0]).strip()):
                raise pytest.UsageError(f"{item.nodeid}: sqlite_only needs its reason")
        callspec = getattr(item, "callspec", None)
        on_server = callspec is not None and "postgresql" in callspec.params.values()
        (dropped if marks and on_server else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(autouse=True, scope="session")
def _no_real_modal_dialogs():
    """A real modal dialog would wait forever for a click in a headless run: fail instead.

    Code asks through replaceable hooks (``Ask.*``, ``*.ask()`` classmethods); a test that
    reaches a real dialog forgot to replace one. Tests may still monkeypatch these themselves.
    """
    from PySide6.QtPrintSupport import QPrintDialog
    from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QMessageBox

    def refuse(name):
        def _refuse(*_args, **_kwargs):
            raise RuntimeError(f"a test opened a real modal dialog ({name}): replace the code's "
                               "ask hook in the test")
        return _refuse

    patch = pytest.MonkeyPatch()
    for cls in (QDialog, QMessageBox, QPrintDialog, QFileDialog, QInputDialog):
        patch.setattr(cls, "exec", refuse(f"{cls.__name__}.exec"))
    for name in ("question", "warning", "information", "critical", "about"):
        patch.setattr(QMessageBox, name, refuse(f"QMessageBox.{name}"))
    for name in ("getOpenFileName", "getSaveFileName", "getExistingDirectory"):
        patch.setattr(QFileDialog, name, refuse(f"QFileDialog.{name}"))
    for name in ("getText", "getInt", "getItem", "getDouble", "getMultiLineText"):
        patch.setattr(QInputDialog, name, refuse(f"QInputDialog.{name}"))
    yield
    patch.undo()


@pytest.fixture(autouse=True, scope="session")
def _isolated_session_dirs(tmp_path_factory):
    """The same for module- and session-scoped fixtures (a demo clinic built once), which run
    before the per-test folders below: none may reach the real folders (the audit anchor
    keys live in the config folder)."""
    home = tmp_path_factory.mktemp("session-home")
    patch = pytest.MonkeyPatch()
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        patch.setenv(name, str(home / name.lower()))
    patch.setenv("HOME", str(home))
    yield home
    patch.undo()


@pytest.fixture(autouse=True)
def _isolated_user_dirs(_isolated_session_dirs, tmp_path_factory, monkeypatch):
    """Points every per-user folder (data, config, cache, logs) at a temporary directory."""
    home = tmp_path_factory.mktemp("home")
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("THERAPY_TIMER_DB", raising=False)
    yield home


@pytest.fixture(scope="session")
def icd_cache(tmp_path_factory):
    """The ICD-10-CM search index, built once for the whole session (about 6 s)."""
    from therapy_timer.storage.icd_index import ensure_index

    cache = tmp_path_factory.getbasetemp() / "icd-cache"
    ensure_index(cache)
    return cache


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go: THERAPY_TIMER_SHOTS if set (to look at them), else a temp dir."""
    from pathlib import Path

    return Path(os.environ.get("THERAPY_TIMER_SHOTS", tmp_path))


@pytest.fixture(autouse=True)
def _isolated_station_settings(_isolated_user_dirs):
    """Each test gets its own per-workstation QSettings (Qt keeps the first folder it saw, so
    the HOME above alone would let one test's remembered choices reach the next)."""
    from PySide6.QtCore import QSettings

    folder = str(_isolated_user_dirs / "qsettings")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, folder)
    yield


# --- the clinic server (PostgreSQL): one throwaway server per test session ---

@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server of the session's own, in a temporary folder (tests/pg_server.py)."""
    from tests.pg_server import running_server

    with running_server() as server:
        yield server


@pytest.fixture(scope="session")
def pg_template(pg_server):
    """The name of a database holding a new, empty clinic's schema: copying it is faster than
    migrating each test's database from nothing (migrations get their own tests)."""
    from therapy_timer.storage.repository import open_repository

    uri = pg_server.new_database()
    open_repository(uri).close()
    return uri.rsplit("/", 1)[1]


@pytest.fixture
def pg_database(pg_server, pg_template):
    """A fresh database on the session's server with a new clinic's schema: its URI (dropped
    after the test: hundreds of 9 MB copies would otherwise fill the server's folder)."""
    uri = pg_server.new_database(template=pg_template)
    yield uri
    pg_server.drop_database(uri)


#: The two databases the store runs on: every test asking for ``store_target`` runs on both.
STORES = ["sqlite", "postgresql"]


@pytest.fixture(params=STORES)
def store_target(request, tmp_path):
    """Where a test's clinic lives: a new SQLite file, or a new database on the session's
    PostgreSQL server (its URI). ``request.param`` says which."""
    if request.param == "sqlite":
        return tmp_path / "clinic.db"
    return request.getfixturevalue("pg_database")
