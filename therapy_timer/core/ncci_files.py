"""CMS's NCCI files as published: the practitioner PTP edits and the practitioner MUE table.

Both are read as CMS ships them (the zip files from its "NCCI Procedure to Procedure (PTP)
Edits" and "Medically Unlikely Edits" pages, or the text inside them), streamed line by line so
a release of a few million rows is read in constant memory. Only the rows whose codes are all
in the code catalog are kept; every row is still checked, and a bad one stops the read with
``RuleFileError`` naming the file, the line and the problem (the caller then stores nothing).

PTP text layout (tab-delimited, CRLF): a copyright line, a "Column1/Column2 Edits" title, a
header wrapped over several lines (Column 1, Column 2, "*=in existence prior to 1996",
Effective Date, Deletion Date "*=no data", Modifier "0=not allowed 1=allowed 9=not applicable",
PTP Edit Rationale), then one edit per line with dates as YYYYMMDD. The deletion date is the
first date the edit no longer applies (CMS deletes an edit that never applied with a deletion
date equal to its effective date), so a pair is valid up to the day before it.

MUE layout (CSV): a quoted copyright notice, the header "HCPCS/CPT Code", "Practitioner
Services MUE Values", "MUE Adjudication Indicator", "MUE Rationale", then one code per line.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from therapy_timer.core.model import BillingError
from therapy_timer.core.rules_data import MueLimit, NcciPair, ptp_bypass

#: A CPT or HCPCS code: five letters and digits (97110, G0283, 0001A).
CODE = re.compile(r"[0-9A-Z]{5}")
#: One PTP edit line, the fast path (a line that does not match is diagnosed field by field).
_PTP_ROW = re.compile(r"([0-9A-Z]{5})\t([0-9A-Z]{5})\t(\*?)\t(\d{8})\t(\d{8}|\*)\t([019])"
                      r"(?:\t([^\t]*))?\t*")
_PTP_VERSION = re.compile(r"ccipra-v(\d+)r(\d+)", re.IGNORECASE)
_QUARTER = re.compile(r"(20\d\d)-?q([1-4])", re.IGNORECASE)
_MUE_DATE = re.compile(r"Eff_(\d\d)-(\d\d)-(\d{4})", re.IGNORECASE)
#: How far into a file the header must appear.
HEADER_LINES = 30
#: How often (rows read) the progress callback hears from a read.
PROGRESS_EVERY = 50_000


class RuleFileError(BillingError):
    """A rule data file that cannot be imported; the message names the file, line, problem."""


@dataclass
class ReadSummary:
    """What a read found: rows read, kept and skipped, and the release it came from."""

    kind: str  # "ncci" or "mue"
    version: str = ""
    effective: date | None = None
    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_kept: int = 0

    @property
    def rows_skipped(self) -> int:
        return self.rows_read - self.rows_kept

    def describe(self) -> str:
        what = (f"NCCI PTP release {self.version}" if self.kind == "ncci"
                else "practitioner MUE table")
        when = f", effective {self.effective.isoformat()}" if self.effective else ""
        return (f"{what}{when}: {self.rows_read:,} rows read, "
                f"{self.rows_kept:,} kept, {self.rows_skipped:,} skipped (a code not in the "
                "catalog)")


@dataclass(frozen=True, slots=True)
class _Text:
    """One text file to read: its name for messages, and how to open its bytes."""

    name: str
    open: Callable[[], contextlib.AbstractContextManager]


def _fail(where: str, problem: str) -> RuleFileError:
    return RuleFileError(f"{where}: {problem}")


def _texts(paths: Sequence[Path | str], suffixes: tuple[str, ...], what: str) -> list[_Text]:
    """The text files to read: each path itself, or the matching files inside a zip."""
    out: list[_Text] = []
    for raw in paths:
        path = Path(raw)
        try:
            with path.open("rb") as handle:
                head = handle.read(4)
            size = path.stat().st_size
        except OSError as exc:
            raise _fail(str(path), f"cannot be read ({exc.strerror or exc})") from None
        if size == 0:
            raise _fail(str(path), "the file is empty")
        if head.startswith(b"PK"):
            try:
                with zipfile.ZipFile(path) as archive:
                    names = [n for n in archive.namelist()
                             if n.lower().endswith(suffixes) and not n.endswith("/")]
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise _fail(str(path), f"is not a complete zip archive (truncated or damaged: "
                                       f"{exc})") from None
            if not names:
                raise _fail(str(path), f"holds no {what} ({', '.join(suffixes)} file) inside")
            for name in sorted(names):
                out.append(_Text(f"{path}!{name}",
                                 lambda p=path, n=name: _member(p, n)))  # type: ignore[misc]
        elif path.suffix.lower() in (".xlsx", ".xls"):
            raise _fail(str(path), f"is an Excel workbook: import CMS's zip, or the "
                                   f"{suffixes[0]} file inside it")
        else:
            out.append(_Text(str(path), lambda p=path: p.open("rb")))  # type: ignore[misc]
    return out


@contextlib.contextmanager
def _member(path: Path, name: str) -> Iterator[io.BufferedIOBase]:
    """A file inside a zip, open for reading; the archive closes with it."""
    with zipfile.ZipFile(path) as archive, archive.open(name) as raw:
        yield raw  # type: ignore[misc]


def _lines(text: _Text) -> Iterator[str]:
    """The file's lines (latin-1, line endings dropped); a damaged zip member is an error."""
    try:
        with text.open() as raw:
            reader = io.TextIOWrapper(raw, encoding="latin-1", newline="")
            for line in reader:
                yield line.rstrip("\r\n")
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise _fail(text.name, f"the zip archive is damaged or truncated ({exc})") from None
    except OSError as exc:
        raise _fail(text.name, f"cannot be read ({exc.strerror or exc})") from None


