"""The PyInstaller bundle builds and its --check prints 'ready' (slow: about a minute)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bundle_builds_and_checks(tmp_path):
    pyinstaller = Path(sys.executable).with_name("pyinstaller")
    if not pyinstaller.exists():
        pytest.fail("PyInstaller is missing: it is a dev dependency (pip install -e '.[dev]')")
    dist, work = tmp_path / "dist", tmp_path / "work"
    subprocess.run(
        [str(pyinstaller), "--noconfirm", "--log-level", "WARN", "--distpath", str(dist),
         "--workpath", str(work), str(ROOT / "packaging" / "therapy-timer.spec")],
        check=True, cwd=ROOT, timeout=900, capture_output=True,
    )
    app = dist / "therapy-timer" / "therapy-timer"
    assert app.exists()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    db = tmp_path / "data" / "clinic.sqlite3"
    proc = subprocess.run([str(app), "--check", "--db", str(db)], capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "ready"
    # resources and the ICD-10 data travelled with the bundle; the database did not
    internal = dist / "therapy-timer" / "_internal"
    assert (internal / "resources" / "codes.toml").exists()
    assert db.exists() and not any(p.suffix == ".sqlite3" for p in (dist).rglob("*"))
    # the units command works from the bundle too
    units = subprocess.run([str(app), "units"], input='{"services": [{"code": "97110", '
                           '"minutes": 38}]}', capture_output=True, text=True, timeout=60,
                           env=env)
    assert units.returncode == 0 and '"total_units": 3' in units.stdout
    shutil.rmtree(work, ignore_errors=True)
