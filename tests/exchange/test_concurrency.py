"""Multi-leg movements in one transaction never deadlock: opposite exchanges and the rest.

Before accounts were locked first (one ordered statement, the audit chain head last), an
exchange BTC->KZT holding its BTC accounts and the chain head waited for the KZT
exchange account that an opposite exchange held while it waited for the head: one
was aborted by PostgreSQL's deadlock detector.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import Account, AccountKind, User
from accounts.selectors import ledger_check
from accounts.services import account_open, system_account, transfer_create
from exchange.models import QuoteDirection
from exchange.services import exchange_rate_set
from exchange.services.quotes import quote_create, quote_execute
from merchants.services.merchants import merchant_onboard
from merchants.services.payouts import merchant_convert_to_kzt, merchant_kzt_account
from tests.conftest import fund, run_threads

pytestmark = pytest.mark.django_db(transaction=True)

PAIRS = 6
BTC_START = 10_000_000
KZT_START = 10_000_000_00


def _customer(make_user: Callable[..., User]) -> tuple[User, Account, Account]:
    user = make_user()
    btc = account_open(owner=user, currency="BTC")
    kzt = account_open(owner=user, currency="KZT")
    fund(btc, BTC_START)
    fund(kzt, KZT_START)
    return user, btc, kzt


def _balance(account: Account) -> int:
    account.refresh_from_db()
    return account.posted_minor


def test_opposite_exchanges_and_mixed_movements_never_deadlock(
    make_user: Callable[..., User],
) -> None:
    exchange_rate_set(mid_tiyn_per_btc=45_000_000_00, spread_bp=100, actor=None)
    customers = [_customer(make_user) for _ in range(2 * PAIRS)]
    quotes = [
        quote_create(user=user, direction=QuoteDirection.BTC_TO_KZT if i % 2 == 0
                     else QuoteDirection.KZT_TO_BTC,
                     amount_in_minor=100_000 if i % 2 == 0 else 50_000_00)
        for i, (user, _, _) in enumerate(customers)
    ]  # fmt: skip
    merchant = merchant_onboard(name="Bazaar", owner=make_user(), actor=None)
    fund(merchant.btc_account, BTC_START)
    merchant_kzt_account(merchant=merchant, actor=merchant.owner)

    def job(n: int) -> Any:
        if n < len(quotes):  # half one way, half the other
            return quote_execute(user=customers[n][0], quote_id=quotes[n].pk)
        n -= len(quotes)
        if n < PAIRS:
            return merchant_convert_to_kzt(merchant=merchant, amount_sats=20_000,
                                           actor=merchant.owner)  # fmt: skip
        n -= PAIRS
        return transfer_create(
            debit_account_id=customers[n][1].pk,
            credit_account_id=customers[(n + 1) % len(customers)][1].pk,
            amount_minor=1_000, code="internal", initiator=customers[n][0],
        )  # fmt: skip

    results = run_threads(len(quotes) + 2 * PAIRS, job)
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []  # no deadlock aborted, nothing refused

    for i, (_user, btc, kzt) in enumerate(customers):
        quote = quotes[i]
        quote.refresh_from_db()
        assert quote.used_at is not None
        sent = 1_000 if i < PAIRS else 0
        received = 1_000 if 1 <= i <= PAIRS else 0
        if quote.direction == QuoteDirection.BTC_TO_KZT:
            assert _balance(btc) == BTC_START - quote.amount_in_minor - sent + received
            assert _balance(kzt) == KZT_START + quote.amount_out_minor
        else:
            assert _balance(btc) == BTC_START + quote.amount_out_minor - sent + received
            assert _balance(kzt) == KZT_START - quote.amount_in_minor
    assert _balance(merchant.btc_account) == BTC_START - PAIRS * 20_000
    exchange_btc = system_account(AccountKind.EXCHANGE, "BTC")
    assert exchange_btc.posted_minor != 0
    assert ledger_check() == []
