"""Command-line subcommands. Each module exposes ``register(subparsers)``; its handler returns
an exit code. Modules import heavy libraries (Qt, reportlab, sqlite-utils) inside handlers only,
so ``therapy-timer units`` answers without loading them."""

#: Modules under ``therapy_timer.commands`` that add subcommands, in help order.
COMMAND_MODULES = ["units", "documents", "store"]
