"""The one entry point: parse arguments, then run a subcommand or the GUI.

``therapy-timer units ...`` and the other subcommands never import Qt. With no subcommand the
desktop app starts (``--check`` starts it, waits until idle, prints ``ready`` and exits 0).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from therapy_timer import __version__
from therapy_timer.commands import COMMAND_MODULES

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad arguments or input: exit 2 with a one-line message."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="therapy-timer",
        description="Intervention timers with live billable units, charge sheets and superbills.",
    )
    parser.add_argument("--version", action="version", version=f"therapy-timer {__version__}")
    parser.add_argument("--db", metavar="PATH", help="database file (default: the data folder, "
                        "or THERAPY_TIMER_DB)")
    parser.add_argument("--check", action="store_true",
                        help="start the app, wait until it is idle, print 'ready' and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"therapy_timer.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    try:
        if handler is None:
            return run_gui(args)
        return int(handler(args) or 0)
    except UsageError as exc:
        print(f"therapy-timer: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def run_gui(args: argparse.Namespace) -> int:
    """Starts the desktop app (imported here so subcommands never load Qt)."""
    try:
        from therapy_timer.ui.app import run_app
    except ImportError as exc:  # the GUI is not part of this build yet
        if getattr(exc, "name", "") and not str(exc.name).startswith("therapy_timer.ui"):
            raise
        print("Therapy Timer: the desktop app is not built yet; try "
              "'therapy-timer units --help'.")
        return 0
    return run_app(args)


def main_gui() -> int:
    return main()
