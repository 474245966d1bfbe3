"""Settings > This computer (issue 14, item 5): this computer's file or a clinic server, Test
connection against real servers (the session's trusting one, a scram one for passwords, a
closed port), what is saved per station (never a password), the start opening the saved
server, and a switch refused while a timer runs here."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt

from tests.pg_password import PASSWORD, password_server
from tests.pg_server import free_port
from tests.ui.conftest import seed_clinic
from therapy_timer.storage.migrations import LATEST_VERSION, guard_triggers
from therapy_timer.storage.repository import open_repository
from therapy_timer.ui.clock import FakeClock
from therapy_timer.ui.settings import Page, SettingsDialog
from therapy_timer.ui.station import target
from therapy_timer.ui.station.this_computer import ThisComputerPage
from therapy_timer.ui.workers import Worker

LEFT = Qt.MouseButton.LeftButton
TIMEOUT = 20000
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def scram():
    with password_server() as running:
        yield running


@pytest.fixture(autouse=True)
def _own_pgpass(monkeypatch, tmp_path):
    """libpq's password file is the test's own (PGPASSFILE), empty at first."""
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "pgpass"))


@pytest.fixture(autouse=True)
def _answers(monkeypatch):
    monkeypatch.setattr(Page, "ask_discard", classmethod(lambda cls, parent, what: True))
    monkeypatch.setattr(ThisComputerPage, "ask_restart",
                        classmethod(lambda cls, parent, where: False))


@pytest.fixture
def qsettings(tmp_path):
    return QSettings(str(tmp_path / "station.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def home_clinic():
    """A small synthetic clinic in a file of this (test) user's home."""
    repo = open_repository(Path.home() / "clinic.db")
    yield seed_clinic(repo)
    repo.close()


@pytest.fixture
def store(home_clinic):
    return home_clinic.repo


@pytest.fixture
def dialog(qtbot, store, qsettings):
    widget = SettingsDialog(store, user="Front Desk", settings=qsettings)
    qtbot.addWidget(widget)
    widget.show()
    widget.tabs.setCurrentWidget(widget.workstation)
    yield widget
    widget.station.dirty = False
    widget.station.worker.shutdown()


def _retype(qtbot, edit, text):
    edit.clear()
    qtbot.keyClicks(edit, text)


