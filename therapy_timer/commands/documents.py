"""``therapy-timer superbill``, ``daysheet`` and ``export``: the front desk's paper and files.

``--db`` names a database file or a clinic server (``postgresql://HOST/DB``, ``service=NAME``).

- ``superbill --db PATH (--visit ID | --date D [--to D]) (--out FILE | --split DIR)``
- ``daysheet --db PATH --date D [--to D] --out FILE``
- ``export --db PATH --date D [--to D] --format csv --out FILE`` (one row per charge line)

Bad arguments, an unknown or open visit and an unwritable path exit 2 with one line on stderr;
files are written to a temporary name in the target folder and renamed when complete, so a
failure never leaves a half-written file. reportlab and the store load inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    sb = subparsers.add_parser(
        "superbill", help="write superbill PDFs for a visit or for a date range",
        description="Writes the superbill of a finalized visit, or of every finalized visit "
        "in a date range, as one PDF (--out) or one PDF per visit (--split DIR).")
    _db_option(sb)
    which = sb.add_mutually_exclusive_group(required=True)
    which.add_argument("--visit", metavar="ID", help="one visit by its number")
    which.add_argument("--date", type=_day, metavar="YYYY-MM-DD",
                       help="every finalized visit on this day (or from this day with --to)")
    sb.add_argument("--to", type=_day, metavar="YYYY-MM-DD", help="last day of the range")
    where = sb.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", metavar="FILE", help="the PDF to write (all visits in one file)")
    where.add_argument("--split", metavar="DIR", help="write one PDF per visit into DIR")
    sb.set_defaults(handler=run_superbill)

    ds = subparsers.add_parser(
        "daysheet", help="write the day sheet (charges per provider) as a PDF",
        description="Writes the charge sheet for a day or a range: per provider, patients, "
        "codes, modifiers, units and charges with subtotals; open visits are flagged.")
    _db_option(ds)
    _range_options(ds)
    ds.add_argument("--out", metavar="FILE", required=True, help="the PDF to write")
    ds.set_defaults(handler=run_daysheet)

    ex = subparsers.add_parser(
        "export", help="export charge lines for a billing service or a spreadsheet",
        description="Writes one row per charge line of the finalized visits in the range.")
    _db_option(ex)
    _range_options(ex)
    ex.add_argument("--format", choices=["csv"], default="csv", help="file format (csv)")
    ex.add_argument("--out", metavar="FILE", required=True, help="the file to write")
    ex.set_defaults(handler=run_export)


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", dest="db", metavar="PATH", default=argparse.SUPPRESS,
                        help="database file or clinic server URI (default: --db before the "
                        "command, THERAPY_TIMER_DB, or the data folder)")


def _range_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", type=_day, metavar="YYYY-MM-DD", required=True,
                        help="the day (or the first day with --to)")
    parser.add_argument("--to", type=_day, metavar="YYYY-MM-DD", help="last day of the range")


def _day(text: str) -> date:
    value = str(text).strip()
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad date {text!r}: use YYYY-MM-DD") from None


#: The largest id SQLite stores (a larger number names no visit and cannot be looked up).
MAX_ID = 2**63 - 1


def _visit_id(text: str) -> int:
    """The visit number given (checked in the handler: a refusal is one line, exit 2)."""
    value = str(text).strip()
    if not (value.isascii() and value.isdigit()) or int(value[:20]) <= 0:
        raise _usage(f"bad visit number {text[:40]!r}: use a whole number")
    if len(value) > 19 or int(value) > MAX_ID:
        raise _usage(f"bad visit number {value[:40]}{'…' if len(value) > 40 else ''}: no visit "
                     "has a number that large")
    return int(value)


# --- shared plumbing ---


def _usage(message: str) -> Exception:
    from therapy_timer.cli import UsageError

    return UsageError(message)


def _range(args: argparse.Namespace) -> tuple[date, date]:
    start = args.date
    end = args.to or start
    if args.to is not None and start is None:
        raise _usage("--to needs --date")
    from therapy_timer.core.model import BillingError
    from therapy_timer.core.superbill_build import days

    try:
        days(start, end)
    except BillingError as exc:
        raise _usage(str(exc)) from None
    return start, end


def _open_store(args: argparse.Namespace, *outputs: Path):
    """Opens the database named by --db / THERAPY_TIMER_DB / the data folder; it must exist,
    and no output may overwrite it (or its journal files). A clinic server must hold a
    clinic already (a read never creates one)."""
    from therapy_timer.paths import db_path
    from therapy_timer.storage.dialect import is_server

    path = db_path(getattr(args, "db", None), create_dir=False)
    if is_server(path):
        return open_server(path)
    _check_clinic(path)
    guarded = {Path(f"{path}{suffix}").resolve() for suffix in ("", "-wal", "-shm", "-journal")}
    for out in outputs:
        if out.resolve() in guarded:
            raise _usage(f"refusing to write over the database {path}: choose another --out")
    if not path.is_file():
        raise _usage(f"no database at {path} (give --db PATH; 'therapy-timer demo' makes one)")
    from therapy_timer.storage.repository import StorageError, open_repository

    try:
        repo = open_repository(path)
    except StorageError as exc:
        raise _usage(str(exc)) from None
    _warn_repaired(repo, path)
    return repo


def open_server(target: str, *, migrate_schema: bool = True):
    """The store on the clinic server ``target``, which must hold a Therapy Timer clinic.

    An unreachable server exits 1 (try again when it answers); a refused password, a missing
    or empty database, another program's database or a newer schema exit 2; each is one line
    naming the server without its password.
    """
    from therapy_timer.cli import CommandFailed
    from therapy_timer.storage.errors import ConnectionLostError, StorageError
    from therapy_timer.storage.repository import open_repository

    try:
        # Read as it is first: an empty database is refused, not made a clinic by a read.
        repo = open_repository(target, migrate_schema=False)
        if migrate_schema:
            repo.close()
            repo = open_repository(target)
    except ConnectionLostError as exc:
        raise CommandFailed(str(exc)) from None
    except StorageError as exc:
        raise _usage(str(exc)) from None
    _warn_repaired(repo, repo.where)
    return repo


def _warn_repaired(repo, where) -> None:
    if repo.repaired_triggers:
        from therapy_timer.storage.tamper import repaired_note

        print(f"therapy-timer: warning: {repaired_note(where, repo.repaired_triggers)}",
              file=sys.stderr)


def _check_clinic(path: Path) -> None:
    """Refuses, unchanged, a file that holds no clinic to read: an empty (0-byte) file, a
    pipe, a link loop, our mark without the app's tables (storage/checks.py)."""
    from therapy_timer.storage.checks import open_existing
    from therapy_timer.storage.errors import NotFoundError, StorageError

    try:
        open_existing(path).close()
    except NotFoundError:
        return  # said below, with how to make one
    except StorageError as exc:
        raise _usage(str(exc)) from None


