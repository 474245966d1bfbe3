"""Superbill PDFs: one visit (or many visits in one file) on US Letter pages.

The layout follows what therapy payers and auditors read: practice and provider identifiers,
patient and insurance, date and place of service, diagnoses A-L, the service lines with
modifiers, pointers, units and charges, totals, the documented time behind the units (per-code
minutes, timed and treatment totals, the unit rule, the intervals behind each 59/XU, the reasons
for CQ/CO), and a signature line. Long visits continue on further pages with the table header
repeated; every page says "Page x of y" for its own superbill.

reportlab is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

from therapy_timer.core.superbill import (
    Insurance,
    SuperbillData,
    format_cents,
    format_date,
    format_rule,
    format_time_span,
)


def render_superbill(data: SuperbillData, stream: BinaryIO) -> None:
    """Writes one visit's superbill as a PDF to a writable binary stream."""
    render_superbills([data], stream)


def render_superbills(items: Iterable[SuperbillData], stream: BinaryIO) -> None:
    """Writes several superbills into one PDF (each starts on a new page, numbered on its own).

    Raises:
        ValueError: ``items`` is empty.
    """
    from reportlab.platypus import PageBreak

    from therapy_timer.pdf import styles

    story: list = []
    count = 0
    first = None
    for data in items:
        if count:
            story.append(PageBreak())
        else:
            first = data
        story.extend(superbill_story(data))
        count += 1
    if first is None:
        raise ValueError("no superbills to render")
    if count == 1:
        title = f"Superbill: {first.patient.name}, {format_date(first.service_date)}"
    else:
        title = f"Superbills ({count} visits)"
    styles.build_document(story, stream, title, first.practice.name)


def superbill_story(data: SuperbillData) -> list:
    """The flowables of one superbill, starting with its page-numbering mark."""
    from reportlab.platypus import Spacer

    from therapy_timer.pdf import styles

    s = styles.paragraph_styles()
    footer = (f"{data.practice.name}  ·  {data.patient.name}  ·  Date of service "
              f"{format_date(data.service_date)}  ·  Visit {data.visit_id}")
    story: list = [styles.DocumentMark(("superbill", data.visit_id, id(data)), footer)]
    story.append(_header(data, s))
    story.append(Spacer(1, 6))
    story.append(_parties(data, s))
    story.append(_heading("Diagnoses (ICD-10-CM)", s))
    story.append(_diagnoses(data, s))
    story.append(_heading("Services", s))
    story.append(_services(data, s))
    story.append(Spacer(1, 4))
    story.append(_totals(data, s))
    story.extend(_documentation(data, s))
    story.append(Spacer(1, 4))
    story.append(_signature(data, s))
    return story


def _p(text: object, style) -> object:
    from reportlab.platypus import Paragraph

    from therapy_timer.pdf.styles import markup

    return Paragraph(markup(text), style)


def _cell(text: object, style, width: float) -> object:
    """A table cell: a plain string when it fits one line of ``width`` points (the table's
    own font and size), else a wrapping Paragraph."""
    from therapy_timer.pdf.styles import fits

    plain = fits(text, width - 8, style.fontName, style.fontSize)
    return plain if plain is not None else _p(text, style)


def _heading(text: str, s) -> object:
    from reportlab.platypus import Paragraph

    heading = Paragraph(text, s["section"])
    heading.spaceBefore = 4  # a little tighter than the day sheet's: one visit, one page
    return heading


def _header(data: SuperbillData, s) -> object:
    from reportlab.platypus import Paragraph

    from therapy_timer.pdf.styles import CONTENT_WIDTH, letterhead

    rows = [
        ("Date of service", format_date(data.service_date)),
        ("Place of service", data.place_of_service_label),
        ("Visit", f"{data.visit_id}  ·  {data.discipline} plan of care" if data.discipline
         else str(data.visit_id)),
    ]
    plan = data.plan
    if plan is not None and plan.certification:
        rows.append(("Certified", plan.certification))
    if plan is not None and plan.onset:
        rows.append(("Onset", format_date(plan.onset)))
    right = [Paragraph(data.title.upper(), s["title"]), _key_values(rows, CONTENT_WIDTH * 0.4, s)]
    return letterhead(data.practice, right, s)


