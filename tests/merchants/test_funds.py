"""Refunds, balance and transactions, payouts and conversion to KZT."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings
from django.utils import timezone
from embit import bech32
from rest_framework.test import APIClient

from accounts.errors import InsufficientFunds
from accounts.models import Account, User
from accounts.selectors import ledger_check
from custody.models import Withdrawal
from exchange.services import exchange_rate_set
from merchants.errors import MerchantSuspended
from merchants.models import Merchant, MerchantStatus, Payout
from merchants.services.invoices import invoice_create
from merchants.services.keys import SCOPE_VIEW_INVOICES
from merchants.services.merchants import merchant_set_status
from merchants.services.payments import invoice_pay_in_bank
from merchants.services.payouts import merchant_convert_to_kzt, merchant_payout_request
from tests.conftest import fund
from tests.merchants.conftest import Greenfield, allow_list, owner_verified, problems, store_url

pytestmark = pytest.mark.django_db

ADDRESS = bech32.encode("bcrt", 0, bytes(range(20)))
# A second payee: one active payout per destination (BTCPay's duplicate-destination).
OTHER_ADDRESS = bech32.encode("bcrt", 0, bytes([7]) * 20)


@pytest.fixture
def paid(
    merchant: Merchant, make_user: Callable[..., User], funded_account: Callable[..., Account]
) -> tuple[str, Account]:
    customer = make_user(email_verified_at=timezone.now())
    wallet = funded_account(1_000_000, owner=customer)
    invoice = invoice_create(merchant=merchant, amount="0.00100000", currency="BTC")
    invoice_pay_in_bank(invoice_id=invoice.id, payer=customer, account_id=wallet.pk)
    return invoice.id, wallet


def test_refund_in_bank_in_parts(
    api: APIClient, merchant: Merchant, paid: tuple[str, Account]
) -> None:
    invoice_id, wallet = paid
    url = store_url(merchant, f"invoices/{invoice_id}/refunds")
    part = api.post(url, {"method": "InBank", "amount": "0.00040000"}, format="json")
    assert part.status_code == 200, part.content
    assert part.json()["amount"] == "0.00040000" and part.json()["transferId"]
    rest = api.post(url, {"method": "InBank"}, format="json").json()
    assert rest["amount"] == "0.00060000"
    too_much = api.post(url, {"method": "InBank", "amount": "0.00000001"}, format="json")
    assert too_much.status_code == 422
    wallet.refresh_from_db()
    merchant.btc_account.refresh_from_db()
    assert wallet.posted_minor == 1_000_000 and merchant.btc_account.posted_minor == 0
    assert ledger_check() == []


def test_refund_on_chain_goes_through_the_withdrawal_flow(
    api: APIClient, merchant: Merchant, paid: tuple[str, Account]
) -> None:
    invoice_id, _ = paid
    url = store_url(merchant, f"invoices/{invoice_id}/refunds")
    response = api.post(
        url, {"method": "OnChain", "amount": "0.00050000", "address": ADDRESS}, format="json"
    )
    assert response.status_code == 200, response.content
    withdrawal = Withdrawal.objects.get(pk=response.json()["withdrawalId"])
    assert withdrawal.account_id == merchant.btc_account_id
    assert (withdrawal.amount_sats, withdrawal.address) == (50_000, ADDRESS)
    merchant.btc_account.refresh_from_db()
    assert merchant.btc_account.held_minor == 50_000 + withdrawal.fee_sats
    bad = api.post(
        url, {"method": "OnChain", "amount": "0.0001", "address": "nonsense"}, format="json"
    )
    assert "address" in problems(bad)


def test_refund_refused_for_unpaid_and_needs_scope(
    api: APIClient, merchant: Merchant, make_client: Callable[..., APIClient]
) -> None:
    invoice = invoice_create(merchant=merchant, amount="0.001", currency="BTC")
    url = store_url(merchant, f"invoices/{invoice.id}/refunds")
    response = api.post(url, {"method": "InBank"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "refund-not-allowed"
    viewer = make_client(merchant, [SCOPE_VIEW_INVOICES])
    assert viewer.post(url, {"method": "InBank"}, format="json").status_code == 403


def test_balance_and_transactions(
    api: APIClient, merchant: Merchant, paid: tuple[str, Account]
) -> None:
    balance = api.get(store_url(merchant, "balance")).json()
    assert balance["storeId"] == merchant.store_id
    assert balance["balances"] == [
        {
            "currency": "BTC",
            "accountNumber": merchant.btc_account.number,
            "posted": "0.00100000",
            "held": "0.00000000",
            "available": "0.00100000",
        }
    ]
    page = api.get(store_url(merchant, "transactions")).json()
    assert (page["opening"], page["closing"], page["hasMore"]) == (
        "0.00000000",
        "0.00100000",
        False,
    )
    assert page["transactions"][0]["code"] == "payment"
    assert page["transactions"][0]["amount"] == "0.00100000"


def test_payout_on_chain(api: APIClient, merchant: Merchant) -> None:
    fund(merchant.btc_account, 500_000)
    allow_list(merchant, ADDRESS)
    allow_list(merchant, OTHER_ADDRESS)
    owner_verified(merchant)
    response = api.post(
        store_url(merchant, "payouts"),
        {"amount": "0.00200000", "destination": ADDRESS, "approved": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["kind"] == "OnChain" and body["withdrawalId"]
    assert Withdrawal.objects.get(pk=body["withdrawalId"]).amount_sats == 200_000
    assert api.get(store_url(merchant, "payouts")).json()[0]["id"] == body["id"]
    broke = api.post(
        store_url(merchant, "payouts"),
        {
            "amount": "0.00400000",
            "destination": OTHER_ADDRESS,
            "approved": True,
        },  # over the balance, under the limit
        format="json",
    )
    assert problems(broke) and broke.json()[0]["code"] == "insufficient-funds"


def test_payout_retry_is_one_withdrawal_and_status_follows_it(
    api: APIClient, merchant: Merchant
) -> None:
    from custody.services import withdrawal_cancel

    fund(merchant.btc_account, 500_000)
    allow_list(merchant, ADDRESS)
    owner_verified(merchant)
    body = {"amount": "0.00100000", "destination": ADDRESS, "approved": True}
    first = api.post(
        store_url(merchant, "payouts"), body, format="json", HTTP_IDEMPOTENCY_KEY="p-1"
    )
    again = api.post(
        store_url(merchant, "payouts"), body, format="json", HTTP_IDEMPOTENCY_KEY="p-1"
    )
    assert first.status_code == again.status_code == 200, again.content
    assert first.json()["withdrawalId"] == again.json()["withdrawalId"]
    assert Withdrawal.objects.filter(account=merchant.btc_account).count() == 1
    withdrawal_cancel(withdrawal_id=first.json()["withdrawalId"], actor=merchant.owner)
    assert api.get(store_url(merchant, "payouts")).json() == []  # cancelled: only on request
    cancelled = api.get(store_url(merchant, "payouts") + "?includeCancelled=true").json()[0]
    assert (cancelled["status"], cancelled["state"]) == ("cancelled", "Cancelled")
    merchant.btc_account.refresh_from_db()
    assert merchant.btc_account.available_minor == 500_000


def test_convert_to_kzt(api: APIClient, merchant: Merchant) -> None:
    fund(merchant.btc_account, 1_000_000)
    exchange_rate_set(mid_tiyn_per_btc=45_000_000_00, spread_bp=100, actor=None)
    response = api.post(store_url(merchant, "conversions"), {"amount": "0.01000000"}, format="json")
    assert response.status_code == 200, response.content
    # Bid = 45 000 000 * 0.99 = 44 550 000 KZT/BTC; 0.01 BTC -> 445 500.00 KZT.
    assert response.json()["kztAmount"] == "445500.00"
    merchant.refresh_from_db()
    assert merchant.kzt_account is not None
    assert merchant.kzt_account.posted_minor == 445_500_00
    merchant.btc_account.refresh_from_db()
    assert merchant.btc_account.posted_minor == 0
    assert ledger_check() == []


def test_cross_merchant_funds_are_404(
    paid: tuple[str, Account],
    merchant: Merchant,
    make_merchant: Callable[..., Merchant],
    make_client: Callable[..., APIClient],
) -> None:
    invoice_id, _ = paid
    other = make_merchant("Rival")
    rival = make_client(other)
    assert rival.get(store_url(merchant, "balance")).status_code == 404
    assert rival.get(store_url(merchant, "transactions")).status_code == 404
    assert (
        rival.post(
            store_url(other, f"invoices/{invoice_id}/refunds"), {"method": "InBank"}, format="json"
        ).status_code
        == 404
    )


def test_schema_documents_greenfield_fields(greenfield: Greenfield) -> None:
    """Our invoice example (used in the docs) is itself a valid Greenfield invoice."""
    from merchants.api import INVOICE_EXAMPLE

    greenfield.validate(INVOICE_EXAMPLE, "InvoiceData")


def test_greenfield_validator_has_teeth(greenfield: Greenfield) -> None:
    import jsonschema

    from merchants.api import INVOICE_EXAMPLE

    with pytest.raises(AssertionError, match="bogus"):
        greenfield.validate({**INVOICE_EXAMPLE, "bogus": 1}, "InvoiceData")
    checkout = {**INVOICE_EXAMPLE["checkout"], "bogus": 1}  # type: ignore[dict-item]
    with pytest.raises(AssertionError, match="checkout"):
        greenfield.validate({**INVOICE_EXAMPLE, "checkout": checkout}, "InvoiceData")
    with pytest.raises(jsonschema.ValidationError):
        greenfield.validate({**INVOICE_EXAMPLE, "status": "Paid"}, "InvoiceData")
    with pytest.raises(jsonschema.ValidationError):
        greenfield.validate({**INVOICE_EXAMPLE, "createdTime": "now"}, "InvoiceData")


@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_never_exceed_what_was_paid(
    merchant: Merchant, make_user: Callable[..., User], funded_account: Callable[..., Account]
) -> None:
    from merchants.models import Refund
    from merchants.services.refunds import invoice_refund
    from tests.conftest import run_threads

    customer = make_user(email_verified_at=timezone.now())
    wallet = funded_account(1_000_000, owner=customer)
    invoice = invoice_create(merchant=merchant, amount="0.00100000", currency="BTC")
    invoice_pay_in_bank(invoice_id=invoice.id, payer=customer, account_id=wallet.pk)
    fund(merchant.btc_account, 10_000_000)  # the merchant could pay far more than is due

    def refund(_: int) -> object:
        return invoice_refund(
            merchant=merchant, invoice_id=invoice.id, method="InBank", amount_sats=30_000,
            actor=merchant.owner,
        )  # fmt: skip

    results = run_threads(10, refund)
    done = [r for r in results if isinstance(r, Refund)]
    assert len(done) == 3, results  # 3 x 30,000 <= 100,000 < 4 x 30,000
    assert sum(r.amount_sats for r in done) == 90_000
    wallet.refresh_from_db()
    assert wallet.posted_minor == 1_000_000 - 100_000 + 90_000
    assert ledger_check() == []


def _untouched(merchant: Merchant, posted_sats: int) -> None:
    merchant.btc_account.refresh_from_db()
    assert (merchant.btc_account.posted_minor, merchant.btc_account.held_minor) == (posted_sats, 0)
    assert not Payout.objects.filter(merchant=merchant).exists()
    assert not Withdrawal.objects.filter(account=merchant.btc_account).exists()
    assert ledger_check() == []


@pytest.mark.parametrize(
    "destination",
    [
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",  # mainnet: not this chain
        "bcrt1qnotanaddress",
        "",
        ADDRESS + " extra",
    ],
)
def test_payout_to_a_bad_destination_is_refused_and_writes_nothing(
    api: APIClient, merchant: Merchant, destination: str
) -> None:
    fund(merchant.btc_account, 500_000)
    allow_list(merchant, destination)  # even listed, a bad address is refused
    response = api.post(
        store_url(merchant, "payouts"),
        {"amount": "0.00100000", "destination": destination, "approved": True},
        format="json",
    )
    assert response.status_code == 422, response.content
    assert [p["path"] for p in response.json()] == ["destination"], response.json()
    _untouched(merchant, 500_000)


def test_suspended_merchant_can_neither_pay_out_nor_convert(
    api: APIClient, merchant: Merchant
) -> None:
    fund(merchant.btc_account, 500_000)
    exchange_rate_set(mid_tiyn_per_btc=45_000_000_00, spread_bp=100, actor=None)
    merchant = merchant_set_status(
        merchant_id=merchant.pk, status=MerchantStatus.SUSPENDED, actor=None, reason="fraud check"
    )
    payout = api.post(
        store_url(merchant, "payouts"),
        {"amount": "0.001", "destination": ADDRESS, "approved": True},
        format="json",
    )
    conversion = api.post(store_url(merchant, "conversions"), {"amount": "0.001"}, format="json")
    for response in (payout, conversion):  # the API refuses a suspended merchant's key
        assert response.status_code == 401, response.content
        assert response.json()["message"] == "The merchant is suspended."
    # And the services refuse whatever door calls them.
    with pytest.raises(MerchantSuspended):
        merchant_payout_request(
            merchant=merchant, amount_sats=100_000, address=ADDRESS, actor=merchant.owner
        )
    with pytest.raises(MerchantSuspended):
        merchant_convert_to_kzt(merchant=merchant, amount_sats=100_000, actor=merchant.owner)
    _untouched(merchant, 500_000)


def test_conversion_failures_move_nothing(api: APIClient, merchant: Merchant) -> None:
    fund(merchant.btc_account, 500_000)
    url = store_url(merchant, "conversions")
    no_rate = api.post(url, {"amount": "0.001"}, format="json")
    assert no_rate.status_code == 503 and no_rate.json()["code"] == "quote-unavailable"
    exchange_rate_set(mid_tiyn_per_btc=45_000_000_00, spread_bp=100, actor=None)
    broke = api.post(url, {"amount": "0.01"}, format="json")  # more than the 0.005 it has
    assert broke.status_code == 422 and broke.json()[0]["code"] == "insufficient-funds"
    for bad in ("-0.001", "0", "0.000000001", "1e-3", "abc"):
        response = api.post(url, {"amount": bad}, format="json")
        assert response.status_code == 422, (bad, response.content)
    _untouched(merchant, 500_000)
    merchant.refresh_from_db()
    kzt = merchant.kzt_account
    assert kzt is None or kzt.posted_minor == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_payouts_never_overdraw(merchant: Merchant) -> None:
    from tests.conftest import run_threads

    fee = int(settings.WITHDRAWAL_FEE_SATS)
    fund(merchant.btc_account, 2 * (200_000 + fee) + 199_999)  # room for two, not three
    addresses = [bech32.encode("bcrt", 0, bytes([i] * 20)) for i in range(6)]
    for address in addresses:
        allow_list(merchant, address)

    def pay(i: int) -> Payout:
        return merchant_payout_request(
            merchant=merchant, amount_sats=200_000, address=addresses[i], actor=merchant.owner
        )

    results = run_threads(6, pay)
    done = [r for r in results if isinstance(r, Payout)]
    refused = [r for r in results if not isinstance(r, Payout)]
    assert len(done) == 2, results
    assert all(isinstance(r, InsufficientFunds) for r in refused), refused
    merchant.btc_account.refresh_from_db()
    assert merchant.btc_account.held_minor == 2 * (200_000 + fee)
    assert Payout.objects.filter(merchant=merchant).count() == 2  # refused ones left no row
    assert ledger_check() == []
