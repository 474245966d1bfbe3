"""``therapy-timer import KIND ...``: the parent of the rule-data imports.

Shared parent parser (issue 12): each import kind lives in its own module listed in
``IMPORT_MODULES`` and exposes ``register(import_subparsers)``; this module only creates the
``import`` command. (The NCCI/MUE imports may add their modules here; merge by extending the
list.)
"""

from __future__ import annotations

import argparse
import importlib

#: Modules under ``therapy_timer.commands`` that add ``import`` kinds, in help order.
IMPORT_MODULES = ["import_fees"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import", help="load rule data (fee schedules, ...) into the clinic's database",
        description="Loads rule data into the clinic's database. Each kind checks the whole "
        "file first: a bad row is refused naming the file, line and problem, and nothing "
        "stored changes.")
    kinds = parser.add_subparsers(dest="import_kind", metavar="KIND", required=True)
    for name in IMPORT_MODULES:
        importlib.import_module(f"therapy_timer.commands.{name}").register(kinds)
