"""verify's check of the data against the audit chain: each finalized visit's charge lines
against its finalize entry, each amendment and void against its entry, each payment and
payment void against its entry, and no charge line or finalize entry on an open visit."""

from __future__ import annotations

import json
import logging
import sqlite3

from therapy_timer.core.records import AuditBreak
from therapy_timer.storage import dialect
from therapy_timer.storage.verify_report import SHOWN, VerifyReport

log = logging.getLogger(__name__)


def _lines_of(detail: dict) -> list:
    return [[str(c), [str(m) for m in mods], int(u), int(ch)]
            for c, mods, u, ch in detail.get("lines", [])]


def _recorded_lines(detail: dict) -> str:
    """A finalize entry's charge lines as verify compares them with the stored ones."""
    try:
        return _show(_lines_of(detail))
    except (TypeError, ValueError):
        return "unreadable"


#: A finalize entry's ``lines`` as SQLite reads them (JSON) from an entry of strict JSON
#: (which Python reads too); else NULL and Python reads the entry.
_FINALIZE_LINES = (
    "CASE WHEN action = 'finalize' AND typeof(detail) = 'text' AND json_valid(detail) THEN"
    " CASE WHEN json_type(detail, '$.lines') = 'array' THEN json_extract(detail, '$.lines')"
    " END END")


def _check_data(report: VerifyReport, conn: sqlite3.Connection) -> None:
    """Finalized visits, amendments, voids and payments against their audit entries."""
    entries: dict[str, dict[int, list[tuple[int, dict]]]] = {}
    payment_entries: dict[str, dict[int, tuple[int, int, dict]]] = {"payment": {},
                                                                    "payment voided": {}}
    recorded: dict[str, str] = {}  # a finalize entry's lines (as SQLite read them) -> shown
    for seq, action, entity_id, detail, lines in conn.execute(
            f"SELECT seq, action, entity_id, detail,"
            f" {'NULL' if dialect.is_pg(conn) else _FINALIZE_LINES} FROM audit_log WHERE"
            " entity = 'visit' AND action IN ('finalize', 'amend', 'void', 'payment',"
            " 'payment voided')"):
        if (lines is not None and "\\" not in detail and detail.isprintable()
                and detail.count('"lines"') == 1):
            # No escape, no control character, and "lines" written once: one member named
            # lines, the same array SQLite read as Python reads from the whole entry.
            data = recorded.get(lines)
            if data is None:
                data = recorded[lines] = _recorded_lines({"lines": json.loads(lines)})
            entries.setdefault(action, {}).setdefault(entity_id, []).append((seq, data))
            continue
        try:
            data = json.loads(detail)
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if action in payment_entries:
            with_id = data.get("payment")
            if isinstance(with_id, int):
                payment_entries[action][with_id] = (seq, entity_id, data)
            continue
        if action == "finalize":  # kept as the compact text it is compared as
            data = _recorded_lines(data)
        entries.setdefault(action, {}).setdefault(entity_id, []).append((seq, data))
    finals = entries.get("finalize", {})
    amends = entries.get("amend", {})
    voids = entries.get("void", {})
    lines, counts = _stored_by_visit(conn)
    amendment_rows = {r[0]: r[1:] for r in conn.execute(
        "SELECT original_visit_id, new_visit_id, reason FROM amendments")}
    found: list[AuditBreak] = []
    visits = finalized = line_count = voided = amended = 0
    visit_ids = set()
    statuses = {}
    for visit_id, status, finalized_at in conn.execute(
            "SELECT id, status, finalized_at FROM visits"):
        visits += 1
        visit_ids.add(visit_id)
        statuses[visit_id] = status
        final = finals.get(visit_id)
        stored = lines.get(visit_id, "no lines")
        if status == "open":
            if final:
                found.append(AuditBreak(final[-1][0], f"finalized visit {visit_id}, but the "
                                                      "visit is open (reopened)"))
            if visit_id in counts:
                found.append(AuditBreak(0, f"visit {visit_id} is open but holds "
                                           f"{counts[visit_id]} charge line(s)"))
            continue
        if finalized_at is not None or status in ("finalized", "amended"):
            if not final:
                found.append(AuditBreak(0, f"visit {visit_id} is {status} but no audit entry "
                                           "records its finalize"))
            else:
                seq, recorded = final[-1]
                if recorded != stored:
                    found.append(AuditBreak(seq, f"visit {visit_id}'s charge lines differ from "
                                                 f"what its finalize entry recorded (stored "
                                                 f"{stored}, recorded {recorded})"))
                finalized += 1
                line_count += counts.get(visit_id, 0)
        if status == "void":
            reasons = [d.get("reason") for _s, d in voids.get(visit_id, [])]
            if not any(isinstance(r, str) and r.strip() for r in reasons):
                found.append(AuditBreak(0, f"visit {visit_id} is void but no audit entry "
                                           "records its void and reason"))
            else:
                voided += 1
        if status == "amended":
            row = amendment_rows.get(visit_id)
            recorded = [d for _s, d in amends.get(visit_id, [])]
            if row is None:
                found.append(AuditBreak(0, f"visit {visit_id} is amended but has no amendment"))
            elif not any(d.get("new_visit_id") == row[0] and d.get("reason") == row[1]
                         for d in recorded):
                found.append(AuditBreak(0, f"visit {visit_id}'s amendment (correction visit "
                                           f"{row[0]}) is not the one its audit entry records"))
            else:
                amended += 1
    for visit_id, final in finals.items():
        if visit_id not in visit_ids:
            found.append(AuditBreak(final[-1][0], f"finalized visit {visit_id}, which is gone"))
    for action, status, words in (("void", "void", "voided"), ("amend", "amended", "amended")):
        for visit_id, recorded in entries.get(action, {}).items():
            if statuses.get(visit_id) != status:
                found.append(AuditBreak(recorded[-1][0], f"{words} visit {visit_id}, but the "
                                        + ("visit is gone" if visit_id not in statuses
                                           else f"visit is not {status}")))
    payments = payment_voids = 0
    rows: list | sqlite3.Cursor = []
    if _has_table(conn, "payments"):
        has_kind = "kind" in dialect.table_columns(conn, "payments")
        rows = conn.execute("SELECT id, visit_id, cents, method, reference, "
                            + ("kind" if has_kind else "'patient'")
                            + ", voided_at, void_reason FROM payments")
    payment_ids = set()
    for pid, visit_id, cents, method, reference, kind, voided_at, reason in rows:
        payments += 1
        payment_ids.add(pid)
        entry = payment_entries["payment"].get(pid)
        if entry is None:
            found.append(AuditBreak(0, f"payment {pid} (visit {visit_id}) has no audit entry"))
        else:
            seq, entity_id, data = entry
            differs = [name for name, have, want in (
                ("visit", visit_id, entity_id), ("amount", cents, data.get("cents")),
                ("method", method, data.get("method")),
                ("reference", reference, data.get("reference", reference)),
                ("kind", kind, data.get("kind", kind))) if have != want]
            if differs:
                found.append(AuditBreak(seq, f"payment {pid}'s {', '.join(differs)} differ "
                                             "from what its entry recorded"))
        void = payment_entries["payment voided"].get(pid)
        if voided_at is not None:
            payment_voids += 1
            if void is None or void[2].get("reason") != reason:
                found.append(AuditBreak(void[0] if void else 0,
                                        f"payment {pid} is void but no audit entry records "
                                        "that void and its reason"))
        elif void is not None:
            found.append(AuditBreak(void[0], f"voided payment {void[2].get('payment')}, but "
                                             "the payment is not void"))
    for pid, (seq, visit_id, _data) in payment_entries["payment"].items():
        if pid not in payment_ids:
            found.append(AuditBreak(seq, f"recorded payment {pid} (visit {visit_id}), which "
                                         "is gone"))
    report.checked.append(f"finalized visits: {finalized} of {visits} visits, their "
                          f"{line_count} charge lines as their finalize entries recorded")
    report.checked.append(f"amendments: {amended}, voids: {voided}, each as its entry "
                          "recorded")
    report.checked.append(f"payments: {payments} ({payment_voids} voided), each as its entry "
                          "recorded")
    report.problems.extend(found[:SHOWN])
    if len(found) > SHOWN:
        report.problems.append(AuditBreak(0, f"... and {len(found) - SHOWN} more differences "
                                             "between the data and the log"))


