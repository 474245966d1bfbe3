"""The repository's plumbing: one connection, write transactions, row-to-record conversion."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from therapy_timer.core.model import Discipline, Performer, Rule
from therapy_timer.core.records import (
    ChargeLine,
    ClockFlag,
    FeeEntry,
    InsurancePolicy,
    Patient,
    Payer,
    PlanOfCare,
    Provider,
    StoredInterval,
    Visit,
    VisitStatus,
)
from therapy_timer.storage import audit
from therapy_timer.storage.db import day_from, from_text, to_text, translate
from therapy_timer.storage.dialect import is_pg
from therapy_timer.storage.errors import NotFoundError, StorageError

log = logging.getLogger(__name__)

#: Who the audit log names when the caller does not say.
SYSTEM_USER = "system"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RepositoryBase:
    """Holds the connection; every write goes through ``_write()``."""

    def __init__(self, conn: sqlite3.Connection, path: Path | str) -> None:
        self.conn = conn
        self.path = path
        self._closed = False
        #: Where audit times come from for changes that take no ``now`` (reference data,
        #: diagnoses, notes). Replace it with the app's clock, or a fixed one in tests.
        self.clock: Callable[[], datetime] = _utc_now
        #: ICD-10-CM code -> description, for a diagnosis added without one (stored with the
        #: visit). None: the compact index in the user cache when it is built (never the
        #: ICD-10-CM package). Tests set their own.
        self.describe_diagnosis: Callable[[str], str] | None = None
        self._index_describer = None

    @property
    def where(self) -> str:
        return getattr(self, "_where", None) or f"the database {self.path}"

    @property
    def on_server(self) -> bool:
        """True on a PostgreSQL clinic server, False on the embedded SQLite file."""
        return is_pg(self.conn)

    def close(self) -> None:
        """Closes the connection (checkpointing the WAL). Safe to call twice."""
        if not self._closed:
            anchor = getattr(self, "anchor", None)
            if anchor is not None and anchor.written:
                anchor.checkpoint(self.conn)
            self._closed = True
            if self._index_describer is not None:
                self._index_describer.close()
            if self.conn.total_changes and not is_pg(self.conn):
                # a session that only read leaves the stats alone
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("PRAGMA optimize")
            self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- transactions and queries ---

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction (BEGIN IMMEDIATE), committed before returning.

        Any error rolls the whole change back and surfaces as a StorageError.
        """
        if self._closed:
            raise StorageError("the database is closed")
        if self.conn.in_transaction:  # nested: join the outer transaction
            yield self.conn
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except BaseException as exc:
            # The server opens the transaction, then waits for the write lock: a wait that
            # timed out must not leave the session in an aborted transaction (every later
            # read would fail until a restart).
            if self.conn.in_transaction:
                with contextlib.suppress(Exception):
                    self.conn.rollback()
            if isinstance(exc, sqlite3.Error):
                raise translate(exc, self.where) from exc
            raise
        try:
            yield self.conn
            self.conn.execute("COMMIT")
            anchor = getattr(self, "anchor", None)
            if anchor is not None and anchor.written >= anchor.every:
                anchor.checkpoint(self.conn)
        except BaseException as exc:
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise translate(exc, self.where) from exc
            raise

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        if self._closed:
            raise StorageError("the database is closed")
        try:
            cursor = self.conn.cursor()
            cursor.row_factory = sqlite3.Row
            return cursor.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise translate(exc, self.where) from exc

    def _row(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = self._rows(sql, args)
        return rows[0] if rows else None

    def _one(self, sql: str, args: Sequence[Any], what: str) -> sqlite3.Row:
        row = self._row(sql, args)
        if row is None:
            raise NotFoundError(f"{what} not found")
        return row

    def _audit(self, at: datetime, user: str | None, action: str, entity: str,
               entity_id: int | None, detail: dict | None = None) -> None:
        anchor = getattr(self, "anchor", None)
        audit.append(self.conn, at, user or SYSTEM_USER, action, entity, entity_id, detail,
                     mac=anchor.key if anchor is not None else None)
        if anchor is not None:
            anchor.written += 1


# --- rows to core records ---

def put_row(conn: sqlite3.Connection, table: str, what: str, row_id: int | None,
            fields: Mapping[str, object]) -> int:
    """Inserts ``fields`` as a new row (``row_id`` None) or updates row ``row_id``; returns
    the row's id. ``table`` and the field names are this package's own, never user input.

    Raises:
        NotFoundError: there is no row ``row_id`` to update (named as ``what``).
    """
    names = list(fields)
    if row_id is None:
        marks = ", ".join("?" * len(names))
        return conn.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})",
                            tuple(fields.values())).lastrowid
    sets = ", ".join(f"{name}=?" for name in names)
    cur = conn.execute(f"UPDATE {table} SET {sets} WHERE id=?", (*fields.values(), row_id))
    if cur.rowcount == 0:
        raise NotFoundError(f"{what} {row_id} not found")
    return row_id


