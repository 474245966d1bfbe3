"""Small NCCI files in CMS's published layouts, written by the tests themselves (synthetic rows).

``write_ptp`` writes a practitioner PTP text file as CMS ships it inside ``ccipra-v...-fN.zip``
(copyright line, title, the header wrapped over four lines, tab-delimited rows, CRLF);
``write_mue`` the practitioner MUE CSV (quoted copyright notice, header, rows); ``zipped`` puts
a file in a zip named like CMS's.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

PTP_HEAD = [
    "CPT only copyright 2025 American Medical Association.  All rights reserved.\t\t\t\t\t\t",
    "Column1/Column2 Edits\t\t\t\t\t\t",
    "Column 1\tColumn 2\t*=in existence\tEffective\tDeletion\tModifier\tPTP Edit Rationale",
    "\t\tprior to 1996\tDate\tDate\t0=not allowed\t",
    "\t\t\t\t*=no data\t1=allowed\t",
    "\t\t\t\t\t9=not applicable\t",
]
RATIONALE = "Misuse of column two code with column one code"


def ptp_row(col1: str, col2: str, effective: str = "20200101", deleted: str = "*",
            indicator: str = "1", old: str = "", rationale: str = RATIONALE) -> str:
    return "\t".join([col1, col2, old, effective, deleted, indicator, rationale])


def write_ptp(path: Path, rows: list[str], head: list[str] | None = None) -> Path:
    lines = (PTP_HEAD if head is None else head) + rows
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))
    return path


MUE_HEAD = [
    '"CPT codes, descriptions and other data only are copyright 2025 American Medical '
    'Association. All Rights Reserved.\nApplicable FARS/HHSARS apply.",,,',
    '"HCPCS/\nCPT Code","Practitioner Services MUE Values","MUE Adjudication Indicator",'
    '"MUE Rationale"',
]


def mue_row(code: str, units: int | str, mai: str = "3 Date of Service Edit: Clinical",
            rationale: str = "Clinical: Data") -> str:
    return f'{code},{units},"{mai}","{rationale}"'


def write_mue(path: Path, rows: list[str], head: list[str] | None = None) -> Path:
    lines = (MUE_HEAD if head is None else head) + rows
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))
    return path


def zipped(path: Path, *members: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in members:
            archive.write(member, member.name)
        archive.writestr("CPT License Agreement.txt".replace(".txt", ".pdf"), b"%PDF-1.4")
    return path
