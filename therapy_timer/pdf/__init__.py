"""PDF documents (reportlab only): superbills and day sheets rendered from core data.

The public API, for the front-desk screen and the CLI (reportlab loads on the first render):

- ``render_superbill(data, stream)``: one ``SuperbillData`` to a writable binary stream.
- ``render_superbills(items, stream)``: many visits in one file, each numbered on its own.
- ``render_daysheet(data, stream)``: one ``DaySheetData``.
- ``write_atomically(path, writer)``: temp file in the target folder, then ``os.replace``;
  raises ``OutputError`` with a clear message when the path cannot be written.
"""

from therapy_timer.pdf.daysheet_pdf import render_daysheet
from therapy_timer.pdf.output import OutputError, check_writable, write_atomically
from therapy_timer.pdf.superbill_pdf import render_superbill, render_superbills

__all__ = [
    "OutputError",
    "check_writable",
    "render_daysheet",
    "render_superbill",
    "render_superbills",
    "write_atomically",
]
