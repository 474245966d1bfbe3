"""Settings > This computer: where this station's data is, and the station's name.

"This computer only" keeps the clinic in the file in this computer's data folder (its path
shown). "A clinic server" names the PostgreSQL server the clinic's computers share: host,
port, database, user and TLS (``require``, or ``verify-full`` with the clinic's CA file;
off only for a server on this computer). The password is never kept in the app's settings:
typed here it serves Test connection, and "Keep it in this computer's password file" writes
it to libpq's password file (``.pgpass``, owner-only 0600); otherwise libpq finds it there or
in the service file as the administrator set them up.

Test connection runs on the background worker (never on the UI thread: an unreachable
server takes seconds) and says what it found (``storage/pg/probe.py``): host unreachable,
wrong password, no TLS, not a Therapy Timer database, schema too new, schema too old or
guards missing (the administrator runs ``server repair``), or "Connected: clinic NAME, N
patients, schema V".

Saving a change of database takes effect at the next start (the app reopens cleanly on the
other store; switching the store under open screens could leave one half on each), and
offers to restart now. It is refused while a timer runs on this computer: the timer would
go on counting in a store nobody on this computer looks at any more. The station's name
("Room 2") is saved at once: the audit log and the take-over question use it.

Public API: ``ThisComputerPage(repo, user, settings=None, window=None, worker=None)``
(fields ``local``, ``server``, ``host``, ``port``, ``database``, ``user_name``, ``tls``,
``ca_file``, ``ca_button``, ``password``, ``keep_password``, ``test_button``,
``test_result``, ``station``, ``data_file``, ``save_button``, ``message``; ``probing``
while a test runs; signal ``tested(Probe)``). Hooks tests replace: ``ask_ca_file``,
``ask_restart``, ``restart``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QProcess, QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.settings import Page, app_settings
from therapy_timer.ui.station import target as station_target
from therapy_timer.ui.station.target import ServerChoice

log = logging.getLogger(__name__)

TLS_LABELS = {
    "verify-full": "verify-full: encrypted, and the server's certificate checked (CA file)",
    "require": "require: encrypted",
    "disable": "off: only for a server on this computer",
}


def _probe(uri: str):
    """Runs on the worker thread."""
    from therapy_timer.storage.pg.probe import probe

    return probe(uri)


def timers_here(window, repo) -> list:
    """The timers running on this computer: the open visit's, and on a file of this
    computer's, every one in it (a server's other rooms time their own)."""
    running = []
    controller = getattr(window, "_controller", None)
    if controller is not None and getattr(controller, "visit", None) is not None:
        running = list(controller.running())
    if not getattr(repo, "on_server", False):
        try:
            running = repo.running_intervals()
        except StorageError as exc:  # cannot tell: say so rather than guess
            log.warning("running timers not read: %s", exc)
            raise
    return running


def pgpass_location() -> Path:
    """libpq's password file on this computer (``storage/pg/setup.py`` says where)."""
    from therapy_timer.storage.pg.pgpass import pgpass_path

    return pgpass_path()


def keep_password(choice: ServerChoice, password: str) -> Path:
    """Writes the password for this server, database and user into libpq's password file
    (the same writer ``server init`` uses: whole file, owner-only 0600)."""
    from therapy_timer.storage.pg.pgpass import write_pgpass

    return write_pgpass([(choice.host, str(choice.port), choice.database, choice.user)],
                        password)


