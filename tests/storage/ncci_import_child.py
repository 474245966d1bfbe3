"""Child process for the interrupted-import test: imports a PTP file and, once the new pairs
are written inside the import's transaction (before its commit), says so and waits to be
killed."""

from __future__ import annotations

import sys
import time

from therapy_timer.storage.repository import open_repository


def main(db: str, *files: str) -> None:
    def progress(stage: str, _count: int) -> None:
        if stage == "writing":
            print("writing", flush=True)
            time.sleep(120)  # the parent kills us here, mid-transaction

    with open_repository(db) as repo:
        repo.import_ncci(list(files), user="child", progress=progress)


if __name__ == "__main__":
    main(*sys.argv[1:])
