"""Custody's withdrawal request runs the compliance rules (compliance.services.withdrawal_screen)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from accounts.models import Account, Hold
from compliance.models import Case, RuleConfig, SanctionedAddress, ScreenedMovement
from exchange.models import ExchangeRate
from tests.compliance.conftest import regtest_address, request_withdrawal

pytestmark = pytest.mark.django_db

RATE = 40_000_000_00  # tiyn per BTC
TRAVEL_THRESHOLD = 50_000_000  # 500,000 KZT


@pytest.fixture(autouse=True)
def _config() -> None:
    ExchangeRate.objects.create(mid_tiyn_per_btc=RATE, spread_bp=50)
    RuleConfig.objects.filter(name="travel_rule").update(
        params={"threshold_tiyn": TRAVEL_THRESHOLD}
    )
    RuleConfig.objects.filter(name="first_address").update(enabled=False)


def test_withdrawal_to_sanctioned_address_is_blocked(
    customer_btc: Callable[..., Account],
) -> None:
    bad = regtest_address(4242)
    SanctionedAddress.objects.create(address=bad, source="OFAC SDN")
    account = customer_btc()
    withdrawal = request_withdrawal(account, 10_000, bad)
    assert withdrawal.status == "rejected"
    assert Hold.objects.get(withdrawal=withdrawal).status == "voided"
    case = Case.objects.get(subject_type="custody.withdrawal", subject_id=str(withdrawal.pk))
    assert case.kind == "sanctions"
    assert [f["rule"] for f in case.findings] == ["sanctioned_address"]
    account.refresh_from_db()
    assert account.held_minor == 0


def test_travel_rule_data_required_above_threshold(customer_btc: Callable[..., Account]) -> None:
    account = customer_btc()
    sats_at_threshold = TRAVEL_THRESHOLD * 100_000_000 // RATE
    below = request_withdrawal(account, sats_at_threshold - 3, regtest_address(1))
    assert below.status == "approved"
    missing = request_withdrawal(account, sats_at_threshold, regtest_address(2))
    assert missing.status == "pending_review"
    assert [f["rule"] for f in missing.screening["findings"]] == ["travel_rule"]
    given = request_withdrawal(
        account,
        sats_at_threshold + 1,
        regtest_address(3),
        travel_rule={"beneficiary_name": "Aigerim Sadykova", "wallet": "own"},
    )
    assert given.status == "approved"
    stored = ScreenedMovement.objects.get(subject_id=str(given.pk))
    assert stored.amount_kzt_tiyn == (sats_at_threshold + 1) * RATE // 100_000_000


def test_large_amount_rule_sends_to_review(customer_btc: Callable[..., Account]) -> None:
    RuleConfig.objects.filter(name="large_amount").update(params={"threshold_tiyn": 40_000})
    account = customer_btc()
    assert request_withdrawal(account, 999, regtest_address(7)).status == "approved"
    flagged = request_withdrawal(account, 1_000, regtest_address(8))  # 1,000 sats = 400 KZT
    assert flagged.status == "pending_review"
    assert "large_amount" in [f["rule"] for f in flagged.screening["findings"]]
