"""Looking at a database file without changing it, and comparing it with the app's own schema.

- ``open_existing(path)`` opens a clinic for reading only (``verify``, ``backup``, the read
  commands): a missing, empty (0-byte), non-SQLite, foreign or newer file, a folder, a named
  pipe, a symbolic link loop, or a file with our mark but without the app's tables is refused
  with a message naming it, and nothing about the file changes (not its journal mode, not its
  permissions).
- ``reference_schema(version)`` is the schema this app creates at ``version`` (the migrations
  run on an in-memory database); ``compare(conn, version)`` says what a file lacks and what it
  carries that the app never creates (restore copies data only into the app's own schema).
"""

from __future__ import annotations

import functools
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from therapy_timer.storage.db import (
    APPLICATION_ID,
    BUSY_TIMEOUT_MS,
    check_file,
    translating,
)
from therapy_timer.storage.errors import (
    ForeignDatabaseError,
    InvalidDataError,
    NotFoundError,
    ReadOnlyError,
    SchemaTooNewError,
)


@dataclass(frozen=True, slots=True)
class SchemaObject:
    """One entry of ``sqlite_master``: a table, index, trigger or view."""

    kind: str
    name: str
    table: str
    sql: str
    columns: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True, slots=True)
class Comparison:
    """How a file's schema differs from the app's own at the same version."""

    missing_tables: tuple[str, ...] = ()
    #: Tables whose name is ours but which are something else (a view, a virtual table).
    impostors: tuple[str, ...] = ()
    #: ``table.column`` the app's table has and the file's lacks.
    missing_columns: tuple[str, ...] = ()
    #: Objects the app never creates (``"trigger x"``, ``"column t.c"``): never copied.
    foreign: tuple[str, ...] = ()
    #: The app's own indexes and triggers the file lacks (``"trigger x"``).
    missing_objects: tuple[str, ...] = ()
    #: The app's own indexes and triggers the file has with another definition.
    changed: tuple[str, ...] = ()

    @property
    def unusable(self) -> str | None:
        """Why the file's data cannot be used at all, or None."""
        if self.missing_tables:
            return f"it lacks the app's tables {', '.join(self.missing_tables)}"
        if self.impostors:
            return (f"its {', '.join(self.impostors)} is not the app's table (a view or "
                    "virtual table stands in its place)")
        if self.missing_columns:
            return f"its tables lack the app's columns {', '.join(self.missing_columns)}"
        return None


def _normal(sql: str | None) -> str:
    return " ".join((sql or "").split())


def read_schema(conn: sqlite3.Connection, schema: str = "main") -> dict[str, SchemaObject]:
    """Every table, index, trigger and view of ``schema`` (SQLite's own ``sqlite_*`` left out),
    in the order they were created."""
    rows = conn.execute(
        f"SELECT type, name, tbl_name, sql FROM {schema}.sqlite_master "
        "WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid").fetchall()
    found: dict[str, SchemaObject] = {}
    for kind, name, table, sql in rows:
        columns: tuple[str, ...] = ()
        if kind == "table" and _normal(sql).upper().startswith("CREATE TABLE"):
            quoted = name.replace('"', '""')
            columns = tuple(r[1] for r in conn.execute(
                f'PRAGMA {schema}.table_info("{quoted}")'))
        found[name] = SchemaObject(kind, name, table, sql or "", columns)
    return found


@functools.cache
def reference_schema(version: int) -> dict[str, SchemaObject]:
    """The schema the app's migrations create at ``version`` (built once per version)."""
    from therapy_timer.storage.migrations import MIGRATIONS

    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        # The migrations' own statements, in order (``migrate`` would log each step as if a
        # clinic's database had been upgraded).
        for number, _description, statements in MIGRATIONS:
            if number <= version:
                for statement in statements:
                    conn.execute(statement)
        return read_schema(conn)
    finally:
        conn.close()


