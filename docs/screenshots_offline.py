"""Saves the PNG of a treatment room while the clinic server is away (README "Several
computers"): docs/screenshots/visit-offline.png.

Run: ``QT_QPA_PLATFORM=offscreen python docs/screenshots_offline.py``. A throwaway
PostgreSQL server is started in a temporary folder (as the tests start theirs,
tests/pg_server.py), the station reaches it through a relay on 127.0.0.1 (tests/pg_relay.py)
that this script cuts during the visit; the app runs on a ``FakeClock``, so the picture is the
same on every machine. The clinic and its patients are made up.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time as _time
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DAY = date(2026, 3, 6)
ZONE = "America/Chicago"
SIZE = (1366, 768)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args(argv)
    os.environ["TZ"] = ZONE
    _time.tzset()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tt-offline-shot-") as tmp:
        for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            os.environ[name] = str(Path(tmp) / name.lower())  # the journal goes here
        _shoot(out, Path(tmp))
    return 0


def _shoot(out: Path, tmp: Path) -> None:
    from PySide6.QtCore import QSettings

    from tests.pg_relay import Relay
    from tests.pg_server import running_server
    from tests.ui.conftest import seed_clinic
    from therapy_timer.core.records import Practice
    from therapy_timer.storage.repository import open_repository
    from therapy_timer.ui.app import make_application
    from therapy_timer.ui.clock import FakeClock
    from therapy_timer.ui.main_window import MainWindow
    from therapy_timer.ui.station.name import apply_station

    app = make_application()
    with running_server() as server:
        relay = Relay(server.port)
        try:
            database = server.new_database().rsplit("/", 1)[1]
            repo = open_repository(relay.uri(database))
            clinic = seed_clinic(repo)
            repo.save_practice(Practice("Harbor Test Therapy", timezone=ZONE))
            clock = FakeClock(datetime.combine(DAY, time(10, 30), ZoneInfo(ZONE)))
            settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
            settings.setValue("station/name", "Room 2")
            apply_station(repo, settings)  # as the app does before its window opens
            window = MainWindow(repo, clock, db_path="clinic server", settings=settings)
            window.resize(*SIZE)
            window.show()
            window.show_today()
            window.today.set_provider(clinic.pt.id)
            window.today.start_for(clinic.patient.id)
            window.controller.timer.stop()
            panel = window.visit_panel
            panel.start_or_stop("97110")
            clock.advance(minutes=12)
            relay.refuse()
            relay.cut()  # the treatment room's Wi-Fi drops at 10:42
            panel.start_or_stop("97530")
            clock.advance(minutes=9)
            panel.start_or_stop("97112")
            panel.start_or_stop("97010")  # a hot pack alongside
            clock.advance(minutes=6, seconds=20)
            window.controller.tick()
            for _ in range(3):
                app.processEvents()
            path = out / "visit-offline.png"
            window.grab().save(str(path))
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
            window.close()
            window.timers.journal.close()
            repo.close()
        finally:
            relay.close()


if __name__ == "__main__":
    raise SystemExit(main())