def _key_values(rows: list[tuple[str, str]], width: float, s) -> object:
    """"label  value" lines (label muted and right-aligned, value bold) as a plain-string
    table; a value too long for one line wraps."""
    from reportlab.platypus import Table

    from therapy_timer.pdf.styles import INK, MUTED, SANS, SANS_BOLD, fits

    value_width = width * 0.62
    cells = []
    for label, value in rows:
        plain = fits(value, value_width - 2, SANS_BOLD, 8)
        cells.append([label, plain if plain is not None else _p(value, s["cell_bold"])])
    table = Table(cells, colWidths=[width - value_width, value_width])
    table.setStyle([
        ("FONT", (0, 0), (0, -1), SANS, 8),
        ("FONT", (1, 0), (1, -1), SANS_BOLD, 8),
        ("TEXTCOLOR", (0, 0), (0, -1), MUTED),
        ("TEXTCOLOR", (1, 0), (1, -1), INK),
        ("ALIGN", (0, 0), (0, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (0, -1), 6),
        ("TOPPADDING", (0, 0), (-1, -1), 0.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
    ])
    return table


def _esc(text: object) -> str:
    from therapy_timer.pdf.styles import markup

    return markup(text)


def _box(title: str, name: str, fields: list[tuple[str, object]], width: float, s) -> object:
    """One party box (patient, insurance, provider): a small heading, the name in bold, then
    label/value rows. Values are plain cells when they fit, so the box is cheap to lay out."""
    from reportlab.platypus import Table

    from therapy_timer.pdf.styles import INK, MUTED, SANS, SANS_BOLD, clean, fits

    label_width = 58
    value_width = width - label_width
    rows: list[list] = [[title, ""], [_cell(name, s["cell_bold"], width), ""]]
    for label, value in fields:
        lines = clean(value).split("\n") if value not in (None, "") else ["—"]
        for index, line in enumerate(lines):
            plain = fits(line, value_width - 2, SANS, 7.5)
            cell = plain if plain is not None else _p(line, s["small"])
            rows.append([label if index == 0 else "", cell])
    table = Table(rows, colWidths=[label_width, value_width])
    table.setStyle([
        ("FONT", (0, 0), (-1, -1), SANS, 7.5),
        ("LEADING", (0, 0), (-1, -1), 9.2),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("TEXTCOLOR", (0, 2), (0, -1), MUTED),
        ("FONT", (0, 0), (0, 0), SANS_BOLD, 6.8),
        ("TEXTCOLOR", (0, 0), (0, 0), MUTED),
        ("FONT", (0, 1), (-1, 1), SANS_BOLD, 8),
        ("SPAN", (0, 0), (1, 0)),
        ("SPAN", (0, 1), (1, 1)),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 0.3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 0.3),
        ("BOTTOMPADDING", (0, 1), (-1, 1), 2),
    ])
    return table


def _parties(data: SuperbillData, s) -> object:
    from reportlab.platypus import Table

    from therapy_timer.pdf.styles import BAND, CONTENT_WIDTH, RULE

    # The insurance box holds the most (payer ID and address, referral, a secondary): it gets
    # a little more width, so its lines wrap less and the boxes stay short.
    widths = [CONTENT_WIDTH * 0.31, CONTENT_WIDTH * 0.38, CONTENT_WIDTH * 0.31]
    inner = widths[0] - 12
    patient = data.patient
    pat = _box("PATIENT", patient.name, [
        ("Date of birth", format_date(patient.birth_date)),
        ("Sex", patient.sex),
        ("Address", "\n".join(patient.address)),
        ("Phone", patient.phone),
        ("Chart no.", patient.chart_number),
    ], inner, s)
    insurance = data.insurance
    if insurance is None:
        ins = _box("INSURANCE", "Self-pay", [], widths[1] - 12, s)
    else:
        fields = _insurance_fields(insurance, patient.name)
        if data.secondary is not None:
            second = data.secondary
            ids = "\n".join(part for part in (
                f"Member ID {second.member_id}" if second.member_id else "",
                f"Payer ID {second.payer_code}" if second.payer_code else "") if part)
            fields.append(("Secondary", f"{second.payer}\n{ids}" if ids else second.payer))
        ins = _box("INSURANCE", insurance.payer, fields, widths[1] - 12, s)
    provider = data.provider
    provider_fields: list[tuple[str, object]] = [("NPI", provider.npi),
                                                  ("License", provider.license)]
    if provider.taxonomy:
        provider_fields.append(("Taxonomy", provider.taxonomy))
    prov = _box("RENDERING PROVIDER", provider.display_name, provider_fields, inner, s)
    table = Table([[pat, ins, prov]], colWidths=widths)
    table.setStyle([
        ("FONT", (0, 0), (-1, -1), "TTSans", 8),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, -1), BAND),
        ("BOX", (0, 0), (-1, -1), 0.5, RULE),
        ("LINEAFTER", (0, 0), (1, 0), 0.5, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        ("LEFTPADDING", (0, 0), (-1, -1), 6),
        ("RIGHTPADDING", (0, 0), (-1, -1), 6),
    ])
    return table


