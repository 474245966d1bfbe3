"""The one entry point: parse arguments, then run a subcommand or the GUI.

``therapy-timer units ...`` and the other subcommands never import Qt. With no subcommand the
desktop app starts (``--check`` starts it, waits until idle, prints ``ready`` and exits 0).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from therapy_timer import __version__
from therapy_timer.commands import COMMAND_MODULES, COMMANDS

EXIT_USAGE = 2
EXIT_FAILED = 1
#: Set to 1 to see the traceback of an unexpected error instead of its one-line summary.
ENV_DEBUG = "THERAPY_TIMER_DEBUG"


class UsageError(Exception):
    """Bad arguments or input: exit 2 with a one-line message."""


class CommandFailed(Exception):
    """The work could not be done now (the clinic server cannot be reached): exit 1 with a
    one-line message."""


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line and at most ``limit`` characters (hostile input can be huge)."""
    text = " ".join(str(text).split())
    text = re.sub(r"'([^']{40})[^']{10,}'", r"'\1...'", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit 2), not usage + error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see {self.prog} "
                  "--help)\n")


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
    parser = Parser(
        prog="therapy-timer",
        description="Intervention timers with live billable units, charge sheets and superbills.",
    )
    parser.add_argument("--version", action="version", version=f"therapy-timer {__version__}")
    parser.add_argument("--db", metavar="PATH", help="database file, or a clinic server "
                        "(postgresql://HOST/DB or service=NAME) (default: the data folder, "
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
        print(f"therapy-timer: {one_line(exc, 2000)}", file=sys.stderr)
        return EXIT_USAGE
    except CommandFailed as exc:
        print(f"therapy-timer: {one_line(exc, 2000)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`verify | head`): nothing left to say
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # the last net: one line, never a traceback (README, CLI)
        if os.environ.get(ENV_DEBUG):
            raise
        print(f"therapy-timer: unexpected error ({type(exc).__name__}: {one_line(exc)}); "
              f"the command stopped (set {ENV_DEBUG}=1 to see the details)", file=sys.stderr)
        return EXIT_FAILED


def run_gui(args: argparse.Namespace) -> NoReturn:
    """Starts the desktop app (on the file or the clinic server ``--db`` names) and ends the
    process when it closes.

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
