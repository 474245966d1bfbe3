"""Atomic output files, text escaping and font fallback, and the superbill data checks."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.pdf.samples import superbill
from tests.unprivileged import as_nobody
from therapy_timer.core.model import BillingError
from therapy_timer.core.superbill import Diagnosis, ServiceLine, format_cents, format_date
from therapy_timer.pdf import OutputError, styles, write_atomically


def test_write_atomically_replaces_only_when_complete(tmp_path):
    target = tmp_path / "out.pdf"
    target.write_bytes(b"old")
    write_atomically(target, lambda stream: stream.write(b"new content"))
    assert target.read_bytes() == b"new content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pdf"]

    def broken(stream):
        stream.write(b"half")
        raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError, match="renderer failed"):
        write_atomically(target, broken)
    assert target.read_bytes() == b"new content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pdf"]


def test_write_atomically_writes_owner_only_files(tmp_path):
    # Issue 11: superbills, day sheets and exports hold patient data (was 0644).
    old = os.umask(0o022)
    try:
        target = write_atomically(tmp_path / "new.csv", lambda s: s.write(b"x"))
        assert target.stat().st_mode & 0o777 == 0o600
        os.chmod(target, 0o644)
        write_atomically(target, lambda s: s.write(b"y"))
        assert target.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "missing" / "out.pdf", "the folder .* does not exist"),
    (lambda tmp: tmp, "is a folder"),
])
def test_write_atomically_refuses_bad_paths(tmp_path, make, message):
    with pytest.raises(OutputError, match=message):
        write_atomically(make(tmp_path), lambda s: s.write(b"x"))
    assert not (tmp_path / "missing").exists()


def test_write_atomically_refuses_read_only_folder():
    import shutil
    import tempfile

    # A folder everyone may read but only its owner (root in CI) may write, tried as 'nobody'.
    folder = Path(tempfile.mkdtemp(prefix="tt-readonly-", dir="/tmp"))
    try:
        os.chmod(folder, 0o755)

        def try_to_write() -> str:
            write_atomically(folder / "out.pdf", lambda s: s.write(b"x"))
            return "wrote"

        message = as_nobody(try_to_write)
        assert message.startswith("OutputError") and "no permission" in message, message
        assert list(folder.iterdir()) == []
    finally:
        shutil.rmtree(folder)


def test_markup_escapes_and_switches_font_for_cjk():
    assert styles.markup("Smith & Jones <PT>") == "Smith &amp; Jones &lt;PT&gt;"
    assert styles.markup("Zoë Núñez") == "Zoë Núñez"
    assert styles.markup("Dr 李小龙 MD") == f'Dr <font name="{styles.FALLBACK}">李小龙</font> MD'
    assert styles.markup("a\nb\x07") == "a<br/>b"
    assert styles.markup(None) == ""


def test_runs_keep_unknown_glyphs_in_the_main_font():
    assert styles.runs("A\U0001f600李") == [(None, "A\U0001f600"), (styles.FALLBACK, "李")]


def test_money_and_date_formats():
    assert format_cents(0) == "$0.00"
    assert format_cents(123456) == "$1,234.56"
    assert format_cents(-5) == "-$0.05"
    assert format_date(date(2026, 3, 2)) == "03/02/2026"
    assert format_date(None) == ""


def test_superbill_data_refuses_what_a_claim_cannot_carry():
    day = date(2026, 3, 2)
    with pytest.raises(BillingError, match="at most 4"):
        ServiceLine(day, "97110", "x", ("GP", "CQ", "KX", "59", "XU"), ("A",), 1, 100)
    with pytest.raises(BillingError, match="at most 4"):
        ServiceLine(day, "97110", "x", ("GP",), ("A", "B", "C", "D", "E"), 1, 100)
    with pytest.raises(BillingError, match="negative"):
        ServiceLine(day, "97110", "x", ("GP",), ("A",), -1, 100)
    with pytest.raises(BillingError, match="does not list"):
        superbill(lines=None, diagnoses=(Diagnosis("A", "M54.50"),))
    with pytest.raises(BillingError, match="lettered"):
        superbill(diagnoses=(Diagnosis("B", "M54.50"), Diagnosis("A", "R26.89")))
    too_many = tuple(Diagnosis(chr(65 + i), f"M{i}") for i in range(13))
    with pytest.raises(BillingError, match="at most 12"):
        superbill(diagnoses=too_many)
    with pytest.raises(BillingError, match="paid"):
        superbill(paid_cents=-1)

_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn", "Zl", "Zp")),
                max_size=40)


@settings(max_examples=60, deadline=None)
@given(_TEXT)
def test_any_text_is_safe_paragraph_markup(text):
    from reportlab.platypus import Paragraph

    para = Paragraph(styles.markup(text), styles.paragraph_styles()["cell"])
    para.wrap(200, 1000)  # parses and lays out without error


@settings(max_examples=15, deadline=None)
@given(st.text(st.sampled_from("abcXYZ &<>\"'éøßñü李小龙中文한국어日本"), min_size=1, max_size=24)
       .filter(lambda t: t.strip() == t and "  " not in t))
def test_patient_names_survive_the_round_trip(name):
    import dataclasses
    import io

    from tests.pdf.conftest import pages_text
    from therapy_timer.pdf import render_superbill

    data = superbill()
    data = dataclasses.replace(data, patient=dataclasses.replace(data.patient, name=name))
    stream = io.BytesIO()
    render_superbill(data, stream)
    text = pages_text(stream.getvalue())[0]
    # A long name wraps in its cell (Chinese may break between any two characters), which the
    # text extraction reads as a space: compare without the white space.
    squeezed = "".join(text.split())
    assert "PATIENT" + "".join(name.split()) + "Dateofbirth" in squeezed, text[:200]
