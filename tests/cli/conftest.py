"""The CLI tests' clinics, on both databases the app runs on.

``module_target`` is where a module's clinic lives: a new SQLite file, or a new database on
the session's PostgreSQL server. Its server address carries a password (``secret``; the test
server trusts 127.0.0.1 and ignores it) so that every command run against it shows that no
message, file name or error prints the password.
"""

from __future__ import annotations

import pytest

from tests.conftest import STORES

PASSWORD = "secret"


def with_password(uri: str) -> str:
    """``postgresql://postgres@...`` as ``postgresql://postgres:secret@...``."""
    return uri.replace("://postgres@", f"://postgres:{PASSWORD}@", 1)


@pytest.fixture(scope="module", params=STORES)
def module_target(request, tmp_path_factory):
    """A module's clinic: a new SQLite file, or a new server database (its URI, with a
    password). ``request.param`` says which."""
    if request.param == "sqlite":
        return tmp_path_factory.mktemp("db") / "clinic.db"
    server = request.getfixturevalue("pg_server")
    template = request.getfixturevalue("pg_template")
    return with_password(server.new_database(template=template))


@pytest.fixture
def cli_target(store_target):
    """A test's own clinic on either database (``store_target``), the server's address with
    a password."""
    return store_target if not isinstance(store_target, str) else with_password(store_target)


def no_password(*texts: str) -> None:
    """Fails when any of ``texts`` (a command's stdout, stderr, a file name) holds the
    password of the server address."""
    for text in texts:
        assert PASSWORD not in str(text), text


DEMO_END = "2026-11-20"


@pytest.fixture(scope="session")
def pg_demo(pg_server, pg_template):
    """The demo clinic (seed 1, ending 2026-11-20) on the session's server, built once
    (about 13 s): its address, with a password. Tests read it and never change it."""
    from therapy_timer.cli import main

    target = with_password(pg_server.new_database(template=pg_template))
    assert main(["demo", "--db", target, "--end-date", DEMO_END]) == 0
    return target


@pytest.fixture(scope="session", params=STORES)
def demo_target(request, tmp_path_factory):
    """The demo clinic (seed 1, ending 2026-11-20) on either database, built once per
    session: tests read it and never change it."""
    from therapy_timer.cli import main

    if request.param == "postgresql":
        return request.getfixturevalue("pg_demo")
    target = tmp_path_factory.mktemp("demo") / "demo.db"
    assert main(["demo", "--db", str(target), "--end-date", DEMO_END]) == 0
    return target
