"""The refund cap: an on-chain refund whose withdrawal never left frees the cap again."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.utils import timezone
from embit import bech32
from rest_framework.test import APIClient

from accounts.models import Account, User
from accounts.selectors import ledger_check
from custody.models import WithdrawalStatus
from custody.services import withdrawal_cancel
from merchants.models import Merchant, Refund
from merchants.services.invoices import invoice_create
from merchants.services.payments import invoice_pay_in_bank
from tests.merchants.conftest import store_url

pytestmark = pytest.mark.django_db

ADDRESS = bech32.encode("bcrt", 0, bytes(range(20)))


def test_cancelled_on_chain_refund_frees_the_cap(
    api: APIClient,
    merchant: Merchant,
    make_user: Callable[..., User],
    funded_account: Callable[..., Account],
) -> None:
    customer = make_user(email_verified_at=timezone.now())
    wallet = funded_account(1_000_000, owner=customer)
    invoice = invoice_create(merchant=merchant, amount="0.00100000", currency="BTC")
    invoice_pay_in_bank(invoice_id=invoice.id, payer=customer, account_id=wallet.pk)
    url = store_url(merchant, f"invoices/{invoice.id}/refunds")
    chain = api.post(
        url, {"method": "OnChain", "amount": "0.00050000", "address": ADDRESS}, format="json"
    )
    assert chain.status_code == 200, chain.content
    full = {"method": "InBank", "amount": "0.00100000"}
    assert api.post(url, full, format="json").status_code == 422  # 50 000 still counted
    withdrawal = withdrawal_cancel(withdrawal_id=chain.json()["withdrawalId"], actor=merchant.owner)
    assert withdrawal.status == WithdrawalStatus.CANCELLED
    refund = api.post(url, full, format="json")
    assert refund.status_code == 200, refund.content  # the cancelled one no longer counts
    assert (
        api.post(url, {"method": "InBank", "amount": "0.00000001"}, format="json").status_code
        == 422
    )
    wallet.refresh_from_db()
    merchant.btc_account.refresh_from_db()
    assert wallet.posted_minor == 1_000_000  # refunded once, in full
    assert (merchant.btc_account.posted_minor, merchant.btc_account.held_minor) == (0, 0)
    assert Refund.objects.filter(invoice_id=invoice.id).count() == 2
    assert ledger_check() == []