def provider_from(row: sqlite3.Row) -> Provider:
    return Provider(
        name=row["name"], discipline=Discipline(row["discipline"]), role=Performer(row["role"]),
        credentials=row["credentials"], npi=row["npi"], license=row["license"],
        supervisor_id=row["supervisor_id"], active=bool(row["active"]),
        has_pin=row["pin_hash"] is not None, id=row["id"],
        taxonomy=row["taxonomy"],
    )


def patient_from(row: sqlite3.Row) -> Patient:
    return Patient(
        first_name=row["first_name"], last_name=row["last_name"],
        birth_date=day_from(row["birth_date"]), sex=row["sex"], address=row["address"],
        phone=row["phone"], chart_number=row["chart_number"], id=row["id"],
    )


def payer_from(row: sqlite3.Row, allowed: dict[str, int]) -> Payer:
    return Payer(
        name=row["name"], rule=Rule(row["rule"]), medicare=bool(row["medicare"]),
        therapy_modifiers=bool(row["therapy_modifiers"]),
        assistant_modifiers=bool(row["assistant_modifiers"]),
        kx_applies=bool(row["kx_applies"]), self_pay=bool(row["self_pay"]),
        distinct_modifier=row["distinct_modifier"], allowed_cents=allowed, id=row["id"],
        address=row["address"], payer_code=row["payer_code"],
    )


def policy_from(row: sqlite3.Row) -> InsurancePolicy:
    return InsurancePolicy(
        patient_id=row["patient_id"], payer_id=row["payer_id"], member_id=row["member_id"],
        group_number=row["group_number"], subscriber=row["subscriber"],
        relationship=row["relationship"], priority=row["priority"], id=row["id"],
    )


def fee_from(row: sqlite3.Row) -> FeeEntry:
    return FeeEntry(row["code"], row["cents"], day_from(row["effective_from"]),
                    day_from(row["effective_to"]), row["id"])


def plan_from(row: sqlite3.Row) -> PlanOfCare:
    return PlanOfCare(
        patient_id=row["patient_id"], discipline=Discipline(row["discipline"]),
        therapist_id=row["therapist_id"], start=day_from(row["start_date"]),
        certified_through=day_from(row["certified_through"]),
        visits_authorized=row["visits_authorized"], id=row["id"],
        diagnoses=tuple(d for d in (row["diagnoses"] or "").split(",") if d),
        referring_name=row["referring_name"], referring_npi=row["referring_npi"],
        onset_date=day_from(row["onset_date"]),
    )


