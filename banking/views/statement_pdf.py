"""The PDF statement: the customer's name, page numbers, the time it was made, in their language.

The text is set in DejaVu Sans (Debian's fonts-dejavu-core, installed by
``scripts/ensure-system-packages.sh``), which has the Cyrillic and Kazakh letters
(the nine letters of the Kazakh alphabet beyond Russian's) that the PDF core fonts lack.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Identity
from accounts.selectors import Statement
from banking.services.counterparty import statement_counterparties
from banking.templatetags.bank import money, movement_label

FONT = "AlatauSans"
FONT_BOLD = "AlatauSans-Bold"
FONT_DIR_DEFAULT = "/usr/share/fonts/truetype/dejavu"


def _fonts() -> tuple[str, str]:
    """Register DejaVu Sans once and return (regular, bold) font names."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT in pdfmetrics.getRegisteredFontNames():
        return FONT, FONT_BOLD
    folder = Path(getattr(settings, "PDF_FONT_DIR", FONT_DIR_DEFAULT))
    regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
    if not regular.exists():
        raise RuntimeError(
            f"{regular} is missing: run scripts/ensure-system-packages.sh (fonts-dejavu-core)"
        )
    pdfmetrics.registerFont(TTFont(FONT, str(regular)))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(bold if bold.exists() else regular)))
    return FONT, FONT_BOLD


def _customer_name(user: Any) -> str:
    identity = Identity.objects.filter(user=user).exclude(full_name="").first()
    return identity.full_name if identity is not None else str(user.email)


def _rows(stmt: Statement) -> list[list[str]]:
    cur = stmt.account.currency
    names = statement_counterparties(account=stmt.account, lines=stmt.lines)
    rows = [[_("Date"), _("Ref."), _("Description"), _("Counterparty"), _("Amount"), _("Balance")]]
    rows.append(["", "", _("Opening balance"), "", "", money(stmt.opening_minor, cur)])
    for line, name in zip(stmt.lines, names, strict=True):
        label = movement_label(line.transfer)
        if line.transfer.memo and line.transfer.code in ("internal", "payment", "refund"):
            label = f"{label}: {line.transfer.memo}"
        rows.append(
            [
                timezone.localtime(line.transfer.created_at).strftime("%d.%m.%Y %H:%M"),
                f"T{line.transfer.pk}",
                label[:40],
                name[:28],
                money(line.amount_minor, cur),
                money(line.balance_minor, cur),
            ]
        )
    rows.append(["", "", _("Closing balance"), "", "", money(stmt.closing_minor, cur)])
    return rows


def statement_pdf(stmt: Statement, start: dt.date, end: dt.date, user: Any) -> bytes:
    """Return the statement as PDF bytes."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    regular, bold = _fonts()
    made = timezone.localtime().strftime("%d.%m.%Y %H:%M")
    footer_text = _("Alatau Bank · statement made %(when)s · page %(page)s")

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(regular, 8)
        canvas.drawString(doc.leftMargin, 20, footer_text % {"when": made, "page": doc.page})
        canvas.restoreState()

    styles = getSampleStyleSheet()
    for style in styles.byName.values():
        style.fontName = bold if style.name.startswith(("Title", "Heading")) else regular
    cur = stmt.account.currency
    story: list[Any] = [
        Paragraph(_("Alatau Bank — account statement"), styles["Title"]),
        Paragraph(_("Customer: %(name)s") % {"name": _customer_name(user)}, styles["Normal"]),
        Paragraph(
            _("Account: %(number)s (%(currency)s)")
            % {"number": stmt.account.number_formatted, "currency": cur},
            styles["Normal"],
        ),
        Paragraph(
            _("Period: %(start)s to %(end)s")
            % {"start": f"{start:%d.%m.%Y}", "end": f"{end:%d.%m.%Y}"},
            styles["Normal"],
        ),
        Paragraph(_("Made: %(when)s") % {"when": made}, styles["Normal"]),
        Spacer(1, 12),
    ]
    table = Table(_rows(stmt), repeatRows=1, colWidths=[68, 38, 130, 95, 92, 92])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), regular),
                ("FONTNAME", (0, 0), (-1, 0), bold),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#0b2545")),
                ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
                ("FONTSIZE", (0, 0), (-1, -1), 7.5),
                ("ALIGN", (4, 0), (5, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#cccccc")),
            ]
        )
    )
    story.append(table)
    if stmt.has_more:
        story.append(Paragraph(_("The statement was cut at 20 000 lines."), styles["Italic"]))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, title=_("Alatau Bank statement"), author=_("Alatau Bank")
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def statement_pdf_response(
    stmt: Statement, start: dt.date, end: dt.date, user: Any, filename: str
) -> HttpResponse:
    response = HttpResponse(statement_pdf(stmt, start, end, user), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
