"""The payee's claim page of a pull payment (BTCPay's /pull-payments/{id})."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone, translation

from banking.templatetags.bank import money
from compliance.models import RuleConfig
from exchange.models import ExchangeRate
from merchants.models import Merchant, PullPayment, PullPaymentPayout
from merchants.services.pull_payments import pull_payment_archive, pull_payment_create
from tests.compliance.conftest import regtest_address
from tests.merchants.test_funds import ADDRESS
from tests.merchants.test_web_browser import PHONE, shot
from tests.merchants.test_web_browser import new_page as new_page  # the fixture

pytestmark = pytest.mark.django_db

RATE = 40_000_000_00  # tiyn per BTC: 0.001 BTC is 40,000 KZT
THRESHOLD = 200_000_00  # the travel rule's: a claim of 0.001 BTC is below it, 0.01 above
BENEFICIARY = {"beneficiary_name": "Aigerim Seitova", "wallet": "provider",
               "provider_name": "Kaspi"}  # fmt: skip


@pytest.fixture
def travel_rule_on() -> ExchangeRate:
    RuleConfig.objects.update_or_create(
        name="travel_rule", defaults={"enabled": True, "params": {"threshold_tiyn": THRESHOLD}}
    )
    return ExchangeRate.objects.create(mid_tiyn_per_btc=RATE, spread_bp=50)


def _pull(merchant: Merchant, amount: str) -> PullPayment:
    return pull_payment_create(
        merchant=merchant, name="Prize", description="", amount=amount, currency="BTC",
        starts_at=None, expires_at=None, payout_methods=None, actor=None,
    )  # fmt: skip


def _in(language: str, text: str) -> str:
    with translation.override(language):
        return translation.gettext(text)


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


def test_every_btc_amount_has_its_kzt_value_and_the_rate_is_named(
    merchant: Merchant, travel_rule_on: ExchangeRate
) -> None:
    pull = _pull(merchant, "0.002")
    browser = Client()
    browser.post(f"/pull-payments/{pull.id}", {"destination": ADDRESS, "amount": "0.0005"})
    html = browser.get(f"/pull-payments/{pull.id}", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    with translation.override("ru"):
        amount, left, claimed, rate = (money(v, "KZT") for v in (80_000_00, 60_000_00,
                                                                 20_000_00, RATE))  # fmt: skip
        assert f'data-testid="left">{money(150_000, "BTC")}<' in html
    assert f'data-testid="amount-kzt">≈\u00a0{amount}<' in html
    assert f'data-testid="left-kzt">≈\u00a0{left}<' in html
    assert f"≈\u00a0{claimed}" in html  # the payout's row
    set_at = timezone.localtime(travel_rule_on.created_at).strftime("%d.%m.%Y %H:%M")
    assert f"1 BTC = {rate}, " in html and set_at in html  # which rate, and when it was set


def test_below_the_threshold_the_page_asks_for_no_beneficiary(
    merchant: Merchant, travel_rule_on: ExchangeRate
) -> None:
    pull = _pull(merchant, "0.001")  # all of it is 40,000 KZT: no claim can need the data
    html = Client().get(f"/pull-payments/{pull.id}").content.decode()
    assert 'data-testid="travel-rule"' not in html and "beneficiary_name" not in html
    claimed = Client().post(f"/pull-payments/{pull.id}", {"destination": ADDRESS})
    assert claimed.status_code == 302, claimed.content.decode()
    assert PullPaymentPayout.objects.get(pull_payment=pull).travel_rule is None


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_a_large_claim_asks_for_the_beneficiary_and_stores_it(
    merchant: Merchant, travel_rule_on: ExchangeRate, language: str
) -> None:
    pull = _pull(merchant, "0.02")
    browser = Client(HTTP_ACCEPT_LANGUAGE=language)
    html = browser.get(f"/pull-payments/{pull.id}").content.decode()
    assert 'data-testid="travel-rule"' in html and 'name="beneficiary_name"' in html
    assert _in(language, "Beneficiary (required by law for a large claim)") in html
    url = f"/pull-payments/{pull.id}"
    large = {"destination": ADDRESS, "amount": "0.01"}
    missing = browser.post(url, large)
    assert missing.status_code == 422
    html = missing.content.decode()
    assert 'data-testid="travel-errors"' in html
    assert _in(language, "Required at or above the travel-rule threshold.") in html
    partial = browser.post(url, {**large, **BENEFICIARY, "provider_name": ""})
    assert partial.status_code == 422
    html = partial.content.decode()
    # Next to its field, in the page's language, the value typed kept.
    message = _in(language, "Name the provider that holds the address.")
    field = next(f for f in html.split('<div class="field') if 'name="provider_name"' in f)
    assert field.startswith(" field-invalid") and message in field
    assert 'value="Aigerim Seitova"' in html
    if language != "en":
        assert "Name the provider that holds the address." not in html
    assert not PullPaymentPayout.objects.exists()
    claimed = browser.post(url, {**large, **BENEFICIARY})
    assert claimed.status_code == 302, claimed.content.decode()
    row = PullPaymentPayout.objects.get(pull_payment=pull)
    assert (row.amount_sats, row.travel_rule) == (1_000_000, BENEFICIARY)
    # A small claim on the same page needs none of it.
    small = browser.post(url, {"destination": regtest_address(9), "amount": "0.001"})
    assert small.status_code == 302, small.content.decode()
    assert PullPaymentPayout.objects.get(amount_sats=100_000).travel_rule is None


def test_without_a_usable_rate_the_page_asks_and_a_claim_with_the_data_passes(
    merchant: Merchant, travel_rule_on: ExchangeRate
) -> None:
    ExchangeRate.objects.update(created_at=timezone.now() - timedelta(days=30))  # stale
    pull = _pull(merchant, "0.02")
    html = Client().get(f"/pull-payments/{pull.id}").content.decode()
    assert 'data-testid="travel-rule"' in html  # the claim cannot be valued: ask
    assert 'data-testid="kzt-rate"' not in html and "≈" not in html  # no KZT at a stale rate
    claimed = Client().post(
        f"/pull-payments/{pull.id}", {"destination": ADDRESS, "amount": "0.01", **BENEFICIARY}
    )
    assert claimed.status_code == 302, claimed.content.decode()
    assert PullPaymentPayout.objects.get(pull_payment=pull).travel_rule == BENEFICIARY


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


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_a_large_claim_with_the_beneficiary_on_a_phone(
    live_server: Any,
    new_page: Any,
    merchant: Merchant,
    travel_rule_on: ExchangeRate,
    language: str,
) -> None:
    pull = _pull(merchant, "0.02")
    page = new_page(PHONE)
    page.context.add_cookies([{"name": "alatau_language", "value": language,
                               "url": live_server.url}])  # fmt: skip
    page.goto(f"{live_server.url}/pull-payments/{pull.id}")
    page.wait_for_selector(f"html[lang={language}]")
    assert page.inner_text("[data-testid=left-kzt]").strip() == "≈\u00a0" + _kzt(
        language, 800_000_00
    )
    page.fill("#id_destination", ADDRESS)
    page.fill("#id_amount", "0.01")
    page.click("[data-testid=claim]")  # without the beneficiary: refused, said in the language
    page.wait_for_selector("[data-testid=travel-errors]")
    errors = page.inner_text("[data-testid=travel-errors]")
    assert errors.strip() == _in(language, "Required at or above the travel-rule threshold.")
    shot(page, f"pull-payment-claim-travel-rule-{language}-390px-refused")
    page.fill("#id_beneficiary_name", "Aigerim Seitova")
    page.check("#id_wallet_1")  # another provider's
    page.click("[data-testid=claim]")  # no provider named: next to its field
    page.wait_for_selector(".field-invalid #id_provider_name")
    field = page.locator(".field", has=page.locator("#id_provider_name"))
    assert _in(language, "Name the provider that holds the address.") in field.inner_text()
    page.fill("#id_provider_name", "Kaspi")
    page.click("[data-testid=claim]")
    page.wait_for_selector("[data-state=AwaitingApproval]")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width  # nothing wider than the phone
    shot(page, f"pull-payment-claim-travel-rule-{language}-390px")
    row = PullPaymentPayout.objects.get(pull_payment=pull)
    assert (row.amount_sats, row.travel_rule) == (1_000_000, BENEFICIARY)


def _kzt(language: str, tiyn: int) -> str:
    with translation.override(language):
        return money(tiyn, "KZT")