def _yyyymmdd(text: str, cache: dict[str, date]) -> date:
    try:
        return cache[text]
    except KeyError:
        day = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        if len(cache) < 100_000:
            cache[text] = day
        return day


def ptp_version(names: Sequence[str]) -> str:
    """The release's version from CMS's file names (``ccipra-v321r0-f1`` -> ``v321r0``)."""
    found = {f"v{m.group(1)}r{m.group(2)}" for n in names
             for m in [_PTP_VERSION.search(Path(n).name)] if m}
    return found.pop() if len(found) == 1 else ""


class PtpRelease:
    """Reads the practitioner PTP edit files of one release; iterate for the kept pairs.

    Args:
        paths: the release's zip files (f1 ... f4) or the text files inside them.
        codes: the code catalog's codes; a pair is kept when both its codes are in it.
        progress: called with the rows read so far, every ``PROGRESS_EVERY`` rows.

    Raises (while iterating):
        RuleFileError: not a practitioner PTP file, a bad row, a duplicate row, a damaged zip.
    """

    def __init__(self, paths: Sequence[Path | str], codes: Collection[str],
                 progress: Callable[[int], None] | None = None) -> None:
        if not paths:
            raise RuleFileError("no PTP file given")
        for raw in paths:
            name = Path(raw).name.lower()
            if "ccioph" in name or "hospital" in name:
                raise _fail(str(raw), "is CMS's outpatient hospital PTP file; a therapy "
                                      "practice bills with the practitioner file (ccipra-...)")
            if "mue" in name:
                raise _fail(str(raw), "is an MUE table, not a PTP file: import it with "
                                      "'import mue'")
        self.texts = _texts(paths, (".txt",), "PTP text file")
        names = [str(p) for p in paths] + [t.name for t in self.texts]
        versions = {f"v{m.group(1)}r{m.group(2)}" for n in names
                    for m in [_PTP_VERSION.search(n)] if m}
        if len(versions) > 1:
            raise RuleFileError("the files are of different PTP releases ("
                                + ", ".join(sorted(versions)) + "): import one release at a "
                                "time")
        if not versions:
            raise _fail(str(paths[0]), "the release's version is not in the file name: keep "
                                       "CMS's name (for example ccipra-v321r0-f1.zip)")
        self.codes = frozenset(c.upper() for c in codes)
        self.progress = progress
        self.summary = ReadSummary("ncci", versions.pop(),
                                   files=[Path(p).name for p in paths])
        quarter = next((m for n in names for m in [_QUARTER.search(Path(n).name)] if m), None)
        self._quarter = (date(int(quarter.group(1)), 3 * int(quarter.group(2)) - 2, 1)
                         if quarter else None)

    def __iter__(self) -> Iterator[NcciPair]:
        seen: dict[tuple, str] = {}
        dates: dict[str, date] = {}
        latest = ""
        summary = self.summary
        source = f"CMS NCCI practitioner PTP edits {summary.version}"
        codes = self.codes
        match = _PTP_ROW.fullmatch
        for text in self.texts:
            line_no = rows_here = 0
            header: list[str] | None = None
            in_rows = False
            for line in _lines(text):
                line_no += 1
                if not in_rows:
                    cells = [c.strip().lower() for c in line.split("\t")]
                    if header is None:
                        if cells[:2] == ["column 1", "column 2"]:
                            header = cells
                        elif line_no >= HEADER_LINES or "\x00" in line:
                            break
                        continue
                    if cells[:2] == ["", ""] and any(cells):  # the header's wrapped lines
                        header = [f"{a} {b}".strip() for a, b in zip(
                            header + [""] * (len(cells) - len(header)), cells, strict=False)]
                        continue
                    if not any(cells):
                        continue
                    _check_ptp_header(text.name, header)
                    in_rows = True
                if not line.strip("\t "):
                    continue
                found = match(line)
                if found is None:
                    raise _fail(f"{text.name}, line {line_no}", _ptp_problem(line))
                col1, col2, old, eff, deleted, indicator, rationale = found.groups()
                rows_here += 1
                summary.rows_read += 1
                if summary.rows_read % PROGRESS_EVERY == 0 and self.progress:
                    self.progress(summary.rows_read)
                try:
                    start = _yyyymmdd(eff, dates)
                    end = None if deleted == "*" else _yyyymmdd(deleted, dates)
                except ValueError:
                    raise _fail(f"{text.name}, line {line_no}",
                                f"a date does not parse ({eff!r} or {deleted!r}: CMS writes "
                                "YYYYMMDD)") from None
                if eff > latest:
                    latest = eff
                if end is not None and end < start:
                    raise _fail(f"{text.name}, line {line_no}",
                                f"deletion date {deleted} is before the effective date {eff}")
                if col1 not in codes or col2 not in codes:
                    continue
                where = f"{text.name}, line {line_no}"
                key = (col1, col2, eff, deleted, indicator)
                if key in seen:
                    raise _fail(where, f"duplicate row: {col1}/{col2} effective {eff} is "
                                       f"already at {seen[key]}")
                seen[key] = where
                summary.rows_kept += 1
                yield NcciPair(col1, col2, indicator, start,
                               None if end is None else end - timedelta(days=1), "V",
                               source + (f": {rationale.strip()}" if rationale else ""),
                               ptp_bypass(col1, col2), prior_1996=bool(old))
            if header is None:
                raise _fail(text.name, "is not a CMS PTP file: no 'Column 1 / Column 2' "
                                       f"header line in its first {HEADER_LINES} lines")
            if not in_rows:
                _check_ptp_header(text.name, header)
            if rows_here == 0:
                raise _fail(text.name, "has CMS's PTP header but no edit rows")
        summary.effective = self._quarter or (_yyyymmdd(latest, dates) if latest else None)


