"""The day sheet PDF: a date or range of charges per provider, with subtotals and totals.

Each provider gets a table of visits (patient, chart, payer, then one row per charge line with
code, modifiers, units and charge) and a subtotal row. Visits still open are listed and marked
"open: not billable yet"; they add nothing to any total. reportlab loads inside the function.
"""

from __future__ import annotations

from typing import BinaryIO

from therapy_timer.core.superbill import DaySheetData, ProviderDay, format_cents, format_date

#: Day sheet columns: title, width (None = the rest).
COLUMNS = (
    ("Date", 52),
    ("Visit", 30),
    ("Patient", None),
    ("Chart", 52),
    ("Payer", 110),
    ("Code", 36),
    ("Modifiers", 60),
    ("Units", 30),
    ("Charge", 58),
)
OPEN_TEXT = "OPEN: not billable yet"


def render_daysheet(data: DaySheetData, stream: BinaryIO) -> None:
    """Writes the day sheet as a PDF to a writable binary stream."""
    from reportlab.platypus import Spacer

    from therapy_timer.pdf import styles

    s = styles.paragraph_styles()
    footer = f"{data.practice.name}  ·  {data.title} {_period(data)}"
    story: list = [styles.DocumentMark(("daysheet", data.start, data.end), footer),
                   _header(data, s), Spacer(1, 6)]
    if not data.providers:
        story.append(_p("No visits in this period.", s["muted"]))
    for provider_day in data.providers:
        story.extend(_provider_section(provider_day, s))
    story.append(Spacer(1, 10))
    story.append(_grand_totals(data, s))
    if data.checkpoint is not None:
        story.append(Spacer(1, 8))
        story.append(_p(checkpoint_text(*data.checkpoint), s["muted"]))
    styles.build_document(story, stream, f"{data.title} {data.period}", data.practice.name)


def checkpoint_text(seq: int, digest: str) -> str:
    """The audit checkpoint as the day sheet prints it."""
    short = " ".join(digest[i:i + 4] for i in range(0, 16, 4))
    return (f"Audit log checkpoint: entry {seq:,}, {short}. Keep this sheet: "
            f"therapy-timer verify --checkpoint {seq}:{digest[:16]} shows the log still holds "
            "this entry unchanged.")


def _period(data: DaySheetData) -> str:
    if data.start == data.end:
        return format_date(data.start)
    return f"{format_date(data.start)} to {format_date(data.end)}"


def _p(text: object, style):
    from reportlab.platypus import Paragraph

    from therapy_timer.pdf.styles import markup

    return Paragraph(markup(text), style)


def _header(data: DaySheetData, s):
    from reportlab.platypus import Paragraph

    from therapy_timer.pdf.styles import letterhead, markup

    right = [Paragraph(markup(data.title.upper()), s["title"]),
             Paragraph(f"<b>{_period(data)}</b>", s["right"]),
             Paragraph(f"{data.billable_visits} visit(s) billed, {data.open_visits} open",
                       s["right"])]
    return letterhead(data.practice, right, s)