def _insurance_fields(insurance: Insurance, patient: str) -> list[tuple[str, object]]:
    """The primary insurance's rows: payer ID and address, member, group, subscriber, the
    referring provider (item 17) and a prior authorization, each only when the clinic has it
    (member ID, group and subscriber always: an empty one prints as a dash)."""
    subscriber = insurance.subscriber or patient
    if insurance.relationship:
        subscriber = f"{subscriber} ({insurance.relationship})"
    fields: list[tuple[str, object]] = []
    if insurance.payer_code:
        fields.append(("Payer ID", insurance.payer_code))
    if insurance.payer_address:
        fields.append(("Claims to", "\n".join(insurance.payer_address)))
    fields += [
        ("Member ID", insurance.member_id),
        ("Group no.", insurance.group_number),
        ("Subscriber", subscriber),
    ]
    if insurance.referring_provider or insurance.referring_npi:
        referring = insurance.referring_provider
        if insurance.referring_npi:
            referring = f"{referring} (NPI {insurance.referring_npi})".strip()
        fields.append(("Referring", referring))
    if insurance.prior_authorization:
        fields.append(("Prior auth.", insurance.prior_authorization))
    return fields


def _diagnoses(data: SuperbillData, s) -> object:
    from reportlab.platypus import Table

    from therapy_timer.pdf.styles import CONTENT_WIDTH, table_style

    rows: list[list] = [["", "ICD-10-CM", "Description"]]
    for dx in data.diagnoses:
        rows.append([dx.letter, dx.code, _cell(dx.description, s["cell"], CONTENT_WIDTH - 86)])
    if not data.diagnoses:
        rows.append(["", "—", _p("No diagnosis recorded", s["muted"])])
    table = Table(rows, colWidths=[22, 64, CONTENT_WIDTH - 86], repeatRows=1)
    table.setStyle([*table_style(), ("FONT", (0, 1), (0, -1), "TTSans-Bold", 8)])
    return table


#: Service table columns: title, width (None = the rest), right-aligned.
SERVICE_COLUMNS = (
    ("Date", 54, False),
    ("Code", 40, False),
    ("Service", None, False),
    ("Modifiers", 66, False),
    ("Dx", 36, False),
    ("Units", 32, True),
    ("Per unit", 56, True),
    ("Total", 62, True),
)


