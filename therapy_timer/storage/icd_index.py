"""A compact, searchable ICD-10-CM index (code, description, billable) in the user cache folder.

Importing ``simple_icd_10_cm`` parses a 10 MB XML file (about 2 s), far too slow for start-up
or the UI thread. ``ensure_index`` builds a small SQLite file once per package version (run it
on a worker thread); ``IcdIndex`` then answers searches by code or words in milliseconds.

Public API:

* ``index_path(cache_dir=None) -> Path``: where the index for the installed package lives.
* ``ensure_index(cache_dir=None) -> Path``: builds it if missing (atomic: temp file + rename).
* ``build_index(path) -> int``: builds one at ``path``; returns the number of codes.
* ``IcdIndex(path)``: ``search(text, limit=50, billable_only=True) -> list[IcdEntry]``,
  ``lookup(code) -> IcdEntry | None``, ``children(code) -> list[IcdEntry]``, ``close()``.
  One instance per thread (SQLite connections are not shared across threads).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import sqlite_utils

log = logging.getLogger(__name__)

SCHEMA = 1
PACKAGE = "simple-icd-10-cm"
_CODE_LIKE = re.compile(r"^[A-Za-z][0-9][0-9A-Za-z]?\.?[0-9A-Za-z]{0,4}$")
_WORD = re.compile(r"[0-9A-Za-z\u00C0-\uFFFF]+")


@dataclass(frozen=True, slots=True)
class IcdEntry:
    """One ICD-10-CM code; ``billable`` is False for categories that have more specific codes."""

    code: str
    description: str
    billable: bool


def package_version() -> str:
    """The installed simple-icd-10-cm version (read from metadata: no import, no XML parse)."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "missing"


def index_path(cache_dir: str | Path | None = None) -> Path:
    """Where the index for the installed package version lives."""
    if cache_dir is None:
        import platformdirs

        cache_dir = platformdirs.user_cache_dir("therapy-timer", appauthor=False)
    return Path(cache_dir) / f"icd10cm-{package_version()}-s{SCHEMA}.sqlite"


