"""Per-client rate limits of the public merchant pages: payment links and the checkout."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from django.test import Client

from merchants.models import Invoice, Merchant, PaymentRequest
from merchants.services.invoices import invoice_create
from merchants.services.payment_requests import payment_request_create
from tests.conftest import run_threads
from tests.merchants.conftest import WindowClock


def fresh_address() -> str:
    """An address of the test's own: the counters live in the Redis every run shares."""
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


def link(merchant: Merchant) -> PaymentRequest:
    return payment_request_create(
        merchant=merchant, title="Dinner", amount="0.001", currency="BTC", description="",
        expires_at=None, actor=merchant.owner,
    )  # fmt: skip


def race(count: int, per_thread: int, request: Any) -> list[int]:
    results = run_threads(count, lambda i: [request() for _ in range(per_thread)])
    codes = [code for batch in results for code in batch]
    assert len(codes) == count * per_thread, results
    return codes


@pytest.mark.django_db(transaction=True)
def test_payment_link_page_limit_holds_exactly_under_concurrency(
    merchant: Merchant, settings: Any, window_clock: WindowClock
) -> None:
    settings.MERCHANT_WEB_PUBLIC_RATE = "7/min"
    pr = link(merchant)
    address = fresh_address()
    codes = race(10, 2, lambda: Client(REMOTE_ADDR=address).get(f"/r/{pr.id}").status_code)
    assert set(codes) == {200, 429} and codes.count(200) == 7, codes
    refused = Client(REMOTE_ADDR=address).get(f"/r/{pr.id}")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "Too many requests" in refused.content.decode()  # a page a person can read
    assert Client(REMOTE_ADDR=fresh_address()).get(f"/r/{pr.id}").status_code == 200
    window_clock.now += 60  # the next window: the address may come again
    assert Client(REMOTE_ADDR=address).get(f"/r/{pr.id}").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_paying_a_link_is_limited_per_client(
    merchant: Merchant, settings: Any, window_clock: WindowClock
) -> None:
    settings.MERCHANT_WEB_PAY_RATE = "3/min"
    pr = link(merchant)
    address = fresh_address()
    codes = race(8, 1, lambda: Client(REMOTE_ADDR=address).post(f"/r/{pr.id}/pay").status_code)
    assert codes.count(302) == 3 and codes.count(429) == 5, codes
    assert Invoice.objects.filter(merchant=merchant).count() == 1  # the pending one, reused


@pytest.mark.django_db(transaction=True)
def test_checkout_poll_and_pay_are_limited_per_client(
    merchant: Merchant, settings: Any, window_clock: WindowClock
) -> None:
    settings.MERCHANT_WEB_POLL_RATE = "5/min"
    settings.MERCHANT_WEB_PAY_RATE = "2/min"
    invoice = invoice_create(merchant=merchant, amount="0.001", currency="BTC")
    address = fresh_address()
    url = f"/i/{invoice.id}/status"
    codes = race(8, 1, lambda: Client(REMOTE_ADDR=address).get(url).status_code)
    assert codes.count(200) == 5 and codes.count(429) == 3, codes
    refused = Client(REMOTE_ADDR=address).get(url)
    assert refused.json()["code"] == "too-many-requests" and int(refused["Retry-After"]) >= 1
    # Paying: counted before sign-in is checked, so a script cannot probe at speed either.
    payer = Client(REMOTE_ADDR=address)
    pay = [payer.post(f"/i/{invoice.id}/pay").status_code for _ in range(3)]
    assert pay[:2] != [429, 429] and pay[2] == 429, pay
    page = Client(REMOTE_ADDR=address).post(f"/i/{invoice.id}/pay")
    assert page.status_code == 429 and "Too many requests" in page.content.decode()