def visit_from(row: sqlite3.Row) -> Visit:
    return Visit(
        id=row["id"], patient_id=row["patient_id"], provider_id=row["provider_id"],
        plan_id=row["plan_id"], day=day_from(row["day"]),
        discipline=Discipline(row["discipline"]), status=VisitStatus(row["status"]),
        place_of_service=row["place_of_service"],
        diagnoses=tuple(d for d in row["diagnoses"].split(",") if d),
        session_start=from_text(row["session_start"]), session_end=from_text(row["session_end"]),
        timed_minutes=row["timed_minutes"], treatment_minutes=row["treatment_minutes"],
        notes=row["notes"], created_at=from_text(row["created_at"]),
        finalized_at=from_text(row["finalized_at"]), finalized_by=row["finalized_by"],
        amends_id=row["amends_id"],
        paused_codes=(paused_codes_from(row["paused_codes"])
                      if row["status"] == VisitStatus.OPEN.value else ()),
        diagnosis_descriptions=descriptions_from(row["diagnosis_descriptions"],
                                                 row["diagnoses"]),
    )


def descriptions_from(text: str | None, diagnoses: str) -> tuple[str, ...]:
    """The stored descriptions (JSON {code: description}) in the order of the visit's
    diagnoses; "" for a code not described (or a damaged value: the codes still print)."""
    codes = [d for d in (diagnoses or "").split(",") if d]
    try:
        known = json.loads(text) if text else {}
    except ValueError:
        known = {}
    if not isinstance(known, dict):
        known = {}
    return tuple(str(known.get(code) or "") for code in codes)


def interval_from(row: sqlite3.Row) -> StoredInterval:
    return StoredInterval(
        id=row["id"], visit_id=row["visit_id"], code=row["code"],
        start=from_text(row["start"]), end=from_text(row["end"]),
        performer=Performer(row["performer"]), provider_id=row["provider_id"],
        technique=row["technique"], body_region=row["body_region"],
        heartbeat=from_text(row["heartbeat"]),
        clock_flag=clock_flag_from(row["clock_flag"], from_text(row["start"])),
        deleted_at=from_text(row["deleted_at"]), deleted_by=row["deleted_by"],
        delete_reason=row["delete_reason"],
        station=row["station"] if "station" in row.keys() else None,  # noqa: SIM118 (Row)
    )


def paused_codes_from(text: str | None) -> tuple[str, ...]:
    """A visit's stored paused codes (a JSON list); empty when not paused or unreadable."""
    if not text:
        return ()
    try:
        codes = json.loads(text)
    except ValueError:
        log.warning("unreadable paused codes %r ignored", text)
        return ()
    return tuple(str(c) for c in codes) if isinstance(codes, list) else ()


def clock_flag_text(flag: ClockFlag) -> str:
    data = {"last_good": to_text(flag.last_good), "now": to_text(flag.now),
            "wall_seconds": round(float(flag.wall_seconds), 3),
            "real_seconds": round(float(flag.real_seconds), 3)}
    if flag.wall_end is not None:  # optional keys (issue 11): older flags read the same
        data["wall_end"] = to_text(flag.wall_end)
    if flag.answer is not None:
        data["answer"] = flag.answer
    return json.dumps(data, sort_keys=True)


def clock_flag_from(text: str | None, start: datetime) -> ClockFlag | None:
    """An interval's stored clock flag. An unreadable one still flags the interval, trusting
    nothing after its ``start``: the clinician decides."""
    if not text:
        return None
    try:
        data = json.loads(text)
        answer = data.get("answer")
        return ClockFlag(from_text(data["last_good"]), from_text(data["now"]),
                         float(data["wall_seconds"]), float(data["real_seconds"]),
                         from_text(data.get("wall_end")),
                         str(answer) if answer is not None else None)
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("unreadable clock flag %r", text)
        return ClockFlag(start, start, 0.0, 0.0)


def charge_from(row: sqlite3.Row) -> ChargeLine:
    return ChargeLine(
        visit_id=row["visit_id"], line_no=row["line_no"], code=row["code"], label=row["label"],
        modifiers=tuple(m for m in row["modifiers"].split() if m), units=row["units"],
        minutes=row["minutes"], fee_cents=row["fee_cents"], charge_cents=row["charge_cents"],
        allowed_cents=row["allowed_cents"],
        diagnosis_pointers=tuple(p for p in row["diagnosis_pointers"] if p.strip()),
        id=row["id"],
    )
