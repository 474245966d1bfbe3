"""Database commands: ``verify``, ``backup``, ``restore`` and ``demo``.

    therapy-timer verify --db PATH [--key FILE] [--checkpoint SEQ:HASH ...]
    therapy-timer anchor --db PATH [--out FILE]
    therapy-timer backup --db PATH --out FILE
    therapy-timer restore --db PATH --from FILE
    therapy-timer demo --db PATH [--seed N] [--end-date YYYY-MM-DD]

``--db`` may name a clinic server (``postgresql://HOST/DB``, ``service=NAME``): ``verify`` checks
it as it is (its chain carries no keyed hashes, and verify says why), ``anchor`` says it keeps
no key, ``backup --db URI --out FILE.db`` writes its clinic as an ordinary SQLite file
(storage/pg/backup.py), and ``restore`` never writes into a server (it says what to do
instead). A server that cannot be reached exits 1; one that refuses the password, lacks the
database or holds no clinic exits 2.

Storage is imported inside the handlers so other commands stay fast. Exit codes: 0 done; 2 the
input is refused (a file that is not a Therapy Timer database or backup, a missing file, a
backup onto the database itself, a demo into a clinic's file); 1 the work failed (a locked,
read-only or full disk) or ``verify`` found a problem.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

EXIT_FAILED = 1
EXIT_USAGE = 2


def register(subparsers) -> None:
    verify = subparsers.add_parser(
        "verify", help="check the database file and its audit chain",
        description="Checks the database's integrity, walks the hash-chained audit log with "
                    "its keyed hashes (the anchor key kept outside the database) and the "
                    "checkpoints kept outside the file, and compares the finalized visits, "
                    "amendments, voids and payments with what the log recorded. Prints 'ok' "
                    "or what it found (exit 1), then what it checked, what it could not "
                    "check and what no check can see. Changes nothing; a file it cannot "
                    "check at all (missing, empty, not a clinic) exits 2.")
    _db_option(verify)
    verify.add_argument("--key", metavar="FILE", default=None,
                        help="the anchor key file, or a backup's companion .anchor file "
                             "(default: this computer's key for the database)")
    verify.add_argument("--checkpoint", metavar="SEQ:HASH", action="append", default=[],
                        type=_checkpoint,
                        help="a checkpoint printed on a day sheet, e.g. 1234:3f2a9c1b0d4e7788 "
                             "(repeatable)")
    verify.set_defaults(handler=run_verify)

    anchor = subparsers.add_parser(
        "anchor", help="show the audit anchor key, or copy it with its checkpoints",
        description="Says where the database's audit anchor key and checkpoints live on "
                    "this computer, and prints the chain's newest checkpoint. With --out, "
                    "copies the key and the checkpoints to FILE (owner-only) to keep apart "
                    "from the database, for verify --key on another computer.")
    _db_option(anchor)
    anchor.add_argument("--out", metavar="FILE", default=None,
                        help="write the key and checkpoints here")
    anchor.set_defaults(handler=run_anchor)

    backup = subparsers.add_parser(
        "backup", help="copy the database safely (online backup)",
        description="Copies the database with SQLite's online backup API (safe while the app "
                    "runs); the copy is checked before it gets its name. Never writes over the "
                    "database, its -wal, -shm or -journal file, another live database or a "
                    "folder (exit 2). A clinic server (--db URI) is copied into a complete, "
                    "ordinary Therapy Timer file that opens on any computer.")
    _db_option(backup)
    backup.add_argument("--out", required=True, metavar="FILE", help="backup file to write")
    backup.set_defaults(handler=run_backup)

    restore = subparsers.add_parser(
        "restore", help="replace the database with a backup",
        description="Replaces the database with a Therapy Timer backup. The backup's data is "
                    "copied into the app's own schema and checked like 'verify' first; only "
                    "then is the current database saved beside itself and replaced in one "
                    "rename. A refused backup (exit 2) leaves the database unchanged. Close "
                    "Therapy Timer first: restore waits at most 5 seconds for the database. "
                    "A clinic server is never replaced: a backup goes onto a server with "
                    "'server migrate' into an empty database.")
    _db_option(restore)
    restore.add_argument("--from", dest="source", required=True, metavar="FILE",
                         help="backup file to restore")
    restore.set_defaults(handler=run_restore)

    demo = subparsers.add_parser(
        "demo", help="create a synthetic demo clinic",
        description="Creates a synthetic clinic (no real people): 5 clinicians, 3 payers, 40 "
                    "patients and 3 months of finalized visits ending at --end-date. The same "
                    "seed and end date always give the same database.")
    _db_option(demo)
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.add_argument("--end-date", type=_day, default=None, metavar="YYYY-MM-DD",
                      help="last day of visits (default: today)")
    demo.set_defaults(handler=run_demo)


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", dest="db", default=argparse.SUPPRESS, metavar="PATH",
                        help="database file or clinic server URI (default: the data folder, "
                        "or THERAPY_TIMER_DB)")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-20") from None


def _checkpoint(text: str):
    from therapy_timer.storage.tamper import parse_checkpoint

    try:
        return parse_checkpoint(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _path(args):
    from therapy_timer.paths import db_path

    return db_path(getattr(args, "db", None))


def _open_server(target: str):
    """The clinic on a server, read as it is (no migration, no trigger repair: verify and
    backup change nothing). An empty database is refused: it holds no clinic."""
    from therapy_timer.storage.repository import open_repository

    return open_repository(target, migrate_schema=False)


def _one_line(message: str) -> str:
    """A message as one line (a server's own error text can hold line breaks)."""
    return " ".join(str(message).split())


#: A file at least this large has its page check (PRAGMA integrity_check) run beside the
#: chain walk, in a process of its own (a 10-year clinic: 1.4 GB, 2.5 s of the check).
INTEGRITY_ASIDE_BYTES = 256 * 1024 * 1024


def _integrity_aside(path):
    """Starts ``integrity_check`` of the file at ``path`` in a forked process; None when the
    file is small or a process cannot start (the check then runs here, first)."""
    import os

    try:
        if os.path.getsize(path) < INTEGRITY_ASIDE_BYTES:
            return None
        import multiprocessing

        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_integrity_worker, args=(send, os.fspath(path)),
                                  daemon=True)
        process.start()
        send.close()
        return process, receive
    except (OSError, ValueError, ImportError):
        return None


