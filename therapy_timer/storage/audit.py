"""The hash-chained, append-only audit log.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own fields, so
changing, removing or reordering any entry breaks every link after it. Triggers refuse UPDATE
and DELETE; ``verify`` finds tampering done around them. Entries name records by id, never a
patient's name.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from therapy_timer.core.records import AuditBreak, AuditEntry
from therapy_timer.storage.db import from_text, to_text

GENESIS = "0" * 64


def entry_hash(prev_hash: str, seq: int, at: str, user: str, action: str, entity: str,
               entity_id: int | None, detail: str) -> str:
    import hashlib  # here, not at start-up: it loads OpenSSL (~4 ms) before anything is written

    payload = json.dumps([prev_hash, seq, at, user, action, entity, entity_id, detail],
                         separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(payload.encode("ascii")).hexdigest()


def append(conn: sqlite3.Connection, at: datetime, user: str, action: str, entity: str,
           entity_id: int | None, detail: dict | None = None, mac=None) -> int:
    """Adds one entry; call inside the write transaction of the change it records.

    Args:
        mac: the chain's anchor key (``storage.anchor.AnchorKey``): the entry then carries
            its keyed hash. None where the key is not (the entry is left unanchored).

    Returns:
        The entry's number.
    """
    row = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
    at_text = to_text(at)
    detail_text = json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), default=str)
    digest = entry_hash(prev, seq, at_text, user or "", action, entity, entity_id, detail_text)
    if mac is None:
        conn.execute(
            "INSERT INTO audit_log (seq, at, user, action, entity, entity_id, detail, prev_hash,"
            " hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, at_text, user or "", action, entity, entity_id, detail_text, prev, digest))
    else:
        conn.execute(
            "INSERT INTO audit_log (seq, at, user, action, entity, entity_id, detail, prev_hash,"
            " hash, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, at_text, user or "", action, entity, entity_id, detail_text, prev, digest,
             mac.mac(digest)))
    return seq


def verify(conn: sqlite3.Connection) -> AuditBreak | None:
    """Walks the chain; returns the first broken link, or None when every link holds."""
    expected_prev = GENESIS
    expected_seq = 1
    cursor = conn.execute(
        "SELECT seq, at, user, action, entity, entity_id, detail, prev_hash, hash "
        "FROM audit_log ORDER BY seq"
    )
    for seq, at, user, action, entity, entity_id, detail, prev_hash, digest in cursor:
        if seq != expected_seq:
            return AuditBreak(expected_seq, f"entry {expected_seq} is missing (next is {seq})")
        if prev_hash != expected_prev:
            return AuditBreak(seq, "does not point at the previous entry's hash")
        if entry_hash(prev_hash, seq, at, user, action, entity, entity_id, detail) != digest:
            return AuditBreak(seq, "its content does not match its hash (changed after writing)")
        expected_prev = digest
        expected_seq += 1
    return None


def entries(conn: sqlite3.Connection, entity: str | None = None,
            entity_id: int | None = None, limit: int = 1000) -> list[AuditEntry]:
    sql = ("SELECT seq, at, user, action, entity, entity_id, detail, prev_hash, hash "
           "FROM audit_log")
    args: list = []
    if entity is not None:
        sql += " WHERE entity = ?"
        args.append(entity)
        if entity_id is not None:
            sql += " AND entity_id = ?"
            args.append(entity_id)
    sql += " ORDER BY seq DESC LIMIT ?"
    args.append(limit)
    return [
        AuditEntry(r[0], from_text(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8])
        for r in conn.execute(sql, args)
    ]
