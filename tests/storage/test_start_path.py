"""The SQLite start path stays as fast as before the clinic server came (issue 13): opening a
file never imports psycopg (about 190 ms of imports); only a server target does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import json, sys
from therapy_timer.storage.repository import open_repository
repo = open_repository(sys.argv[1])
repo.start_visit  # the store as the app uses it
repo.close()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "psycopg"
                        or m.startswith("therapy_timer.storage.pg"))))
"""


def loaded(target: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", CHILD, target], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          timeout=60, check=True)
    return json.loads(proc.stdout)


def test_opening_an_sqlite_file_does_not_import_psycopg(tmp_path):
    assert loaded(str(tmp_path / "clinic.db")) == []


def test_opening_a_server_does(pg_database):
    """The other side of the same probe: it sees psycopg when it is there."""
    modules = loaded(pg_database)
    assert "psycopg" in modules and "therapy_timer.storage.pg.connection" in modules
