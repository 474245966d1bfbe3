"""``therapy-timer units``: bill visits given as JSON (minutes per code or timer intervals).

Reads one visit object, or a list of them, from FILE or stdin and prints the result as JSON.
Bad input (a field of the wrong type, Medicare with the per-code rule, a file that is not UTF-8
JSON, too deep, too long or too large) exits 2 with a one-line message on stderr and nothing on
stdout; ``core/visit_json.py`` checks the visits.
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
    try:
        if isinstance(data, list):
            result: Any = [bill_visit(v, args.rule, f"visit {i + 1}: ", today) for i, v in
                           enumerate(data)]
        else:
            result = bill_visit(data, args.rule, "", today)
    except BillingError as exc:
        raise UsageError(str(exc)) from None
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


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
