"""Tier limits in KZT, the KZT value of BTC at the movement's time, and the travel rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Account, Identity, User
from accounts.services import transfer_create
from compliance.errors import LimitExceeded, TravelRuleMissing
from compliance.models import RuleConfig, TierLimit
from compliance.services import limits_check, travel_rule_required, travel_rule_validate
from core.errors import ValidationFailed
from exchange.models import ExchangeRate
from exchange.rates import kzt_value_tiyn

pytestmark = pytest.mark.django_db


def set_limits(tier: int, kind: str, per_tx: int, daily: int, monthly: int) -> None:
    TierLimit.objects.update_or_create(
        tier=tier,
        kind=kind,
        defaults={"per_transaction_tiyn": per_tx, "daily_tiyn": daily, "monthly_tiyn": monthly},
    )


@pytest.fixture
def tier1(make_user: Callable[..., User]) -> User:
    user = make_user()
    Identity.objects.create(user=user, status="approved", tier=1)
    return user


def test_per_transaction_edge(tier1: User) -> None:
    set_limits(1, "withdrawal", 1_000, 10_000, 100_000)
    limits_check(user=tier1, kind="withdrawal", amount_kzt_tiyn=1_000)
    with pytest.raises(LimitExceeded) as caught:
        limits_check(user=tier1, kind="withdrawal", amount_kzt_tiyn=1_001)
    assert caught.value.code == "limit_exceeded"


def test_unverified_customer_cannot_withdraw(make_user: Callable[..., User]) -> None:
    user = make_user()
    with pytest.raises(LimitExceeded):
        limits_check(user=user, kind="withdrawal", amount_kzt_tiyn=1)
    limits_check(user=user, kind="transfer", amount_kzt_tiyn=1)


def test_daily_limit_counts_earlier_transfers(
    tier1: User, funded_account: Callable[..., Account]
) -> None:
    set_limits(1, "transfer", 5_000, 8_000, 100_000)
    mine = funded_account(100_000, "KZT", owner=tier1)
    other = funded_account(0, "KZT")
    transfer_create(
        debit_account_id=mine.pk,
        credit_account_id=other.pk,
        amount_minor=5_000,
        code="internal",
        initiator=tier1,
        kzt_value_tiyn=5_000,
    )
    limits_check(user=tier1, kind="transfer", amount_kzt_tiyn=3_000)  # 8,000 in the day: at limit
    with pytest.raises(LimitExceeded, match="daily"):
        limits_check(user=tier1, kind="transfer", amount_kzt_tiyn=3_001)
    # Withdrawals have their own limits.
    set_limits(1, "withdrawal", 5_000, 8_000, 100_000)
    limits_check(user=tier1, kind="withdrawal", amount_kzt_tiyn=5_000)


def test_kzt_value_uses_the_rate_of_the_time() -> None:
    ExchangeRate.objects.create(mid_tiyn_per_btc=40_000_000_00, spread_bp=50)
    before_change = timezone.now()
    later = ExchangeRate.objects.create(mid_tiyn_per_btc=50_000_000_00, spread_bp=50)
    ExchangeRate.objects.filter(pk=later.pk).update(
        created_at=timezone.now() + timedelta(seconds=1)
    )
    assert (
        kzt_value_tiyn(amount_minor=100_000_000, currency="BTC", at=before_change) == 40_000_000_00
    )
    assert kzt_value_tiyn(amount_minor=50_000_000, currency="BTC") == 25_000_000_00
    assert kzt_value_tiyn(amount_minor=123, currency="KZT") == 123


def test_travel_rule_required_at_threshold_only() -> None:
    RuleConfig.objects.filter(name="travel_rule").update(params={"threshold_tiyn": 50_000_000})
    assert travel_rule_required(50_000_000)
    assert not travel_rule_required(49_999_999)


def test_travel_rule_validate() -> None:
    assert travel_rule_validate({"beneficiary_name": " Aigerim Sadykova ", "wallet": "own"}) == {
        "beneficiary_name": "Aigerim Sadykova",
        "wallet": "own",
    }
    assert (
        travel_rule_validate(
            {"beneficiary_name": "Nurlan B", "wallet": "provider", "provider_name": "Kraken"}
        )["provider_name"]
        == "Kraken"
    )
    with pytest.raises(TravelRuleMissing) as caught:
        travel_rule_validate({"wallet": "own"})
    assert "beneficiary_name" in caught.value.fields
    with pytest.raises(TravelRuleMissing):
        travel_rule_validate(None)
    with pytest.raises(ValidationFailed) as incomplete:
        travel_rule_validate({"beneficiary_name": "Nurlan B", "wallet": "provider"})
    assert "provider_name" in incomplete.value.fields
    with pytest.raises(TravelRuleMissing):
        travel_rule_validate({"beneficiary_name": "Nurlan B", "wallet": "elsewhere"})


def test_open_withdrawal_holds_count(tier1: User, funded_account: Callable[..., Account]) -> None:
    from tests.compliance.conftest import regtest_address, request_withdrawal

    ExchangeRate.objects.create(mid_tiyn_per_btc=100_000_000, spread_bp=50)  # 1 sat = 1 tiyn
    set_limits(1, "withdrawal", 10_000, 8_000, 100_000)
    account = funded_account(100_000, owner=tier1)
    withdrawal = request_withdrawal(account, 5_000, regtest_address(77))  # hold: 5,000 + fee
    held = withdrawal.amount_sats + withdrawal.fee_sats
    limits_check(user=tier1, kind="withdrawal", amount_kzt_tiyn=8_000 - held)
    with pytest.raises(LimitExceeded):
        limits_check(user=tier1, kind="withdrawal", amount_kzt_tiyn=8_000 - held + 1)
    # The withdrawal's own hold is left out when it is checked after the hold exists.
    limits_check(
        user=tier1, kind="withdrawal", amount_kzt_tiyn=8_000, exclude_hold_id=withdrawal.hold_id
    )
