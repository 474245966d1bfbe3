"""Clinic server commands: ``server init``, ``server repair`` and ``server migrate``.

    therapy-timer server init --admin ADMIN_URI [--database NAME] [--host NAME] [--ca FILE]
                              [--station-password-file FILE | --ask-password]
    therapy-timer server repair --admin ADMIN_URI [--database NAME]
    therapy-timer server migrate --from clinic.db --to ADMIN_URI_OF_THE_DATABASE

``init``'s last line is the station address (no password in it), to give each station as
``--db``, ``THERAPY_TIMER_DB`` or in Settings > This computer. Exit codes as the other
database commands (``commands/store.py``): 0 done; 2 what was given is refused (an address
that cannot be read, a login the server refuses, a database that exists already, a target
that is not empty, a source that is not a sound clinic); 1 the work failed (the server cannot
be reached, a full disk) or a check after the copy did not pass. psycopg is imported inside
the handlers only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from therapy_timer.commands.store import _refused


def register(subparsers) -> None:
    server = subparsers.add_parser(
        "server", help="set up a PostgreSQL clinic server for several computers",
        description="Sets up and fills the PostgreSQL database that several computers of "
                    "one clinic share (README, Several computers).")
    commands = server.add_subparsers(dest="server_command", metavar="ACTION", required=True)

    init = commands.add_parser(
        "init", help="create the clinic's database, its roles and schema",
        description="Connects once as the administrator and creates the clinic's database, "
                    "an owner role (no login) that owns its tables, and a station role that "
                    "may do what the app does and no more: no schema changes, and the audit "
                    "log may only be read and added to. The station's password goes to this "
                    "computer's libpq password file (owner-only), never to the screen. The "
                    "last line printed is the station address.")
    _admin_options(init)
    init.add_argument("--host", default=None, metavar="NAME",
                      help="the server's name or address as the stations reach it (default: "
                           "the host in --admin)")
    init.add_argument("--ca", default=None, type=Path, metavar="FILE",
                      help="the clinic's CA certificate: stations then verify the server's "
                           "certificate (sslmode=verify-full)")
    password = init.add_mutually_exclusive_group()
    password.add_argument("--station-password-file", default=None, type=Path, metavar="FILE",
                          help="read the station's password from FILE's first line (default: "
                               "a new random one)")
    password.add_argument("--ask-password", action="store_true",
                          help="type the station's password (asked twice, not shown)")
    init.set_defaults(handler=run_init)

    repair = commands.add_parser(
        "repair", help="upgrade the schema, put back guards and grants",
        description="As the administrator, acting as the owner role: brings the clinic's "
                    "schema up to this version (a new release), puts back guard triggers "
                    "found missing or altered, and grants the station role its privileges "
                    "again. Stations that refuse to open the clinic ask for it.")
    _admin_options(repair)
    repair.set_defaults(handler=run_repair)

    migrate = commands.add_parser(
        "migrate", help="copy an SQLite clinic into an empty server database",
        description="Copies every table and record of an existing clinic file into the "
                    "empty clinic database that server init created, in one transaction "
                    "(a failure leaves it empty), the audit chain as it is; then verify runs "
                    "on both. The file is only read. --to names the clinic's database with "
                    "the administrator's user (a superuser: the copy switches the guard "
                    "triggers off for its own transaction).")
    migrate.add_argument("--from", dest="source", required=True, type=Path, metavar="FILE",
                         help="the clinic's SQLite file")
    migrate.add_argument("--to", dest="target", required=True, metavar="URI",
                         help="the server's clinic database, as the administrator, e.g. "
                              "postgresql://postgres@SERVER:5432/therapy_timer")
    migrate.set_defaults(handler=run_migrate)


def _admin_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--admin", required=True, metavar="URI",
                        help="the administrator's address, e.g. "
                             "postgresql://postgres@localhost:5432/postgres (password from "
                             ".pgpass or PGPASSWORD)")
    parser.add_argument("--database", default="therapy_timer", metavar="NAME",
                        help="the clinic database's name (default therapy_timer)")


def _station_password(args) -> str | None:
    """The password given for the station role (None: a random one)."""
    from therapy_timer.storage.errors import InvalidDataError

    if args.station_password_file is not None:
        try:
            text = args.station_password_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidDataError(f"--station-password-file {args.station_password_file}: "
                                   f"cannot read it ({exc.__class__.__name__})") from None
        lines = text.splitlines()
        secret = lines[0].strip() if lines else ""
    elif args.ask_password:
        import getpass

        secret = getpass.getpass("the station's password: ")
        if getpass.getpass("again: ") != secret:
            raise InvalidDataError("the two passwords differ; nothing was changed")
    else:
        return None
    if len(secret) < 12:
        raise InvalidDataError("the station's password must be at least 12 characters; "
                               "nothing was changed")
    return secret


def run_init(args) -> int:
    from therapy_timer.storage.errors import StorageError
    from therapy_timer.storage.pg.setup import init_server

    try:
        password = _station_password(args)
        done = init_server(args.admin, args.database, station_host=args.host, ca=args.ca,
                           password=password)
    except StorageError as exc:
        return _refused(exc)
    print(f"created the clinic database {done.database}")
    print(f"  owner role {done.owner}: owns its tables and triggers; cannot log in (the "
          "administrator acts as it)")
    print(f"  station role {done.station}: reads and adds what the app does; cannot change "
          "the schema or rewrite the audit log")
    if done.pgpass is not None:
        where = "the password you gave" if password is not None else "a new random password"
        print(f"  its password ({where}) is in {done.pgpass} (owner-only); each station "
              "needs that line in its own password file (README, Several computers)")
    for note in done.notes:
        print(f"warning: {note}")
    print(done.station_uri)
    return 0


def run_repair(args) -> int:
    from therapy_timer.storage.errors import StorageError
    from therapy_timer.storage.pg.setup import repair_server

    try:
        done = repair_server(args.admin, args.database)
    except StorageError as exc:
        return _refused(exc)
    if done.schema_after != done.schema_before:
        print(f"schema brought from version {done.schema_before} to {done.schema_after}")
    else:
        print(f"schema at version {done.schema_after} (current)")
    if done.repaired_triggers:
        print(f"guard triggers put back: {', '.join(done.repaired_triggers)}")
    else:
        print("guard triggers: all in place")
    print(f"station role {done.station}: privileges granted again")
    return 0


def run_migrate(args) -> int:
    from therapy_timer.storage.errors import StorageError
    from therapy_timer.storage.pg.transfer import copy_clinic

    try:
        done = copy_clinic(args.source, args.target)
    except StorageError as exc:
        return _refused(exc)
    width = max(len(table) for table in done.counts)
    print(f"copied {args.source} to {done.where}:")
    for table, count in done.counts.items():
        print(f"  {table:<{width}}  {count}")
    print(f"  {'total':<{width}}  {sum(done.counts.values())}")
    if done.left_out:
        print(f"left out what the file carried that the app does not create (never copied): "
              f"{', '.join(done.left_out)}")
    for side, report in ((str(args.source), done.source_report),
                         (done.where, done.target_report)):
        print(f"verify {side}: {'ok' if report.ok else 'FAILED'}")
        for line in report.checked:
            print(f"  checked: {line}")
        for line in report.cannot:
            print(f"  could not check: {line}")
    print("the file was only read: keep it as the clinic's last copy before the move")
    return 0
