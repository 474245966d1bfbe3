"""A clinic server's data as an ordinary Therapy Timer file, and the refusals of a restore
into a server.

``backup_server(conninfo, out)`` writes what ``backup --db URI --out FILE.db`` promises: a
complete SQLite clinic any computer opens with ``--db FILE.db`` and goes on working with. The
file's schema is the app's own (every table, index and guard trigger made by the migrations,
as a new file gets them), so nothing of the server's own objects is carried over; every row of
every one of the app's tables is copied from one consistent snapshot of the server (a
repeatable-read, read-only transaction: stations go on writing meanwhile and are never held
up), the audit log exactly as it is (seq, hash and keyed hash), then the guard triggers are
created, the file marked as Therapy Timer's at its version, checked (integrity, references,
the app's schema), made owner-only and renamed into place. A failure leaves nothing under
``out``.

A restore never writes a backup over a server's data: the server is shared by every station,
and a restore there would silently take away what the others wrote since. ``restore`` into a
server says what to do instead (``refuse_restore``).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from therapy_timer import partfiles
from therapy_timer.storage.errors import InvalidDataError, StorageError

#: Rows fetched from the server per round trip while copying a table.
BATCH = 5000


@dataclass(frozen=True, slots=True)
class ServerBackup:
    """What a backup wrote: the file, and how many rows of each table it holds."""

    out: Path
    where: str
    counts: dict[str, int]
    #: The clinic came from a file (``server migrate``) and the server has written since:
    #: the file's anchor and keyed hashes were left out of the backup (see ``_unanchor``).
    unanchored: bool = False

    @property
    def summary(self) -> str:
        visits, audit = self.counts.get("visits", 0), self.counts.get("audit_log", 0)
        total = sum(self.counts.values())
        note = ("; the keyed hashes of the entries written before the clinic moved to the "
                "server are left out (entries written on the server carry none): the chain "
                "itself is whole, and the original file keeps them" if self.unanchored else "")
        return (f"{total} rows in {len(self.counts)} tables: {visits} visits, {audit} audit "
                f"entries{note}")


def _value(value):
    """A server value as SQLite stores it (the schema's own types round-trip unchanged)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def backup_server(conninfo: str, out: Path | str) -> ServerBackup:
    """Writes the clinic on the server ``conninfo`` to the new SQLite file ``out`` (0600).

    Raises:
        InvalidDataError, ReadOnlyError: ``out`` may not be written (``check_backup_target``).
        ConnectionLostError: the server cannot be reached.
        StorageError: the database holds no clinic, or the copy failed; nothing is left under
            ``out``.
    """
    from therapy_timer.storage.backup import _fsync_dir, _os_error, check_backup_target
    from therapy_timer.storage.checks import reference_schema
    from therapy_timer.storage.db import APPLICATION_ID, create_private_file, translating
    from therapy_timer.storage.migrations import LATEST_VERSION, migrate
    from therapy_timer.storage.pg import schema
    from therapy_timer.storage.pg.store import open_connection

    out = check_backup_target(None, out)
    conn, where, _ = open_connection(conninfo, migrate_schema=False)
    counts: dict[str, int] = {}
    try:
        version = schema.schema_version(conn)
        ours = reference_schema(version)
        tables = [o for o in ours.values() if o.kind == "table"]
        partfiles.sweep(out.parent)
        temp = partfiles.part_path(out, "backup")
        partfiles.remove(temp)
        try:
            create_private_file(temp)
            with translating(f"the backup {out}"):
                build = sqlite3.connect(temp, isolation_level=None)
            try:
                with translating(f"the backup {out}"):
                    build.execute("PRAGMA foreign_keys = OFF")
                    build.execute("PRAGMA trusted_schema = OFF")
                    build.execute("BEGIN IMMEDIATE")
                    for table in tables:
                        build.execute(table.sql)
                    _snapshot(conn)
                    try:
                        for table in tables:
                            counts[table.name] = _copy_table(conn, build, table)
                    finally:
                        conn.rollback()
                    unanchored = _unanchor(build)
                    for obj in ours.values():  # indexes and guard triggers, once the rows are in
                        if obj.kind != "table" and obj.sql:
                            build.execute(obj.sql)
                    build.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    build.execute(f"PRAGMA user_version = {version}")
                    build.execute("COMMIT")
                    build.execute("PRAGMA foreign_keys = ON")
                    migrate(build, f"the backup {out}", LATEST_VERSION)
                    build.execute("PRAGMA journal_mode = DELETE")
            finally:
                build.close()
            _check(temp, out, where)
            os.chmod(temp, 0o600)
            os.replace(temp, out)
            _fsync_dir(out.parent)
        except OSError as exc:
            raise _os_error(exc, f"the backup {out}") from exc
        finally:
            partfiles.remove(temp)
    finally:
        conn.close()
    return ServerBackup(out, where, counts, unanchored)


def _unanchor(build: sqlite3.Connection) -> bool:
    """A clinic moved from a file keeps that file's anchor record and keyed hashes on the
    server (``server migrate`` copies them as they are); entries the server writes carry no
    keyed hash. A file holding both would read as forged from the first server entry on
    (a file's chain is keyed from its anchor's entry to its end), so once the server has
    written, the backup leaves out the anchor and every keyed hash: it is an unkeyed chain,
    whole and linked, like the server's; the app anchors it anew when it next opens the
    file. Returns True when it did."""
    row = build.execute("SELECT first_seq FROM audit_anchor WHERE id = 1").fetchone()
    if row is None:
        return False
    written_on_server = build.execute(
        "SELECT count(*) FROM audit_log WHERE seq >= ? AND mac IS NULL", (row[0],)).fetchone()[0]
    if not written_on_server:
        return False  # nothing since the move: the file's anchor still covers every entry
    build.execute("DELETE FROM audit_anchor")
    build.execute("UPDATE audit_log SET mac = NULL")
    return True


def _snapshot(conn) -> None:
    """One consistent view of the whole clinic for the copy, without the write lock."""
    import psycopg

    from therapy_timer.storage.pg.connection import translate

    try:
        conn.raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    except psycopg.Error as exc:
        raise translate(exc, conn.where) from exc


def _copy_table(conn, build: sqlite3.Connection, table) -> int:
    """Every row of ``table`` from the server into the file, in batches; returns the count."""
    import psycopg

    from therapy_timer.storage.pg.connection import translate

    names = ", ".join(f'"{c}"' for c in table.columns)
    marks = ", ".join("?" for _ in table.columns)
    insert = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'
    count = 0
    try:
        with conn.raw.cursor(name=f"tt_backup_{table.name}") as cursor:
            cursor.execute(f'SELECT {names} FROM "{table.name}"')
            while True:
                rows = cursor.fetchmany(BATCH)
                if not rows:
                    break
                build.executemany(insert, [tuple(_value(v) for v in row) for row in rows])
                count += len(rows)
    except psycopg.Error as exc:
        raise translate(exc, conn.where) from exc
    except sqlite3.IntegrityError as exc:
        raise InvalidDataError(f"{conn.where} holds data the app's rules refuse in "
                               f"{table.name} ({exc}); nothing was written") from exc
    return count


def _check(temp: Path, out: Path, where: str) -> None:
    """The written file is a whole clinic in the app's own schema, undamaged."""
    from therapy_timer.storage.checks import compare, open_existing, require_clinic
    from therapy_timer.storage.db import translating
    from therapy_timer.storage.errors import CorruptDatabaseError
    from therapy_timer.storage.migrations import LATEST_VERSION

    repo = open_existing(temp)
    try:
        version = require_clinic(repo.conn, f"the backup {out}")
        with translating(f"the backup {out}"):
            differences = compare(repo.conn, version)
        wrong = differences.missing_objects + differences.changed + differences.foreign
        if version != LATEST_VERSION or wrong:
            raise StorageError(f"the backup of {where} came out without the app's schema "
                               f"({', '.join(wrong) or f'schema {version}'}); nothing was "
                               "written")
        integrity = repo.integrity_check()
        if integrity != "ok":
            raise CorruptDatabaseError(f"the backup of {where} failed its check: "
                                       f"{integrity.splitlines()[0]}; nothing was written")
    finally:
        repo.close()


def refuse_restore(conninfo: str, source: Path | str) -> StorageError:
    """Why ``restore --db URI`` does not write a backup into a server, and what does.

    A server database that holds a clinic is never replaced: every station works on it, and
    replacing it would take away, unseen, what they wrote since the backup. A backup goes onto
    a server through ``server migrate`` into an empty database (which checks the backup, copies
    it whole and verifies both sides); the stations are then pointed at that database.
    """
    from therapy_timer.storage.pg.store import describe, open_connection

    where = describe(conninfo)
    how = (f"to put the backup on a server, create an empty database (therapy-timer server "
           f"init) and copy it there with 'therapy-timer server migrate --from {source} --to "
           "URI', then point the stations at it")
    conn = None
    try:
        conn, where, _ = open_connection(conninfo, migrate_schema=False)
        visits = conn.execute("SELECT count(*) FROM visits").fetchone()[0]
        entries = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    except StorageError as exc:
        if "holds no Therapy Timer clinic" not in str(exc):
            raise
        return InvalidDataError(f"restore writes a backup over a database file, not into a "
                                f"server: {how}. Nothing was changed on {where}")
    finally:
        if conn is not None:
            conn.close()
    if visits == 0 and entries == 0:
        # A database `server init` made and nobody has worked on yet: the way onto it is
        # migrate (which refuses it too if it holds anything after all), not "make another".
        return InvalidDataError(
            f"restore writes a backup over a database file, not into a server: {where} holds "
            f"no visits and no audit entries yet, so copy the backup into it with "
            f"'therapy-timer server migrate --from {source} --to URI' (URI: this database as "
            "the administrator), then point the stations at it. Nothing was changed")
    return InvalidDataError(
        f"{where} already holds a clinic ({visits} visits, {entries} audit entries) that every "
        "station works on: restore never replaces a server's data, which would take away "
        f"what the stations wrote since the backup. Open the backup as it is with --db "
        f"{source}, or {how}. Nothing was changed")
