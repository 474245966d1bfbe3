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


def run(args: argparse.Namespace) -> int:
    # Imported here so that registering the command (every start-up) costs nothing.
    from therapy_timer.cli import UsageError
    from therapy_timer.core.model import BillingError
    from therapy_timer.core.visit_json import bill_visit

    try:
        if args.file:
            with open(args.file, encoding="utf-8") as handle:
                text = handle.read()
        else:
            text = sys.stdin.read()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
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
