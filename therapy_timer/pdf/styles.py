"""Fonts, paragraph styles, text escaping and the page-numbering canvas shared by every PDF.

This module imports reportlab at the top, so the renderers import it inside their functions:
``import therapy_timer.pdf.superbill_pdf`` stays cheap and reportlab loads on the first render
(normally in the front desk's worker thread).

Text is set in DejaVu Sans, embedded from ``resources/fonts``. Characters DejaVu lacks (Chinese,
Japanese, Korean) switch to Droid Sans Fallback, registered only when such text appears.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable

from therapy_timer.resources import resource_path

SANS = "TTSans"
SANS_BOLD = "TTSans-Bold"
FALLBACK = "TTFallback"

PAGE_SIZE = LETTER
MARGIN = 36.0  # half an inch
CONTENT_WIDTH = PAGE_SIZE[0] - 2 * MARGIN

INK = colors.HexColor("#1d2329")
MUTED_HEX = "#5b6570"
MUTED = colors.HexColor(MUTED_HEX)
RULE = colors.HexColor("#9aa4ae")
SHADE = colors.HexColor("#e9eef3")
BAND = colors.HexColor("#f5f7f9")
ACCENT = colors.HexColor("#1f4e79")
ALERT = colors.HexColor("#a4262c")

_lock = threading.Lock()
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@cache
def _main_fonts() -> tuple[TTFont, TTFont]:
    regular = TTFont(SANS, str(resource_path("fonts/DejaVuSans.ttf")))
    bold = TTFont(SANS_BOLD, str(resource_path("fonts/DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFont(regular)
    pdfmetrics.registerFont(bold)
    pdfmetrics.registerFontFamily(SANS, normal=SANS, bold=SANS_BOLD, italic=SANS,
                                  boldItalic=SANS_BOLD)
    return regular, bold


def register_fonts() -> None:
    """Registers the embedded text fonts with reportlab (once; safe from any thread)."""
    with _lock:
        _main_fonts()


@cache
def _fallback_font() -> TTFont:
    font = TTFont(FALLBACK, str(resource_path("fonts/DroidSansFallback.ttf")))
    pdfmetrics.registerFont(font)
    pdfmetrics.registerFontFamily(FALLBACK, normal=FALLBACK, bold=FALLBACK, italic=FALLBACK,
                                  boldItalic=FALLBACK)
    return font


@cache
def _covered() -> frozenset[int]:
    return frozenset(_main_fonts()[0].face.charToGlyph)


def _needs_fallback(char: str) -> bool:
    return char not in " \n" and ord(char) not in _covered()


def runs(text: str) -> list[tuple[str | None, str]]:
    """Splits text into runs: ``(None, chunk)`` for DejaVu, ``(FALLBACK, chunk)`` otherwise.

    Characters neither font has stay in the DejaVu run (they print as a missing-glyph box
    rather than vanish).
    """
    if text.isascii():
        return [(None, text)]
    register_fonts()
    out: list[tuple[str | None, str]] = []
    fallback_map = None
    for char in text:
        font = None
        if _needs_fallback(char):
            if fallback_map is None:
                with _lock:
                    fallback_map = _fallback_font().face.charToGlyph
            if ord(char) in fallback_map:
                font = FALLBACK
        if out and out[-1][0] == font:
            out[-1] = (font, out[-1][1] + char)
        else:
            out.append((font, char))
    return out


def clean(text: object) -> str:
    """Text as printed: ``None`` -> "", control characters dropped, CR LF -> LF."""
    if text is None:
        return ""
    value = str(text).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _CONTROL.sub("", value)


def markup(text: object) -> str:
    """Escapes user text for a reportlab Paragraph (``&``, ``<``, ``>``; newlines -> ``<br/>``)
    and wraps characters DejaVu lacks in the fallback font."""
    value = clean(text)
    parts = []
    for font, chunk in runs(value):
        safe = escape(chunk).replace("\n", "<br/>")
        parts.append(f'<font name="{FALLBACK}">{safe}</font>' if font else safe)
    return "".join(parts)


def fits(text: object, width: float, font: str = SANS, size: float = 8) -> str | None:
    """The text itself when it can go into a table cell as a plain string (one line that fits
    ``width``, all glyphs in ``font``), else None (use a Paragraph). Plain cells are much
    cheaper for reportlab to lay out and draw."""
    value = clean(text)
    if "\n" in value or not value:
        return value if not value else None
    if not value.isascii() and len(runs(value)) > 1:
        return None
    if not value.isascii() and runs(value)[0][0] is not None:
        return None
    if pdfmetrics.stringWidth(value, font, size) > width:
        return None
    return value


def string_width(text: str, font: str, size: float) -> float:
    """Width of ``text`` drawn with :func:`draw_text`."""
    return sum(pdfmetrics.stringWidth(chunk, run_font or font, size)
               for run_font, chunk in runs(clean(text)))


def cut_to_width(text: str, width: float, font: str = SANS, size: float = 7.5) -> str:
    """``text`` on one line, cut with "…" where it would pass ``width`` points."""
    value = clean(text).replace("\n", " ")
    if string_width(value, font, size) <= width:
        return value
    low, high = 0, len(value)
    while low < high:  # the longest prefix that fits with the ellipsis
        middle = (low + high + 1) // 2
        if string_width(value[:middle].rstrip() + "…", font, size) <= width:
            low = middle
        else:
            high = middle - 1
    return value[:low].rstrip() + "…"


def draw_text(canvas: Canvas, x: float, y: float, text: str, font: str = SANS,
              size: float = 7.5, align: str = "left") -> None:
    """Draws one line of user text on a canvas, switching fonts where DejaVu lacks glyphs."""
    value = clean(text).replace("\n", " ")
    if align == "right":
        x -= string_width(value, font, size)
    elif align == "center":
        x -= string_width(value, font, size) / 2
    for run_font, chunk in runs(value):
        face = run_font or font
        canvas.setFont(face, size)
        canvas.drawString(x, y, chunk)
        x += pdfmetrics.stringWidth(chunk, face, size)


@cache
def paragraph_styles() -> dict[str, ParagraphStyle]:
    """The named paragraph styles every document uses."""
    register_fonts()
    base = ParagraphStyle("body", fontName=SANS, fontSize=8.5, leading=10.5, textColor=INK)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.2),
        "muted": ParagraphStyle("muted", parent=base, fontSize=7.5, leading=9.2,
                                textColor=MUTED),
        "label": ParagraphStyle("label", parent=base, fontName=SANS_BOLD, fontSize=6.8,
                                leading=8.5, textColor=MUTED),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=9.8),
        "cell_bold": ParagraphStyle("cell_bold", parent=base, fontName=SANS_BOLD, fontSize=8,
                                    leading=9.8),
        "head": ParagraphStyle("head", parent=base, fontName=SANS_BOLD, fontSize=7.5,
                               leading=9, textColor=INK),
        "head_right": ParagraphStyle("head_right", parent=base, fontName=SANS_BOLD,
                                     fontSize=7.5, leading=9, alignment=TA_RIGHT),
        "right": ParagraphStyle("right", parent=base, fontSize=8, leading=9.8,
                                alignment=TA_RIGHT),
        "practice": ParagraphStyle("practice", parent=base, fontName=SANS_BOLD, fontSize=14,
                                   leading=17, textColor=ACCENT),
        "title": ParagraphStyle("title", parent=base, fontName=SANS_BOLD, fontSize=15,
                                leading=18, alignment=TA_RIGHT, textColor=ACCENT),
        "title_left": ParagraphStyle("title_left", parent=base, fontName=SANS_BOLD,
                                     fontSize=15, leading=18, alignment=TA_LEFT,
                                     textColor=ACCENT),
        "section": ParagraphStyle("section", parent=base, fontName=SANS_BOLD, fontSize=9.5,
                                  leading=12, textColor=ACCENT, spaceBefore=6, spaceAfter=2),
        "alert": ParagraphStyle("alert", parent=base, fontName=SANS_BOLD, fontSize=8,
                                leading=9.8, textColor=ALERT),
    }


class DocumentMark(Flowable):
    """A zero-size flowable that starts a new document inside one PDF file.

    Pages are numbered per document ("page 1 of 2" of this superbill) and the footer text
    belongs to the document the page shows.
    """

    def __init__(self, key: object, footer: str) -> None:
        super().__init__()
        self.key = key
        self.footer = footer
        self.width = self.height = 0

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        self.canv._tt_document = self.key  # noqa: SLF001 - our own attribute on our canvas
        self.canv._tt_footer = self.footer


class NumberedCanvas(Canvas):
    """A canvas that writes "Page x of y" (per document) in every page's footer when saved."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["initialFontName"] = kwargs.get("initialFontName") or SANS  # no Helvetica
        kwargs["initialFontSize"] = kwargs.get("initialFontSize") or 8
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []
        self._tt_document: object = None
        self._tt_footer = ""

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        totals: dict[object, int] = {}
        for state in self._pages:
            key = state["_tt_document"]
            totals[key] = totals.get(key, 0) + 1
        seen: dict[object, int] = {}
        pages, self._pages = self._pages, []
        for index, state in enumerate(pages):
            pages[index] = None  # let each page's drawing commands go once it is written
            key = state["_tt_document"]
            seen[key] = seen.get(key, 0) + 1
            self.__dict__.update(state)
            self._footer(seen[key], totals[key])
            if seen[key] > 1:
                self._continued()
            Canvas.showPage(self)
        Canvas.save(self)

    def _footer(self, page: int, pages: int) -> None:
        width = PAGE_SIZE[0]
        y = MARGIN * 0.55
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        self.line(MARGIN, y + 10, width - MARGIN, y + 10)
        self.setFillColor(MUTED)
        number = f"Page {page} of {pages}"
        room = width - 2 * MARGIN - string_width(number, SANS, 7) - 12
        draw_text(self, MARGIN, y, cut_to_width(self._tt_footer, room, SANS, 7), SANS, 7)
        draw_text(self, width - MARGIN, y, number, SANS, 7, align="right")
        self.restoreState()

    def _continued(self) -> None:
        """A one-line running head on a document's later pages: whose pages these are."""
        y = PAGE_SIZE[1] - MARGIN * 0.65
        self.saveState()
        self.setFillColor(MUTED)
        draw_text(self, MARGIN, y, cut_to_width(f"Continued: {self._tt_footer}",
                                                PAGE_SIZE[0] - 2 * MARGIN, SANS, 7), SANS, 7)
        self.restoreState()


