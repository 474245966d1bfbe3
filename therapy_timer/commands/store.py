"""Database commands: ``verify``, ``backup``, ``restore`` and ``demo``.

    therapy-timer verify --db PATH
    therapy-timer backup --db PATH --out FILE
    therapy-timer restore --db PATH --from FILE
    therapy-timer demo --db PATH [--seed N] [--end-date YYYY-MM-DD]

Storage is imported inside the handlers so other commands stay fast.
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
        description="Checks the database's integrity and walks the hash-chained audit log. "
                    "Prints 'ok', or the first broken link (exit 1).")
    _db_option(verify)
    verify.set_defaults(handler=run_verify)

    backup = subparsers.add_parser(
        "backup", help="copy the database safely (online backup)",
        description="Copies the database with SQLite's online backup API (safe while the app "
                    "runs); the copy is checked before it gets its name.")
    _db_option(backup)
    backup.add_argument("--out", required=True, metavar="FILE", help="backup file to write")
    backup.set_defaults(handler=run_backup)

    restore = subparsers.add_parser(
        "restore", help="replace the database with a backup",
        description="Replaces the database with a Therapy Timer backup. Refuses any other "
                    "file; the current database is first saved beside itself.")
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
                        help="database file (default: the data folder, or THERAPY_TIMER_DB)")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-20") from None


def _path(args):
    from therapy_timer.paths import db_path

    return db_path(getattr(args, "db", None))


def _fail(message: str) -> int:
    print(f"therapy-timer: {message}", file=sys.stderr)
    return EXIT_FAILED


def run_verify(args) -> int:
    from therapy_timer.storage.db import check_file
    from therapy_timer.storage.errors import StorageError
    from therapy_timer.storage.repository import open_repository

    path = _path(args)
    try:
        if not check_file(path):
            return _fail(f"there is no database at {path}")
        repo = open_repository(path, migrate_schema=False)
        try:
            integrity = repo.integrity_check()
            if integrity != "ok":
                return _fail(f"{path} is damaged: {integrity.splitlines()[0]}")
            broken = repo.audit_verify()
        finally:
            repo.close()
    except StorageError as exc:
        return _fail(str(exc))
    if broken is not None:
        print(f"broken: {broken}")
        return EXIT_FAILED
    print("ok")
    return 0


def run_backup(args) -> int:
    from therapy_timer.storage.backup import backup
    from therapy_timer.storage.errors import StorageError

    path = _path(args)
    try:
        out = backup(path, args.out)
    except StorageError as exc:
        return _fail(str(exc))
    print(f"backed up {path} to {out}")
    return 0


def run_restore(args) -> int:
    from therapy_timer.storage.backup import restore
    from therapy_timer.storage.errors import StorageError

    path = _path(args)
    try:
        safety = restore(path, args.source)
    except StorageError as exc:
        return _fail(str(exc))
    if safety:
        print(f"the previous database was saved as {safety}")
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
    print(f"demo clinic written to {path}: {summary}")
    return 0
