"""``therapy-timer units``: bill visits given as JSON (minutes per code or timer intervals).

Reads one visit object, or a list of them, from FILE or stdin and prints the result as JSON.
Bad input (a field of the wrong type, Medicare with the per-code rule, a file that is not UTF-8
JSON, too deep, too long or too large) exits 2 with a one-line message on stderr and nothing on
stdout; ``core/visit_json.py`` checks the visits.

With ``--db PATH`` the visits bill with that clinic database's rule data (its KX thresholds by
year); without it, with the data shipped in ``resources/``. A date of service whose year has no
KX threshold on file bills with the latest year on file: the visit's warnings say so, and so
does a warning on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

#: A visit file is a few kilobytes; a day's list of visits well under a megabyte.
MAX_BYTES = 32 * 1024 * 1024


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "units",
        help="work out billable units and modifiers for visits given as JSON",
        description="Reads a visit (or a list of visits) as JSON from FILE or stdin and prints "
        "units, modifiers, ties, warnings and the explanation as JSON.",
    )
    parser.add_argument("--rule", choices=["cms", "per-code"], default=None,
                        help="unit rule for visits that do not name one (default: cms); given "
                        "explicitly, it overrides the visits' own (a Medicare visit refuses "
                        "per-code: exit 2)")
    parser.add_argument("--db", dest="db", metavar="PATH", default=argparse.SUPPRESS,
                        help="bill with this clinic database's rule data: its KX thresholds by "
                        "year, the NCCI pairs and MUEs it imported, and its fee schedule, "
                        "allowed amounts and codes by date of service (default: the data "
                        "shipped with the app, no fees)")
    parser.add_argument("--payer", metavar="NAME",
                        help="with --db: the payer whose allowed amounts feed KX")
    parser.add_argument("file", nargs="?", metavar="FILE", help="JSON file (default: stdin)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that registering the command (every start-up) costs nothing.
    from datetime import date

    from therapy_timer.cli import UsageError
    from therapy_timer.core.model import BillingError
    from therapy_timer.core.visit_json import bill_visit

    data = read_json(args.file)
    today = date.today()
    if getattr(args, "payer", None) and getattr(args, "db", None) is None:
        raise UsageError("--payer needs --db PATH (the database holding its allowed amounts)")
    rules, used = clinic_rules(getattr(args, "db", None))
    clinic = DatabaseRates.open(args) if getattr(args, "db", None) else None
    try:
        if isinstance(data, list):
            result: Any = [bill_visit(v, args.rule, f"visit {i + 1}: ", today, rules, clinic)
                           for i, v in enumerate(data)]
            for item in result:
                item.update(used)
        else:
            result = bill_visit(data, args.rule, "", today, rules, clinic)
            result.update(used)
    except BillingError as exc:
        raise UsageError(str(exc)) from None
    finally:
        if clinic is not None:
            clinic.close()
    for notice in fallback_notices(result if isinstance(result, list) else [result]):
        where = "" if rules else (" (the shipped data billed: give --db PATH for a clinic's "
                                   "own thresholds)")
        print(f"therapy-timer: warning: {notice}{where}", file=sys.stderr)
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


def clinic_rules(db: str | None) -> tuple[dict, dict]:
    """The ``BillingContext`` fields a clinic database's rule data sets (its KX thresholds by
    year, its imported NCCI pairs and MUEs), and what the output says was used
    (``rule_data``); with no database, none (the shipped seed applies; THERAPY_TIMER_DB is not
    read).

    Raises:
        UsageError: no such database, or one that cannot be read.
    """
    if not db:
        return {}, {}
    from pathlib import Path

    from therapy_timer.cli import UsageError
    from therapy_timer.paths import db_path, shown
    from therapy_timer.storage.dialect import is_server
    from therapy_timer.storage.errors import StorageError
    from therapy_timer.storage.repository import open_repository

    path = db_path(db, create_dir=False)
    if is_server(path):
        from therapy_timer.commands.documents import open_server

        opened = open_server(path, migrate_schema=False)
    else:
        if not Path(path).is_file():
            raise UsageError(f"no database at {path}")
        opened = None
    try:
        with opened or open_repository(path, migrate_schema=False) as repo:
            rules = {**repo.rule_context(), "kx_thresholds": repo.kx_thresholds()}
            ncci, mue = repo.rule_release("ncci"), repo.rule_release("mue")
    except StorageError as exc:
        raise UsageError(f"cannot read the rule data in {shown(path)}: {exc}") from None
    used = {"ncci": ncci.describe() if ncci else "the shipped seed (resources/ncci_pairs.csv): "
            "no PTP release imported into this database",
            "mue": mue.describe() if mue else "none imported: units are not checked against "
            "MUEs"}
    return rules, {"rule_data": used}


def fallback_notices(results: list[dict]) -> list[str]:
    """Each distinct "another year's threshold used" notice of the results, in order."""
    seen: list[str] = []
    for result in results:
        notice = (result.get("kx_threshold") or {}).get("notice")
        if notice and notice not in seen:
            seen.append(notice)
    return seen


def read_json(path: str | None) -> Any:
    """The JSON in ``path`` (or stdin), read as UTF-8 bytes (a byte-order mark is allowed).

    Raises:
        UsageError: the file cannot be read, is not UTF-8, is not JSON, nests too deeply or
            holds a number too long to read; one line naming the problem.
    """
    from therapy_timer.cli import UsageError

    name = path or "stdin"
    try:
        if path:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_BYTES + 1)
        else:
            raw = sys.stdin.buffer.read(MAX_BYTES + 1) if hasattr(sys.stdin, "buffer") else \
                sys.stdin.read(MAX_BYTES + 1).encode("utf-8", "surrogateescape")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_BYTES:
        raise UsageError(f"{name} is larger than {MAX_BYTES:,} bytes: not a file of visits")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{name} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                         f"{exc.start}): save it as UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise UsageError(f"{name}: the JSON is nested too deeply to be a visit") from None
    except ValueError as exc:  # a number longer than Python reads (sys.get_int_max_str_digits)
        raise UsageError(f"{name}: a number in the JSON is too long to read "
                         f"({str(exc).split(';')[0]})") from None


class DatabaseRates:
    """``core.visit_json.ClinicData`` read from a clinic database (``units --db``)."""

    def __init__(self, repo, payer_id: int | None) -> None:
        self.repo = repo
        self.payer_id = payer_id
        self.catalog = repo.code_catalog()

    @classmethod
    def open(cls, args: argparse.Namespace) -> DatabaseRates:
        from therapy_timer.commands.documents import _open_store
        from therapy_timer.commands.import_fees import _payer

        repo = _open_store(args)
        try:
            payer = _payer(repo, args.payer) if args.payer else None
        except BaseException:
            repo.close()
            raise
        return cls(repo, payer.id if payer else None)

    def fees_on(self, day):
        return self.repo.fee_schedule(day)

    def allowed_on(self, day):
        return {} if self.payer_id is None else self.repo.allowed_on(self.payer_id, day)

    def close(self) -> None:
        self.repo.close()
