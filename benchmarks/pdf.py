"""Superbill PDF speed against a bare reportlab document built in the same run, and a month's batch.

1. Superbills per second: ``render_superbill`` (escaping, font fallback, "page x of y", running
   heads) against a bare reportlab document holding the same tables and text (same DejaVu font,
   same table styles, no escaping helpers, no page numbering canvas), both rendered into memory
   in this process. Target: ratio at most 1.3.
2. A month's batch: 1,000 superbills in one file (``render_superbills`` into a real file) in a
   child process: wall time and peak resident memory, beside a child that renders one.

Run: .venv/bin/python benchmarks/pdf.py [--quick]   (--quick: 100 superbills in the batch)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from therapy_timer.core.model import Rule  # noqa: E402
from therapy_timer.core.superbill import (  # noqa: E402
    CodeMinutes,
    Diagnosis,
    DistinctEvidence,
    Documentation,
    Insurance,
    ModifierReason,
    Patient,
    Practice,
    Provider,
    ServiceLine,
    Signature,
    Span,
    SuperbillData,
    format_cents,
    format_date,
    format_rule,
)

TARGET_RATIO = 1.3
ZONE = ZoneInfo("America/Chicago")
DAY = date(2026, 11, 20)
FIRST = ["Avery", "Jordan", "Morgan", "Riley", "Quinn", "Rowan", "Sage", "Zoë", "Núñez", "小龙"]
LAST = ["Ashgrove", "Birchfield", "Calloway", "Dunmore", "O'Hara & Co", "Li", "Peña"]


def at(minute: int) -> datetime:
    return datetime(2026, 11, 20, 9, 0, tzinfo=ZONE) + timedelta(minutes=minute)


def sample(n: int = 0) -> SuperbillData:
    """A typical visit: 5 lines (CQ, XU, KX), 3 diagnoses, a full documentation block."""
    day = DAY - timedelta(days=n % 28)
    lines = (
        ServiceLine(day, "97110", "Therapeutic exercise", ("GP", "CQ", "KX"), ("A", "C"), 1,
                    4500, 23),
        ServiceLine(day, "97110", "Therapeutic exercise", ("GP", "KX"), ("A", "C"), 1, 4500, 0),
        ServiceLine(day, "97140", "Manual therapy", ("GP",), ("A",), 1, 5000, 15),
        ServiceLine(day, "97530", "Therapeutic activities", ("XU", "GP"), ("B", "A"), 1, 5200,
                    15),
        ServiceLine(day, "97010", "Hot or cold packs", ("GP",), ("A",), 1, 1500, 9),
    )
    doc = Documentation(
        at(0), at(62),
        (CodeMinutes("97110", "Therapeutic exercise", 23, 2, True),
         CodeMinutes("97140", "Manual therapy", 15, 1, True),
         CodeMinutes("97530", "Therapeutic activities", 15, 1, True),
         CodeMinutes("97010", "Hot or cold packs", 9, 1, False)),
        53, 62, Rule.CMS,
        (DistinctEvidence("97530", "XU", "97140", (Span("97530", at(40), at(55), "PT"),),
                          (Span("97140", at(23), at(38), "PT"),),
                          "NCCI pair 97140/97530: distinct time intervals; clinician attests"),),
        (ModifierReason("97110", "CQ", 1, "assistant 10 min, therapist 13 min; the "
                        "assistant's share is over 10%; Medicare pays these units at 85%"),),
        (ModifierReason("97110", "KX", 2, "PT+SLP allowed amount for 2026 reaches $2,512.00, "
                        "past the KX threshold of $2,480.00"),),
    )
    name = f"{LAST[n % len(LAST)]}, {FIRST[n % len(FIRST)]}"
    return SuperbillData(
        visit_id=1000 + n,
        practice=Practice("Smith & Jones PT", ("100 Main St, Suite 2", "Springfield, IL 62701"),
                          "(217) 555-0100", "1234567893", "12-3456789"),
        provider=Provider("Zoë Núñez", "PT, DPT", "1558598797", "IL 070-012345"),
        patient=Patient(name, date(1958, 4, 12), "M", ("42 Oak Ave", "Springfield, IL 62704"),
                        "(217) 555-0142", f"C-{n:06d}"),
        insurance=Insurance("Medicare Part B", "1EG4TE5MK72", "GRP-77", name, "self"),
        service_date=day,
        place_of_service="11",
        diagnoses=(Diagnosis("A", "M54.50", "Low back pain, unspecified"),
                   Diagnosis("B", "R26.89", "Other abnormalities of gait and mobility"),
                   Diagnosis("C", "M62.81", "Muscle weakness (generalized)")),
        lines=lines,
        documentation=doc,
        signature=Signature("Zoë Núñez", "PT, DPT", day),
        paid_cents=2500,
        discipline="PT",
    )


# --- the bare reportlab baseline: the same tables and text, no helpers of ours ---


def bare_superbill(data: SuperbillData, stream) -> None:
    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

    if "BareSans" not in pdfmetrics.getRegisteredFontNames():
        fonts = Path(__file__).resolve().parents[1] / "resources" / "fonts"
        pdfmetrics.registerFont(TTFont("BareSans", str(fonts / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("BareSans-Bold", str(fonts / "DejaVuSans-Bold.ttf")))
        pdfmetrics.registerFontFamily("BareSans", normal="BareSans", bold="BareSans-Bold")
    body = ParagraphStyle("b", fontName="BareSans", fontSize=8, leading=9.8)
    big = ParagraphStyle("t", parent=body, fontName="BareSans-Bold", fontSize=14, leading=17)
    width = LETTER[0] - 72
    grid = [("FONT", (0, 0), (-1, -1), "BareSans", 8), ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, "grey"),
            ("BACKGROUND", (0, 0), (-1, 0), "#e9eef3")]

    def p(text: str, style=body) -> Paragraph:
        return Paragraph(escape(text), style)

    pr, pa, ins, pv = data.practice, data.patient, data.insurance, data.provider
    story: list = [Table([[
        [p(pr.name, big), *[p(a) for a in pr.address], p(f"Phone {pr.phone}"),
         p(f"Group NPI {pr.npi}  Tax ID {pr.tax_id}")],
        [p("SUPERBILL", big), p(f"Date of service {format_date(data.service_date)}"),
         p(f"Place of service {data.place_of_service_label}"), p(f"Visit {data.visit_id}"),
         p(f"Plan of care {data.discipline}")]]], colWidths=[width * 0.6, width * 0.4])]
    story.append(Spacer(1, 8))
    story.append(Table([[
        [p("PATIENT"), p(pa.name), p(f"Date of birth {format_date(pa.birth_date)}"),
         p(f"Sex {pa.sex}"), p("Address " + "\n".join(pa.address)), p(f"Phone {pa.phone}"),
         p(f"Chart no. {pa.chart_number}")],
        [p("INSURANCE"), p(ins.payer), p(f"Member ID {ins.member_id}"),
         p(f"Group no. {ins.group_number}"), p(f"Subscriber {ins.subscriber} "
                                                f"({ins.relationship})")],
        [p("RENDERING PROVIDER"), p(f"{pv.name}, {pv.credentials}"), p(f"NPI {pv.npi}"),
         p(f"License {pv.license}")]]], colWidths=[width / 3] * 3))
    story.append(p("Diagnoses (ICD-10-CM)"))
    story.append(Table([["", "ICD-10-CM", "Description"],
                        *[[d.letter, d.code, p(d.description)] for d in data.diagnoses]],
                       colWidths=[22, 64, width - 86], repeatRows=1, style=grid))
    story.append(p("Services"))
    rows = [["Date", "Code", "Service", "Modifiers", "Dx", "Units", "Per unit", "Total"]]
    rows += [[format_date(x.service_date), x.code, p(x.label), " ".join(x.modifiers),
              ",".join(x.pointers), str(x.units), format_cents(x.unit_cents),
              format_cents(x.total_cents)] for x in data.lines]
    story.append(Table(rows, colWidths=[54, 40, width - 346, 66, 36, 32, 56, 62], repeatRows=1,
                       style=grid))
    story.append(Table([["", "Total charges", format_cents(data.charges_cents)],
                        ["", "Amount paid", format_cents(data.paid_cents)],
                        ["", "Balance due", format_cents(data.balance_cents)]],
                       colWidths=[width - 180, 110, 70], style=grid[:1]))
    doc = data.documentation
    story.append(p("Treatment time documentation"))
    story.append(Table([
        [p("Session"), p(f"{doc.session_start:%H:%M} – {doc.session_end:%H:%M} CST"),
         p("Total timed code minutes"), p(f"{doc.total_timed_minutes} min")],
        [p("Unit rule"), p(format_rule(doc.rule)), p("Total treatment time"),
         p(f"{doc.total_treatment_minutes} min")]], colWidths=[60, width - 250, 130, 60]))
    story.append(Table([["Code", "Service", "Kind", "Minutes", "Units"],
                        *[[c.code, p(c.label), "timed" if c.timed else "untimed", str(c.minutes),
                           str(c.units)] for c in doc.code_minutes]],
                       colWidths=[44, width - 194, 60, 50, 40], repeatRows=1, style=grid))
    for item in doc.distinct:
        story.append(p(f"{item.code} {item.modifier}: distinct from {item.other_code}. "
                       f"{item.spans[0].start:%H:%M}–{item.spans[0].end:%H:%M}. {item.reason}"))
    for item in (*doc.assistant, *doc.other_reasons):
        story.append(p(f"{item.code} {item.modifier}, {item.units} unit(s): {item.reason}"))
    story.append(p("I certify that the services listed above were medically necessary ..."))
    story.append(Table([["", "", p(format_date(data.signature.signed_on))],
                        [[p("Rendering provider signature"), p(f"{pv.name}, {pv.credentials}")],
                         "", p("Date")]], colWidths=[width * 0.6, width * 0.1, width * 0.3]))
    SimpleDocTemplate(stream, pagesize=LETTER, leftMargin=36, rightMargin=36, topMargin=36,
                      bottomMargin=46).build(story)


def paired(render_a, render_b, data, rounds: int, clock=time.process_time
           ) -> tuple[list[float], list[float]]:
    """Times ``render_a`` and ``render_b`` back to back ``rounds`` times (order alternating),
    so a burst of load from other processes hits both sides of a pair alike. The default clock
    is this process's CPU time, which other processes' load disturbs far less than wall time.
    """
    a, b = [], []
    for n in range(rounds):
        order = ((render_a, a), (render_b, b)) if n % 2 == 0 else ((render_b, b), (render_a, a))
        for render, samples in order:
            start = clock()
            render(data, io.BytesIO())
            samples.append(clock() - start)
    return a, b


def child(count: int, out: str) -> None:
    """Renders ``count`` superbills into one file; prints timing and peak memory as JSON."""
    from therapy_timer.pdf import render_superbills, write_atomically

    items = [sample(n) for n in range(count)]
    start, cpu = time.perf_counter(), time.process_time()
    write_atomically(out, lambda stream: render_superbills(items, stream))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak_kb / 1024,
                      "bytes": os.path.getsize(out)}))


def run_child(count: int, folder: str) -> dict:
    out = os.path.join(folder, f"batch-{count}.pdf")
    proc = subprocess.run([sys.executable, __file__, "--child", str(count), out],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 superbills in the batch")
    parser.add_argument("--child", nargs=2, metavar=("COUNT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), args.child[1])
        return 0

    from therapy_timer.pdf import render_superbill

    data = sample()
    for _ in range(3):  # warm up: imports, font registration, glyph caches
        render_superbill(data, io.BytesIO())
        bare_superbill(data, io.BytesIO())
    rounds = 40 if args.quick else 120
    ours, bare = paired(render_superbill, bare_superbill, data, rounds)
    ours_s, bare_s = statistics.median(ours), statistics.median(bare)
    ratio = statistics.median(o / b for o, b in zip(ours, bare, strict=True))
    best = min(ours) / min(bare)
    verdict = "OK" if ratio <= TARGET_RATIO else "OVER"
    print(f"Superbill PDF (one visit, 5 lines, into memory), {rounds} paired runs, CPU time")
    print("                                               median/doc   docs/s   x bare")
    print(f"bare reportlab, same tables                     {bare_s * 1e3:7.1f} ms "
          f"{1 / bare_s:7.1f}     1.00")
    print(f"therapy_timer.pdf.render_superbill              {ours_s * 1e3:7.1f} ms "
          f"{1 / ours_s:7.1f}  {ratio:7.2f}   target <= {TARGET_RATIO}  {verdict}")
    print(f"  (ratio = median of paired ratios; ratio of best runs {best:.2f})")

    count = 100 if args.quick else 1000
    with tempfile.TemporaryDirectory() as folder:
        one = run_child(1, folder)
        batch = run_child(count, folder)
    print()
    print(f"Batch: {count} superbills in one PDF file (child process)")
    for label, result in (("one superbill", one), (f"{count} in one file", batch)):
        print(f"  {label:<18} wall {result['seconds']:7.2f} s   CPU {result['cpu']:7.2f} s   "
              f"peak RSS {result['peak_mb']:5.0f} MB   file {result['bytes'] / 1e6:5.2f} MB")
    print(f"  per superbill in the batch: {batch['cpu'] / count * 1e3:.1f} ms CPU, "
          f"{batch['seconds'] / count * 1e3:.1f} ms wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
