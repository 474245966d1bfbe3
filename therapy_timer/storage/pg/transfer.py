"""Moving a clinic: ``server migrate`` copies an SQLite clinic into an empty server database.

The source is opened read-only (not one byte of it changes; an older schema is brought up to
date in a temporary copy, never in the file). It must be sound first: SQLite's integrity and
reference checks pass and ``verify`` finds nothing wrong (migrating must not bury a broken
chain where nobody looks for it; the clinic sees the problem on its own file first).

The copy is one transaction on the server, holding the clinic-wide write lock (no station
writes meanwhile): every table's rows with COPY, exactly as they are (ids, the audit chain's
seq, hashes and keyed-hash column byte for byte), then each identity sequence moved past the
highest id copied (and past the ids SQLite once gave out, so none is ever given twice). The
guard triggers are off for that transaction only (``session_replication_role = replica``,
which only a superuser may set): they would refuse, rightly, to insert a finalized visit's
timers. Before it commits, the row counts are compared table by table and ``verify`` runs on
the server's copy inside the transaction; anything short of that rolls it all back, and the
target stays empty.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

from therapy_timer.storage.errors import (
    CorruptDatabaseError,
    InvalidDataError,
    SchemaTooNewError,
    StorageError,
)

log = logging.getLogger(__name__)

#: Rows that a new clinic database holds before any clinic is in it: the shipped KX
#: thresholds the app seeds when it opens it (``server init`` does).
_SEEDED = {"kx_thresholds": "origin = 'shipped'"}


@dataclass
class TransferResult:
    #: table -> rows copied, in the order copied.
    counts: dict[str, int]
    source_report: object
    target_report: object
    where: str
    #: What the file carried that the app never creates (``"table x"``, ``"column t.c"``).
    left_out: list[str]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextlib.contextmanager
def _current_source(path: Path):
    """The source clinic at this app's schema, read-only: the file itself, or a temporary
    copy brought up to date (the file stays as it was). Yields (repository, connection)."""
    from therapy_timer.storage import dialect
    from therapy_timer.storage.checks import open_existing
    from therapy_timer.storage.migrations import LATEST_VERSION, migrate

    repo = open_existing(path)
    try:
        version = dialect.schema_version(repo.conn)
        if version == LATEST_VERSION:
            yield repo, repo.conn
            return
        folder = Path(tempfile.mkdtemp(prefix="tt-migrate-"))
        try:
            copy = sqlite3.connect(folder / "clinic.db", isolation_level=None)
            try:
                repo.conn.backup(copy)
                migrate(copy, f"a copy of {path}", LATEST_VERSION)
                yield repo, copy
            finally:
                copy.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        repo.close()


def _source_tables(conn: sqlite3.Connection) -> dict[str, list[str]]:
    from therapy_timer.storage.checks import read_schema

    return {name: list(obj.columns) for name, obj in read_schema(conn).items()
            if obj.kind == "table"}


def _target_tables(pg) -> dict[str, list[str]]:
    from therapy_timer.storage.pg.schema import META

    tables: dict[str, list[str]] = {}
    for table, column in pg.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE"
            " table_schema = current_schema() AND table_name <> ? ORDER BY table_name,"
            " ordinal_position", (META,)):
        tables.setdefault(table, []).append(column)
    return tables


def _clinic_rows(pg, tables) -> dict[str, int]:
    """Rows a new clinic database would not hold, per table (none: it is empty)."""
    found = {}
    for table in tables:
        where = f" WHERE NOT ({_SEEDED[table]})" if table in _SEEDED else ""
        count = int(pg.execute(f"SELECT count(*) FROM {_quote(table)}{where}").fetchone()[0])
        if count:
            found[table] = count
    return found


def _check_target(pg, where: str) -> None:
    from therapy_timer.storage.migrations import LATEST_VERSION
    from therapy_timer.storage.pg import schema

    if not schema.check_identity(pg, where):
        raise InvalidDataError(f"{where} holds no Therapy Timer schema: create the clinic's "
                               "database with `therapy-timer server init` first; nothing was "
                               "copied")
    version = schema.schema_version(pg)
    if version > LATEST_VERSION:
        raise SchemaTooNewError(f"{where} was set up by a newer Therapy Timer (schema "
                                f"{version}); update the app here first. Nothing was copied.")
    if version < LATEST_VERSION:
        raise InvalidDataError(f"{where} is at schema {version}: run `therapy-timer server "
                               "repair` with this version first; nothing was copied")


def copy_clinic(source: Path | str, target: str) -> TransferResult:
    """Copies the SQLite clinic ``source`` into the empty clinic database ``target`` (the
    administrator's address of it: a superuser's), in one transaction.

    Raises:
        InvalidDataError: a target that is not empty or not set up, a source that does not
            verify, a target role that may not switch the guards off, a value the server
            refuses (nothing copied).
        CorruptDatabaseError: a damaged source.
        ConnectionLostError: the server cannot be reached.
    """
    from therapy_timer.storage.pg.connection import PgConnection
    from therapy_timer.storage.pg.setup import admin_connect, parse_admin
    from therapy_timer.storage.pg.store import describe, safe_conninfo
    from therapy_timer.storage.tamper import verify_report

    source = Path(source)
    parts = parse_admin(target, "--to",
                        "postgresql://postgres@localhost:5432/therapy_timer")
    where = describe(target)
    with _current_source(source) as (repo, src):
        integrity = repo.integrity_check()
        if integrity != "ok":
            raise CorruptDatabaseError(f"{source} is damaged ({integrity.splitlines()[0]}); "
                                       "nothing was copied: restore a backup first")
        source_report = repo.verify_report()
        if not source_report.ok:
            first = source_report.problems[0]
            raise InvalidDataError(
                f"verify finds problems in {source} (entry {first.seq}: {first.reason}); "
                f"see `therapy-timer verify --db {source}`. Nothing was copied: migrate moves "
                "only a clinic that verifies")
        pg = PgConnection(admin_connect(parts, option="--to"), where)
        try:
            pg.execute("SET TIME ZONE 'UTC'")
            _check_target(pg, where)
            wanted = _target_tables(pg)
            found = _clinic_rows(pg, wanted)
            if found:
                raise InvalidDataError(_not_empty(where, found))
            have = _source_tables(src)
            left_out = _check_columns(source, have, wanted)
            pg.execute("BEGIN")  # the clinic-wide write lock: no station writes meanwhile
            try:
                found = _clinic_rows(pg, wanted)
                if found:
                    raise InvalidDataError(_not_empty(where, found))
                _guards_off(pg, where)
                counts = _copy_rows(src, pg, source, have, wanted)
                _advance_identities(src, pg)
                _compare_counts(pg, counts, where)
                target_report = verify_report(pg, safe_conninfo(target))
                if not target_report.ok:
                    first = target_report.problems[0]
                    raise StorageError(f"the copy on {where} does not verify (entry "
                                       f"{first.seq}: {first.reason}); nothing was copied")
                pg.execute("COMMIT")
            except BaseException:
                pg.rollback()
                raise
            for table in counts:  # the planner's statistics for the new rows
                with contextlib.suppress(StorageError):
                    pg.execute(f"ANALYZE {_quote(table)}")
        finally:
            pg.close()
    log.info("migrated %s to %s: %d rows", source, where, sum(counts.values()))
    return TransferResult(counts, source_report, target_report, where, left_out)


def _not_empty(where: str, found: dict[str, int]) -> str:
    shown = ", ".join(f"{table} {count}" for table, count in sorted(found.items()))
    return (f"{where} already holds clinic records ({shown}): migrate copies only into an "
            "empty clinic database (a new one from `therapy-timer server init`); nothing was "
            "copied")


def _check_columns(source: Path, have: dict[str, list[str]], wanted: dict[str, list[str]]
                   ) -> list[str]:
    """Refuses a source lacking the app's tables or columns; returns what it carries that
    the app never creates (left out, as restore leaves it out)."""
    left_out = [f"table {table}" for table in have if table not in wanted]
    for table, columns in wanted.items():
        if table not in have:
            raise InvalidDataError(f"{source} lacks the table {table}; nothing was copied")
        lacking = [column for column in columns if column not in have[table]]
        if lacking:
            raise InvalidDataError(
                f"{source}: the table {table} lacks the columns {', '.join(lacking)}; "
                "nothing was copied")
        left_out += [f"column {table}.{c}" for c in have[table] if c not in columns]
    return left_out


def _guards_off(pg, where: str) -> None:
    """Guard triggers and reference checks off for this transaction only (the copy is of a
    clinic whose own checks passed; verify runs on the result before it commits)."""
    try:
        pg.execute("SET LOCAL session_replication_role = replica")
        pg.execute("SELECT 1").fetchone()  # its answer now (a queued write answers later)
    except StorageError:
        raise InvalidDataError(
            f"{where}: the user in --to may not copy a clinic's records as they are (that "
            "switches the guard triggers off for the copy, which only a superuser may do); "
            "give --to as the administrator, e.g. postgresql://postgres@SERVER/therapy_timer."
            " Nothing was copied.") from None
    pg.execute("SET LOCAL statement_timeout = 0")


def _copy_rows(src: sqlite3.Connection, pg, source: Path, have, wanted) -> dict[str, int]:
    counts: dict[str, int] = {}
    # The shipped KX thresholds the new database was seeded with give way to the clinic's.
    for table, condition in _SEEDED.items():
        if table in wanted:
            pg.execute(f"DELETE FROM {_quote(table)} WHERE {condition}")
    for table in have:
        if table not in wanted:
            continue
        columns = ", ".join(_quote(c) for c in wanted[table])
        count = 0
        try:
            raw = pg.unpipelined()
            with raw.cursor().copy(f"COPY {_quote(table)} ({columns}) FROM STDIN") as copy:
                for row in src.execute(f"SELECT {columns} FROM {_quote(table)}"):
                    copy.write_row(row)
                    count += 1
        except psycopg.Error as exc:
            reason = getattr(exc.diag, "message_primary", None) or str(exc)
            raise InvalidDataError(f"{source}: the server refused a row of {table} "
                                   f"({' '.join(reason.split())[:200]}); nothing was "
                                   "copied") from None
        counts[table] = count
    return counts


def _advance_identities(src: sqlite3.Connection, pg) -> None:
    """Each identity's next id past every id copied and every id SQLite gave out."""
    given: dict[str, int] = {}
    if src.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
        given = {name: int(seq or 0) for name, seq in src.execute(
            "SELECT name, seq FROM sqlite_sequence")}
    for table, column in list(pg.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE"
            " table_schema = current_schema() AND is_identity = 'YES'")):
        highest = pg.execute(f"SELECT max({_quote(column)}) FROM {_quote(table)}"
                             ).fetchone()[0]
        top = max(int(highest or 0), given.get(table, 0))
        sequence = f"pg_get_serial_sequence('{_quote(table)}', '{column}')"
        if top:
            pg.execute(f"SELECT setval({sequence}, {top}, true)")
        else:
            pg.execute(f"SELECT setval({sequence}, 1, false)")


def _compare_counts(pg, counts: dict[str, int], where: str) -> None:
    for table, count in counts.items():
        there = int(pg.execute(f"SELECT count(*) FROM {_quote(table)}").fetchone()[0])
        if there != count:
            raise StorageError(f"{where}: {table} holds {there} rows after the copy of "
                               f"{count}; nothing was copied")