def _check_ptp_header(name: str, header: list[str]) -> None:
    needs = ["column 1", "column 2", "1996", "effective", "deletion", "modifier", "rationale"]
    for index, word in enumerate(needs):
        if index >= len(header) or word not in header[index]:
            raise _fail(name, f"is not a CMS PTP file: header column {index + 1} should be "
                              f"about {word!r}")


def _ptp_problem(line: str) -> str:
    """Why a line is not a PTP edit row, field by field."""
    cells = line.split("\t")
    while len(cells) > 7 and not cells[-1].strip():
        cells.pop()
    if len(cells) < 6:
        return (f"{len(cells)} tab-separated field(s) where a PTP row has 7 (column 1, column "
                "2, *, effective date, deletion date, modifier indicator, rationale)")
    for index, label in ((0, "column 1"), (1, "column 2")):
        if not CODE.fullmatch(cells[index]):
            return f"{label} {cells[index][:20]!r} is not a CPT/HCPCS code (5 letters/digits)"
    if cells[2] not in ("", "*"):
        return f"the pre-1996 column holds {cells[2][:20]!r} (only '*' or nothing)"
    if not re.fullmatch(r"\d{8}", cells[3]):
        return f"effective date {cells[3][:20]!r} does not parse (CMS writes YYYYMMDD)"
    if not re.fullmatch(r"\d{8}|\*", cells[4]):
        return f"deletion date {cells[4][:20]!r} does not parse (YYYYMMDD, or * for none)"
    if cells[5] not in ("0", "1", "9"):
        return f"modifier indicator {cells[5][:20]!r} is not 0, 1 or 9"
    return "the line is not a PTP edit row"


def read_ptp(paths: Sequence[Path | str], codes: Collection[str],
             progress: Callable[[int], None] | None = None) -> PtpRelease:
    """A ``PtpRelease`` (checked names and version); iterate it for the kept pairs."""
    return PtpRelease(paths, codes, progress)


