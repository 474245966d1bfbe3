"""Command-line subcommands. Each module exposes ``register(subparsers)``; its handler returns
an exit code. Modules import heavy libraries (Qt, reportlab, sqlite-utils) inside handlers only,
so ``therapy-timer units`` answers without loading them."""

#: Modules under ``therapy_timer.commands`` that add subcommands, in help order.
COMMAND_MODULES = ["units", "documents", "store", "imports", "server"]

#: Which module registers each subcommand, so a run imports only the module it needs (the GUI
#: start-up imports none). tests/cli/test_cli_entry.py checks this against the modules.
COMMANDS = {
    "units": "units",
    "superbill": "documents",
    "daysheet": "documents",
    "export": "documents",
    "verify": "store",
    "anchor": "store",
    "backup": "store",
    "restore": "store",
    "demo": "store",
    "import": "imports",
    "server": "server",
}
