"""The one entry point: parse arguments, then run a subcommand or the GUI.

``therapy-timer units ...`` and the other subcommands never import Qt. With no subcommand the
desktop app starts (``--check`` starts it, waits until idle, prints ``ready`` and exits 0).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from therapy_timer import __version__
from therapy_timer.commands import COMMAND_MODULES, COMMANDS

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad arguments or input: exit 2 with a one-line message."""


def modules_for(argv: Sequence[str]) -> list[str]:
    """The command modules a run needs: the one naming its subcommand, or all for help/errors.

    The desktop app (no subcommand) needs none, which keeps its start-up short.
    """
    positionals = []
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token == "--db":
            skip = True
        elif token in ("-h", "--help") and not positionals:
            return list(COMMAND_MODULES)
        elif not token.startswith("-"):
            positionals.append(token)
    if not positionals:
        return []
    module = COMMANDS.get(positionals[0])
    return [module] if module else list(COMMAND_MODULES)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``argv`` it registers only the subcommands that run needs."""
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
    for name in COMMAND_MODULES if argv is None else modules_for(argv):
        importlib.import_module(f"therapy_timer.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
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


def run_gui(args: argparse.Namespace) -> NoReturn:
    """Starts the desktop app and ends the process when it closes.

    Qt is imported here, so subcommands never load it.
    """
    # What the app needs that does not use Qt is imported first: once PySide6 is loaded, its
    # import hook reads the source of every module imported after it (inspect.getsource,
    # looking for "PySide6"), about a hundred files on the way to the first window.
    import therapy_timer.logging_setup  # noqa: F401
    import therapy_timer.storage.repository  # noqa: F401
    from therapy_timer.ui.app import end_process, run_app

    end_process(run_app(args))


def main_gui() -> int:
    return main()
