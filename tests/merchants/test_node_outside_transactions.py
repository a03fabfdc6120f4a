"""Invoices, payouts and refunds ask the node before their transaction opens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Account, User
from custody.node import node_client
from custody.services import wallet_load_or_create
from merchants.models import Merchant
from merchants.services.invoices import invoice_create
from merchants.services.payments import invoice_pay_in_bank
from merchants.services.payouts import merchant_payout_request
from merchants.services.refunds import invoice_refund
from tests.conftest import NodeCalls, fund
from tests.custody.conftest import Chain, chain  # noqa: F401 - fixture
from tests.merchants.conftest import allow_list, owner_verified

pytestmark = [pytest.mark.node, pytest.mark.django_db(transaction=True)]


def test_invoice_refund_and_payout_call_the_node_outside_transactions(
    chain: Chain,  # noqa: F811 - the fixture imported above
    merchant: Merchant,
    make_user: Callable[..., User],
    funded_account: Callable[..., Account],
    settings: Any,
    node_calls: NodeCalls,
) -> None:
    settings.MERCHANT_INVOICE_ONCHAIN = True
    wallet_load_or_create(client=node_client(), name=str(settings.CUSTODY_HOT_WALLET))
    customer = make_user(email_verified_at=timezone.now())
    wallet = funded_account(1_000_000, owner=customer)
    refund_to, payout_to = chain.new_funder_address(), chain.new_funder_address()
    node_calls.calls.clear()

    invoice = invoice_create(merchant=merchant, amount="0.00100000", currency="BTC")
    assert invoice.destination.startswith("bcrt1")
    invoice_pay_in_bank(invoice_id=invoice.id, payer=customer, account_id=wallet.pk)
    refund = invoice_refund(merchant=merchant, invoice_id=invoice.id, method="OnChain",
                            amount_sats=50_000, address=refund_to, actor=merchant.owner)  # fmt: skip
    assert refund.withdrawal_id is not None
    fund(merchant.btc_account, 500_000)
    allow_list(merchant, payout_to)
    owner_verified(merchant)
    payout = merchant_payout_request(merchant=merchant, amount_sats=200_000, address=payout_to,
                                     actor=merchant.owner)  # fmt: skip
    assert payout.withdrawal_id is not None

    assert node_calls.methods() == ["getnewaddress", "validateaddress", "validateaddress"]
    assert node_calls.inside_transaction() == []