def _read_store(args: argparse.Namespace, out: Path, read):
    """``read(repo)`` on the database named by ``args``, closed afterwards; a store error
    becomes a usage error (exit 2) naming it, before anything is written to ``out``."""
    from therapy_timer.storage.repository import StorageError

    repo = _open_store(args, out)
    try:
        return read(repo)
    except StorageError as exc:
        raise _store_error(exc) from None
    finally:
        repo.close()


def _store_error(exc: Exception) -> Exception:
    """A store error while reading: the server went away exits 1, the rest exit 2."""
    from therapy_timer.cli import CommandFailed
    from therapy_timer.storage.errors import ConnectionLostError

    return CommandFailed(str(exc)) if isinstance(exc, ConnectionLostError) else _usage(str(exc))


def _check_out(path: str) -> Path:
    from therapy_timer.pdf.output import OutputError, check_writable

    try:
        return check_writable(path)
    except OutputError as exc:
        raise _usage(str(exc)) from None


def _write(path: Path, writer) -> Path:
    from therapy_timer.pdf.output import OutputError, write_atomically

    try:
        return write_atomically(path, writer)
    except OutputError as exc:
        raise _usage(str(exc)) from None


def icd_describer():
    """ICD-10-CM code -> description for visits without documented ones (the compact index
    when built, else ""; never the ~2 s ICD-10-CM package)."""
    from therapy_timer.storage.icd_index import describer

    return describer()


# --- superbill ---


