"""Statement downloads stream: CSV line by line from the ledger, PDF page by page."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.db.models import Q
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import Identity, Transfer, User
from accounts.services import system_account
from accounts.services.transfer_batch import TransferSpec, transfer_batch_create
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
