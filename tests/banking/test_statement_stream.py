"""Statement downloads stream: CSV line by line from the ledger, PDF page by page."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.db.models import Q
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader
from reportlab.pdfbase import pdfmetrics

from accounts.models import Identity, Transfer, User
from accounts.selectors import StreamLine
from accounts.services import system_account
from accounts.services.transfer_batch import TransferSpec, transfer_batch_create
from banking.pdf_stream import HEADER
from banking.services.counterparty import StreamCounterparties, counterparty_names
from banking.views.statement_pdf import FONT, FONT_BOLD
from core.money import format_amount
from tests.banking.conftest import account_of, login, streamed
from tests.conftest import fund


def _params(account_id: int, fmt: str) -> dict[str, str]:
    today = str(timezone.localdate())
    return {"account": str(account_id), "start": today, "end": today, "format": fmt}


def test_csv_streams_every_ledger_line_with_its_running_balance(
    customer: User, customer_client: Client, make_customer: Any
) -> None:
    kzt = account_of(customer, "KZT")
    other = account_of(make_customer("other@example.kz"), "KZT")
    fund(kzt, 900_00)
    fund(other, 900_00)
    transfer_batch_create(
        transfers=[
            TransferSpec(kzt.pk, other.pk, 1_00 + i, "internal")
            if i % 3
            else TransferSpec(other.pk, kzt.pk, 2_00 + i, "internal")
            for i in range(25)
        ]
    )
    response = customer_client.get("/statement/", _params(kzt.pk, "csv"))
    assert response.status_code == 200 and response.streaming is True
    rows = list(csv.reader(io.StringIO(streamed(response).decode())))

    ledger = Transfer.objects.filter(Q(debit_account=kzt) | Q(credit_account=kzt)).order_by("pk")
    expected, balance = [], 0
    for t in ledger:
        signed = t.amount_minor if t.credit_account_id == kzt.pk else -t.amount_minor
        balance += signed
        expected.append([f"T{t.pk}", format_amount(signed, "KZT"), format_amount(balance, "KZT")])
    assert [[r[1], r[4], r[6]] for r in rows[2:-1]] == expected
    assert len(expected) == 26  # the funding and 25 transfers
    assert rows[-1][2] == "Closing balance" and rows[-1][6] == format_amount(balance, "KZT")
    kzt.refresh_from_db()
    assert balance == kzt.posted_minor


def test_pdf_of_many_pages_has_the_customers_name_and_every_page_number(
    customer: User, customer_client: Client
) -> None:
    Identity.objects.filter(user=customer).update(full_name="Dana Seitkali")
    kzt = account_of(customer, "KZT")
    source = system_account("external", "KZT")
    transfer_batch_create(
        transfers=[TransferSpec(source.pk, kzt.pk, 1_00, "adjustment") for _ in range(200)]
    )
    response = login(Client(), customer).get("/statement/", _params(kzt.pk, "pdf"))
    assert response["Content-Type"] == "application/pdf" and response.streaming is True
    pages = PdfReader(io.BytesIO(streamed(response))).pages
    assert len(pages) >= 3
    assert "Dana Seitkali" in pages[0].extract_text()
    for number, page in enumerate(pages, start=1):
        assert f"page {number}" in page.extract_text()
    assert "Closing balance" in pages[-1].extract_text()
    assert "200.00" in pages[-1].extract_text()


def test_pdf_sends_its_header_first_and_its_pages_while_drawing(
    customer: User, customer_client: Client
) -> None:
    kzt = account_of(customer, "KZT")
    source = system_account("external", "KZT")
    transfer_batch_create(
        transfers=[TransferSpec(source.pk, kzt.pk, 1_00, "adjustment") for _ in range(1_200)]
    )
    response: Any = customer_client.get("/statement/", _params(kzt.pk, "pdf"))
    blocks = iter(response.streaming_content)
    first = next(blocks)  # before any line is read: the file's header alone
    assert first.startswith(b"%PDF-1.4") and b"/Type /Page" not in first
    rest = list(blocks)
    # The pages of each chunk of 500 lines go out as drawn; the cross-reference table last.
    assert len(rest) >= 4 and b"/Type /Page " in rest[0] and b"xref" not in rest[0]
    assert b"startxref" in rest[-1]
    pages = PdfReader(io.BytesIO(first + b"".join(rest))).pages
    assert len(pages) >= 15
    assert "Closing balance" in pages[-1].extract_text()


def test_pdf_sends_its_first_bytes_before_reading_the_fonts(
    customer: User, customer_client: Client
) -> None:
    kzt = account_of(customer, "KZT")
    fund(kzt, 5_00)
    for name in (FONT, FONT_BOLD):  # as in a process that has not drawn a PDF yet
        pdfmetrics._fonts.pop(name, None)
    response: Any = customer_client.get("/statement/", _params(kzt.pk, "pdf"))
    blocks = iter(response.streaming_content)
    assert next(blocks) == HEADER
    assert FONT not in pdfmetrics.getRegisteredFontNames()  # not parsed yet
    body = HEADER + b"".join(blocks)
    assert FONT in pdfmetrics.getRegisteredFontNames()
    assert "5.00" in PdfReader(io.BytesIO(body)).pages[0].extract_text()


def test_counterparties_of_a_download_are_looked_up_once(
    customer: User, make_customer: Any, django_assert_num_queries: Any
) -> None:
    kzt = account_of(customer, "KZT")
    other = account_of(make_customer("other@example.kz"), "KZT")
    Identity.objects.filter(user=other.owner).update(full_name="Dana Seitkali")
    bank = system_account("external", "KZT")
    lines = [
        StreamLine(1, timezone.now(), "internal", "", 1, 1, other.pk),
        StreamLine(2, timezone.now(), "adjustment", "", 1, 2, bank.pk),
        StreamLine(3, timezone.now(), "fee", "", 1, 3, bank.pk),
        StreamLine(4, timezone.now(), "internal", "", 1, 4, 10**12),  # no such account
    ]
    expected = counterparty_names([(x.other_account_id, x.code) for x in lines])
    assert expected[0] == "Dana S." and expected[3] == ""
    names = StreamCounterparties()
    with django_assert_num_queries(3):
        assert names(lines) == expected
    with django_assert_num_queries(0):  # the next chunk meets the same accounts
        assert names(lines[::-1]) == expected[::-1]
    names.KNOWN_MAX = 2  # past the limit the memory starts again, names stay right
    with django_assert_num_queries(3):
        assert names([*lines, lines[0]._replace(other_account_id=kzt.pk)])[:4] == expected
    assert len(names.parties) <= 4
