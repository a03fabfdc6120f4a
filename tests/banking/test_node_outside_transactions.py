"""A customer's withdrawal asks the node about the address before any transaction opens."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Identity, User
from banking.services.withdrawals import customer_withdrawal_request
from custody.models import WithdrawalAddress
from tests.banking.conftest import account_of, enable_2fa, otp_code
from tests.conftest import NodeCalls, fund

pytestmark = [pytest.mark.node, pytest.mark.django_db(transaction=True)]

ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


def test_customer_withdrawal_calls_the_node_outside_transactions(
    bitcoind: str, customer: User, node_calls: NodeCalls
) -> None:
    enable_2fa(customer)
    Identity.objects.filter(user=customer).update(status="approved", tier=1)
    saved = WithdrawalAddress.objects.create(
        user=customer, label="Cold card", address=ADDRESS,
        usable_from=timezone.now() - dt.timedelta(seconds=1),
    )  # fmt: skip
    fund(account_of(customer, "BTC"), 1_000_000)
    withdrawal = customer_withdrawal_request(
        user=customer, address_id=saved.pk, amount_sats=500_000, idempotency_key="k-1",
        otp_code=otp_code(customer),
    )  # fmt: skip
    assert withdrawal.address == ADDRESS
    assert node_calls.calls == [("validateaddress", False)]