class ThisComputerPage(Page):
    """Where the data is (this computer's file or a clinic server) and the station name."""

    title = "the database and station settings"
    tested = Signal(object)  # the Probe

    def __init__(self, repo, user: str | None, settings: QSettings | None = None,
                 window: QWidget | None = None, worker=None,
                 parent: QWidget | None = None) -> None:
        super().__init__(repo, user, parent)
        self.settings = app_settings(settings)
        self.window_ = window
        if worker is None:
            worker = getattr(window, "worker", None)
        if worker is None:
            from therapy_timer.ui.workers import Worker

            worker = Worker(self)
        self.worker = worker
        self.probing = False
        self.save_button.setText("Save")

        from therapy_timer.paths import db_path

        self.local = QRadioButton("This computer only")
        self.server = QRadioButton("A clinic server (several computers share one clinic)")
        for button, name in ((self.local, "This computer only"),
                             (self.server, "A clinic server")):
            button.setAccessibleName(name)
        self.kind = QButtonGroup(self)
        self.kind.addButton(self.local)
        self.kind.addButton(self.server)
        self.data_path = db_path(None, {}, create_dir=False)
        self.data_file = QLabel(station_target.home_relative(self.data_path))
        self.data_file.setToolTip(str(self.data_path))
        self.data_file.setObjectName("dataFile")
        self.data_file.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.data_file.setAccessibleName("This computer's data file")

        self.host = QLineEdit(placeholderText="e.g. 10.0.0.5 or clinic-server")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(station_target.DEFAULT_PORT)
        self.database = QLineEdit(placeholderText=station_target.DEFAULT_DATABASE)
        self.user_name = QLineEdit(placeholderText="e.g. therapy_timer_station")
        self.tls = QComboBox()
        for mode in station_target.TLS_MODES:
            self.tls.addItem(TLS_LABELS[mode], mode)
        self.ca_file = QLineEdit(placeholderText="the clinic's CA certificate (.crt, .pem)")
        self.ca_button = QPushButton("Choose…")
        self.ca_button.clicked.connect(self._choose_ca)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_file, 1)
        ca_row.addWidget(self.ca_button)
        self.password = QLineEdit(echoMode=QLineEdit.EchoMode.Password,
                                  placeholderText="empty: from .pgpass or the service file")
        self.keep_password = QCheckBox("Keep it in this computer's password file")
        self.keep_password.setToolTip(f"{pgpass_location()}: readable by this user only "
                                      "(0600), where libpq looks for passwords.")
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.test_result = QLabel()
        self.test_result.setObjectName("testResult")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.server_form = QWidget()
        grid = QGridLayout(self.server_form)
        grid.setContentsMargins(24, 0, 0, 0)
        grid.setVerticalSpacing(4)
        for label, widget in (("Host", self.host), ("Port", self.port),
                              ("Database", self.database), ("User", self.user_name),
                              ("TLS", self.tls), ("CA file", self.ca_file),
                              ("Password", self.password),
                              ("Keep the password in the password file", self.keep_password)):
            widget.setAccessibleName(label)
        cells = (((0, "Host", self.host), (0, "Port", self.port)),
                 ((1, "Database", self.database), (1, "User", self.user_name)),
                 ((2, "TLS", self.tls), (2, "CA file", ca_row)))
        for (row, left, left_widget), (_row, right, right_widget) in cells:
            grid.addWidget(QLabel(left), row, 0)
            grid.addWidget(left_widget, row, 1)
            grid.addWidget(QLabel(right), row, 2)
            if isinstance(right_widget, QWidget):
                grid.addWidget(right_widget, row, 3)
            else:
                grid.addLayout(right_widget, row, 3)
        grid.addWidget(QLabel("Password"), 3, 0)
        grid.addWidget(self.password, 3, 1)
        grid.addWidget(self.keep_password, 3, 2, 1, 2)
        grid.addWidget(self.test_button, 4, 1, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.test_result, 4, 2, 1, 2)
        grid.setColumnStretch(1, 3)
        grid.setColumnStretch(3, 2)

        where = QGroupBox("Where the clinic's data is")
        box = QVBoxLayout(where)
        box.setSpacing(4)
        local_row = QHBoxLayout()
        local_row.addWidget(self.local)
        local_row.addWidget(self.data_file, 1)
        box.addLayout(local_row)
        box.addWidget(self.server)
        box.addWidget(self.server_form)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setObjectName("stationNote")
        box.addWidget(self.note)

        self.station = QLineEdit(placeholderText=station_target.host_name())
        self.station.setAccessibleName("Station name")
        self.station.setToolTip("What the clinic calls this computer: the audit log names it, "
                                "and another station asks before taking over a visit timed "
                                "here.")
        name_row = QHBoxLayout()
        name_row.addWidget(QLabel("Station name"))
        name_row.addWidget(self.station, 1)
        name_row.addWidget(QLabel("(\"Room 2\", \"Front desk\": the audit log and the "
                                  "take-over question name it)"))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(where)
        layout.addLayout(name_row)
        layout.addLayout(self.footer())
        self.local.toggled.connect(self._show_kind)
        self.tls.currentIndexChanged.connect(self._show_kind)
        self.load()
        self.watch(self.local, self.server, self.host, self.port, self.database,
                   self.user_name, self.tls, self.ca_file, self.station)

    # --- fields ---

    def load(self) -> None:
        choice = station_target.saved_choice(self.settings)
        shown = choice or ServerChoice("")
        (self.server if choice else self.local).setChecked(True)
        self.host.setText(shown.host)
        self.port.setValue(shown.port)
        self.database.setText(shown.database if choice else "")
        self.user_name.setText(shown.user)
        self.tls.setCurrentIndex(max(0, self.tls.findData(shown.sslmode)))
        self.ca_file.setText(shown.sslrootcert)
        self.password.clear()
        stored = self.settings.value(station_target.NAME_KEY, "")
        self.station.setText(str(stored) if stored else "")
        self._show_kind()
        override = station_target.overridden()
        self.note.setText(
            f"This run was started with {override}, which wins over this choice: it keeps "
            f"opening {self._open_now()} until started without it." if override else
            "Therapy Timer opens the database chosen here when it starts. The password is "
            "never kept in the app's settings.")
        self.dirty = False

    def _open_now(self) -> str:
        return str(getattr(self.repo, "path", "") or "its database")

    def _show_kind(self, *_args) -> None:
        on_server = self.server.isChecked()
        self.server_form.setEnabled(on_server)
        self.data_file.setEnabled(not on_server)
        verify = self.tls.currentData() == "verify-full"
        self.ca_file.setEnabled(on_server and verify)
        self.ca_button.setEnabled(on_server and verify)

    def choice(self) -> ServerChoice:
        return ServerChoice(self.host.text().strip(), self.port.value(),
                            self.database.text().strip() or station_target.DEFAULT_DATABASE,
                            self.user_name.text().strip(), str(self.tls.currentData()),
                            self.ca_file.text().strip()
                            if self.tls.currentData() == "verify-full" else "")

    @classmethod
    def ask_ca_file(cls, parent: QWidget | None) -> str:
        """The CA certificate's file dialog (tests replace it)."""
        path, _ = QFileDialog.getOpenFileName(parent, "The clinic's CA certificate", "",
                                              "Certificates (*.crt *.pem *.cer);;All files (*)")
        return path

    def _choose_ca(self) -> None:
        path = type(self).ask_ca_file(self)
        if path:
            self.ca_file.setText(path)
            self.dirty = True

    # --- Test connection ---

    def test_connection(self) -> None:
        if self.probing:
            return
        choice = self.choice()
        problem = choice.problem()
        if problem:
            self._show_result(False, problem)
            return
        self.probing = True
        self.test_button.setEnabled(False)
        self._show_result(None, f"Connecting to {choice.shown()}…")
        self.worker.submit(_probe, choice.uri(self.password.text() or None),
                           on_success=self._tested, on_failure=self._test_failed, owner=self,
                           label="test connection")

    def _tested(self, result) -> None:
        self.probing = False
        self.test_button.setEnabled(True)
        log.info("test connection to %s: %s", self.choice().shown(), result.kind)
        self._show_result(result.ok, result.message)
        self.tested.emit(result)

    def _test_failed(self, exc: BaseException) -> None:
        from therapy_timer.storage.pg.probe import Probe

        self.probing = False
        self.test_button.setEnabled(True)
        self._show_result(False, f"Not tested: {exc}")
        self.tested.emit(Probe("error", str(exc)))

    def _show_result(self, ok: bool | None, text: str) -> None:
        colour = {True: "#065f46", False: "#a40000", None: "#374151"}[ok]
        self.test_result.setStyleSheet(f"color: {colour}; font-weight: 600;")
        self.test_result.setText(text)

    # --- Save ---

    def save(self) -> bool:
        before = station_target.saved_choice(self.settings)
        after = self.choice() if self.server.isChecked() else None
        if after is not None and (problem := after.problem()):
            self.error(f"Not saved: {problem}")
            return False
        changed = after != before
        if changed:
            try:
                running = timers_here(self.window_, self.repo)
            except StorageError as exc:
                self.error(f"Not saved: whether a timer runs could not be read ({exc}).")
                return False
            if running:
                codes = ", ".join(dict.fromkeys(i.code for i in running))
                self.error(
                    f"Not switched: a timer is running on this computer ({codes}). Stop it, "
                    "or finish the visit, then switch: a timer left running in a database "
                    "this computer no longer opens would go on counting where nobody sees "
                    "it. Nothing was changed.")
                return False
        password = self.password.text()
        kept = ""
        if after is not None and password and self.keep_password.isChecked():
            try:
                kept = str(keep_password(after, password))
            except OSError as exc:
                self.error(f"Not saved: the password file was not written ({exc}).")
                return False
        station_target.set_station_name(self.station.text(), self.settings)
        station_target.save_choice(after, self.settings)
        self.password.clear()
        self.dirty = False
        name = station_target.station_name(self.settings)
        where = (f"the clinic server {after.shown()}" if after is not None
                 else f"this computer's file {self.data_path}")
        text = f"Saved: this station is {name!r}" + (
            f"; from the next start it opens {where}" if changed else "") + "."
        if kept:
            text += f" The password is in {kept} (readable by this user only)."
        elif after is not None and password:
            text += (" The password typed was not kept: the next start finds it in .pgpass "
                     "or the service file, or cannot connect.")
        self.ok(text)
        if changed and station_target.overridden() is None and self.window_ is not None \
                and type(self).ask_restart(self, where):
            type(self).restart(self.window_)
        return True

    @classmethod
    def ask_restart(cls, parent: QWidget | None, where: str) -> bool:
        """Asks whether to restart now (tests replace it)."""
        return Ask.confirm(parent, "Restart Therapy Timer?",
                           f"Therapy Timer opens {where} when it starts again. Restart now? "
                           "Everything recorded so far is saved.",
                           yes="Restart now", no="Later")

    @classmethod
    def restart(cls, window) -> bool:
        """Closes the window the way File > Quit does, then starts the app again."""
        if not window.request_quit():
            return False
        if getattr(sys, "frozen", False):
            program, args = sys.executable, sys.argv[1:]
        else:
            program, args = sys.executable, ["-m", "therapy_timer", *sys.argv[1:]]
        started = QProcess.startDetached(program, args, str(Path.cwd()))
        ok = started[0] if isinstance(started, tuple) else bool(started)
        if not ok:
            log.error("restart failed: %s %s", program, args)
        return ok
