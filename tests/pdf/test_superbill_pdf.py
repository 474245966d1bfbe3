"""Superbill PDFs read back with pypdf: every field, Unicode names, escaping and pagination."""

from __future__ import annotations

import dataclasses
import io
import re

import pytest

from tests.pdf.conftest import fonts_used, pages_text
from tests.pdf.samples import DIAGNOSES, superbill
from therapy_timer.core.superbill import Diagnosis, Patient, Practice
from therapy_timer.pdf import render_superbill, render_superbills


def test_every_field_of_the_reference_visit(render):
    data = superbill()
    pages = pages_text(render(render_superbill, data))
    assert len(pages) == 1
    text = pages[0]
    expected = [
        # billing practice
        "Smith & Jones PT", "100 Main St, Suite <2>", "Springfield, IL 62701",
        "Phone (217) 555-0100", "Group NPI 1234567893", "Tax ID 12-3456789",
        # date and place of service, visit
        "SUPERBILL", "Date of service 03/02/2026", "Place of service 11 Office",
        "Visit 4711 · PT plan of care",
        # patient
        "PATIENT 李小龙", "Date of birth 04/12/1958", "Sex M", "Address 42 Oak Ave",
        "Springfield, IL 62704", "Phone (217) 555-0142", "Chart no. C-000123",
        # insurance
        "INSURANCE Medicare Part B", "Member ID 1EG4-TE5-MK72", "Group no. GRP-77",
        "Subscriber 李小龙 (self)", "Referring Dr. Ada O'Brien (NPI 1234567893)",
        "Prior auth. PA-2026-001",
        # rendering provider
        "RENDERING PROVIDER Zoë Núñez, PT, DPT", "NPI 1558598797", "License IL 070-012345",
        # diagnoses
        "A M54.50 Low back pain, unspecified",
        "B R26.89 Other abnormalities of gait and mobility",
        "C M62.81 Muscle weakness (generalized)",
        # service table header and lines (date, code, label, modifiers, pointers, units, money)
        "Date Code Service Modifiers Dx Units Per unit Total",
        "03/02/2026 97110 Therapeutic exercise GP CQ KX A,C 1 $42.00 $42.00",
        "03/02/2026 97110 Therapeutic exercise GP KX A,C 1 $42.00 $42.00",
        "03/02/2026 97140 Manual therapy GP A 1 $39.00 $39.00",
        "03/02/2026 97530 Therapeutic activities XU GP B,A 1 $45.00 $45.00",
        "03/02/2026 97010 Hot or cold packs GP A 1 $0.00 $0.00",
        # totals
        "Total charges $168.00", "Amount paid $25.00", "Balance due $143.00",
        # documentation block
        "Session 9:00–10:02 AM CST", "Total timed code minutes 53 min",
        "Unit rule CMS 8-minute rule (total timed minutes of the day)",
        "Total treatment time 62 min",
        "97110 Therapeutic exercise timed 23 2", "97140 Manual therapy timed 15 1",
        "97530 Therapeutic activities timed 15 1", "97010 Hot or cold packs untimed 9 1",
        "97530 XU: distinct from 97140. 97530: 9:40–9:55 AM (PT); 97140: 9:23–9:38 AM (PT).",
        "97110 CQ, 1 unit(s): assistant 10 min, therapist 13 min",
        "97110 KX (2 units): PT+SLP allowed amount for 2026 reaches $2,512.00",
        # signature
        "03/02/2026 Rendering provider signature Zoë Núñez, PT, DPT Date",
        # footer
        "Page 1 of 1",
    ]
    missing = [item for item in expected if item not in text]
    assert not missing, f"missing from the PDF: {missing}\n\n{text}"
    assert data.charges_cents == 16800 and data.balance_cents == 14300


def test_unicode_names_are_embedded_not_substituted(render):
    pdf = render(render_superbill, superbill())
    assert fonts_used(pdf) == {"DejaVuSans", "DejaVuSans-Bold", "DroidSansFallback"}
    text = pages_text(pdf)[0]
    for name in ("Smith & Jones PT", "Zoë Núñez", "李小龙"):
        assert name in text


def test_latin_only_document_does_not_load_the_cjk_font(render):
    latin = Patient(name="Ann Lee", chart_number="C-1")
    data = superbill(patient=latin, insurance=None)
    pdf = render(render_superbill, data)
    assert "DroidSansFallback" not in fonts_used(pdf)
    assert "INSURANCE Self-pay" in pages_text(pdf)[0]


def test_user_text_is_escaped(render):
    practice = Practice(name="<b>Bold</b> & Co &amp; PT", address=("1 <Main> St",))
    patient = Patient(name='O\'Hara "Jr" <script>', chart_number="A&B\x07")
    text = pages_text(render(render_superbill, superbill(practice=practice, patient=patient)))[0]
    assert "<b>Bold</b> & Co &amp; PT" in text
    assert "1 <Main> St" in text
    assert 'O\'Hara "Jr" <script>' in text
    assert "Chart no. A&B" in text


