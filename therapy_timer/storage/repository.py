"""The visit store's front door: ``open_repository(path)`` returns a ``Repository``.

The repository takes and returns ``core`` objects (``core.records`` and the billing engine's
values), never rows. Every write is one short transaction committed before the method returns;
errors are ``StorageError`` subclasses with a message naming the problem.

One ``Repository`` per thread: it holds one SQLite connection and must not be shared across
threads. Two processes may open the same file: WAL plus a busy timeout keep them safe.
"""

from __future__ import annotations

import logging
from pathlib import Path

from therapy_timer.storage import dialect
from therapy_timer.storage.backup import backup_before_upgrade
from therapy_timer.storage.charges import ChargesMixin
from therapy_timer.storage.choices import ChoicesMixin
from therapy_timer.storage.clinic import ClinicMixin
from therapy_timer.storage.db import (
    BUSY_TIMEOUT_MS,
    MEMORY,
    check_identity,
    connect,
    make_durable,
    translating,
)
from therapy_timer.storage.errors import (
    CorruptDatabaseError,
    DatabaseLockedError,
    DiskFullError,
    ForeignDatabaseError,
    FrozenVisitError,
    InvalidDataError,
    NotFoundError,
    ProviderBusyError,
    ReadOnlyError,
    SchemaTooNewError,
    StorageError,
)
from therapy_timer.storage.history import HistoryMixin
from therapy_timer.storage.kx_thresholds import KxThresholdsMixin
from therapy_timer.storage.migrations import (
    LATEST_VERSION,
    check_version,
    migrate,
    restore_guard_triggers,
)
from therapy_timer.storage.ncci import NcciMixin
from therapy_timer.storage.payments import PaymentsMixin
from therapy_timer.storage.rates import RatesMixin
from therapy_timer.storage.recovery import RecoveryMixin, Resolution
from therapy_timer.storage.server_clock import CONNECT_SAMPLES, ServerClockMixin
from therapy_timer.storage.tamper import TamperMixin, setup_anchor
from therapy_timer.storage.timers import KEEP
from therapy_timer.storage.visit_records import VisitRecordsMixin

__all__ = [
    "KEEP",
    "CorruptDatabaseError",
    "DatabaseLockedError",
    "DiskFullError",
    "ForeignDatabaseError",
    "FrozenVisitError",
    "InvalidDataError",
    "NotFoundError",
    "ProviderBusyError",
    "ReadOnlyError",
    "Repository",
    "Resolution",
    "SchemaTooNewError",
    "StorageError",
    "open_repository",
]

log = logging.getLogger(__name__)


class Repository(ChargesMixin, ChoicesMixin, ClinicMixin, HistoryMixin, PaymentsMixin,
                 RatesMixin, RecoveryMixin, TamperMixin, KxThresholdsMixin, NcciMixin,
                 VisitRecordsMixin, ServerClockMixin):
    """Practice, people, payers, visits, timers, charge lines, payments and the audit log."""

    @property
    def db(self):
        """The same connection as a ``sqlite_utils.Database`` (inspection, exports, tools).

        Writes through it bypass the audit log: use the repository's methods for changes.
        """
        if getattr(self, "_sqlite_utils", None) is None:
            import sqlite_utils

            self._sqlite_utils = sqlite_utils.Database(self.conn, execute_plugins=False)
        return self._sqlite_utils

    @property
    def target(self) -> Path | str:
        """What opens this database again for a second connection (a worker's job): the
        file's path, or the server's whole address as given, its password included if it
        held one (kept in this process only: ``path`` and ``where`` are what is shown)."""
        return getattr(self, "_target", None) or self.path

    @property
    def schema_version(self) -> int:
        return dialect.schema_version(self.conn)

    def integrity_check(self) -> str:
        """SQLite's own check of the file and its references: "ok" or the problems found.
        A clinic server checks its own pages (and keeps its references by constraint): "ok"
        once it answers."""
        if self.on_server:
            self._row("SELECT count(*) FROM audit_log")
            return "ok"
        with translating(self.where):
            rows = self.conn.execute("PRAGMA integrity_check").fetchall()
            result = "\n".join(str(r[0]) for r in rows)
            if result != "ok":
                return result
            broken = self.conn.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            return "\n".join(f"{table} row {rowid} refers to a missing {parent} row"
                             for table, rowid, parent, _ in broken[:20])
        return "ok"


