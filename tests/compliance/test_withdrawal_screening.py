"""Compliance rules applied to custody withdrawals: sanctions block, travel rule, KZT value."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from typing import Any

import pytest

from accounts.models import Account
from compliance.models import RuleConfig, SanctionedAddress, ScreenedMovement
from compliance.services import address_is_sanctioned, sanctioned_among, withdrawal_screen
from custody.models import Withdrawal
from exchange.models import ExchangeRate
from tests.compliance.conftest import regtest_address

pytestmark = pytest.mark.django_db

_keys = count(1)
RATE = 40_000_000_00  # tiyn per BTC: 1 sat = 0.4 tiyn
TRAVEL_THRESHOLD = 50_000_000  # 500,000 KZT = 125,000,000 sats at RATE


@pytest.fixture(autouse=True)
def _rate() -> None:
    ExchangeRate.objects.create(mid_tiyn_per_btc=RATE, spread_bp=50)
    RuleConfig.objects.filter(name="travel_rule").update(
        params={"threshold_tiyn": TRAVEL_THRESHOLD}
    )
    # Only the rules under test here.
    RuleConfig.objects.filter(name__in=["large_amount", "first_address", "velocity"]).update(
        enabled=False
    )


def unscreened(account: Account, amount_sats: int, address: str, **extra: Any) -> Withdrawal:
    """A withdrawal row as custody creates it, before screening."""
    assert account.owner is not None
    return Withdrawal.objects.create(
        account=account, address=address, amount_sats=amount_sats, fee_sats=1_000,
        requested_by=account.owner, idempotency_key=f"k{next(_keys)}", request_hash="x",
        **extra,
    )  # fmt: skip


def test_sanctioned_address_is_blocked(funded_account: Callable[..., Account]) -> None:
    bad = regtest_address(13)
    SanctionedAddress.objects.create(address=bad, source="test")
    result = withdrawal_screen(unscreened(funded_account(10**8), 10_000, bad))
    assert result.decision == "block"
    assert result.findings[0]["rule"] == "sanctioned_address"
    assert address_is_sanctioned(bad) and not address_is_sanctioned(regtest_address(14))
    # A deposit's input addresses, checked in one go by custody's scanner.
    assert sanctioned_among([regtest_address(14), bad.upper(), ""]) == [bad.upper()]


def test_kzt_value_is_stored_with_the_movement(funded_account: Callable[..., Account]) -> None:
    withdrawal = unscreened(funded_account(10**8), 1_000_000, regtest_address(1))
    assert withdrawal_screen(withdrawal).decision == "allow"
    stored = ScreenedMovement.objects.get(subject_id=str(withdrawal.pk))
    assert stored.amount_kzt_tiyn == 1_000_000 * RATE // 100_000_000


def test_travel_rule_needed_at_threshold_only(funded_account: Callable[..., Account]) -> None:
    account = funded_account(10**9)
    at_threshold = TRAVEL_THRESHOLD * 100_000_000 // RATE  # sats worth exactly the threshold
    below = unscreened(account, at_threshold - 3, regtest_address(2))
    assert withdrawal_screen(below).decision == "allow"
    missing = unscreened(account, at_threshold, regtest_address(3))
    result = withdrawal_screen(missing)
    assert result.decision == "review"
    assert [f["rule"] for f in result.findings] == ["travel_rule"]
    given = unscreened(account, at_threshold, regtest_address(4), travel_rule={
        "beneficiary_name": "Aigerim Sadykova", "wallet": "provider", "provider_name": "Binance",
    })  # fmt: skip
    assert withdrawal_screen(given).decision == "allow"


def test_screening_twice_returns_the_first_outcome(
    funded_account: Callable[..., Account],
) -> None:
    address = regtest_address(5)
    withdrawal = unscreened(funded_account(10**8), 10_000, address)
    first = withdrawal_screen(withdrawal)
    SanctionedAddress.objects.create(address=address)
    assert withdrawal_screen(withdrawal) == first


def test_screening_query_count_is_bounded(
    funded_account: Callable[..., Account], django_assert_max_num_queries: Any
) -> None:
    """Screening runs inside every withdrawal request: a fixed number of queries."""
    RuleConfig.objects.update(enabled=True)
    account = funded_account(10**8)
    for n in range(3):
        withdrawal_screen(unscreened(account, 10_000, regtest_address(100 + n)))
    withdrawal = unscreened(account, 10_000, regtest_address(200))
    with django_assert_max_num_queries(15):
        withdrawal_screen(withdrawal)