def _integrity_worker(send, path: str) -> None:
    try:
        from therapy_timer.storage.checks import open_existing

        repo = open_existing(path)
        try:
            send.send(repo.integrity_check())
        finally:
            repo.close()
    except BaseException as exc:  # noqa: BLE001 - said in the parent, which checks again
        send.send(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
    finally:
        send.close()


def _integrity_result(checking, repo) -> str:
    """The forked check's answer; the check again here when it gave none."""
    process, receive = checking
    try:
        answer = receive.recv()
    except (EOFError, OSError):
        answer = None
    finally:
        receive.close()
        process.join(5)
    return answer if isinstance(answer, str) else repo.integrity_check()


def _fail(message: str) -> int:
    print(f"therapy-timer: {_one_line(message)}", file=sys.stderr)
    return EXIT_FAILED


def _refuse(message: str) -> int:
    """Bad input (a missing, foreign, empty or unusable file; a path that may not be
    written): one line on stderr, exit 2."""
    print(f"therapy-timer: {_one_line(message)}", file=sys.stderr)
    return EXIT_USAGE


def _refused(exc: Exception) -> int:
    """One line for a store error: exit 2 when it refuses what the user gave, else 1."""
    from therapy_timer.storage.errors import (
        CorruptDatabaseError,
        ForeignDatabaseError,
        InvalidDataError,
        NotFoundError,
        SchemaTooNewError,
    )

    _fail(str(exc))
    refused = (CorruptDatabaseError, ForeignDatabaseError, InvalidDataError, NotFoundError,
               SchemaTooNewError)
    return EXIT_USAGE if isinstance(exc, refused) else EXIT_FAILED


def run_verify(args) -> int:
    """Checks the file without changing it (read-only: no journal-mode switch, no chmod, no
    trigger repair). What it finds wrong exits 1; a file it cannot check at all exits 2."""
    from therapy_timer.storage.anchor import AnchorError
    from therapy_timer.storage.checks import open_existing
    from therapy_timer.storage.dialect import is_server
    from therapy_timer.storage.errors import ConnectionLostError, StorageError

    path = _path(args)
    server = is_server(path)
    try:
        repo = _open_server(path) if server else open_existing(path)
    except ConnectionLostError as exc:
        return _fail(str(exc))
    except StorageError as exc:
        return _refuse(str(exc))
    try:
        from therapy_timer.storage.tamper import setup_anchor

        if not server:  # a server's chain is not keyed (see pg/verify.py)
            repo.anchor = setup_anchor(repo.conn, path, create=False)
        # A large file's page check runs in a process of its own while the chain is walked
        # (both read the whole file; one core each); a small one's first, as always.
        checking = None if server else _integrity_aside(path)
        integrity = repo.integrity_check() if checking is None else None
        if integrity is not None and integrity != "ok":
            return _fail(f"{repo.where} is damaged: {integrity.splitlines()[0]}")
        report = repo.verify_report(key_file=args.key, checkpoints=args.checkpoint)
        if checking is not None:
            integrity = _integrity_result(checking, repo)
            if integrity != "ok":  # a damaged file: what the chain walk said does not count
                return _fail(f"{repo.where} is damaged: {integrity.splitlines()[0]}")
    except AnchorError as exc:
        print(f"therapy-timer: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StorageError as exc:
        return _fail(str(exc))
    finally:
        repo.close()
    if report.ok:
        print("ok")
    for problem in report.problems:
        print(f"broken: {problem}")
    for line in report.checked:
        print(f"checked: {line}")
    for line in report.cannot:
        print(f"could not check: {line}")
    for line in report.limits:
        print(f"cannot detect: {line}")
    return 0 if report.ok else EXIT_FAILED


def run_anchor(args) -> int:
    from therapy_timer.storage.anchor import AnchorError, checkpoints_path, key_path
    from therapy_timer.storage.db import check_file
    from therapy_timer.storage.dialect import is_server
    from therapy_timer.storage.errors import StorageError
    from therapy_timer.storage.repository import open_repository

    path = _path(args)
    if is_server(path):
        return _server_anchor(path, args.out)
    try:
        if not check_file(path):
            return _refuse(f"there is no database at {path}")
        repo = open_repository(path)
        try:
            anchor = repo.anchor
            if anchor is None:
                return _fail(f"{path} has no audit anchor yet (is the config folder "
                             "writable?)")
            point = repo.audit_checkpoint()
            if anchor.key is None:
                print(f"the anchor key of this database (id {anchor.key_id}) is NOT on this "
                      f"computer: copy it to {key_path(anchor.key_id, anchor.folder)}")
            else:
                print(f"anchor key {anchor.key_id}: {key_path(anchor.key_id, anchor.folder)}")
            print(f"checkpoints: {checkpoints_path(anchor.key_id, anchor.folder)}")
            if point is not None:
                print(f"newest checkpoint: entry {point.seq}, {point.short}  "
                      f"(verify --checkpoint {point.token})")
            if args.out:
                out = repo.export_anchor(args.out)
                print(f"key and checkpoints copied to {out}: keep it apart from the database "
                      "and its backups; anyone holding it can re-sign the log")
        finally:
            repo.close()
    except AnchorError as exc:
        return _refuse(str(exc))
    except StorageError as exc:
        return _refused(exc)
    return 0


def _server_anchor(target: str, out) -> int:
    """A clinic server keeps no anchor key: what it has instead, and its chain head."""
    from therapy_timer.storage.errors import ConnectionLostError, StorageError
    from therapy_timer.storage.pg.verify import NO_KEY

    try:
        repo = _open_server(target)
    except ConnectionLostError as exc:
        return _fail(str(exc))
    except StorageError as exc:
        return _refuse(str(exc))
    try:
        point = repo.audit_checkpoint()
        where = repo.where
    except StorageError as exc:
        return _refused(exc)
    finally:
        repo.close()
    if out:
        return _refuse(f"{where} has no audit anchor key to copy: {NO_KEY}; nothing was "
                       "written")
    print(f"{where} has no audit anchor key: {NO_KEY}")
    if point is not None:
        print(f"newest checkpoint: entry {point.seq}, {point.short}  "
              f"(verify --checkpoint {point.token})")
    return 0


def run_backup(args) -> int:
    from therapy_timer.storage.backup import backup
    from therapy_timer.storage.dialect import is_server
    from therapy_timer.storage.errors import StorageError

    path = _path(args)
    if is_server(path):
        return _server_backup(path, args.out)
    try:
        out = backup(path, args.out)
    except StorageError as exc:
        return _refuse(str(exc))
    print(f"backed up {path} to {out}")
    _companion(out)
    return 0


def _server_backup(target: str, out) -> int:
    """``backup --db URI --out FILE.db``: the server's clinic as an ordinary SQLite file."""
    from therapy_timer.storage.errors import ConnectionLostError, StorageError
    from therapy_timer.storage.pg.backup import backup_server

    try:
        done = backup_server(target, out)
    except ConnectionLostError as exc:  # try again when the server answers
        return _fail(str(exc))
    except StorageError as exc:  # as a file's backup: refused, nothing written
        return _refuse(str(exc))
    print(f"backed up {done.where} to {done.out} ({done.summary}); it opens on any computer "
          f"with --db {done.out}")
    _companion(done.out)
    return 0


def _companion(out) -> None:
    """The backup's companion file: its audit anchor key and checkpoints (issue 11)."""
    from therapy_timer.storage.anchor import AnchorError
    from therapy_timer.storage.tamper import write_backup_companion

    try:
        companion = write_backup_companion(out)
    except (AnchorError, OSError) as exc:
        print(f"therapy-timer: warning: the audit anchor was not copied: {exc}",
              file=sys.stderr)
        return
    if companion is not None:
        print(f"its audit anchor key and checkpoints: {companion} (keep it apart from the "
              "backup: verify --key proves the backup with it)")


def run_restore(args) -> int:
    from therapy_timer.storage.backup import restore
    from therapy_timer.storage.dialect import is_server
    from therapy_timer.storage.errors import StorageError

    path = _path(args)
    if is_server(path):
        from therapy_timer.storage.errors import ConnectionLostError
        from therapy_timer.storage.pg.backup import refuse_restore

        try:
            return _refuse(str(refuse_restore(path, args.source)))
        except ConnectionLostError as exc:
            return _fail(str(exc))
        except StorageError as exc:
            return _refuse(str(exc))
    try:
        done = restore(path, args.source)
    except StorageError as exc:
        return _refuse(str(exc))
    from therapy_timer.storage.tamper import note_restored

    note_restored(path)  # the checkpoints of the file before no longer have to be reached
    if done.left_out:
        print(f"left out what the backup carried that the app does not create (never "
              f"copied): {', '.join(done.left_out)}")
    if done.recreated:
        print(f"the backup lacked or had changed the app's own {', '.join(done.recreated)}: "
              "restored with the app's own")
    if done.previous:
        print(f"the previous database was saved as {done.previous}")
    print(f"restored {args.source} into {path}")
    return 0


def run_demo(args) -> int:
    from therapy_timer.demo import DemoError, build_demo_file
    from therapy_timer.storage.errors import StorageError

    path = _path(args)
    end = args.end_date or date.today()
    try:
        summary = build_demo_file(path, seed=args.seed, end_date=end)
    except (StorageError, DemoError) as exc:
        # Bad input (an unusable end date, a file that is not an empty clinic): exit 2.
        print(f"therapy-timer: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from therapy_timer.paths import shown

    print(f"demo clinic written to {shown(path)}: {summary}")
    return 0