def compare(conn: sqlite3.Connection, version: int, schema: str = "main") -> Comparison:
    """How the database ``schema`` of ``conn`` differs from the app's at ``version``."""
    ours = reference_schema(version)
    theirs = read_schema(conn, schema)
    missing_tables, impostors, missing_columns, foreign, missing, changed = [], [], [], [], [], []
    for name, want in ours.items():
        have = theirs.get(name)
        if want.kind == "table":
            if have is None:
                missing_tables.append(name)
            elif have.kind != "table" or not have.columns:
                impostors.append(name)
            else:
                missing_columns += [f"{name}.{c}" for c in want.columns if c not in have.columns]
                foreign += [f"column {name}.{c}" for c in have.columns if c not in want.columns]
        elif have is None:
            missing.append(want.label)
        elif have.kind != want.kind or _normal(have.sql) != _normal(want.sql):
            changed.append(want.label)
    for name, have in theirs.items():
        if name not in ours:
            foreign.append(have.label)
    return Comparison(tuple(missing_tables), tuple(impostors), tuple(missing_columns),
                      tuple(foreign), tuple(missing), tuple(changed))


def read_only_uri(path: Path | str) -> str:
    """An SQLite URI opening ``path`` read-only, whatever characters its name holds
    (``#``, ``?`` and ``%`` are escaped, so the file named is the file opened)."""
    return f"{Path(path).absolute().as_uri()}?mode=ro"


def connect_read_only(path: Path | str,
                      busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """A connection that cannot change the file: no write, no journal-mode switch, no chmod.

    Its schema is not trusted: functions in a file's own views or triggers do not run.
    """
    where = f"the file {path}"
    with translating(where):
        conn = sqlite3.connect(read_only_uri(path), uri=True, isolation_level=None,
                               timeout=busy_timeout_ms / 1000)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            conn.execute("PRAGMA query_only = ON")
            conn.execute("PRAGMA trusted_schema = OFF")
        except BaseException:
            conn.close()
            raise
    return conn


def existing_file(path: Path, what: str = "database") -> None:
    """Refuses anything at ``path`` that cannot be an existing Therapy Timer file.

    Raises:
        NotFoundError: nothing there.
        InvalidDataError: an empty (0-byte) file.
        CorruptDatabaseError: not an SQLite file; a folder, named pipe or device; a link loop.
        ReadOnlyError: it cannot be read.
    """
    if check_file(path):
        return
    if not path.exists():
        raise NotFoundError(f"there is no {what} at {path}")
    raise InvalidDataError(f"{path} is empty (0 bytes): it holds no clinic, so there is "
                           "nothing to read; nothing was changed")


def require_clinic(conn: sqlite3.Connection, where: str) -> int:
    """Checks the mark, the schema version and every table the app's schema has; returns the
    version.

    Raises:
        ForeignDatabaseError: another program's database.
        SchemaTooNewError: written by a newer Therapy Timer.
        InvalidDataError: our mark without a clinic (schema 0, or tables missing).
    """
    with translating(where):
        if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            raise ForeignDatabaseError(f"{where} is not a Therapy Timer database; nothing was "
                                       "changed")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        from therapy_timer.storage.migrations import LATEST_VERSION

        if version > LATEST_VERSION:
            raise SchemaTooNewError(
                f"{where} was written by a newer Therapy Timer (schema {version}; this version "
                f"knows up to {LATEST_VERSION}); update the app. Nothing was changed.")
        if version <= 0:
            raise InvalidDataError(f"{where} carries the Therapy Timer mark but holds no clinic "
                                   f"(schema {version}, none of the app's tables); nothing was "
                                   "changed")
        problem = compare(conn, version).unusable
    if problem:
        raise InvalidDataError(f"{where} is not a complete Therapy Timer database: {problem}; "
                               "nothing was changed")
    return version


def open_existing(path: Path | str):
    """A ``Repository`` on an existing clinic, read-only: the file is not changed in any way.

    Raises:
        StorageError: see ``existing_file`` and ``require_clinic``.
    """
    from therapy_timer.storage.repository import Repository

    path = Path(path)
    existing_file(path)
    conn = connect_for_reading(path)
    try:
        require_clinic(conn, f"the database {path}")
    except BaseException:
        conn.close()
        raise
    return Repository(conn, path)


def connect_for_reading(path: Path) -> sqlite3.Connection:
    """Read-only; a file in a read-only folder without its ``-shm`` (which a read-only
    connection cannot create) and without a ``-wal`` is read as immutable."""
    conn = connect_read_only(path)
    try:
        with translating(f"the database {path}"):
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except ReadOnlyError:
        conn.close()
        if Path(f"{path}-wal").exists():
            raise
    except BaseException:
        conn.close()
        raise
    with translating(f"the database {path}"):
        conn = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro&immutable=1",
                               uri=True, isolation_level=None)
        conn.execute("PRAGMA trusted_schema = OFF")
    return conn
