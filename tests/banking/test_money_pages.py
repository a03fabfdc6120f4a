"""Exchange pages, statements (page, CSV, PDF), dashboard amounts, the money filter."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Transfer, User
from banking.templatetags.bank import money, signed_money
from exchange.models import Quote
from tests.banking.conftest import account_of, login, streamed
from tests.conftest import fund


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (0, "BTC", "0.00000000 BTC"),
        (150_000, "BTC", "0.00150000 BTC"),
        (2_100_000_000_000_000, "BTC", "21\u202f000\u202f000.00000000 BTC"),
        (123_456_789, "KZT", "1\u202f234\u202f567.89 KZT"),
        (-5, "KZT", "\u22120.05 KZT"),
        (100, "KZT", "1.00 KZT"),
    ],
)
def test_money_filter(minor: int, currency: str, text: str) -> None:
    assert money(minor, currency) == text


def test_signed_money() -> None:
    assert signed_money(100, "KZT") == "+1.00 KZT"
    assert signed_money(-100, "KZT") == "\u22121.00 KZT"


def test_dashboard_shows_balances_with_currency_and_decimals(
    customer: User, customer_client: Client
) -> None:
    fund(account_of(customer, "BTC"), 150_000)
    fund(account_of(customer, "KZT"), 123_456_789)
    html = customer_client.get("/").content.decode()
    assert "0.00150000 BTC" in html
    assert "1\u202f234\u202f567.89 KZT" in html
    assert account_of(customer, "KZT").number_formatted in html
    assert "Bitcoin deposit" in html and "Adjustment" in html  # recent activity


def test_dashboard_shows_only_own_data(customer: User, make_customer: Any) -> None:
    other = make_customer()
    fund(account_of(other, "KZT"), 777_777_77)
    html = login(Client(), customer).get("/").content.decode()
    assert "777" not in html
    assert account_of(other, "KZT").number_formatted not in html


def test_exchange_flow(customer: User, customer_client: Client, rate: Any) -> None:
    fund(account_of(customer, "BTC"), 10_000_000)
    page = customer_client.get("/exchange/")
    assert "44\u202f550\u202f000.00 KZT" in page.content.decode()  # bid with 1% spread
    response = customer_client.post("/exchange/", {"direction": "btc_kzt", "amount": "0.1"})
    assert response.status_code == 302
    quote = Quote.objects.get(user=customer)
    page = customer_client.get(response["Location"])
    assert "4\u202f455\u202f000.00 KZT" in page.content.decode()
    accept = f"/exchange/quotes/{quote.pk}/accept/"
    assert customer_client.post(accept).status_code == 302
    assert customer_client.post(accept).status_code == 302  # double submit: no second move
    assert Transfer.objects.filter(code="exchange").count() == 2
    assert account_of(customer, "KZT").posted_minor == 4_455_000_00


def test_exchange_form_errors(customer_client: Client, rate: Any) -> None:
    response = customer_client.post("/exchange/", {"direction": "kzt_btc", "amount": "1.001"})
    assert response.status_code == 200
    assert "2 decimal" in " ".join(response.context["form"].errors["amount"])
    response = customer_client.post("/exchange/", {"direction": "sideways", "amount": "1"})
    assert "direction" in response.context["form"].errors


def test_expired_quote_is_refused_on_the_page(
    customer: User, customer_client: Client, rate: Any
) -> None:
    fund(account_of(customer, "BTC"), 10_000_000)
    customer_client.post("/exchange/", {"direction": "btc_kzt", "amount": "0.1"})
    quote = Quote.objects.get(user=customer)
    Quote.objects.filter(pk=quote.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert "expired" in customer_client.get(f"/exchange/quotes/{quote.pk}/").content.decode()
    response = customer_client.post(f"/exchange/quotes/{quote.pk}/accept/", follow=True)
    assert "expired" in response.content.decode()
    assert Transfer.objects.filter(code="exchange").count() == 0


def test_another_customers_quote_is_404(customer: User, make_customer: Any, rate: Any) -> None:
    fund(account_of(customer, "BTC"), 10_000_000)
    mine = login(Client(), customer)
    mine.post("/exchange/", {"direction": "btc_kzt", "amount": "0.1"})
    quote = Quote.objects.get(user=customer)
    stranger = login(Client(), make_customer())
    assert stranger.get(f"/exchange/quotes/{quote.pk}/").status_code == 404
    assert stranger.post(f"/exchange/quotes/{quote.pk}/accept/").status_code == 404
    assert Transfer.objects.filter(code="exchange").count() == 0


def test_no_rate_no_exchange(customer_client: Client) -> None:
    page = customer_client.get("/exchange/")
    assert "not available" in page.content.decode()


def _statement_params(account_id: int, fmt: str = "") -> dict[str, str]:
    today = timezone.localdate()
    params = {
        "account": str(account_id),
        "start": str(today - dt.timedelta(days=7)),
        "end": str(today),
    }
    if fmt:
        params["format"] = fmt
    return params


def test_statement_page_csv_and_pdf(customer: User, customer_client: Client) -> None:
    kzt = account_of(customer, "KZT")
    fund(kzt, 1_000_00)
    fund(kzt, 250_50)
    page = customer_client.get("/statement/", _statement_params(kzt.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert "1\u202f250.50 KZT" in html  # closing balance
    lines = page.context["statement"].lines
    assert [line.balance_minor for line in lines] == [1_000_00, 1_250_50]

    response = customer_client.get("/statement/", _statement_params(kzt.pk, "csv"))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(streamed(response).decode())))
    assert rows[0] == [
        "date", "reference", "description", "counterparty", "amount", "currency", "balance"
    ]  # fmt: skip
    assert rows[1][2] == "Opening balance" and rows[1][6] == "0.00"
    assert [r[4] for r in rows[2:4]] == ["1000.00", "250.50"]
    assert all(r[3] for r in rows[2:4])  # every movement names its counterparty
    assert rows[-1][2] == "Closing balance" and rows[-1][6] == "1250.50"

    response = customer_client.get("/statement/", _statement_params(kzt.pk, "pdf"))
    assert response["Content-Type"] == "application/pdf"
    assert streamed(response).startswith(b"%PDF-")


def test_statement_date_range_excludes_other_days(customer: User, customer_client: Client) -> None:
    kzt = account_of(customer, "KZT")
    fund(kzt, 1_000_00)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    params = {
        "account": str(kzt.pk),
        "start": str(yesterday - dt.timedelta(days=3)),
        "end": str(yesterday),
    }
    page = customer_client.get("/statement/", params)
    assert page.context["statement"].lines == []
    response = customer_client.get(
        "/statement/", {**params, "end": str(yesterday - dt.timedelta(days=5))}
    )
    assert "before the start" in " ".join(response.context["form"].errors["end"])


def test_another_customers_statement_is_404(customer: User, make_customer: Any) -> None:
    other = make_customer()
    theirs = account_of(other, "KZT")
    fund(theirs, 5_00)
    client = login(Client(), customer)
    for fmt in ("", "csv", "pdf"):
        assert client.get("/statement/", _statement_params(theirs.pk, fmt)).status_code == 404


def test_csv_cells_cannot_be_formulas(
    customer: User, customer_client: Client, make_customer: Any
) -> None:
    sender = make_customer("mallory@example.kz")
    fund(account_of(sender, "KZT"), 10_00)
    from banking.services.transfers import customer_transfer_create

    customer_transfer_create(
        sender=sender,
        debit_account_id=account_of(sender, "KZT").pk,
        recipient=customer.email,
        amount_minor=1_00,
        idempotency_key="csv-1",
        memo='=HYPERLINK("http://x")',
    )
    response = customer_client.get(
        "/statement/", _statement_params(account_of(customer, "KZT").pk, "csv")
    )
    rows = list(csv.reader(io.StringIO(streamed(response).decode())))
    assert rows[2][2] == 'Transfer: =HYPERLINK("http://x")'
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row[:3])
