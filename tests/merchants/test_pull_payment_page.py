"""The payee's claim page of a pull payment (BTCPay's /pull-payments/{id})."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from merchants.models import Merchant, PullPayment, PullPaymentPayout
from merchants.services.pull_payments import pull_payment_archive, pull_payment_create
from tests.merchants.test_funds import ADDRESS
from tests.merchants.test_web_browser import PHONE, shot
from tests.merchants.test_web_browser import new_page as new_page  # the fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def pull(merchant: Merchant) -> PullPayment:
    return pull_payment_create(
        merchant=merchant, name="Prize", description="For the winner", amount="0.001",
        currency="BTC", starts_at=None, expires_at=None, payout_methods=None, actor=None,
    )  # fmt: skip


def test_the_payee_claims_and_sees_the_state(pull: PullPayment) -> None:
    browser = Client()
    page = browser.get(f"/pull-payments/{pull.id}")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="left">0.00100000 BTC' in html and "For the winner" in html
    claimed = browser.post(
        f"/pull-payments/{pull.id}/", {"destination": ADDRESS, "amount": "0.0004"}
    )
    assert claimed.status_code == 302
    row = PullPaymentPayout.objects.get(pull_payment=pull)
    assert (row.amount_sats, row.destination, row.state) == (40_000, ADDRESS, "AwaitingApproval")
    html = browser.get(f"/pull-payments/{pull.id}").content.decode()
    assert 'data-testid="left">0.00060000 BTC' in html
    assert 'data-state="AwaitingApproval"' in html and "Awaiting the store&#x27;s approval" in html


@pytest.mark.parametrize(
    ("form", "text"),
    [
        ({"destination": "bcrt1qnotanaddress"}, "destination"),
        ({"destination": ADDRESS, "amount": "0.002"}, "At most 0.00100000 BTC is left."),
        ({"destination": ADDRESS, "amount": "abc"}, "amount"),
    ],
)
def test_a_bad_claim_is_shown_on_the_form(
    pull: PullPayment, form: dict[str, str], text: str
) -> None:
    page = Client().post(f"/pull-payments/{pull.id}", form)
    assert page.status_code == 422
    html = page.content.decode()
    assert "field-invalid" in html or "form-errors" in html
    assert text in html or f'name="{text}"' in html
    assert not PullPaymentPayout.objects.exists()


def test_an_archived_pull_payment_takes_no_claim(pull: PullPayment, merchant: Merchant) -> None:
    pull_payment_archive(merchant=merchant, pull_payment_id=pull.id, actor=None)
    page = Client().post(f"/pull-payments/{pull.id}", {"destination": ADDRESS})
    assert page.status_code == 422 and 'data-testid="closed"' in page.content.decode()
    assert not PullPaymentPayout.objects.exists()
    assert Client().get("/pull-payments/nope").status_code == 404


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_claim_page_fits_a_phone(
    live_server: Any,
    new_page: Any,
    merchant: Merchant,
) -> None:
    pull = pull_payment_create(
        merchant=merchant, name="Prize", description="", amount="0.001", currency="BTC",
        starts_at=None, expires_at=None, payout_methods=None, actor=None,
    )  # fmt: skip
    page = new_page(PHONE)
    page.goto(f"{live_server.url}/pull-payments/{pull.id}")
    page.fill("#id_destination", ADDRESS)
    page.fill("#id_amount", "0.0003")
    page.click("[data-testid=claim]")
    page.wait_for_selector("[data-state=AwaitingApproval]")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width  # nothing wider than the phone
    shot(page, "pull-payment-claim-390px")