def open_repository(path: Path | str, *, migrate_schema: bool = True,
                    busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Repository:
    """Opens (creating or migrating) a Therapy Timer database.

    Args:
        path: the database file, or ``":memory:"`` for a throw-away one (tests).
        migrate_schema: False opens an older file as it is (tests, ``verify``).
        busy_timeout_ms: how long a write waits for another instance's transaction.

    Raises:
        CorruptDatabaseError: not an SQLite file, or a damaged one.
        ForeignDatabaseError: an SQLite database of another program.
        SchemaTooNewError: written by a newer Therapy Timer.
        ReadOnlyError, DatabaseLockedError, DiskFullError: the file cannot be written now.
    """
    if dialect.is_server(path):
        return _open_server(str(path), migrate_schema, busy_timeout_ms)
    where = f"the database {path}"
    conn = connect(path, busy_timeout_ms)
    try:
        with translating(where):
            # Identity and version first: a foreign or newer file is refused unchanged.
            version = check_version(conn, where) if check_identity(conn, where) else 0
            make_durable(conn, where)
            if migrate_schema:
                if 0 < version < LATEST_VERSION and str(path) != MEMORY:
                    # An upgrade of the app: keep the old file before changing its schema.
                    saved = backup_before_upgrade(path, version)
                    log.info("backed up schema %d database before migrating: %s", version,
                             saved.name)
                migrate(conn, where, LATEST_VERSION)
                # Triggers someone dropped or altered come back before anything is written.
                try:
                    repaired = restore_guard_triggers(conn, where)
                except ReadOnlyError as exc:  # read it as it is; verify names what is missing
                    log.warning("guard triggers not checked: %s", exc)
                    repaired = []
            else:
                repaired = []
            anchor = setup_anchor(conn, path, create=migrate_schema)
    except BaseException:
        conn.close()
        raise
    if str(path) != MEMORY:
        log.info("opened database (schema %d)", LATEST_VERSION if migrate_schema else -1)
    repo = Repository(conn, path)
    repo.anchor = anchor
    repo.repaired_triggers = tuple(repaired)
    if migrate_schema:
        _seed_rule_data(repo)
    return repo


def _open_server(conninfo: str, migrate_schema: bool, busy_timeout_ms: int) -> Repository:
    """The store on a PostgreSQL clinic server (``postgresql://...`` or ``service=NAME``).

    Its audit entries are not keyed with an anchor key: every station writes them, and no
    station can rewrite them (the station role may only INSERT and SELECT the log, and the
    guard triggers refuse the rest); ``verify`` says so.
    """
    from therapy_timer.storage.pg.store import open_connection, safe_conninfo

    conn, where, repaired = open_connection(conninfo, migrate_schema=migrate_schema,
                                            busy_timeout_ms=busy_timeout_ms)
    repo = Repository(conn, safe_conninfo(conninfo))
    repo._where = where
    repo._target = conninfo
    repo.anchor = None
    repo.repaired_triggers = tuple(repaired)
    log.info("opened %s (schema %d)", where, repo.schema_version)
    # One clock for the clinic (storage/server_clock.py): what this station stores, even
    # the audit time of a change that takes no ``now``, is the server's time.
    repo.clock = repo.server_now
    try:
        repo.measure_clock(samples=CONNECT_SAMPLES)
    except StorageError as exc:  # the heartbeat measures again
        log.warning("clock offset from %s not measured: %s", where, exc)
    if migrate_schema:
        _seed_rule_data(repo)
    return repo


def _seed_rule_data(repo: Repository) -> None:
    """The shipped rule data the database lacks (first use, or an upgrade of the app)."""
    try:
        repo.seed_kx_thresholds()
    except (ReadOnlyError, DatabaseLockedError) as exc:  # bills with what is on file
        log.warning("KX thresholds not seeded: %s", exc)
    except BaseException:
        repo.close()
        raise
