"""Where this station's data is: the choice Settings > This computer saves, per computer, in
QSettings, and the database the app opens at start.

Keys (``ui.settings.app_settings()``): ``station/name`` (the station's name, "Room 2"; the
host name when unset), ``station/database`` (``this_computer`` or ``server``) and, for a
server, ``station/server/host``, ``port``, ``database``, ``user``, ``sslmode``
(``verify-full``, ``require`` or ``disable``, the last only for a server on this computer)
and ``sslrootcert`` (the clinic CA's file). Never a password: libpq finds it in its password
file (``.pgpass``, which Settings may write, owner-only) or the service file.

Public API: ``ServerChoice`` (the fields, ``uri(password=None)``, ``problem()``),
``station_name(settings)``, ``set_station_name``, ``saved_choice(settings)`` (a
``ServerChoice`` or None for this computer only), ``save_choice(choice_or_None, settings)``,
``start_target(cli_value, settings, environ)`` (``--db`` > ``THERAPY_TIMER_DB`` > the saved
server > the file in the data folder), ``overridden(environ, argv)``.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings

from therapy_timer.ui.settings import app_settings

NAME_KEY = "station/name"
DATABASE_KEY = "station/database"
THIS_COMPUTER, SERVER = "this_computer", "server"
_SERVER_KEYS = ("host", "port", "database", "user", "sslmode", "sslrootcert")
TLS_MODES = ("verify-full", "require", "disable")
DEFAULT_PORT = 5432
DEFAULT_DATABASE = "therapy_timer"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def host_name() -> str:
    return socket.gethostname() or "this computer"


def station_name(settings: QSettings | None = None) -> str:
    """This station's name ("Room 2"); the computer's host name until one is given."""
    value = app_settings(settings).value(NAME_KEY, "")
    return str(value).strip() if value else host_name()


def set_station_name(name: str, settings: QSettings | None = None) -> None:
    store = app_settings(settings)
    if name.strip():
        store.setValue(NAME_KEY, name.strip())
    else:
        store.remove(NAME_KEY)
    store.sync()


def home_relative(path: str | os.PathLike) -> str:
    """``/home/ann/.local/share/x.db`` as ``~/.local/share/x.db`` (shorter on screen)."""
    text, home = os.fspath(path), str(Path.home())
    return "~" + text[len(home):] if text.startswith(home + os.sep) else text


def is_local(host: str) -> bool:
    return not host or host in LOCAL_HOSTS or host.startswith("/")


@dataclass(frozen=True)
class ServerChoice:
    """A clinic server as Settings names it (no password)."""

    host: str
    port: int = DEFAULT_PORT
    database: str = DEFAULT_DATABASE
    user: str = ""
    sslmode: str = "require"
    sslrootcert: str = ""

    def problem(self) -> str | None:
        """What is missing or wrong, in words naming the field; None when complete."""
        if not self.host:
            return "Host: give the clinic server's name or address (e.g. 10.0.0.5)."
        if not 1 <= int(self.port) <= 65535:
            return f"Port: {self.port} is not a port number (1 to 65535; usually 5432)."
        if not self.database:
            return "Database: give the clinic database's name (usually therapy_timer)."
        if not self.user:
            return "User: give the station's user name (the administrator's `server init` " \
                   "printed it, e.g. therapy_timer_station)."
        if self.sslmode not in TLS_MODES:
            return f"TLS: {self.sslmode!r} is not one of {', '.join(TLS_MODES)}."
        if self.sslmode == "disable" and not is_local(self.host):
            return (f"TLS: off is only for a server on this computer; {self.host} is reached "
                    "over the network, where patient data must travel encrypted (choose "
                    "require or verify-full).")
        if self.sslmode == "verify-full" and not self.sslrootcert:
            return "CA file: verify-full checks the server's certificate against the " \
                   "clinic's CA certificate: choose its file."
        if self.sslmode == "verify-full" and not Path(self.sslrootcert).is_file():
            return f"CA file: {self.sslrootcert} does not exist."
        return None

    def uri(self, password: str | None = None) -> str:
        """``postgresql://USER[:PASSWORD]@HOST:PORT/DB?sslmode=...`` (the password only for
        a Test connection or this session, never saved)."""
        quote = urllib.parse.quote
        auth = quote(self.user, safe="")
        if password:
            auth += ":" + quote(password, safe="")
        query = {"sslmode": self.sslmode}
        if self.sslmode == "verify-full":
            query["sslrootcert"] = str(Path(self.sslrootcert).absolute())
        if self.host.startswith("/"):
            query = {"host": self.host, **query}
            netloc = f"{auth}@"
        else:
            host = f"[{self.host}]" if ":" in self.host else self.host
            netloc = f"{auth}@{host}:{int(self.port)}"
        tail = urllib.parse.urlencode(query, safe="/", quote_via=quote)
        return f"postgresql://{netloc}/{quote(self.database, safe='')}?{tail}"

    def shown(self) -> str:
        """How the status bar names it: ``10.0.0.5/therapy_timer`` (the port when not the
        usual one)."""
        port = "" if int(self.port) == DEFAULT_PORT or self.host.startswith("/") \
            else f":{self.port}"
        return f"{self.host}{port}/{self.database}"


def saved_choice(settings: QSettings | None = None) -> ServerChoice | None:
    """The clinic server this station was set to, or None for "this computer only"."""
    store = app_settings(settings)
    if store.value(DATABASE_KEY, THIS_COMPUTER) != SERVER:
        return None
    values = {key: store.value(f"station/server/{key}", "") for key in _SERVER_KEYS}
    try:
        port = int(values["port"] or DEFAULT_PORT)
    except (TypeError, ValueError):
        port = DEFAULT_PORT
    return ServerChoice(str(values["host"] or ""), port,
                        str(values["database"] or DEFAULT_DATABASE), str(values["user"] or ""),
                        str(values["sslmode"] or "require"), str(values["sslrootcert"] or ""))


def save_choice(choice: ServerChoice | None, settings: QSettings | None = None) -> None:
    store = app_settings(settings)
    if choice is None:
        store.setValue(DATABASE_KEY, THIS_COMPUTER)
    else:
        store.setValue(DATABASE_KEY, SERVER)
        for key in _SERVER_KEYS:
            store.setValue(f"station/server/{key}", getattr(choice, key))
    store.sync()


def start_target(cli_value: str | os.PathLike | None = None,
                 settings: QSettings | None = None,
                 environ: Mapping[str, str] | None = None) -> Path | str:
    """The database the app opens: ``--db``, else ``THERAPY_TIMER_DB``, else the clinic
    server saved in Settings > This computer, else the file in the data folder."""
    from therapy_timer.paths import ENV_DB, db_path

    environ = os.environ if environ is None else environ
    if cli_value or environ.get(ENV_DB):
        return db_path(cli_value, environ)
    choice = saved_choice(settings)
    if choice is not None and choice.problem() is None:
        return choice.uri()
    return db_path(None, environ)


def start_hint(cli_value: str | os.PathLike | None = None,
               settings: QSettings | None = None,
               environ: Mapping[str, str] | None = None) -> str:
    """When the start opened the saved server and failed: how to work on meanwhile."""
    from therapy_timer.paths import ENV_DB

    environ = os.environ if environ is None else environ
    if cli_value or environ.get(ENV_DB) or saved_choice(settings) is None:
        return ""
    return ("This computer is set (Settings > This computer) to open the clinic server. To "
            "open this computer's own file instead, start it with `therapy-timer --db FILE`.")


def overridden(environ: Mapping[str, str] | None = None,
               argv: list[str] | None = None) -> str | None:
    """What makes this run ignore the saved choice (``--db`` or ``THERAPY_TIMER_DB``)."""
    from therapy_timer.paths import ENV_DB

    environ = os.environ if environ is None else environ
    argv = sys.argv if argv is None else argv
    if any(arg == "--db" or arg.startswith("--db=") for arg in argv[1:]):
        return "--db"
    if environ.get(ENV_DB):
        return ENV_DB
    return None