def ensure_index(cache_dir: str | Path | None = None) -> Path:
    """Returns the index path, building the index first if it is not there (slow: ~3 s)."""
    path = index_path(cache_dir)
    if _is_complete(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tmp.unlink()
        build_index(tmp)
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-journal")):
            leftover.unlink(missing_ok=True)
    return path


def build_index(path: str | Path) -> int:
    """Reads every ICD-10-CM code from the package into a new SQLite file at ``path``.

    Returns:
        The number of codes written (chapters and blocks are left out).
    """
    with warnings.catch_warnings():
        # The package reads its data with a deprecated importlib.resources call.
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as icd

    rows = []
    for code in icd.get_all_codes(True):
        if icd.is_chapter_or_block(code):
            continue
        rows.append(
            {
                "code": code,
                "compact": code.replace(".", ""),
                "description": icd.get_description(code),
                "billable": 1 if icd.is_leaf(code) else 0,
            }
        )
    db = sqlite_utils.Database(str(path))
    try:
        with db.conn:
            db["codes"].insert_all(rows, pk="code", batch_size=5000)
            db["codes"].create_index(["compact"])
            db["meta"].insert_all(
                [
                    {"key": "package_version", "value": package_version()},
                    {"key": "schema", "value": str(SCHEMA)},
                    {"key": "count", "value": str(len(rows))},
                ],
                pk="key",
            )
        db["codes"].enable_fts(["description"], fts_version="FTS5", tokenize="unicode61")
        db.execute("VACUUM")
    finally:
        db.close()
    return len(rows)


def _is_complete(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        db = sqlite_utils.Database(str(path))
        try:
            row = db.execute("select value from meta where key = 'schema'").fetchone()
            return row is not None and row[0] == str(SCHEMA)
        finally:
            db.close()
    except Exception:  # noqa: BLE001 - a damaged cache file is rebuilt
        return False


class IcdIndex:
    """Searches a built index. Open one per thread; close it when done."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not _is_complete(self.path):
            raise FileNotFoundError(f"no complete ICD-10-CM index at {self.path}")
        self._db = sqlite_utils.Database(str(self.path))

    def close(self) -> None:
        self._db.close()

    def lookup(self, code: str) -> IcdEntry | None:
        """The entry for ``code`` (with or without the dot, any case), or None if unknown."""
        compact = code.strip().upper().replace(".", "")
        row = self._db.execute(
            "select code, description, billable from codes where compact = ?", [compact]
        ).fetchone()
        return _entry(row) if row else None

    def children(self, code: str, limit: int = 50) -> list[IcdEntry]:
        """The billable codes under a category (for "R26.8 is not billable: choose R26.81...")."""
        compact = code.strip().upper().replace(".", "")
        rows = self._db.execute(
            "select code, description, billable from codes where compact > ? "
            "and compact < ? and billable = 1 order by length(compact), code limit ?",
            [compact, compact + "~", limit],
        ).fetchall()
        return [_entry(r) for r in rows]

    def search(self, text: str, limit: int = 50, billable_only: bool = True) -> list[IcdEntry]:
        """Codes matching ``text``: a code prefix ("R26.8", "r268") or words ("gait abnorm").

        Code matches come first (exact, then shorter codes first); word matches need every
        word (as a prefix) in the description and are ranked by relevance, then code.
        """
        text = text.strip()
        if not text:
            return []
        billable = "and c.billable = 1" if billable_only else ""
        results: list[IcdEntry] = []
        seen: set[str] = set()
        if _CODE_LIKE.match(text):
            compact = text.upper().replace(".", "")
            rows = self._db.execute(
                f"select c.code, c.description, c.billable from codes c "
                f"where c.compact >= ? and c.compact < ? {billable} "
                f"order by c.compact != ?, length(c.compact), c.compact limit ?",
                [compact, compact + "~", compact, limit],
            ).fetchall()
            for row in rows:
                seen.add(row[0])
                results.append(_entry(row))
        words = _WORD.findall(text)
        if words and len(results) < limit:
            match = " ".join('"' + w.replace('"', "") + '"*' for w in words)
            rows = self._db.execute(
                f"select c.code, c.description, c.billable from codes_fts f "
                f"join codes c on c.rowid = f.rowid "
                f"where codes_fts match ? {billable} "
                f"order by bm25(codes_fts), length(c.description), c.code limit ?",
                [match, limit],
            ).fetchall()
            for row in rows:
                if row[0] not in seen and len(results) < limit:
                    seen.add(row[0])
                    results.append(_entry(row))
        return results


def _entry(row) -> IcdEntry:
    return IcdEntry(row[0], row[1], bool(row[2]))


class IndexDescriber:
    """ICD-10-CM code -> description from the index on disk, for the UI thread.

    The index is built by the diagnoses picker on a worker (``ensure_index``); until it
    exists every code describes as "" (the toggles still show the code) and the next call looks
    again. Never imports the ICD-10-CM package (seconds of parsing).
    """

    def __init__(self, cache_dir: str | Path | None = None) -> None:
        self.cache_dir = cache_dir
        self._index = None
        self._known: dict[str, str] = {}

    def __call__(self, code: str) -> str:
        if code in self._known:
            return self._known[code]
        index = self._open()
        if index is None:
            return ""
        try:
            entry = index.lookup(code)
        except Exception as exc:  # noqa: BLE001 - a damaged cache only loses the description
            log.warning("ICD-10-CM lookup of %s failed: %s", code, exc)
            return ""
        self._known[code] = entry.description if entry else ""
        return self._known[code]

    def _open(self):
        if self._index is None:
            try:
                self._index = IcdIndex(index_path(self.cache_dir))
            except (FileNotFoundError, OSError):
                return None
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None


def describer(cache_dir: str | Path | None = None):
    """ICD-10-CM code -> official description, for the superbills of visits recorded before
    descriptions were kept with the visit.

    Reads the compact index (opened when first asked; "" while it is not built). Never loads
    the ICD-10-CM package: printing and exporting must stay quick (issue 11), and a visit's
    own documented descriptions come first anyway.
    """
    return IndexDescriber(cache_dir)
