"""The entry point: lazy command registration, help, unknown commands."""

from __future__ import annotations

import argparse
import importlib

import pytest

from therapy_timer.cli import build_parser, main, modules_for
from therapy_timer.commands import COMMAND_MODULES, COMMANDS


def registered(module: str) -> set[str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    importlib.import_module(f"therapy_timer.commands.{module}").register(sub)
    return set(sub.choices)


def test_command_table_matches_what_modules_register():
    table: dict[str, set[str]] = {}
    for command, module in COMMANDS.items():
        table.setdefault(module, set()).add(command)
    assert set(table) == set(COMMAND_MODULES)
    for module in COMMAND_MODULES:
        assert registered(module) == table[module], module


@pytest.mark.parametrize(
    ("argv", "expected"),
    [([], []), (["--check"], []), (["--db", "units"], []), (["units"], ["units"]),
     (["--db", "x.db", "verify"], ["store"]), (["superbill", "--visit", "3"], ["documents"]),
     (["--help"], COMMAND_MODULES), (["nonsense"], COMMAND_MODULES)],
)
def test_modules_for(argv, expected):
    assert modules_for(argv) == list(expected)


def test_full_parser_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert all(command in out for command in COMMANDS)


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["nonsense"])
    assert exc.value.code == 2
    assert "invalid choice: 'nonsense'" in capsys.readouterr().err


def test_default_parser_has_all_commands():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(COMMANDS)


@pytest.mark.parametrize(("command", "words"), [
    ("backup", "A clinic server (--db URI) is copied into a complete, ordinary Therapy Timer "
               "file that opens on any computer."),
    ("restore", "A clinic server is never replaced: a backup goes onto a server with 'server "
                "migrate' into an empty database."),
])
def test_backup_and_restore_help_say_what_they_do_with_a_server(capsys, command, words):
    """The help spoke only of files (SQLite's backup API, replacing the database): an
    administrator of a clinic server read that restore would replace the server's clinic."""
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert words in " ".join(capsys.readouterr().out.split())
