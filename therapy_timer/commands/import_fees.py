"""``therapy-timer import fees --db PATH FILE [--payer NAME] --from YYYY-MM-DD [--dry-run]``.

Reads a CSV of ``code,amount`` (``core/fee_import.py``), prints what changes against the
amounts in force on the start date (the preview Settings shows too), then stores the new
amounts from that date: the clinic's charges, or with ``--payer`` that payer's allowed
amounts. Dates of service before ``--from`` keep their amounts. Bad input (a file that
cannot be read or is not UTF-8, a wrong format, no rows, a row twice, an amount that is not
money, a code that is not a code or not in the catalog, an unknown payer, a bad date) exits
2 with one line on stderr naming the file, line and problem; nothing stored changes.
"""

from __future__ import annotations

import argparse
import sys

#: A fee schedule is a few hundred rows; far above it the file is not one.
MAX_BYTES = 4 * 1024 * 1024


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fees", help="import a fee schedule (CSV of code,amount) from a date",
        description="Imports a CSV of code,amount (dollars per unit) as the clinic's fee "
        "schedule, or with --payer as that payer's allowed amounts, in force from --from. "
        "Prints what changes first; visits before that date keep their amounts.")
    parser.add_argument("--db", dest="db", metavar="PATH", default=argparse.SUPPRESS,
                        help="database file or clinic server URI (default: --db before the "
                        "command, THERAPY_TIMER_DB, or the data folder)")
    parser.add_argument("--payer", metavar="NAME",
                        help="the payer whose allowed amounts these are (default: the "
                        "clinic's own charges)")
    parser.add_argument("--from", dest="start", metavar="YYYY-MM-DD", required=True,
                        help="first date of service the amounts apply to")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would change and store nothing")
    parser.add_argument("file", metavar="FILE", help="CSV file of code,amount rows")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from datetime import date

    from therapy_timer.cli import UsageError
    from therapy_timer.commands.documents import _open_store
    from therapy_timer.core.fee_import import FeeFileError, parse_fee_file, summary
    from therapy_timer.storage.errors import StorageError

    try:
        start = date.fromisoformat(args.start.strip())
    except ValueError:
        raise UsageError(f"--from {args.start[:30]!r} is not a date: use YYYY-MM-DD") from None
    text = _read(args.file)
    repo = _open_store(args)
    try:
        payer = None
        if args.payer is not None:
            payer = _payer(repo, args.payer)
        catalog = repo.code_catalog()
        try:
            rows = parse_fee_file(text, args.file, known=catalog.__contains__)
        except FeeFileError as exc:
            raise UsageError(str(exc)) from None
        changes = repo.preview_fees(rows, start, payer.id if payer else None)
        whose = f"{payer.name}'s allowed amounts" if payer else "the clinic's fee schedule"
        out = sys.stdout
        out.write(f"{args.file}: {len(rows)} row(s) for {whose} from {start.isoformat()}\n")
        for change in changes:
            old = _money(change.old_cents) if change.old_cents is not None else "(none)"
            new = _money(change.new_cents)
            shown = old if change.kind == "unchanged" else f"{old} -> {new}"
            out.write(f"  {change.code:<6} {shown:<22} {change.kind}\n")
        if args.dry_run:
            out.write(f"dry run: nothing stored ({summary(changes)})\n")
            return 0
        try:
            repo.import_fees(rows, start, payer.id if payer else None, source=args.file,
                             user="import")
        except StorageError as exc:
            raise UsageError(f"{args.file}: not imported: {exc}") from None
        out.write(f"imported: {summary(changes)}; visits before {start.isoformat()} keep "
                  "their amounts\n")
        return 0
    finally:
        repo.close()


def _money(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def _payer(repo, name: str):
    from therapy_timer.cli import UsageError

    wanted = " ".join(name.split()).casefold()
    payers = repo.list_payers()
    for payer in payers:
        if payer.name.casefold() == wanted:
            return payer
    known = ", ".join(p.name for p in payers) or "none set up"
    raise UsageError(f"no payer named {name[:40]!r} (payers: {known})")


def _read(path: str) -> str:
    from therapy_timer.cli import UsageError

    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise UsageError(f"{path} is larger than {MAX_BYTES:,} bytes: not a fee schedule")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                         f"{exc.start}): save it as UTF-8 CSV") from None
