"""Reading CMS's practitioner PTP release and MUE table as published (issue 12, items 2-3).

The files are written by the tests in CMS's layout (``tests/ncci_samples.py``); every bad
input is refused with the file, the line and the problem.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.ncci_samples import (
    MUE_HEAD,
    PTP_HEAD,
    mue_row,
    ptp_row,
    write_mue,
    write_ptp,
    zipped,
)
from therapy_timer.core.ncci_files import RuleFileError, read_mue, read_ptp

CODES = ["97110", "97112", "97140", "97530", "97161", "97750", "97760", "97164"]
TXT = "ccipra-v321r0-f1.TXT"
ZIP = "medicare-ncci-2026q2-practitioner-ptp-edits-ccipra-v321r0-f1.zip"
MUE = "MCR_MUE_PractitionerServices_Eff_01-01-2026.csv"


def read_all(paths, codes=CODES):
    release = read_ptp(paths, codes)
    return list(release), release.summary


def test_a_release_zip_keeps_catalog_pairs_with_their_dates_and_version(tmp_path):
    txt = write_ptp(tmp_path / TXT, [
        ptp_row("97140", "97530", "19960101", "*", "1", old="*"),
        ptp_row("99213", "36415"),                        # neither code in the catalog
        ptp_row("97110", "36415"),                        # one code in the catalog
        ptp_row("97110", "97750", "20150101", "20260101", "1"),
        ptp_row("97161", "97750", "20200101", "*", "1"),
        ptp_row("97112", "97110", "20200101", "*", "0"),
    ])
    pairs, summary = read_all([zipped(tmp_path / ZIP, txt)])
    assert [(p.column1, p.column2, p.modifier_indicator, p.valid_from, p.valid_to,
             p.prior_1996, p.bypass, p.confidence) for p in pairs] == [
        ("97140", "97530", "1", date(1996, 1, 1), None, True, "time", "V"),
        # The deletion date is the first day the edit no longer applies.
        ("97110", "97750", "1", date(2015, 1, 1), date(2025, 12, 31), False, "time", "V"),
        # NCCI ch. XI s. P: only a different specialty bypasses it.
        ("97161", "97750", "1", date(2020, 1, 1), None, False, "specialty", "V"),
        ("97112", "97110", "0", date(2020, 1, 1), None, False, "time", "V"),
    ]
    assert pairs[0].source == ("CMS NCCI practitioner PTP edits v321r0: Misuse of column two "
                               "code with column one code")
    assert (summary.version, summary.effective, summary.rows_read, summary.rows_kept,
            summary.rows_skipped) == ("v321r0", date(2026, 4, 1), 6, 4, 2)
    assert summary.describe() == ("NCCI PTP release v321r0, effective 2026-04-01: 6 rows "
                                  "read, 4 kept, 2 skipped (a code not in the catalog)")


def test_the_text_inside_the_zip_reads_the_same_and_dates_the_release_by_its_newest_edit(
        tmp_path):
    txt = write_ptp(tmp_path / TXT, [ptp_row("97140", "97530", "20200101"),
                                     ptp_row("97110", "97112", "20260401")])
    pairs, summary = read_all([txt])
    assert len(pairs) == 2 and summary.effective == date(2026, 4, 1)


def test_a_release_in_several_parts_is_one_release(tmp_path):
    first = write_ptp(tmp_path / "ccipra-v321r0-f1.TXT", [ptp_row("97140", "97530")])
    second = write_ptp(tmp_path / "ccipra-v321r0-f2.TXT", [ptp_row("97110", "97112")])
    pairs, summary = read_all([zipped(tmp_path / "ccipra-v321r0-f1.zip", first),
                               zipped(tmp_path / "ccipra-v321r0-f2.zip", second)])
    assert [(p.column1, p.column2) for p in pairs] == [("97140", "97530"), ("97110", "97112")]
    assert summary.rows_read == 2


def test_a_one_line_header_is_read_too(tmp_path):
    head = [PTP_HEAD[0], "Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\t"
            "Deletion Date *=no data\tModifier 0=not allowed 1=allowed 9=not applicable\t"
            "PTP Edit Rationale"]
    txt = write_ptp(tmp_path / TXT, [ptp_row("97140", "97530")], head=head)
    assert len(read_all([txt])[0]) == 1


def _bad_ptp(tmp_path, name):
    """(files, expected message) for each bad input."""
    ok = ptp_row("97140", "97530")
    if name == "empty":
        (tmp_path / TXT).write_bytes(b"")
        return [tmp_path / TXT], f"{TXT}: the file is empty"
    if name == "not ptp":
        (tmp_path / TXT).write_text("HCPCS,Description\n97110,Exercise\n")
        return [tmp_path / TXT], "is not a CMS PTP file: no 'Column 1 / Column 2' header"
    if name == "header only":
        return [write_ptp(tmp_path / TXT, [])], "has CMS's PTP header but no edit rows"
    if name == "truncated zip":
        zipped(tmp_path / ZIP, write_ptp(tmp_path / TXT, [ok] * 50))
        data = (tmp_path / ZIP).read_bytes()
        (tmp_path / ZIP).write_bytes(data[: len(data) // 2])
        return [tmp_path / ZIP], "is not a complete zip archive (truncated or damaged"
    if name == "excel":
        (tmp_path / "ccipra-v321r0-f1.xlsx").write_bytes(b"not really a workbook")
        return [tmp_path / "ccipra-v321r0-f1.xlsx"], "is an Excel workbook"
    if name == "duplicate":
        return [write_ptp(tmp_path / TXT, [ok, ptp_row("97110", "97112"), ok])], (
            f"{TXT}, line 9: duplicate row: 97140/97530 effective 20200101 is already at "
            f"{tmp_path / TXT}, line 7")
    if name == "bad date":
        return [write_ptp(tmp_path / TXT, [ok, ptp_row("97110", "97112", "20261301")])], (
            f"{TXT}, line 8: a date does not parse ('20261301'")
    if name == "date not a date":
        return [write_ptp(tmp_path / TXT, [ptp_row("97110", "97112", "2026-01-01")])], (
            f"{TXT}, line 7: effective date '2026-01-01' does not parse (CMS writes YYYYMMDD)")
    if name == "bad code":
        return [write_ptp(tmp_path / TXT, [ok, ptp_row("9711", "97112")])], (
            f"{TXT}, line 8: column 1 '9711' is not a CPT/HCPCS code")
    if name == "bad indicator":
        return [write_ptp(tmp_path / TXT, [ptp_row("97110", "97112", indicator="2")])], (
            "line 7: modifier indicator '2' is not 0, 1 or 9")
    if name == "hospital":
        path = write_ptp(tmp_path / "ccioph-v321r0-f1.TXT", [ok])
        return [path], "is CMS's outpatient hospital PTP file"
    if name == "two releases":
        return [write_ptp(tmp_path / "ccipra-v321r0-f1.TXT", [ok]),
                write_ptp(tmp_path / "ccipra-v320r0-f2.TXT", [ok])], (
            "the files are of different PTP releases (v320r0, v321r0)")
    if name == "no version":
        return [write_ptp(tmp_path / "edits.txt", [ok])], (
            "the release's version is not in the file name")
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["empty", "not ptp", "header only", "truncated zip", "excel",
                                  "duplicate", "bad date", "date not a date", "bad code",
                                  "bad indicator", "hospital", "two releases", "no version"])
def test_bad_ptp_files_are_refused_naming_file_line_and_problem(tmp_path, name):
    paths, message = _bad_ptp(tmp_path, name)
    with pytest.raises(RuleFileError) as caught:
        read_all(paths)
    assert message in str(caught.value)


def test_the_mue_table_keeps_catalog_codes_with_their_indicator(tmp_path):
    csv_file = write_mue(tmp_path / MUE, [
        mue_row("97110", 6), mue_row("99213", 1, "1 Line Edit"),
        mue_row("97140", 4, "2 Date of Service Edit: Policy", "Nature of Service/Procedure")])
    table = read_mue([zipped(tmp_path / "medicare-ncci-2026-q1-practitioner-services-mue-"
                                        "table.zip", csv_file)], CODES)
    limits = list(table)
    assert [(m.code, m.units, m.mai, m.per) for m in limits] == [("97110", 6, "3", "day"),
                                                                ("97140", 4, "2", "day")]
    assert (table.summary.effective, table.summary.rows_read, table.summary.rows_kept) == (
        date(2026, 1, 1), 3, 2)


@pytest.mark.parametrize("rows, head, message", [
    ([], None, "has CMS's MUE header but no rows"),
    ([mue_row("97110", 6), mue_row("97110", 8)], None,
     "line 6: duplicate row: 97110 is already at line 5"),
    ([mue_row("9711", 6)], None, "line 5: '9711' is not a CPT/HCPCS code"),
    ([mue_row("97110", "six")], None, "MUE value 'six' for 97110 is not a whole number"),
    ([mue_row("97110", 6, "Line")], None, "adjudication indicator 'Line' for 97110 is not"),
    ([mue_row("97110", 6)], ["code,units"], "is not a CMS MUE table: no 'HCPCS/CPT Code'"),
    ([mue_row("97110", 6)], [MUE_HEAD[0], MUE_HEAD[1].replace("Practitioner", "DME Supplier")],
     "table, not the practitioner services MUE table"),
])
def test_bad_mue_files_are_refused(tmp_path, rows, head, message):
    path = write_mue(tmp_path / MUE, rows, head)
    with pytest.raises(RuleFileError) as caught:
        list(read_mue([path], CODES))
    assert message in str(caught.value) and MUE in str(caught.value)


def test_an_mue_file_without_its_date_or_of_the_wrong_kind_is_refused(tmp_path):
    with pytest.raises(RuleFileError, match="effective date is not in the file name"):
        read_mue([write_mue(tmp_path / "mue.csv", [mue_row("97110", 6)])], CODES)
    with pytest.raises(RuleFileError, match="is a PTP file, not an MUE table"):
        read_mue([write_ptp(tmp_path / TXT, [ptp_row("97140", "97530")])], CODES)
    with pytest.raises(RuleFileError, match="the file is empty"):
        (tmp_path / MUE).write_bytes(b"")
        read_mue([tmp_path / MUE], CODES)
