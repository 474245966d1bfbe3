"""The desktop app says when it re-created guard triggers it found missing (issue 11, item 6)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

from therapy_timer.storage.repository import open_repository


def test_the_app_says_it_re_created_a_missing_trigger(tmp_path):
    path = tmp_path / "c.db"
    open_repository(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER charge_lines_frozen_insert")
    conn.close()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-m", "therapy_timer", "--db", str(path),
                             "--check"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ready"
    assert (f"therapy-timer: warning: {path} had lost guard triggers (someone removed or"
            " altered them): re-created charge_lines_frozen_insert.") in result.stderr
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name ="
                        " 'charge_lines_frozen_insert'").fetchone() == (1,)
    conn.close()
