"""Runs every benchmark and writes docs/performance.md: each figure beside its same-run baseline.

Usage: .venv/bin/python benchmarks/run_all.py [--quick]
``--quick`` passes ``--quick`` to benchmarks that accept it (smaller clinic, fewer documents).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Start-up first: it is the most sensitive to the disk writes the store benchmark leaves behind.
ORDER = ["startup.py", "engine.py", "store.py", "pdf.py"]


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{platform.system()} {platform.release()}, {cpu or platform.machine()}, "
            f"{os.cpu_count()} cores{mem}, Python {platform.python_version()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "docs" / "performance.md"))
    args = parser.parse_args()
    scripts = [HERE / name for name in ORDER if (HERE / name).exists()]
    scripts += sorted(p for p in HERE.glob("*.py")
                      if p.name not in ORDER and not p.name.startswith("_")
                      and p.name != "run_all.py")
    sections = []
    failed = False
    for script in scripts:
        cmd = [sys.executable, str(script)]
        if args.quick and "--quick" in script.read_text():
            cmd.append("--quick")
        print(f"running {script.name} ...", flush=True)
        started = time.perf_counter()
        env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
        took = time.perf_counter() - started
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        failed |= proc.returncode != 0
        body = proc.stdout.strip() or "(no output)"
        if proc.returncode:
            body += "\n" + proc.stderr.strip()[-2000:]
        sections.append(f"## {script.stem}\n\n`{' '.join(Path(c).name for c in cmd[1:])}`: "
                        f"{status}, {took:.1f} s\n\n```\n{body}\n```\n")
        print(body)
    text = (
        "# Performance\n\n"
        "Written by `benchmarks/run_all.py`. Every figure is printed beside a baseline measured\n"
        "in the same run on the same machine, so ratios compare like with like.\n\n"
        f"- Run: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}"
        f"{' (quick mode)' if args.quick else ''}\n- Machine: {machine()}\n\n"
        + "\n".join(sections)
    )
    Path(args.out).write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
