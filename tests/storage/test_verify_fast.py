"""verify's fast chain walk (issue 11, "A 10-year clinic": ``verify`` of 2.7 million audit
entries under 10 s). SQLite writes each entry's canonical payload, whole batches are checked
with a few C calls, and a long chain is walked by worker processes over ranges of entry
numbers. None of it may change what verify reports: every test compares with the entry-by-entry
reference walk (``audit.entry_hash``, one process) or with findings written out."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from therapy_timer.storage import anchor as anchors
from therapy_timer.storage import audit, chain_walk, data_check, tamper
from therapy_timer.storage.checks import open_existing
from therapy_timer.storage.repository import open_repository

from .conftest import T0

#: The fast walk reads each entry's payload as SQLite's json_array writes it, and its workers
#: reopen the file: the SQLite file's own path. A server's chain is walked by the reference
#: walk (its verify runs on both databases in test_tamper_evidence and the CLI tests).
pytestmark = pytest.mark.sqlite_only("SQLite's JSON payloads and worker processes reopening "
                                     "the file are the file's own fast path")


#: Text that JSON writes escaped, or that SQLite and Python write differently.
TRICKY = ['say "no" \\ back', "tab\tnew\nline\r", "\x00nul \x01 \x1f", "del \x7f", "café",
          "\u2028 \u2029 \ufeff", "emoji \U0001f600", "", '{"json":[1,"x"]}', "\x80"]
ENTRIES = 90  # a chain this long: a few batches of CHUNK entries, two or three ranges
CHUNK = 8

# Every character a user could type, and the ones nobody types.
texts = st.text(st.characters(codec="utf-8"), max_size=40)
ascii_texts = st.text(st.characters(min_codepoint=0, max_codepoint=0x7E), max_size=40)


@pytest.fixture(autouse=True)
def _small_batches(monkeypatch):
    monkeypatch.setattr(chain_walk, "_CHUNK", CHUNK)


def _build(path: Path, count: int = ENTRIES, tricky: bool = True) -> None:
    """A clinic file whose chain has ``count`` more entries, written by ``audit.append`` (the
    app's own writer, signed with the anchor key); every seventh holds tricky text."""
    repo = open_repository(path)
    key = repo.anchor.key
    conn = repo.conn
    conn.execute("BEGIN IMMEDIATE")
    for n in range(count):
        text = TRICKY[n // 7 % len(TRICKY)] if tricky and n % 7 == 3 else f"note {n}"
        audit.append(conn, T0 + timedelta(seconds=n), "desk" if n % 2 else text, "note",
                     "visit", None if n % 5 == 0 else n, {"text": text, "n": n}, mac=key)
    conn.execute("COMMIT")
    repo.close()


@pytest.fixture
def chain(tmp_path) -> Path:
    path = tmp_path / "chain.db"
    _build(path)
    return path


def _report(path: Path, workers: int = 1, reference: bool = False, monkeypatch=None,
            points=(), keyless: bool = False):
    """What verify reports of ``path`` (read-only, as the command opens it; ``points``: paper
    checkpoints given; ``keyless``: on a computer without the anchor key), or the error it
    stops with."""
    if reference:
        monkeypatch.setattr(chain_walk, "sqlite_writes_payloads", lambda conn: False)
    repo = open_existing(path)
    try:
        repo.anchor = tamper.setup_anchor(repo.conn, path, create=False)
        with pytest.MonkeyPatch.context() as patch:
            if keyless:
                patch.setattr(anchors, "find_key", lambda key_id, folder=None: None)
            report = tamper.verify_report(repo.conn, path, workers=workers,
                                          runtime_key=None if keyless else repo.anchor.key,
                                          checkpoints=points)
        return ([str(p) for p in report.problems], report.checked, report.cannot)
    except Exception as exc:  # noqa: BLE001 - compared: the same error either way
        return (type(exc).__name__, str(exc))
    finally:
        repo.close()
        if reference:
            monkeypatch.undo()


def _attack(path: Path, *statements, args=()) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
        conn.execute("DROP TRIGGER IF EXISTS audit_no_delete")
        for sql in statements:
            conn.execute(sql, args if "?" in sql else ())
    finally:
        conn.close()


def _rehash_from(path: Path, seq: int, by_sqlite: bool = False, **changes) -> None:
    """Rewrites entry ``seq`` and re-hashes it and every entry after it (an attacker with the
    file but not the key). ``by_sqlite``: entry ``seq``'s hash is SQLite's json_array text
    hashed, not the reference payload: only a walk that trusts SQLite's text would pass it."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
        for name, value in changes.items():
            conn.execute(f"UPDATE audit_log SET {name} = ? WHERE seq = ?", (value, seq))
        rows = conn.execute("SELECT seq, at, user, action, entity, entity_id, detail,"
                            " prev_hash FROM audit_log WHERE seq >= ? ORDER BY seq",
                            (seq,)).fetchall()
        if not rows:  # removed by an attack before
            return
        prev = rows[0][7]
        for row_seq, at, user, action, entity, entity_id, detail, _prev in rows:
            values = [prev, row_seq, at, user, action, entity, entity_id, detail]
            if any(isinstance(v, bytes) for v in values):
                digest = "f" * 64  # nothing hashes a blob
            elif by_sqlite and row_seq == seq:
                written = conn.execute("SELECT CAST(json_array(?, ?, ?, ?, ?, ?, ?, ?) AS"
                                       " BLOB)", values).fetchone()[0]
                digest = hashlib.sha256(written).hexdigest()
            else:
                payload = json.dumps(values, separators=(",", ":"), ensure_ascii=True)
                digest = hashlib.sha256(payload.encode("ascii")).hexdigest()
            conn.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?",
                         (prev, digest, row_seq))
            prev = digest
    finally:
        conn.close()


# --- the payload SQLite writes is the reference payload, or is left to Python ---

@pytest.fixture(scope="module")
def table():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, user TEXT"
                 " NOT NULL, action TEXT NOT NULL, entity TEXT NOT NULL, entity_id INTEGER,"
                 " detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)")
    yield conn
    conn.close()


def _written(conn, values) -> tuple[bytes | None, bytes | None]:
    conn.execute("DELETE FROM audit_log")
    conn.execute("INSERT INTO audit_log (prev_hash, seq, at, user, action, entity, entity_id,"
                 " detail, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '')", values)
    return conn.execute(f"SELECT {chain_walk._PAYLOAD}, {chain_walk._PAYLOAD_ANY_TABLE}"
                        " FROM audit_log").fetchone()


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prev=texts, seq=st.integers(1, 2**63 - 1), at=texts, user=texts, action=texts,
       entity=texts, entity_id=st.none() | st.integers(-(2**63), 2**63 - 1), detail=texts)
def test_sqlite_writes_the_reference_payload_or_leaves_the_entry_to_python(
        table, prev, seq, at, user, action, entity, entity_id, detail):
    assert chain_walk.sqlite_writes_payloads(table)
    values = (prev, seq, at, user, action, entity, entity_id, detail)
    reference = json.dumps(list(values), separators=(",", ":"), ensure_ascii=True)
    for written in _written(table, values):
        if written == reference.encode("ascii"):
            assert hashlib.sha256(written).hexdigest() == audit.entry_hash(*values)
        else:  # the fast walk must not use it
            assert chain_walk._left_to_python(written)
            assert any(not t.isascii() or "\x7f" in t
                       for t in (prev, at, user, action, entity, detail))


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prev=ascii_texts, at=ascii_texts, user=ascii_texts, detail=ascii_texts,
       entity_id=st.none() | st.integers(-(2**63), 2**63 - 1))
def test_entries_of_ascii_text_are_all_written_by_sqlite(table, prev, at, user, detail,
                                                         entity_id):
    """Quotes, backslashes and control characters included: the fast walk covers them."""
    values = (prev, 7, at, user, "note", "visit", entity_id, detail)
    reference = json.dumps(list(values), separators=(",", ":"), ensure_ascii=True)
    assert _written(table, values) == (reference.encode("ascii"),) * 2


def test_a_fraction_or_a_blob_is_left_to_python(table):
    prev = "0" * 64
    assert _written(table, (prev, 1, "a", "b", "c", "d", 1e100, "{}")) == (None, None)
    table.execute("UPDATE audit_log SET entity_id = 5, detail = X'00'")
    with pytest.raises(sqlite3.Error):  # the walk then takes that batch entry by entry
        table.execute(f"SELECT {chain_walk._PAYLOAD} FROM audit_log").fetchone()
    assert table.execute(f"SELECT {chain_walk._PAYLOAD_ANY_TABLE} FROM audit_log").fetchone() \
        == (None,)


@settings(max_examples=300)
@given(key=st.binary(max_size=130), digests=st.lists(st.binary(max_size=100), max_size=4))
def test_macs_are_hmac_sha256(key, digests):
    want = [hmac.new(key, d, "sha256").hexdigest() for d in digests]
    assert anchors.AnchorKey(key, "test").macs(digests) == want


def test_macs_equal_the_entry_by_entry_mac():
    key = anchors.new_key()
    digest = audit.entry_hash(audit.GENESIS, 1, "2026-11-20", "desk", "note", "visit", 3, "{}")
    assert key.macs([digest.encode("ascii")]) == [key.mac(digest)]


# --- the walk: the same report, fast or entry by entry, in one process or several ---

def test_an_untouched_chain_verifies_with_every_entry_counted(chain, monkeypatch):
    slow = []
    walk_rows = chain_walk._walk_rows

    def spy(part, rows, *args):
        rows = list(rows)
        slow.append([r[0] for r in rows])
        walk_rows(part, rows, *args)
    monkeypatch.setattr(chain_walk, "_walk_rows", spy)
    problems, checked, _cannot = _report(chain)
    assert problems == []
    assert checked[0].startswith("audit chain: 90 entries linked (newest: entry 90, ")
    assert checked[1].startswith("keyed hashes: 90 entries from entry 1 signed with anchor key")
    # Only batches holding text beyond ASCII (or DEL) went entry by entry.
    assert slow
    conn = sqlite3.connect(chain)
    for seqs in slow:
        rows = conn.execute("SELECT user, detail FROM audit_log WHERE seq BETWEEN ? AND ?",
                            (seqs[0], seqs[-1])).fetchall() if seqs else []
        assert any(not (u + d).isascii() or "\x7f" in u + d for u, d in rows)
    conn.close()


def test_a_chain_of_ascii_text_is_checked_in_batches_only(tmp_path, monkeypatch):
    path = tmp_path / "plain.db"
    _build(path, tricky=False)
    monkeypatch.setattr(chain_walk, "_walk_rows", lambda *a: pytest.fail("entry by entry"))
    problems, checked, _cannot = _report(path, workers=3)
    assert problems == []
    assert any(line.startswith("audit chain: ") for line in checked)


ATTACKS = ["content", "delete", "prev", "rehash", "no mac", "bad mac", "beyond ascii",
           "fraction", "sqlite hash", "sqlite hash of DEL", "blob", "gap", "number hash",
           "hash beyond ascii", "late anchor", "blob hash", "blob mac", "blob prev",
           "short prev"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(attacks=st.lists(st.tuples(st.sampled_from(ATTACKS), st.integers(1, ENTRIES + 20)),
                        min_size=1, max_size=3), keyless=st.booleans())
def test_every_attack_is_reported_as_the_reference_walk_reports_it(chain, attacks, keyless):
    """Paper checkpoints of every ninth entry (taken before the attacks) are given too."""
    conn = sqlite3.connect(chain)
    points = [tamper.parse_checkpoint(f"{seq}:{digest[:16]}") for seq, digest in conn.execute(
        "SELECT seq, hash FROM audit_log WHERE seq % 9 = 4")]
    conn.close()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "copy.db"
        shutil.copy(chain, path)
        _apply(path, attacks)
        with pytest.MonkeyPatch.context() as patch:
            reference = _report(path, reference=True, monkeypatch=patch, points=points,
                                keyless=keyless)
        assert _report(path, points=points, keyless=keyless) == reference
        assert _report(path, workers=3, points=points, keyless=keyless) == reference


def _apply(path: Path, attacks) -> None:
    newest = sqlite3.connect(path).execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    for kind, seq in attacks:
        seq = min(seq, newest)
        if kind == "content":
            _attack(path, "UPDATE audit_log SET detail = '{\"n\":-1}' WHERE seq = ?", args=(seq,))
        elif kind == "delete":
            _attack(path, "DELETE FROM audit_log WHERE seq = ?", args=(seq,))
        elif kind == "gap":
            _attack(path, "UPDATE audit_log SET seq = seq + 1000 WHERE seq = ?", args=(newest,))
        elif kind == "prev":
            _attack(path, "UPDATE audit_log SET prev_hash = ? WHERE seq = ?", args=("f" * 64, seq))
        elif kind == "rehash":
            _rehash_from(path, seq, user="mallory")
        elif kind == "no mac":
            _attack(path, "UPDATE audit_log SET mac = NULL WHERE seq = ?", args=(seq,))
        elif kind == "bad mac":
            _attack(path, "UPDATE audit_log SET mac = ? WHERE seq = ?", args=("0" * 64, seq))
        elif kind == "beyond ascii":  # re-hashed as the app would: the chain holds
            _rehash_from(path, seq, user="Zoë")
        elif kind == "fraction":
            _rehash_from(path, seq, entity_id=1e100)
        elif kind == "sqlite hash":  # SQLite writes 1.0e+100, Python 1e+100
            _rehash_from(path, seq, by_sqlite=True, entity_id=1e100)
        elif kind == "sqlite hash of DEL":  # SQLite writes DEL as it is, Python as \u007f
            _rehash_from(path, seq, by_sqlite=True, user="a\x7fb")
        elif kind == "blob":
            _attack(path, "UPDATE audit_log SET detail = X'7b7d' WHERE seq = ?", args=(seq,))
        elif kind == "number hash":
            _attack(path, "UPDATE audit_log SET hash = 5 WHERE seq = ?", args=(seq,))
        elif kind == "hash beyond ascii":
            _attack(path, "UPDATE audit_log SET hash = ? WHERE seq = ?", args=("é" * 64, seq))
        elif kind in ("blob hash", "blob mac", "blob prev"):  # the same text, as a blob
            column = {"blob hash": "hash", "blob mac": "mac", "blob prev": "prev_hash"}[kind]
            _attack(path, f"UPDATE audit_log SET {column} = CAST({column} AS BLOB)"
                          " WHERE seq = ?", args=(seq,))
        elif kind == "short prev":  # links hold for the first 63 digits only
            _attack(path, "UPDATE audit_log SET prev_hash = substr(prev_hash, 1, 63)"
                          " WHERE seq = ?", args=(seq,))
        elif kind == "late anchor":  # entries before it carry no keyed hash
            _attack(path, "DROP TRIGGER IF EXISTS audit_anchor_no_update",
                    "UPDATE audit_anchor SET first_seq = ?",
                    "UPDATE audit_log SET mac = NULL WHERE seq < ?", args=(seq,))


def _start_spy(monkeypatch) -> list[int]:
    started: list[int] = []
    start = chain_walk._ChainWalk.start

    def spy(self, path, workers):
        start(self, path, workers)
        started.append(len(self.running))
    monkeypatch.setattr(chain_walk._ChainWalk, "start", spy)
    return started


def _newest(path) -> int:
    return sqlite3.connect(path).execute("SELECT max(seq) FROM audit_log").fetchone()[0]


# 90 entries in two ranges: 1 to 45 and 46 to 90.
@pytest.mark.parametrize(("attack", "first"), [
    ("UPDATE audit_log SET detail = '{}' WHERE seq IN (51, 55)",
     "audit entry 51: its content does not match its hash (changed after writing)"),
    ("DELETE FROM audit_log WHERE seq = 46",
     "audit entry 46: entry 46 is missing (next is 47)"),
    ("DELETE FROM audit_log WHERE seq BETWEEN 40 AND 50",
     "audit entry 40: entry 40 is missing (next is 51)"),
    (f"UPDATE audit_log SET prev_hash = '{'0' * 64}' WHERE seq = 46",
     "audit entry 46: does not point at the previous entry's hash"),
    ("UPDATE audit_log SET detail = '{}' WHERE seq = 46",
     "audit entry 46: its content does not match its hash (changed after writing)"),
    ("UPDATE audit_log SET mac = NULL WHERE seq = 70",
     "audit entry 70: carries no keyed hash: written without the anchor key, or forged"),
])
def test_two_workers_report_the_first_break_in_the_second_range(chain, monkeypatch, attack,
                                                                 first):
    _attack(chain, attack)
    started = _start_spy(monkeypatch)
    problems, checked, cannot = _report(chain, workers=2)
    assert started == [2]
    assert problems[0] == first
    assert (problems, checked, cannot) == _report(chain, reference=True,
                                                  monkeypatch=monkeypatch)


def test_a_break_in_the_first_range_comes_before_one_in_the_second(chain):
    newest = _newest(chain)
    _attack(chain, f"UPDATE audit_log SET detail = '{{}}' WHERE seq IN (3, {newest - 2})")
    problems, _checked, _cannot = _report(chain, workers=2)
    assert problems[0] == "audit entry 3: its content does not match its hash (changed after" \
                          " writing)"


def test_workers_that_cannot_start_leave_the_walk_to_this_process(chain, monkeypatch, caplog):
    import multiprocessing.context

    def refuse(self):
        raise OSError("no more processes")
    monkeypatch.setattr(multiprocessing.context.ForkProcess, "start", refuse)
    _attack(chain, "DELETE FROM audit_log WHERE seq = 60")
    started = _start_spy(monkeypatch)
    problems, _checked, _cannot = _report(chain, workers=2)
    assert started == [0]
    assert problems[0] == "audit entry 60: entry 60 is missing (next is 61)"
    assert "verify walks the audit chain in one process: no more processes" in caplog.text


def test_a_worker_that_fails_leaves_its_range_to_this_process(chain, monkeypatch):
    import therapy_timer.storage.checks as checks

    connect, parent = checks.connect_for_reading, os.getpid()

    def fail_in_workers(path):
        if os.getpid() != parent:
            raise sqlite3.OperationalError("unable to open database file")
        return connect(path)
    monkeypatch.setattr(checks, "connect_for_reading", fail_in_workers)  # forked, so theirs
    _attack(chain, "DELETE FROM audit_log WHERE seq = 60")
    started = _start_spy(monkeypatch)
    problems, checked, _cannot = _report(chain, workers=2)
    assert started == [2]
    assert problems[0] == "audit entry 60: entry 60 is missing (next is 61)"
    assert any(line.startswith(f"audit chain: {_newest(chain) - 1} entries linked")
               for line in checked)


def test_only_a_long_chain_outside_the_desktop_app_gets_workers(monkeypatch, tmp_path):
    import sys

    path = tmp_path / "clinic.db"
    monkeypatch.setattr(chain_walk.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.delitem(sys.modules, "PySide6", raising=False)
    assert chain_walk._worker_count(None, path, 299_999) == 1
    assert chain_walk._worker_count(None, path, 300_000) == 2
    assert chain_walk._worker_count(None, ":memory:", 3_000_000) == 1
    assert chain_walk._worker_count(3, path, 10) == 3  # asked for
    monkeypatch.setattr(chain_walk.os, "sched_getaffinity", lambda pid: set(range(16)))
    assert chain_walk._worker_count(None, path, 3_000_000) == 4
    monkeypatch.setitem(sys.modules, "PySide6", object())  # the desktop app: never forked
    assert chain_walk._worker_count(None, path, 3_000_000) == 1


def test_the_command_line_reports_the_same_with_workers(chain, monkeypatch, capsys):
    from therapy_timer.cli import main

    _attack(chain, "UPDATE audit_log SET detail = '{}' WHERE seq = 70")
    assert main(["verify", "--db", str(chain)]) == 1
    one = capsys.readouterr().out
    monkeypatch.setattr(chain_walk, "_worker_count", lambda workers, path, entries: 2)
    started = _start_spy(monkeypatch)
    assert main(["verify", "--db", str(chain)]) == 1
    assert started == [2]
    assert capsys.readouterr().out == one
    assert one.startswith("broken: audit entry 70: its content does not match its hash")


# --- the data against the log: SQLite reads the lines where Python would read the same ---

@pytest.fixture(scope="module")
def data_tables(tmp_path_factory):
    """The app's tables (no triggers) in memory, to fill with any data an attacker could."""
    path = tmp_path_factory.mktemp("schema") / "clinic.db"
    open_repository(path).close()
    source = sqlite3.connect(path)
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for (sql,) in source.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND"
                                 " name NOT LIKE 'sqlite_%'"):
        conn.execute(sql)
    source.close()
    yield conn
    conn.close()


def _data_report(conn, reference: bool) -> tuple[list[str], list[str]]:
    with pytest.MonkeyPatch.context() as patch:
        if reference:  # Python reads every entry and every line itself
            patch.setattr(data_check, "_FINALIZE_LINES", "NULL")
            patch.setattr(data_check, "_VISIT_LINES", "SELECT no_such_column FROM charge_lines")
        report = tamper.VerifyReport()
        try:
            data_check._check_data(report, conn)
        except Exception as exc:  # noqa: BLE001 - compared: the same error either way
            return [type(exc).__name__], []
    return [str(p) for p in report.problems], report.checked


values = st.one_of(st.integers(-5, 10**20), st.floats(allow_nan=False, width=32), texts,
                   st.none(), st.booleans())
app_line = st.tuples(st.sampled_from(["97110", "97140", "G0283"]),
                     st.lists(st.sampled_from(["GP", "59", "KX", "CQ", "Zoë"]), max_size=3),
                     st.integers(0, 8), st.integers(0, 99999)).map(list)
lines_value = st.one_of(st.lists(app_line, min_size=1, max_size=3),
                        st.lists(st.one_of(app_line, st.lists(values, max_size=5)),
                                 max_size=4), values)


@st.composite
def finalize_details(draw) -> str:
    """A finalize entry's detail as the app writes it, or as someone with the file could:
    spaced, keys escaped or repeated, nested, not JSON Python reads, not JSON at all."""
    lines = json.dumps(draw(lines_value))
    other = json.dumps(draw(lines_value))
    template = draw(st.sampled_from([
        '{"lines":@L,"confirmed":[]}',
        '{ "lines" : @L }',
        '{"lines":@L,"lines":@O}',
        '{"\\u006cines":@O,"lines":@L}',
        '{"x":{"lines":@O},"lines":@L}',
        '{"note":"lines","lines":@L}',
        '{"lines":@L,"n":NaN}',
        '{"lines":@L,"t":"a\tb"}',
        '\ufeff{"lines":@L}',
        '[{"lines":@L}]',
        '{"confirmed":[]}',
        '{"lines":@L',
        "@T",
    ]))
    return template.replace("@L", lines).replace("@O", other).replace("@T", draw(texts))


stored_value = st.one_of(st.integers(0, 10**6), st.floats(0, 100, allow_nan=False),
                         st.text(max_size=5), st.just(b"\x00"))
stored_line = st.one_of(
    st.tuples(st.sampled_from(["97110", "97140"]), st.sampled_from(["GP", "GP 59", "", " KX "]),
              st.integers(0, 8), st.integers(0, 99999)),
    st.tuples(stored_value, stored_value, stored_value, stored_value))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(visits=st.lists(st.tuples(finalize_details(), st.lists(stored_line, max_size=3),
                                 st.booleans()), min_size=1, max_size=4))
def test_the_data_check_reads_what_the_entry_by_entry_check_reads(data_tables, visits):
    conn = data_tables
    for table in ("audit_log", "charge_lines", "visits"):
        conn.execute(f"DELETE FROM {table}")
    for visit_id, (detail, rows, same) in enumerate(visits, 1):
        conn.execute("INSERT INTO visits (id, patient_id, provider_id, day, discipline, status,"
                     " created_at, finalized_at) VALUES (?, 1, 1, '2026-11-20', 'PT',"
                     " 'finalized', 'x', 'x')", (visit_id,))
        if same:  # the lines the entry recorded, as the app stores them
            try:
                recorded = json.loads(detail)["lines"]
                rows = [(c, " ".join(m), u, ch) for c, m, u, ch in recorded]
            except (ValueError, TypeError, KeyError, IndexError):
                pass
        for number, (code, modifiers, units, charge) in enumerate(rows, 1):
            with contextlib.suppress(sqlite3.Error):  # a value the table refuses (NULL)
                conn.execute("INSERT INTO charge_lines (visit_id, line_no, code, modifiers,"
                             " units, minutes, fee_cents, charge_cents) VALUES (?, ?, ?, ?,"
                             " ?, 0, 0, ?)", (visit_id, number, code, modifiers, units, charge))
        conn.execute("INSERT INTO audit_log (at, user, action, entity, entity_id, detail,"
                     " prev_hash, hash) VALUES ('x', 'pat', 'finalize', 'visit', ?, ?, '', '')",
                     (visit_id, detail))
    assert _data_report(conn, reference=False) == _data_report(conn, reference=True)


@pytest.mark.parametrize("detail", [
    '{"lines":[["97110",["GP"],1,4500]],"lines":[]}',  # Python keeps the last, SQLite the first
    '{"lines":[],"lines":[["97110",["GP"],1,4500]]}',
    '{"\\u006cines":[["97110",["GP"],1,4500]],"lines":[]}',
    '{"x":{"lines":[]},"lines":[["97110",["GP"],1,4500]]}',
    '{"lines":[["97110",["GP"],1,4500]],"n":NaN}',  # Python reads NaN, strict JSON does not
    '{"lines":[["97110",["GP"],1,4500]],"t":"a\tb"}',  # a raw tab: Python refuses it
    '\ufeff{"lines":[["97110",["GP"],1,4500]]}',
    '{"lines":[["97110","GP",1,4500]]}',
    '{"lines":[["97110",["GP"],1.5,4500]]}',
    '{"lines":"97110"}',
    '{"lines":[["97110",["GP"],1,4500]]',
])
@pytest.mark.parametrize("stored", [[], [("97110", "GP", 1, 4500)]])
def test_entries_sqlite_could_read_otherwise_are_read_by_python(data_tables, detail, stored):
    conn = data_tables
    for table in ("audit_log", "charge_lines", "visits"):
        conn.execute(f"DELETE FROM {table}")
    conn.execute("INSERT INTO visits (id, patient_id, provider_id, day, discipline, status,"
                 " created_at, finalized_at) VALUES (1, 1, 1, '2026-11-20', 'PT', 'finalized',"
                 " 'x', 'x')")
    for number, (code, modifiers, units, charge) in enumerate(stored, 1):
        conn.execute("INSERT INTO charge_lines (visit_id, line_no, code, modifiers, units,"
                     " minutes, fee_cents, charge_cents) VALUES (1, ?, ?, ?, ?, 0, 0, ?)",
                     (number, code, modifiers, units, charge))
    conn.execute("INSERT INTO audit_log (at, user, action, entity, entity_id, detail,"
                 " prev_hash, hash) VALUES ('x', 'pat', 'finalize', 'visit', 1, ?, '', '')",
                 (detail,))
    assert _data_report(conn, reference=False) == _data_report(conn, reference=True)


def test_a_finalize_entry_the_app_wrote_is_read_by_sqlite(data_tables, monkeypatch):
    """The common case takes the short way: Python parses no entry and formats each set of
    lines once."""
    conn = data_tables
    for table in ("audit_log", "charge_lines", "visits"):
        conn.execute(f"DELETE FROM {table}")
    for visit_id in (1, 2):
        conn.execute("INSERT INTO visits (id, patient_id, provider_id, day, discipline, status,"
                     " created_at, finalized_at) VALUES (?, 1, 1, '2026-11-20', 'PT',"
                     " 'finalized', 'x', 'x')", (visit_id,))
        conn.execute("INSERT INTO charge_lines (visit_id, line_no, code, modifiers, units,"
                     " minutes, fee_cents, charge_cents) VALUES (?, 1, '97110', 'GP', 2, 30,"
                     " 4500, 9000)", (visit_id,))
        conn.execute("INSERT INTO audit_log (at, user, action, entity, entity_id, detail,"
                     " prev_hash, hash) VALUES ('x', 'pat', 'finalize', 'visit', ?, ?, '', '')",
                     (visit_id, '{"choice":{},"lines":[["97110",["GP"],2,'
                      + ("9000" if visit_id == 1 else "4500") + "]]}"))
    formatted, parsed = [], []
    show, loads = data_check._show, json.loads
    monkeypatch.setattr(data_check, "_show", lambda lines: formatted.append(lines) or show(lines))
    monkeypatch.setattr(data_check.json, "loads", lambda text: parsed.append(text) or loads(text))
    problems, checked = _data_report(conn, reference=False)
    assert not [text for text in parsed if "choice" in text]  # no whole entry
    assert problems == ["audit entry 2: visit 2's charge lines differ from what its finalize"
                        " entry recorded (stored 97110-GP x2 90.00, recorded 97110-GP x2"
                        " 45.00)"]
    assert checked[0] == "finalized visits: 2 of 2 visits, their 2 charge lines as their" \
                         " finalize entries recorded"
    assert len(formatted) == 3  # the stored lines once, each recorded set once