def run_superbill(args: argparse.Namespace) -> int:
    from therapy_timer.core.model import BillingError
    from therapy_timer.core.superbill_build import billable_visit_ids, superbill_for_visit
    from therapy_timer.pdf import render_superbill, render_superbills
    from therapy_timer.storage.repository import StorageError

    if args.visit is not None and args.to is not None:
        raise _usage("--to goes with --date, not --visit")
    visit_id = _visit_id(args.visit) if args.visit is not None else None
    if args.out is not None:
        out = _check_out(args.out)
    else:
        if not str(args.split).strip():
            raise _usage("--split needs a folder")
        folder = Path(args.split)
        if not folder.is_dir():
            raise _usage(f"--split {folder}: no such folder")
        _check_out(folder / "superbill-check.pdf")
    repo = _open_store(args, *([out] if args.out is not None else []))
    try:
        if visit_id is not None:
            ids = [visit_id]
            skipped: list[int] = []
        else:
            start, end = _range(args)
            try:
                ids = billable_visit_ids(repo, start, end)
                skipped = _open_ids(repo, start, end)
            except StorageError as exc:  # a damaged or hollow file: name it, exit 2
                raise _store_error(exc) from None
            if not ids:
                period = start.isoformat() if start == end else f"{start} to {end}"
                extra = f" ({len(skipped)} still open)" if skipped else ""
                raise _usage(f"no finalized visits on {period}{extra}")
        describe = icd_describer()
        try:
            items = [superbill_for_visit(repo, vid, describe) for vid in ids]
        except BillingError as exc:
            raise _usage(str(exc)) from None
        except StorageError as exc:
            raise _store_error(exc) from None
    finally:
        repo.close()
    if args.out is not None:
        _write(out, lambda stream: render_superbills(items, stream))
        written = [out]
    else:
        written = []
        for item in items:
            name = f"superbill-{item.service_date.isoformat()}-visit-{item.visit_id}.pdf"
            written.append(_write(Path(args.split) / name,
                                  lambda stream, item=item: render_superbill(item, stream)))
    if skipped:
        print(f"therapy-timer: left out {len(skipped)} open visit(s) (not billable yet): "
              + ", ".join(str(v) for v in skipped), file=sys.stderr)
    _warn_gaps(items)
    for path in written:
        print(path)
    return 0


def _warn_gaps(items) -> None:
    """One stderr line per distinct gap (core/superbill_check.py), naming the visits it
    affects and where to set it; the PDFs are still written and the exit code stays 0."""
    affected: dict[object, list[str]] = {}
    for item in items:
        for gap in item.gaps:
            affected.setdefault(gap, []).append(str(item.visit_id))
    for gap, visits in affected.items():
        which = f"visit {visits[0]}" if len(visits) == 1 else \
            f"{len(visits)} visits ({', '.join(visits[:5])}{', ...' if len(visits) > 5 else ''})"
        print(f"therapy-timer: warning: {gap} (superbill of {which} is not usable by a payer "
              "as it is)", file=sys.stderr)


def _open_ids(repo, start: date, end: date) -> list[int]:
    from therapy_timer.core.records import VisitStatus
    from therapy_timer.core.superbill_build import days

    return [s.visit.id for day in days(start, end) for s in repo.visits_on(day)
            if s.status is VisitStatus.OPEN]


# --- day sheet ---


def run_daysheet(args: argparse.Namespace) -> int:
    from therapy_timer.core.superbill_build import daysheet_for_range
    from therapy_timer.pdf import render_daysheet

    start, end = _range(args)
    out = _check_out(args.out)
    sheet = _read_store(args, out, lambda repo: daysheet_for_range(repo, start, end))
    _write(out, lambda stream: render_daysheet(sheet, stream))
    print(out)
    return 0


# --- export ---


def run_export(args: argparse.Namespace) -> int:
    from therapy_timer.commands.export_csv import charge_rows, write_csv

    start, end = _range(args)
    out = _check_out(args.out)
    rows = _read_store(args, out, lambda repo: charge_rows(repo, start, end))
    _write(out, lambda stream: write_csv(rows, stream))
    print(out)
    print(f"therapy-timer: {len(rows)} charge line(s) exported", file=sys.stderr)
    return 0
