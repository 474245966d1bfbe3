"""``therapy-timer units``: bill visits given as JSON (minutes per code or timer intervals).

Reads one visit object, or a list of them, from FILE or stdin and prints the result as JSON.
Bad input exits 2 with a one-line message on stderr and nothing on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "units",
        help="work out billable units and modifiers for visits given as JSON",
        description="Reads a visit (or a list of visits) as JSON from FILE or stdin and prints "
        "units, modifiers, ties, warnings and the explanation as JSON.",
    )
    parser.add_argument("--rule", choices=["cms", "per-code"], default=None,
                        help="unit rule for visits that do not name one (default: cms); given "
                        "explicitly, it overrides the visits' own")
    parser.add_argument("file", nargs="?", metavar="FILE", help="JSON file (default: stdin)")
    parser.set_defaults(handler=run)


#: A visit file is a few kilobytes; anything this large is not one (and is not read whole).
MAX_BYTES = 20_000_000


def run(args: argparse.Namespace) -> int:
    # Imported here so that registering the command (every start-up) costs nothing.
    from therapy_timer.cli import UsageError
    from therapy_timer.core.model import BillingError
    from therapy_timer.core.visit_json import bill_visit

    where = args.file or "standard input"
    try:
        if args.file:
            with open(args.file, "rb") as handle:
                raw = handle.read(MAX_BYTES + 1)
        elif hasattr(sys.stdin, "buffer"):
            raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:  # a text stream put in its place (tests, embedding)
            raw = sys.stdin.read(MAX_BYTES + 1).encode("utf-8", "surrogateescape")
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_BYTES:
        raise UsageError(f"{where} is larger than {MAX_BYTES // 1_000_000} MB: not a visit "
                         "JSON file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        kind = "a binary file" if b"\x00" in raw[:4096] else "not UTF-8 text"
        raise UsageError(f"{where} is {kind} (byte {exc.start + 1} cannot be read as UTF-8): "
                         "give a visit JSON file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise UsageError(f"{where}: the JSON is nested too deeply to be a visit") from None
    except ValueError as exc:  # an integer of thousands of digits
        raise UsageError(f"{where}: {str(exc).split(';')[0]}") from None
    try:
        if isinstance(data, list):
            result: Any = [bill_visit(v, args.rule, f"visit {i + 1}: ") for i, v in
                           enumerate(data)]
        else:
            result = bill_visit(data, args.rule, "")
    except BillingError as exc:
        raise UsageError(str(exc)) from None
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0
