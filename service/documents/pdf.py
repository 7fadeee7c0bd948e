"""Lays a `Document` out as a one-column A4 PDF with fpdf2.

The text is set in DejaVu Sans when the system has it (Debian's fonts-dejavu-core: every
name, currency sign and dash prints as it is); without it, in the PDF core font Helvetica,
whose Latin-1 cannot show every character, so those few are replaced.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from service.documents.content import ISSUER, Document

FONT_PATHS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)
FONT = "DejaVu"
LINE = 6


@cache
def unicode_font() -> Path | None:
    """The Unicode font documents use, or None (then Helvetica)."""
    return next((path for path in FONT_PATHS if path.is_file()), None)


def _pdf() -> tuple[FPDF, str]:
    pdf = FPDF(format="A4")
    pdf.set_creator(ISSUER)
    pdf.set_auto_page_break(auto=True, margin=15)
    font = unicode_font()
    if font is None:
        return pdf, "Helvetica"
    pdf.add_font(FONT, fname=str(font))
    return pdf, FONT


def render_pdf(document: Document) -> bytes:
    pdf, family = _pdf()

    def text(value: str) -> str:
        if family == FONT:
            return value
        return value.encode("latin-1", "replace").decode("latin-1")

    pdf.set_title(text(document.title))
    pdf.add_page()
    pdf.set_font(family, size=16)
    pdf.cell(0, 10, text(document.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(family, size=10)
    for label, value in document.facts:
        pdf.cell(45, LINE, text(label + ":"))
        pdf.multi_cell(0, LINE, text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    width = pdf.epw
    first = width - 30 * (len(document.columns) - 1)
    widths = [first] + [30.0] * (len(document.columns) - 1)
    for column, w in zip(document.columns, widths, strict=True):
        pdf.cell(w, LINE + 1, text(column), border="B", align="L" if w == first else "R")
    pdf.ln()
    for row in document.rows:
        for value, w in zip(row, widths, strict=True):
            pdf.cell(w, LINE, text(value), align="L" if w == first else "R")
        pdf.ln()
    pdf.ln(3)
    for label, amount in document.totals:
        pdf.cell(width - 40, LINE, text(label), align="R")
        pdf.cell(40, LINE, text(amount), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if document.notes:
        pdf.ln(4)
        pdf.set_font(family, size=8)
        for note in document.notes:
            pdf.multi_cell(0, LINE - 2, text(note), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