def build_document(story: list, stream, title: str, author: str = "") -> None:
    """Lays out ``story`` on US Letter pages and writes the PDF to ``stream``."""
    from reportlab.platypus import SimpleDocTemplate

    register_fonts()
    doc = SimpleDocTemplate(
        stream, pagesize=PAGE_SIZE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
        bottomMargin=MARGIN + 10, title=clean(title), author=clean(author),
        creator="Therapy Timer",
    )
    doc.build(story, canvasmaker=NumberedCanvas)


def table_style(header_rows: int = 1, money_from: int | None = None,
                row_lines: bool = True) -> list[tuple]:
    """The house table look: shaded bold header, hairlines between rows, money right-aligned."""
    commands: list[tuple] = [
        ("FONT", (0, 0), (-1, -1), SANS, 8),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    if row_lines:
        commands.append(("LINEBELOW", (0, header_rows), (-1, -1), 0.25, RULE))
    if header_rows:
        commands += [
            ("BACKGROUND", (0, 0), (-1, header_rows - 1), SHADE),
            ("FONT", (0, 0), (-1, header_rows - 1), SANS_BOLD, 7.5),
            ("LINEBELOW", (0, header_rows - 1), (-1, header_rows - 1), 0.8, INK),
        ]
    if money_from is not None:
        commands.append(("ALIGN", (money_from, 0), (-1, -1), "RIGHT"))
    return commands


def letterhead(practice, right: list, s: dict) -> object:
    """The page head both documents share: the practice on the left (name, address, phone,
    group NPI and Tax ID), the document's title block on the right, a rule below."""
    from reportlab.platypus import Paragraph, Table

    left = [Paragraph(markup(practice.name), s["practice"])]
    left += [Paragraph(markup(line), s["body"]) for line in practice.address]
    if practice.phone:
        left.append(Paragraph(markup(f"Phone {practice.phone}"), s["body"]))
    ids = (f"Group NPI {markup(practice.npi or '—')}&nbsp;&nbsp;&nbsp;&nbsp;"
           f"Tax ID {markup(practice.tax_id or '—')}")
    if getattr(practice, "taxonomy", ""):
        ids += f"&nbsp;&nbsp;&nbsp;&nbsp;Taxonomy {markup(practice.taxonomy)}"
    left.append(Paragraph(ids, s["body"]))
    table = Table([[left, right]], colWidths=[CONTENT_WIDTH * 0.6, CONTENT_WIDTH * 0.4])
    table.setStyle([
        ("FONT", (0, 0), (-1, -1), SANS, 8),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
        ("LINEBELOW", (0, 0), (-1, 0), 1.2, INK),
    ])
    return table

