"""``therapy-timer import``: load rule data into the clinic's database.

    therapy-timer import ncci --db PATH FILE...   (the practitioner PTP release: f1..f4 zips)
    therapy-timer import mue --db PATH FILE       (the practitioner services MUE table)
    therapy-timer import fees --db PATH FILE --from YYYY-MM-DD [--payer NAME] [--dry-run]
                                                  (``import_fees``: a CSV of code,amount)

Prints the release and the rows read, kept (both codes in the code catalog) and skipped.
A refused file (not a PTP or MUE file, a truncated zip, an empty file, a duplicate row, a date
or code that does not parse) exits 2 with one line naming the file, the line and the problem;
nothing stored changes. Storage is imported inside the handler.
"""

from __future__ import annotations

import argparse
import sys

EXIT_USAGE = 2


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "import", help="import rule data: CMS's NCCI PTP edits or MUE table, a fee schedule",
        description="Loads rule data into the clinic's database: CMS's quarterly NCCI files "
                    "(as downloaded from CMS's 'NCCI Procedure to Procedure (PTP) Edits' and "
                    "'Medically Unlikely Edits' pages, practitioner services), or a fee "
                    "schedule (code,amount). Each checks the whole file first; billing then "
                    "uses it.")
    parser.add_argument("--db", dest="db", default=argparse.SUPPRESS, metavar="PATH",
                        help="database file or clinic server URI (default: the data folder, "
                        "or THERAPY_TIMER_DB)")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind, help_text, files in (
        ("ncci", "the practitioner PTP edits: the release's zip files (f1 ... f4) or the "
                 ".txt files inside them", "+"),
        ("mue", "the practitioner services MUE table: its zip, or the .csv inside it", 1),
    ):
        sub = kinds.add_parser(kind, help=help_text, description=help_text)
        sub.add_argument("--db", dest="db", default=argparse.SUPPRESS, metavar="PATH",
                         help="database file or clinic server URI (default: the data folder, "
                         "or THERAPY_TIMER_DB)")
        sub.add_argument("--user", default="", help="who imports (for the audit log)")
        sub.add_argument("files", nargs=files, metavar="FILE")
        sub.set_defaults(handler=run, import_kind=kind)
    from therapy_timer.commands import import_fees

    import_fees.register(kinds)


def run(args: argparse.Namespace) -> int:
    import getpass

    from therapy_timer.cli import UsageError
    from therapy_timer.core.model import BillingError
    from therapy_timer.paths import db_path
    from therapy_timer.storage.dialect import is_server
    from therapy_timer.storage.errors import StorageError
    from therapy_timer.storage.repository import open_repository

    path = db_path(getattr(args, "db", None))
    if is_server(path):
        from therapy_timer.commands.documents import open_server

        opened = open_server(path)
    elif not path.is_file():
        raise UsageError(f"no database at {path}: give the clinic's file with --db")
    else:
        opened = None
    user = args.user.strip() or _login(getpass)
    try:
        with opened or open_repository(path) as repo:
            method = repo.import_ncci if args.import_kind == "ncci" else repo.import_mue
            summary = method(args.files, user=user)
    except BillingError as exc:
        raise UsageError(f"nothing imported: {exc}") from None
    except StorageError as exc:
        print(f"therapy-timer: nothing imported: {exc}", file=sys.stderr)
        return 1
    print(f"imported the {summary.describe()}")
    return 0


def _login(getpass) -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "command line"
