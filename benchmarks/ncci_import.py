"""Importing CMS's practitioner PTP release: rows/s and peak memory on a generated release of
2 million rows (a real one has a few million over f1 ... f4), beside a bare read of the same zip.

The release is written in CMS's layout (copyright line, title, the wrapped header, tab-delimited
rows) inside a zip named like CMS's; every ordered pair of catalog codes is in it (4,692 rows
kept), the rest are codes outside the catalog (skipped, but every row is still checked). Each
run is its own process, so its peak resident memory (ru_maxrss) is its own; the import of a
release a tenth the size shows the memory is flat (it does not grow with the file).

Targets: the 2-million-row import well under a minute; peak memory within 20 MiB of the
tenth-size import's.

Run: .venv/bin/python benchmarks/ncci_import.py [--rows 2000000] [--quick]
``--quick`` is ``--rows 400000``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEAD = (
    "CPT only copyright 2025 American Medical Association.  All rights reserved.\t\t\t\t\t\t\r\n"
    "Column1/Column2 Edits\t\t\t\t\t\t\r\n"
    "Column 1\tColumn 2\t*=in existence\tEffective\tDeletion\tModifier\tPTP Edit Rationale\r\n"
    "\t\tprior to 1996\tDate\tDate\t0=not allowed\t\r\n"
    "\t\t\t\t*=no data\t1=allowed\t\r\n"
    "\t\t\t\t\t9=not applicable\t\r\n"
)
RATIONALES = ["Misuse of column two code with column one code",
              "Standards of medical / surgical practice", "Mutually exclusive procedures",
              "CPT Manual or CMS manual coding instruction"]

CHILD_IMPORT = """
import resource, sys, time
from therapy_timer.storage.repository import open_repository
started = time.perf_counter()
with open_repository(sys.argv[1]) as repo:
    summary = repo.import_ncci(sys.argv[2:], user="benchmark")
took = time.perf_counter() - started
print(summary.rows_read, summary.rows_kept, took,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
CHILD_BARE = """
import io, resource, sys, time, zipfile
started = time.perf_counter()
rows = 0
with zipfile.ZipFile(sys.argv[1]) as archive:
    for name in archive.namelist():
        with archive.open(name) as raw:
            for line in io.TextIOWrapper(raw, encoding="latin-1", newline=""):
                cells = line.rstrip("\\r\\n").split("\\t")
                rows += len(cells) > 5
took = time.perf_counter() - started
print(rows, 0, took, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def generate(path: Path, rows: int) -> int:
    """Writes a release zip of ``rows`` edit rows; returns how many are catalog pairs."""
    from therapy_timer.core.codes import default_catalog

    codes = default_catalog().codes()
    catalog = [(a, b) for a in codes for b in codes if a != b]
    every = max(1, rows // len(catalog))
    name = path.name.replace(".zip", ".TXT").split("edits-")[-1]
    kept = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, \
            archive.open(name, "w") as raw:
        raw.write(HEAD.encode("latin-1"))
        chunk = []
        for i in range(rows):
            if i % every == 0 and kept < len(catalog):
                col1, col2 = catalog[kept]
                kept += 1
            else:
                # Category III / PLA-shaped codes: never in the catalog.
                col1, col2 = f"{1000 + i % 9000:04d}T", f"{(i * 7919) % 9000 + 1000:04d}U"
            deleted = "*" if i % 3 else f"20{10 + i % 15:02d}0101"
            chunk.append(f"{col1}\t{col2}\t{'*' if i % 7 == 0 else ''}\t"
                         f"{'19960101' if i % 3 == 0 else '20090101'}\t{deleted}\t"
                         f"{'0' if i % 5 == 0 else '1'}\t{RATIONALES[i % 4]}\r\n")
            if len(chunk) >= 20000:
                raw.write("".join(chunk).encode("latin-1"))
                chunk.clear()
        raw.write("".join(chunk).encode("latin-1"))
    return kept


def run_child(script: str, *args: str) -> tuple[int, int, float, int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                         text=True, env=env, check=True, cwd=ROOT).stdout.split()
    return int(out[0]), int(out[1]), float(out[2]), int(out[3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows = 400_000 if args.quick else args.rows
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        big = base / "medicare-ncci-2026q2-practitioner-ptp-edits-ccipra-v321r0-f1.zip"
        small = base / "small" / big.name
        small.parent.mkdir()
        started = time.perf_counter()
        kept = generate(big, rows)
        generate(small, rows // 10)
        made = time.perf_counter() - started
        size = big.stat().st_size / 2**20
        print(f"release: {rows:,} rows ({kept:,} catalog pairs), zip {size:.1f} MiB, "
              f"generated in {made:.1f} s")
        bare = run_child(CHILD_BARE, str(big))
        full = run_child(CHILD_IMPORT, str(base / "clinic.db"), str(big))
        tenth = run_child(CHILD_IMPORT, str(base / "small.db"), str(small))
    print()
    print(f"{'':44}{'seconds':>9}{'rows/s':>12}{'ratio':>7}{'peak RSS':>11}")
    for label, (read, _kept, took, rss) in (
            ("baseline: bare read + split of the zip", bare),
            (f"import ncci, {rows:,} rows", full),
            (f"import ncci, {rows // 10:,} rows (memory check)", tenth)):
        print(f"{label:44}{took:9.2f}{read / took:12,.0f}{took / bare[2]:6.2f}x"
              f"{rss / 1024:8.0f} MiB")
    print()
    ok_time = full[2] < 30
    ok_memory = (full[3] - tenth[3]) / 1024 < 20
    print(f"rows kept {full[1]:,} of {full[0]:,}; import {full[2]:.1f} s: "
          f"{'OK' if ok_time else 'MISSES'} the target of well under a minute (< 30 s)")
    print(f"peak memory {full[3] / 1024:.0f} MiB for {rows:,} rows vs {tenth[3] / 1024:.0f} MiB "
          f"for a tenth of them: {'flat, OK' if ok_memory else 'GROWS: MISSES the target'}")
    return 0 if ok_time and ok_memory else 1


if __name__ == "__main__":
    raise SystemExit(main())