def _services(data: SuperbillData, s) -> object:
    from reportlab.platypus import Table

    from therapy_timer.pdf.styles import CONTENT_WIDTH, table_style

    fixed = sum(w for _, w, _ in SERVICE_COLUMNS if w)
    widths = [w or CONTENT_WIDTH - fixed for _, w, _ in SERVICE_COLUMNS]
    rows: list[list] = [[title for title, _, _ in SERVICE_COLUMNS]]
    for line in data.lines:
        rows.append([
            format_date(line.service_date),
            line.code,
            _cell(line.label, s["cell"], widths[2]),
            " ".join(line.modifiers),
            ",".join(line.pointers),
            str(line.units),
            format_cents(line.unit_cents),
            format_cents(line.total_cents),
        ])
    if not data.lines:
        rows.append(["", "", _p("No billable services", s["muted"]), "", "", "", "", ""])
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle([*table_style(), ("ALIGN", (5, 0), (-1, -1), "RIGHT")])
    return table


def _totals(data: SuperbillData, s) -> object:
    """Charges, payments, adjustments and the balance on the right; on the left, beside them,
    how the balance splits between insurance and the patient (kept beside, not below, so the
    totals take no more height than before)."""
    from reportlab.platypus import Table

    from therapy_timer.pdf.styles import CONTENT_WIDTH, INK, SANS, SANS_BOLD, SHADE

    rows = [["Total charges", format_cents(data.charges_cents)],
            ["Amount paid", format_cents(data.paid_cents)]]
    if data.adjusted_cents:
        rows.append(["Adjustments, write-offs", format_cents(-data.adjusted_cents)])
    rows.append(["Balance due", format_cents(data.balance_cents)])
    split = _balance_split(data, s)
    cells = [[split if i == 0 else "", "", *row] for i, row in enumerate(rows)]
    balance = len(cells) - 1
    table = Table(cells, colWidths=[CONTENT_WIDTH - 200, 20, 110, 70])
    table.setStyle([
        ("FONT", (0, 0), (-1, -1), SANS, 8.5),
        ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
        ("SPAN", (0, 0), (0, -1)),
        ("VALIGN", (0, 0), (0, -1), "BOTTOM"),
        ("LEFTPADDING", (0, 0), (0, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("FONT", (2, balance), (-1, balance), SANS_BOLD, 9.5),
        ("BACKGROUND", (2, balance), (-1, balance), SHADE),
        ("LINEABOVE", (2, balance), (-1, balance), 0.8, INK),
        ("TOPPADDING", (1, balance), (-1, balance), 3),
        ("BOTTOMPADDING", (1, balance), (-1, balance), 3),
    ])
    return table


def _balance_split(data: SuperbillData, s) -> object:
    """Who paid what so far, then what insurance is expected to pay and what the patient owes
    (an estimate from the payer's allowed amounts); a note when the payer has none; "" when
    there is nothing to say (self-pay without insurance payments)."""
    rows: list[list] = []
    if data.insurance_paid_cents:
        rows.append(["Paid by insurance", format_cents(data.insurance_paid_cents),
                     "Paid by patient " + format_cents(data.paid_cents
                                                       - data.insurance_paid_cents)])
    if data.insurance_estimated and data.balance_cents > 0:
        if data.expected_insurance_cents:
            rows.append(["Insurance expected to pay",
                         format_cents(data.expected_insurance_cents),
                         "its allowed amounts; the EOB decides"])
        if data.above_allowed_cents:
            rows.append(["Above the allowed amounts", format_cents(data.above_allowed_cents),
                         "not the patient's if the clinic accepts them"])
        rows.append(["Patient owes (estimate)", format_cents(data.patient_owes_cents),
                     "copay, coinsurance, deductible" if data.insurance_paid_cents
                     else "plus any copay or coinsurance"])
    elif data.insurance is not None and data.balance_cents > 0:
        rows.append([_p("No allowed amounts for this payer, so insurance's share of the "
                        "balance is not estimated (set them in Settings > Payers).",
                        s["muted"]), "", ""])
    if rows:
        from reportlab.platypus import Table

        from therapy_timer.pdf.styles import BAND, MUTED, RULE, SANS, SANS_BOLD

        box = Table([["INSURANCE AND PATIENT", "", ""],
                     *rows], colWidths=[112, 58, 160], hAlign="LEFT")
        style = [
            ("FONT", (0, 0), (-1, -1), SANS, 8),
            ("FONT", (0, 0), (0, 0), SANS_BOLD, 6.8),
            ("TEXTCOLOR", (0, 0), (0, 0), MUTED),
            ("FONT", (1, 1), (1, -1), SANS_BOLD, 8),
            ("ALIGN", (1, 1), (1, -1), "RIGHT"),
            ("FONT", (2, 1), (2, -1), SANS, 6.8),
            ("TEXTCOLOR", (2, 1), (2, -1), MUTED),
            ("BACKGROUND", (0, 0), (-1, -1), BAND),
            ("BOX", (0, 0), (-1, -1), 0.5, RULE),
            ("TOPPADDING", (0, 0), (-1, -1), 1.2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2),
            ("LEFTPADDING", (0, 0), (-1, -1), 5),
        ]
        if not data.insurance_estimated and data.insurance is not None \
                and data.balance_cents > 0:
            style.append(("SPAN", (0, -1), (-1, -1)))
        box.setStyle(style)
        return box
    return ""


def _documentation(data: SuperbillData, s) -> list:
    from reportlab.platypus import Paragraph, Table

    from therapy_timer.pdf.styles import CONTENT_WIDTH, MUTED, table_style

    doc = data.documentation
    out: list = [_heading("Treatment time documentation", s)]
    session = "—"
    if doc.session_start and doc.session_end:
        zone = doc.session_start.tzname() or ""
        session = f"{format_time_span(doc.session_start, doc.session_end)} {zone}"
    facts = [
        ["Session", session.strip(), "Total timed code minutes",
         f"{doc.total_timed_minutes} min"],
        ["Unit rule", format_rule(doc.rule), "Total treatment time",
         f"{doc.total_treatment_minutes} min"],
    ]
    grid = Table(facts, colWidths=[60, CONTENT_WIDTH - 60 - 130 - 60, 130, 60])
    grid.setStyle([("FONT", (0, 0), (-1, -1), "TTSans", 8),
                   ("FONT", (0, 0), (0, -1), "TTSans-Bold", 6.8),
                   ("FONT", (2, 0), (2, -1), "TTSans-Bold", 6.8),
                   ("FONT", (3, 0), (3, -1), "TTSans-Bold", 8),
                   ("TEXTCOLOR", (0, 0), (0, -1), MUTED),
                   ("TEXTCOLOR", (2, 0), (2, -1), MUTED),
                   ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                   ("LEFTPADDING", (0, 0), (-1, -1), 4),
                   ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                   ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)])
    out.append(grid)
    rows: list[list] = [["Code", "Service", "Kind", "Minutes", "Units"]]
    label_width = CONTENT_WIDTH - 44 - 60 - 50 - 40
    for item in doc.code_minutes:
        rows.append([item.code, _cell(item.label, s["cell"], label_width),
                     "timed" if item.timed else "untimed", str(item.minutes), str(item.units)])
    table = Table(rows, colWidths=[44, label_width, 60, 50, 40], repeatRows=1)
    table.setStyle([*table_style(), ("ALIGN", (3, 0), (-1, -1), "RIGHT")])
    out.append(table)
    if doc.techniques:
        out.append(Paragraph("Technique and body region", s["head"]))
        for note in doc.techniques:
            when = format_time_span(note.start, note.end)
            what = ", ".join(part for part in (note.technique, note.region) if part)
            out.append(Paragraph(f"<b>{_esc(note.code)}</b> {_esc(when)}: {_esc(what)}",
                                 s["small"]))
    if doc.distinct:
        out.append(Paragraph("Distinct-service modifiers (59/XU): timer intervals", s["head"]))
        for item in doc.distinct:
            spans = "; ".join(
                f"{code}: " + ", ".join(
                    format_time_span(x.start, x.end)
                    + (f" ({x.performer})" if x.performer else "") for x in group)
                for code, group in ((item.code, item.spans), (item.other_code, item.other_spans))
            )
            text = (f"<b>{_esc(item.code)} {_esc(item.modifier)}</b>: distinct from "
                    f"{_esc(item.other_code)}. {_esc(spans)}.")
            if item.reason:
                text += f" {_esc(item.reason)}"
            out.append(Paragraph(text, s["small"]))
    if doc.assistant:
        out.append(Paragraph("Assistant modifiers (CQ/CO)", s["head"]))
        for reason in doc.assistant:
            text = _esc(reason.reason)
            if reason.furnished_by:  # who: the assistant and the supervising therapist
                stop = "" if not text or text.endswith((".", ")")) else "."
                text += f"{stop} <b>{_esc(reason.furnished_by)}</b>."
            out.append(Paragraph(
                f"<b>{_esc(reason.code)} {_esc(reason.modifier)}</b>, {reason.units} unit(s): "
                f"{text}", s["small"]))
    if doc.other_reasons:
        out.append(Paragraph("Other modifiers", s["head"]))
        # One paragraph per reason: KX on every line of a visit says the same sentence once,
        # after the codes it applies to (a page of repeats would push the signature over).
        grouped: dict[tuple[str, str], list] = {}
        for reason in doc.other_reasons:
            grouped.setdefault((reason.modifier, reason.reason), []).append(reason)
        for (modifier, why), reasons in grouped.items():
            codes = ", ".join(f"{_esc(r.code)} {_esc(modifier)} ({r.units} unit"
                              f"{'s' if r.units != 1 else ''})" for r in reasons)
            out.append(Paragraph(f"<b>{codes}</b>: {_esc(why)}", s["small"]))
    for note in (*doc.notes, *data.notes):
        out.append(_p(note, s["muted"]))
    _space_paragraphs(out)
    return out


def _space_paragraphs(out: list) -> None:
    """Gives the small headings in the documentation block a little air above them."""
    from reportlab.platypus import Paragraph

    for flowable in out:
        if isinstance(flowable, Paragraph) and flowable.style.name == "head":
            flowable.spaceBefore = 4
            flowable.spaceAfter = 1
            flowable.keepWithNext = True  # a small heading never ends a page alone


def _signature(data: SuperbillData, s) -> object:
    from reportlab.platypus import KeepTogether, Paragraph, Table

    from therapy_timer.pdf.styles import CONTENT_WIDTH, INK

    sig = data.signature
    who = f"{sig.name}, {sig.credentials}" if sig.credentials else sig.name
    signed = format_date(sig.signed_on)
    rows = [
        ["", "", Paragraph(_esc(signed), s["cell"])],
        [[Paragraph("Rendering provider signature", s["label"]), _p(who, s["cell"])], "",
         Paragraph("Date", s["label"])],
    ]
    table = Table(rows, colWidths=[CONTENT_WIDTH * 0.6, CONTENT_WIDTH * 0.1,
                                   CONTENT_WIDTH * 0.3], rowHeights=[17, None])
    table.setStyle([
        ("FONT", (0, 0), (-1, -1), "TTSans", 8),
        ("LINEBELOW", (0, 0), (0, 0), 0.8, INK),
        ("LINEBELOW", (2, 0), (2, 0), 0.8, INK),
        ("VALIGN", (0, 0), (-1, 0), "BOTTOM"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
    ])
    attest = Paragraph(
        "I certify that the services listed above were medically necessary and were furnished "
        "by me or under my supervision, and that the minutes shown are those recorded.",
        s["muted"])
    return KeepTogether([attest, table])