def _provider_section(day: ProviderDay, s) -> list:
    from reportlab.platypus import Paragraph, Table

    from therapy_timer.pdf.styles import (
        ALERT,
        CONTENT_WIDTH,
        INK,
        RULE,
        SANS_BOLD,
        SHADE,
        markup,
        table_style,
    )

    provider = day.provider
    title = markup(provider.display_name)
    if provider.npi:
        title += f"&nbsp;&nbsp;<font size=8 color='#5b6570'>NPI {markup(provider.npi)}</font>"
    fixed = sum(w for _, w in COLUMNS if w)
    widths = [w or CONTENT_WIDTH - fixed for _, w in COLUMNS]
    rows: list[list] = [[name for name, _ in COLUMNS]]
    style = [*table_style(row_lines=False), ("ALIGN", (7, 0), (-1, -1), "RIGHT")]
    for visit in day.visits:
        first = len(rows)
        head = [format_date(visit.service_date), str(visit.visit_id),
                _p(visit.patient, s["cell"]), _p(visit.chart_number, s["cell"]),
                _p(visit.payer, s["cell"])]
        if visit.is_open:
            rows.append([*head, Paragraph(OPEN_TEXT, s["alert"]), "", "", "—"])
            style.append(("SPAN", (5, first), (7, first)))
            style.append(("TEXTCOLOR", (8, first), (8, first), ALERT))
            style.append(("LINEBELOW", (0, first), (-1, first), 0.25, RULE))
            continue
        if not visit.lines:
            rows.append([*head, _p("no charges", s["muted"]), "", "", format_cents(0)])
            style.append(("SPAN", (5, first), (7, first)))
            style.append(("LINEBELOW", (0, first), (-1, first), 0.25, RULE))
            continue
        for index, line in enumerate(visit.lines):
            cells = head if index == 0 else ["", "", "", "", ""]
            rows.append([*cells, line.code, " ".join(line.modifiers), str(line.units),
                         format_cents(line.charge_cents)])
        style.append(("LINEBELOW", (0, len(rows) - 1), (-1, len(rows) - 1), 0.25, RULE))
    subtotal = f"Subtotal: {day.billable_visits} visit(s) billed"
    if day.open_visits:
        subtotal += f", {day.open_visits} open (not billable yet)"
    rows.append([Paragraph(f"<b>{subtotal}</b>", s["cell"]), "", "", "", "", "", "",
                 str(day.units), format_cents(day.charges_cents)])
    last = len(rows) - 1
    style += [
        ("SPAN", (0, last), (6, last)),
        ("BACKGROUND", (0, last), (-1, last), SHADE),
        ("FONT", (7, last), (-1, last), SANS_BOLD, 8),
        ("LINEABOVE", (0, last), (-1, last), 0.8, INK),
    ]
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(style)
    return [Paragraph(title, s["section"]), table]


def _grand_totals(data: DaySheetData, s):
    from reportlab.platypus import KeepTogether, Paragraph, Table

    from therapy_timer.pdf.styles import CONTENT_WIDTH, INK, MUTED, SANS, SANS_BOLD, SHADE

    rows = [
        ["", "Visits billed", str(data.billable_visits)],
        ["", "Visits open (not billable yet)", str(data.open_visits)],
        ["", "Units", str(data.units)],
        ["", "Payments received", format_cents(data.paid_cents)],
    ]
    if data.adjusted_cents:
        rows.append(["", "Adjustments and write-offs", format_cents(data.adjusted_cents)])
    rows.append(["", "Total charges", format_cents(data.charges_cents)])
    table = Table(rows, colWidths=[CONTENT_WIDTH - 250, 170, 80])
    table.setStyle([
        ("FONT", (0, 0), (-1, -1), SANS, 8.5),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("FONT", (1, -1), (-1, -1), SANS_BOLD, 9.5),
        ("BACKGROUND", (1, -1), (-1, -1), SHADE),
        ("LINEABOVE", (1, -1), (-1, -1), 0.8, INK),
        ("TOPPADDING", (0, -1), (-1, -1), 3),
        ("BOTTOMPADDING", (0, -1), (-1, -1), 3),
    ])
    parts = [Paragraph("Totals for the period", s["section"]), table]
    if data.payments:
        # Payments by kind (who paid, or what lowered the balance) beside payments by method
        # (how the money came in: what the cash drawer and the deposit should hold).
        kinds, methods = list(data.by_kind), list(data.by_method)
        height = max(len(kinds), len(methods))
        kinds += [("", None)] * (height - len(kinds))
        methods += [("", None)] * (height - len(methods))
        cells = [["By kind", "", "", "Received by method", ""]]
        for (kind, kc), (method, mc) in zip(kinds, methods, strict=True):
            cells.append([kind, "" if kc is None else format_cents(kc), "", method,
                          "" if mc is None else format_cents(mc)])
        grid = Table(cells, colWidths=[140, 80, 40, 140, 80], hAlign="LEFT")
        grid.setStyle([
            ("FONT", (0, 0), (-1, -1), SANS, 8.5),
            ("FONT", (0, 0), (-1, 0), SANS_BOLD, 7.5),
            ("TEXTCOLOR", (0, 0), (-1, 0), MUTED),
            ("LINEBELOW", (0, 0), (1, 0), 0.5, INK),
            ("LINEBELOW", (3, 0), (4, 0), 0.5, INK),
            ("ALIGN", (1, 0), (1, -1), "RIGHT"),
            ("ALIGN", (4, 0), (4, -1), "RIGHT"),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ])
        parts += [Paragraph("Payments", s["section"]), grid]
    return KeepTogether(parts)