def choose(qtbot, radio):
    """Clicks a radio button on its circle (a wide button's middle is past its text)."""
    qtbot.mouseClick(radio, LEFT, pos=QPoint(8, radio.height() // 2))
    assert radio.isChecked()


def fill(qtbot, page, host, port, database, user, tls="disable", password=""):
    choose(qtbot, page.server)
    assert page.server_form.isEnabled()
    _retype(qtbot, page.host, host)
    page.port.setValue(port)
    _retype(qtbot, page.database, database)
    _retype(qtbot, page.user_name, user)
    page.tls.setCurrentIndex(page.tls.findData(tls))
    page.password.clear()
    if password:
        qtbot.keyClicks(page.password, password)


def run_test(qtbot, page):
    """Clicks Test connection: the test runs on the worker, the screen stays live."""
    with qtbot.waitSignal(page.tested, timeout=TIMEOUT) as seen:
        qtbot.mouseClick(page.test_button, LEFT)
        assert page.probing and not page.test_button.isEnabled()
        assert page.test_result.text().startswith("Connecting to ")
    assert page.test_button.isEnabled()
    return seen.args[0], page.test_result.text()


def _port(uri: str) -> int:
    return int(uri.rsplit(":", 1)[1].split("/")[0])


def _name(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


# --- the page and its fields ---

def test_the_page_sits_on_this_computer_with_the_file_chosen(dialog, qsettings):
    page = dialog.station
    assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == "This computer"
    assert page.isVisible() and page.local.isChecked()
    assert page.data_file.text() == "~/xdg_data_home/therapy-timer/therapy-timer.db"
    assert not page.server_form.isEnabled()
    assert page.station.placeholderText() == target.host_name()
    assert target.station_name(qsettings) == target.host_name()
    assert [page.tls.itemData(i) for i in range(page.tls.count())] == [
        "verify-full", "require", "disable"]
    assert page.password.echoMode() == page.password.EchoMode.Password


@pytest.mark.parametrize(("host", "database", "user", "tls", "said"), [
    ("", "tt", "u", "require", "Host: give the clinic server's name or address"),
    ("10.0.0.5", "tt", "", "require", "User: give the station's user name"),
    ("10.0.0.5", "tt", "u", "disable", "TLS: off is only for a server on this computer; "
                                        "10.0.0.5 is reached over the network"),
    ("10.0.0.5", "tt", "u", "verify-full", "CA file: verify-full checks the server's "
                                           "certificate"),
])
def test_an_incomplete_server_is_refused_naming_the_field(qtbot, dialog, qsettings, host,
                                                          database, user, tls, said):
    page = dialog.station
    fill(qtbot, page, host, 5432, database, user, tls)
    qtbot.mouseClick(page.test_button, LEFT)
    assert page.test_result.text().startswith(said)
    assert not page.probing
    qtbot.mouseClick(page.save_button, LEFT)
    assert page.message.text() == f"Not saved: {page.test_result.text()}"
    assert qsettings.value(target.DATABASE_KEY) is None


def test_the_ca_file_picker_fills_the_field_for_verify_full(qtbot, dialog, tmp_path,
                                                            monkeypatch):
    ca = tmp_path / "clinic-ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setattr(ThisComputerPage, "ask_ca_file", classmethod(lambda c, p: str(ca)))
    page = dialog.station
    fill(qtbot, page, "clinic-server", 5432, "therapy_timer", "therapy_timer_station",
         "require")
    assert not page.ca_button.isEnabled()
    page.tls.setCurrentIndex(page.tls.findData("verify-full"))
    assert page.ca_button.isEnabled()
    qtbot.mouseClick(page.ca_button, LEFT)
    assert page.ca_file.text() == str(ca)
    assert page.choice().uri() == (
        "postgresql://therapy_timer_station@clinic-server:5432/therapy_timer"
        f"?sslmode=verify-full&sslrootcert={ca}")


# --- Test connection, against real servers ---

def test_connected_names_the_clinic_its_patients_and_schema(qtbot, dialog, pg_server,
                                                            pg_database):
    repo = open_repository(pg_database)
    seed_clinic(repo)
    repo.close()
    entries = pg_server.sql("SELECT count(*) FROM audit_log", _name(pg_database))
    page = dialog.station
    fill(qtbot, page, "127.0.0.1", _port(pg_database), _name(pg_database), "postgres")
    probe, text = run_test(qtbot, page)
    assert probe.ok
    assert text == f"Connected: clinic Harbor Test Therapy, 2 patients, schema {LATEST_VERSION}."
    # Nothing was written: the test reads only.
    assert pg_server.sql("SELECT count(*) FROM audit_log", _name(pg_database)) == entries


def test_a_closed_port_is_host_unreachable(qtbot, dialog):
    page = dialog.station
    fill(qtbot, page, "127.0.0.1", free_port(), "therapy_timer", "postgres")
    probe, text = run_test(qtbot, page)
    assert probe.kind == "unreachable"
    assert text.startswith("Host unreachable: nothing answers at the clinic server 127.0.0.1:")
    assert "Check the host name and port" in text


def test_a_wrong_password_and_no_password(qtbot, dialog, scram):
    page = dialog.station
    fill(qtbot, page, "127.0.0.1", scram.port, "postgres", "postgres", password="wrong")
    probe, text = run_test(qtbot, page)
    assert probe.kind == "password"
    assert text == (f"Wrong password: the clinic server 127.0.0.1:{scram.port}/postgres "
                    "refused the password for this user.")
    page.password.clear()
    probe, text = run_test(qtbot, page)
    assert probe.kind == "password"
    assert text.startswith("No password: the clinic server")
    assert "password file (.pgpass)" in text
    qtbot.keyClicks(page.password, PASSWORD)
    probe, text = run_test(qtbot, page)
    assert probe.kind == "empty"  # the right password: postgres holds no clinic
    assert text.startswith("No clinic yet:")


def test_tls_required_of_a_server_without_it(qtbot, dialog, pg_database):
    page = dialog.station
    fill(qtbot, page, "127.0.0.1", _port(pg_database), _name(pg_database), "postgres",
         "require")
    probe, text = run_test(qtbot, page)
    assert probe.kind == "no_tls"
    assert text.startswith(f"No TLS: the clinic server 127.0.0.1:{_port(pg_database)}/"
                           f"{_name(pg_database)} does not offer encrypted connections")


def test_not_a_therapy_timer_database_and_no_such_database(qtbot, dialog, pg_server):
    foreign = pg_server.new_database()
    pg_server.sql("CREATE TABLE inventory (item text)", _name(foreign))
    page = dialog.station
    fill(qtbot, page, "127.0.0.1", pg_server.port, _name(foreign), "postgres")
    probe, text = run_test(qtbot, page)
    assert probe.kind == "foreign"
    assert text.startswith("Not a Therapy Timer database:")
    assert pg_server.sql("SELECT to_regclass('therapy_timer_meta')", _name(foreign)) == [
        (None,)]  # nothing created
    _retype(qtbot, page.database, "no_such_clinic")
    probe, text = run_test(qtbot, page)
    assert probe.kind == "no_database"
    assert text.startswith("No such database on the clinic server")


def test_a_schema_too_new(qtbot, dialog, pg_server, pg_database):
    pg_server.sql("UPDATE therapy_timer_meta SET schema_version = 99", _name(pg_database))
    page = dialog.station
    fill(qtbot, page, "127.0.0.1", pg_server.port, _name(pg_database), "postgres")
    probe, text = run_test(qtbot, page)
    assert (probe.kind, probe.schema) == ("too_new", 99)
    assert "was written by a newer Therapy Timer (schema 99" in text
    assert text.endswith("Update Therapy Timer on this computer.")


def test_the_station_role_finds_guards_missing_and_a_schema_too_old(qtbot, dialog,
                                                                    pg_server, tmp_path):
    from therapy_timer.storage.pg.setup import init_server

    name = f"tc_{os.getpid()}_{free_port()}"
    made = init_server(pg_server.admin_uri, name, password="station-pw",
                       pgpass=tmp_path / "admin-pgpass")
    page = dialog.station
    fill(qtbot, page, "127.0.0.1", pg_server.port, name, made.station)
    probe, text = run_test(qtbot, page)
    assert text == f"Connected: clinic (no practice name yet), 0 patients, schema {LATEST_VERSION}."
    trigger, statement = next(iter(guard_triggers().items()))
    table = statement.split(" ON ")[1].split()[0]
    pg_server.sql(f"DROP TRIGGER {trigger} ON {table}", name)
    probe, text = run_test(qtbot, page)
    assert probe.kind == "guards"
    assert f"({trigger})" in text
    assert text.endswith(f"`therapy-timer server repair --database {name}` on the server.")
    pg_server.sql(f"UPDATE therapy_timer_meta SET schema_version = {LATEST_VERSION - 1}", name)
    probe, text = run_test(qtbot, page)
    assert probe.kind == "too_old"
    assert text.startswith(f"Schema too old: the clinic server 127.0.0.1:{pg_server.port}/"
                           f"{name} holds schema {LATEST_VERSION - 1}")
    assert f"server repair --database {name}" in text
    # The test changed nothing: the trigger is still gone, the version still old.
    assert pg_server.sql("SELECT schema_version FROM therapy_timer_meta", name) == [
        (LATEST_VERSION - 1,)]


# --- what is saved ---

def test_saved_per_station_without_the_password(qtbot, dialog, qsettings, scram, tmp_path):
    page = dialog.station
    fill(qtbot, page, "127.0.0.1", scram.port, "postgres", "postgres", password=PASSWORD)
    _retype(qtbot, page.station, "Room 2")
    assert page.dirty
    qtbot.mouseClick(page.save_button, LEFT)
    assert page.message.text() == (
        f"Saved: this station is 'Room 2'; from the next start it opens the clinic server "
        f"127.0.0.1:{scram.port}/postgres. The password typed was not kept: the next start "
        "finds it in .pgpass or the service file, or cannot connect.")
    assert not page.dirty and page.password.text() == ""
    qsettings.sync()
    assert qsettings.value("station/name") == "Room 2"
    assert qsettings.value("station/database") == "server"
    assert {key: qsettings.value(key) for key in qsettings.allKeys()
            if key.startswith("station/server/")} == {
        "station/server/host": "127.0.0.1", "station/server/port": scram.port,
        "station/server/database": "postgres", "station/server/user": "postgres",
        "station/server/sslmode": "disable", "station/server/sslrootcert": ""}
    assert target.station_name(qsettings) == "Room 2"
    assert not Path(os.environ["PGPASSFILE"]).exists()

    # Kept in libpq's password file, owner-only: the next test connects with no password.
    qtbot.keyClicks(page.password, PASSWORD)
    qtbot.mouseClick(page.keep_password, LEFT, pos=QPoint(8, page.keep_password.height() // 2))
    assert page.keep_password.isChecked()
    qtbot.mouseClick(page.save_button, LEFT)
    pgpass = Path(os.environ["PGPASSFILE"])
    assert page.message.text().endswith(f"The password is in {pgpass} (readable by this "
                                        "user only).")
    assert pgpass.read_text() == f"127.0.0.1:{scram.port}:postgres:postgres:{PASSWORD}\n"
    assert stat.S_IMODE(pgpass.stat().st_mode) == 0o600
    probe, _text = run_test(qtbot, page)
    assert probe.kind == "empty"  # past the password: the file's was used
    qsettings.sync()
    ini = Path(qsettings.fileName()).read_text()
    assert PASSWORD not in ini
    assert all(PASSWORD not in str(qsettings.value(key)) for key in qsettings.allKeys())

    # A new dialog shows what was saved; back to this computer only.
    again = ThisComputerPage(dialog.repo, None, qsettings)
    qtbot.addWidget(again)
    assert again.server.isChecked() and again.host.text() == "127.0.0.1"
    assert (again.port.value(), again.station.text()) == (scram.port, "Room 2")
    choose(qtbot, again.local)
    qtbot.mouseClick(again.save_button, LEFT)
    assert again.message.text() == (
        f"Saved: this station is 'Room 2'; from the next start it opens this computer's file "
        f"{again.data_path}.")
    assert target.saved_choice(qsettings) is None
    again.worker.shutdown()


def test_the_start_opens_the_saved_server_unless_db_or_the_variable_says(qsettings,
                                                                         tmp_path):
    home_file = target.start_target(None, qsettings, {})
    assert str(home_file).endswith("therapy-timer/therapy-timer.db")
    target.save_choice(target.ServerChoice("10.0.0.5", 5432, "therapy_timer",
                                           "therapy_timer_station", "require"), qsettings)
    assert target.start_target(None, qsettings, {}) == (
        "postgresql://therapy_timer_station@10.0.0.5:5432/therapy_timer?sslmode=require")
    assert target.start_target(str(tmp_path / "a.db"), qsettings, {}) == tmp_path / "a.db"
    assert target.start_target(None, qsettings, {"THERAPY_TIMER_DB": str(tmp_path / "b.db")}) \
        == tmp_path / "b.db"


def _app(config: Path, *args: str, env_db: str | None = None):
    env = {**os.environ, "XDG_CONFIG_HOME": str(config), "QT_QPA_PLATFORM": "offscreen"}
    env.pop("THERAPY_TIMER_DB", None)
    if env_db:
        env["THERAPY_TIMER_DB"] = env_db
    return subprocess.run([sys.executable, "-m", "therapy_timer", "--check", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_the_real_app_starts_on_the_saved_server(tmp_path, pg_server, pg_database):
    """The app's start (ui/app.py) reads the station's QSettings: here a server that does
    not answer (a closed port), so its refusal names it; --db and THERAPY_TIMER_DB win."""
    config = tmp_path / "config"
    saved = QSettings(str(config / "TherapyTimer" / "therapy-timer.conf"),
                      QSettings.Format.IniFormat)
    port = free_port()
    target.save_choice(target.ServerChoice("127.0.0.1", port, "therapy_timer", "postgres",
                                           "disable"), saved)
    done = _app(config)
    assert done.returncode == 1
    assert done.stderr.startswith(f"therapy-timer: cannot reach the clinic server 127.0.0.1:"
                                  f"{port}/therapy_timer (")
    assert "(This computer is set (Settings > This computer) to open the clinic server." \
        in done.stderr
    assert _app(config, "--db", str(tmp_path / "own.db")).stdout == "ready\n"
    assert _app(config, env_db=str(tmp_path / "env.db")).stdout == "ready\n"
    # Saved as the session's server: the app opens it and is ready.
    target.save_choice(target.ServerChoice("127.0.0.1", pg_server.port, _name(pg_database),
                                           "postgres", "disable"), saved)
    done = _app(config)
    assert (done.returncode, done.stdout) == (0, "ready\n"), done.stderr


# --- switching while a timer runs ---

def _window(qtbot, repo, qsettings, db_path):
    from therapy_timer.ui.main_window import MainWindow

    worker = Worker()
    clock = FakeClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
    win = MainWindow(repo, clock, db_path=db_path, worker=worker, settings=qsettings,
                     remember_size=False)
    qtbot.addWidget(win)
    win.show()
    return win


def _settings_of(qtbot, win, qsettings):
    dialog = SettingsDialog(win.repo, parent=win, settings=qsettings)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.tabs.setCurrentWidget(dialog.workstation)
    return dialog.station


def test_switching_is_refused_while_a_timer_runs_here(qtbot, home_clinic, qsettings,
                                                      pg_database, monkeypatch):
    store = home_clinic.repo
    win = _window(qtbot, store, qsettings, str(store.path))
    visit = store.start_visit(home_clinic.patient.id, home_clinic.pt.id, home_clinic.plan.id,
                              win.clock.now())
    win.controller.open_visit(visit.id)
    assert win.controller.start("97110")
    page = _settings_of(qtbot, win, qsettings)
    fill(qtbot, page, "127.0.0.1", _port(pg_database), _name(pg_database), "postgres")
    _retype(qtbot, page.station, "Room 2")
    qtbot.mouseClick(page.save_button, LEFT)
    assert page.message.text() == (
        "Not switched: a timer is running on this computer (97110). Stop it, or finish the "
        "visit, then switch: a timer left running in a database this computer no longer "
        "opens would go on counting where nobody sees it. Nothing was changed.")
    assert qsettings.value(target.DATABASE_KEY) is None
    assert qsettings.value(target.NAME_KEY) is None
    assert page.dirty
    # Stopped: the switch is saved, and the restart offered.
    asked = []
    monkeypatch.setattr(ThisComputerPage, "ask_restart",
                        classmethod(lambda cls, parent, where: asked.append(where) or False))
    assert win.controller.stop("97110")
    qtbot.mouseClick(page.save_button, LEFT)
    assert page.message.text().startswith("Saved: this station is 'Room 2'; from the next "
                                          "start it opens the clinic server 127.0.0.1:")
    assert asked == [f"the clinic server 127.0.0.1:{_port(pg_database)}/{_name(pg_database)}"]
    assert target.saved_choice(qsettings).database == _name(pg_database)
    page.worker.shutdown()
    win.close()


def test_restart_now_closes_the_window_and_starts_the_app_again(qtbot, store, qsettings,
                                                                 monkeypatch):
    from PySide6.QtCore import QProcess

    from therapy_timer.ui.dialogs import Ask

    win = _window(qtbot, store, qsettings, str(store.path))
    page = _settings_of(qtbot, win, qsettings)
    asked, started = [], []
    monkeypatch.setattr(ThisComputerPage, "ask_restart",
                        classmethod(lambda cls, parent, where: asked.append(where) or True))
    monkeypatch.setattr(Ask, "confirm", classmethod(lambda *a, **k: True))  # nothing runs
    monkeypatch.setattr(QProcess, "startDetached",
                        staticmethod(lambda program, args, folder: started.append(
                            (program, args)) or (True, 1)))
    monkeypatch.setattr(sys, "argv", ["therapy-timer"])
    fill(qtbot, page, "127.0.0.1", 5432, "therapy_timer", "therapy_timer_station")
    qtbot.mouseClick(page.save_button, LEFT)
    assert asked == ["the clinic server 127.0.0.1/therapy_timer"]
    assert started == [(sys.executable, ["-m", "therapy_timer"])]
    assert not win.isVisible()
    page.worker.shutdown()


# --- TLS against a server that speaks it (a clinic CA and the server's certificate) ---

@pytest.fixture(scope="module")
def tls_server():
    from tests.cli.test_server_commands import make_certificates
    from tests.pg_server import Server

    server = Server().init()
    ca = make_certificates(server.data)
    with (server.data / "postgresql.conf").open("a") as conf:
        conf.write("ssl = on\n")
    server.start()
    server.ca = ca
    uri = server.new_database()
    repo = open_repository(uri)
    seed_clinic(repo)
    repo.close()
    server.clinic = _name(uri)
    yield server
    server.destroy()


def test_tls_require_and_verify_full_with_the_clinics_ca(qtbot, dialog, tls_server, tmp_path,
                                                         monkeypatch):
    page = dialog.station
    fill(qtbot, page, "127.0.0.1", tls_server.port, tls_server.clinic, "postgres", "require")
    probe, text = run_test(qtbot, page)
    assert text == f"Connected: clinic Harbor Test Therapy, 2 patients, schema {LATEST_VERSION}."
    # verify-full: the certificate is for "localhost", signed by the clinic's CA.
    monkeypatch.setattr(ThisComputerPage, "ask_ca_file",
                        classmethod(lambda c, p: str(tls_server.ca)))
    _retype(qtbot, page.host, "localhost")
    page.tls.setCurrentIndex(page.tls.findData("verify-full"))
    qtbot.mouseClick(page.ca_button, LEFT)
    probe, text = run_test(qtbot, page)
    assert probe.ok, text
    # The same CA, the server reached by another name than its certificate's.
    _retype(qtbot, page.host, "127.0.0.1")
    probe, text = run_test(qtbot, page)
    assert probe.kind == "tls"
    assert text.startswith(f"TLS check failed: the clinic server 127.0.0.1:{tls_server.port}/"
                           f"{tls_server.clinic}'s certificate is not the one the CA file "
                           "vouches for")
    # Another CA than the one that signed the server's certificate.
    subprocess.run(["openssl", "req", "-new", "-x509", "-days", "30", "-nodes", "-subj",
                    "/CN=Some other CA", "-keyout", "other.key", "-out", "other-ca.pem"],
                   cwd=tmp_path, check=True, capture_output=True, timeout=60)
    _retype(qtbot, page.host, "localhost")
    _retype(qtbot, page.ca_file, str(tmp_path / "other-ca.pem"))
    probe, text = run_test(qtbot, page)
    assert probe.kind == "tls", text


def test_closing_settings_with_an_unsaved_station_asks_first(qtbot, dialog, qsettings,
                                                             monkeypatch):
    asked = []
    monkeypatch.setattr(Page, "ask_discard",
                        classmethod(lambda cls, parent, what: asked.append(what) or False))
    dialog.tabs.setCurrentWidget(dialog.practice)
    qtbot.keyClicks(dialog.station.station, "Room 3")
    dialog.reject()
    assert asked == ["the database and station settings"]
    assert dialog.isVisible() and dialog.tabs.currentWidget() is dialog.workstation
    assert qsettings.value(target.NAME_KEY) is None  # nothing written