def _long_visit():
    diagnoses = tuple(Diagnosis(letter, f"M{60 + i}.{i}", f"Diagnosis number {i + 1}")
                      for i, letter in enumerate("ABCDEFGHIJKL"))
    return superbill(lines=25, diagnoses=diagnoses)


def test_a_25_line_visit_paginates_with_repeated_table_header(render):
    data = _long_visit()
    pages = pages_text(render(render_superbill, data))
    assert len(pages) >= 2
    header = "Date Code Service Modifiers Dx Units Per unit Total"
    rows = [f"Exercise set {n + 1} GP A" for n in range(25)]
    pages_with_rows = [p for p in pages if any(row in p for row in rows)]
    assert len(pages_with_rows) >= 2, "the service table should split across pages"
    for page in pages_with_rows:
        assert header in page
    # every line appears exactly once across the pages, in order
    whole = " ".join(pages)
    positions = [whole.index(f"Exercise set {n + 1} ") for n in range(25)]
    assert positions == sorted(positions)
    for n in range(25):
        assert whole.count(f"Exercise set {n + 1} ") == 1
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        continued = "Continued: Smith & Jones PT · 李小龙 · Date of service 03/02/2026 · Visit 4711"
        assert (continued in page) == (number > 1)
    # units x price on multi-unit lines, worked by hand: set 2 is 2 x $11.25, set 3 is
    # 3 x $12.50, set 25 is 1 x $40.00; the 25 lines add up to $1,230.00
    assert "Exercise set 2 GP A 2 $11.25 $22.50" in whole
    assert "Exercise set 3 GP A 3 $12.50 $37.50" in whole
    assert "Exercise set 25 GP A 1 $40.00 $40.00" in whole
    assert "Total charges $1,230.00" in whole
    assert "L M71.11 Diagnosis number 12" in whole


def test_many_visits_in_one_file_are_numbered_per_visit(render):
    long_one = dataclasses.replace(_long_visit(), visit_id=1)
    short = [dataclasses.replace(superbill(), visit_id=n) for n in (2, 3)]
    pdf = render(render_superbills, [long_one, *short])
    pages = pages_text(pdf)
    long_pages = sum(1 for p in pages if "Visit 1 Page" in p)
    assert long_pages >= 2
    assert len(pages) == long_pages + 2
    for number in range(1, long_pages + 1):
        assert f"Visit 1 Page {number} of {long_pages}" in pages[number - 1]
    assert pages[-2].endswith("Visit 2 Page 1 of 1")
    assert pages[-1].endswith("Visit 3 Page 1 of 1")
    assert "Visit 3" in pages[-1] and "SUPERBILL" in pages[-1]


def test_rendering_no_superbills_is_an_error():
    with pytest.raises(ValueError, match="no superbills"):
        render_superbills([], io.BytesIO())


def test_pdf_is_us_letter_and_has_a_title(render):
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(render(render_superbill, superbill())))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)
    assert reader.metadata.title == "Superbill: 李小龙, 03/02/2026"
    assert reader.metadata.author == "Smith & Jones PT"


def test_empty_visit_prints_placeholders(render):
    data = superbill(lines=0, diagnoses=())
    text = pages_text(render(render_superbill, data))[0]
    assert "No billable services" in text
    assert "No diagnosis recorded" in text
    assert "Balance due -$25.00" in text
    assert re.search(r"Total charges \$0\.00", text)


def test_reference_diagnoses_are_lettered_in_order():
    assert [d.letter for d in DIAGNOSES] == ["A", "B", "C"]


def test_one_reason_on_several_lines_is_printed_once_after_its_codes():
    """KX on every line of a visit: the sentence once, after the codes (issue 16's superbill
    with a long name spilled its signature onto a second page with three copies of it)."""
    import dataclasses
    import io

    from tests.pdf.conftest import pages_text
    from tests.pdf.samples import superbill
    from therapy_timer.core.superbill import ModifierReason
    from therapy_timer.pdf import render_superbill

    data = superbill()
    why = "PT+SLP allowed amount for 2026 goes past the KX threshold with this visit"
    doc = dataclasses.replace(data.documentation, other_reasons=tuple(
        ModifierReason(code, "KX", units, why) for code, units in
        (("97110", 2), ("97140", 1), ("97530", 1))))
    stream = io.BytesIO()
    render_superbill(dataclasses.replace(data, documentation=doc), stream)
    text = " ".join(" ".join(pages_text(stream.getvalue())).split())
    assert ("97110 KX (2 units), 97140 KX (1 unit), 97530 KX (1 unit): PT+SLP allowed amount "
            "for 2026 goes past the KX threshold with this visit") in text
    assert text.count("goes past the KX threshold") == 1