#: Each visit's charge lines, as JSON (line number, code, modifiers, units, charge).
_VISIT_LINES = ("SELECT visit_id, count(*), json_group_array(json_array(line_no, code,"
                " modifiers, units, charge_cents)) FROM charge_lines GROUP BY visit_id")
_LINE_TYPES = (int, str, str, int, int)  # the types the table declares


def _stored_by_visit(conn: sqlite3.Connection) -> tuple[dict, dict]:
    """Each visit's charge lines as ``_show`` writes them (in line order), and how many."""
    lines: dict[int, str] = {}
    counts: dict[int, int] = {}
    try:
        if dialect.is_pg(conn):  # SQLite's JSON words: the server's lines are read one by one
            raise sqlite3.Error("not SQLite")
        grouped = conn.execute(_VISIT_LINES).fetchall()
    except sqlite3.Error:  # a value JSON cannot hold (a blob): line by line
        per_visit: dict[int, list] = {}
        for visit_id, *line in conn.execute(
                "SELECT visit_id, code, modifiers, units, charge_cents FROM charge_lines"
                " ORDER BY visit_id, line_no"):
            per_visit.setdefault(visit_id, []).append(line)
        for visit_id, rows in per_visit.items():
            lines[visit_id], counts[visit_id] = _stored_lines(rows), len(rows)
        return lines, counts
    shown: dict[str, str] = {}  # a visit's lines as SQLite wrote them -> as _show writes them
    for visit_id, count, written in grouped:
        counts[visit_id] = count
        text = shown.get(written)
        if text is None:
            rows = _written_lines(written)
            if rows is not None:
                text = shown[written] = _stored_lines(rows)
            else:  # a value of another type than the table's: that visit's lines one by one
                text = _stored_lines(conn.execute(
                    "SELECT code, modifiers, units, charge_cents FROM charge_lines WHERE"
                    " visit_id = ? ORDER BY line_no", (visit_id,)))
        lines[visit_id] = text
    return lines, counts


def _written_lines(written: str) -> list | None:
    """A visit's lines from ``_VISIT_LINES``'s JSON, in line order; None when a value is not
    of the type the table declares (or the JSON is not that)."""
    try:
        rows = json.loads(written)
    except (TypeError, ValueError):
        return None
    if not isinstance(rows, list) or not all(
            isinstance(row, list) and len(row) == 5
            and all(type(v) is t for v, t in zip(row, _LINE_TYPES, strict=True))
            for row in rows):
        return None
    return [row[1:] for row in sorted(rows)]  # line numbers are unique within a visit


def _stored_lines(rows) -> str:
    return "; ".join(_show([[code, [m for m in modifiers.split() if m], units, charge]])
                     for code, modifiers, units, charge in rows)


def _show(lines) -> str:
    """Charge lines as verify compares and prints them: ``97110-GP x3 135.00; ...``."""
    if not lines:
        return "no lines"
    return "; ".join(f"{c}{'-' + '-'.join(m) if m else ''} x{u} {ch / 100:.2f}"
                     for c, m, u, ch in lines)


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return dialect.has_table(conn, name)