class MueTable:
    """Reads CMS's practitioner MUE table; iterate for the kept limits (codes in the catalog).

    Raises (while iterating):
        RuleFileError: not a practitioner MUE table, a bad or duplicate row, a damaged zip.
    """

    def __init__(self, paths: Sequence[Path | str], codes: Collection[str],
                 progress: Callable[[int], None] | None = None) -> None:
        if len(paths) != 1:
            raise RuleFileError("give one MUE file (CMS's practitioner services table)")
        name = Path(paths[0]).name.lower()
        if "ccipra" in name or "ptp" in name:
            raise _fail(str(paths[0]), "is a PTP file, not an MUE table: import it with "
                                       "'import ncci'")
        if "dme" in name or "hospital" in name or "facility" in name:
            raise _fail(str(paths[0]), "is not the practitioner services MUE table (a therapy "
                                       "practice bills with the practitioner table)")
        self.texts = _texts(paths, (".csv",), "MUE table")
        if len(self.texts) != 1:
            self.texts = [t for t in self.texts if "practitioner" in t.name.lower()] or \
                self.texts[:1]
        found = next((m for n in [str(paths[0]), self.texts[0].name]
                      for m in [_MUE_DATE.search(n)] if m), None)
        quarter = _QUARTER.search(Path(paths[0]).name)
        if found:
            effective = date(int(found.group(3)), int(found.group(1)), int(found.group(2)))
        elif quarter:
            effective = date(int(quarter.group(1)), 3 * int(quarter.group(2)) - 2, 1)
        else:
            raise _fail(str(paths[0]), "the table's effective date is not in the file name: "
                                       "keep CMS's name (for example MCR_MUE_Practitioner"
                                       "Services_Eff_01-01-2026.csv)")
        self.codes = frozenset(c.upper() for c in codes)
        self.progress = progress
        self.summary = ReadSummary("mue", f"Eff {effective.isoformat()}", effective,
                                   [Path(p).name for p in paths])

    def __iter__(self) -> Iterator[MueLimit]:
        text = self.texts[0]
        summary = self.summary
        rows = csv.reader(_lines_with_ends(text))
        header_at = None
        seen: dict[str, int] = {}
        for cells in rows:
            line_no = rows.line_num
            norm = [" ".join(c.split()).lower() for c in cells]
            if header_at is None:
                if norm and norm[0].replace(" ", "") == "hcpcs/cptcode":
                    if len(norm) < 3 or "mue value" not in norm[1] or \
                            "adjudication" not in norm[2]:
                        raise _fail(f"{text.name}, line {line_no}", "is not a CMS MUE header "
                                    "(HCPCS/CPT Code, ... MUE Values, MUE Adjudication "
                                    "Indicator, MUE Rationale)")
                    if "practitioner" not in norm[1]:
                        raise _fail(f"{text.name}, line {line_no}", f"is the {cells[1]!r} "
                                    "table, not the practitioner services MUE table")
                    header_at = line_no
                elif line_no >= HEADER_LINES:
                    break
                continue
            if not any(c.strip() for c in cells):
                continue
            where = f"{text.name}, line {line_no}"
            if len(cells) < 3:
                raise _fail(where, f"{len(cells)} field(s) where an MUE row has 4 (code, "
                                   "MUE value, adjudication indicator, rationale)")
            code = cells[0].strip()
            if not CODE.fullmatch(code):
                raise _fail(where, f"{code[:20]!r} is not a CPT/HCPCS code (5 letters/digits)")
            value = cells[1].strip()
            if not value.isdigit() or len(value) > 6:
                raise _fail(where, f"MUE value {value[:20]!r} for {code} is not a whole "
                                   "number of units")
            mai = cells[2].strip()[:1]
            if mai not in ("1", "2", "3"):
                raise _fail(where, f"adjudication indicator {cells[2][:30]!r} for {code} is "
                                   "not 1, 2 or 3")
            summary.rows_read += 1
            if summary.rows_read % PROGRESS_EVERY == 0 and self.progress:
                self.progress(summary.rows_read)
            if code in seen:
                raise _fail(where, f"duplicate row: {code} is already at line {seen[code]}")
            seen[code] = line_no
            if code not in self.codes:
                continue
            summary.rows_kept += 1
            yield MueLimit(code, int(value), mai, cells[2].strip(),
                           (cells[3].strip() if len(cells) > 3 else ""))
        if header_at is None:
            raise _fail(text.name, "is not a CMS MUE table: no 'HCPCS/CPT Code' header line "
                                   f"in its first {HEADER_LINES} lines")
        if summary.rows_read == 0:
            raise _fail(text.name, "has CMS's MUE header but no rows")


def _lines_with_ends(text: _Text) -> Iterator[str]:
    for line in _lines(text):
        yield line + "\n"


def read_mue(paths: Sequence[Path | str], codes: Collection[str],
             progress: Callable[[int], None] | None = None) -> MueTable:
    """A ``MueTable`` (checked name and date); iterate it for the kept limits."""
    return MueTable(paths, codes, progress)
