"""Two rate changes at once cannot each pass the jump bound against the same old rate."""

from __future__ import annotations

from typing import Any

import pytest

from exchange.errors import RateJumpNeedsFourEyes
from exchange.models import PricingRate
from exchange.services import pricing_rate_set
from tests.conftest import run_threads

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.insider]

OLD = 100_000_00


def test_two_moves_within_the_bound_cannot_add_up_to_a_jump() -> None:
    pricing_rate_set(currency="USD", minor_per_btc=OLD, actor=None)
    # +4% and -4% are each within the 5% bound of the old rate, not of each other.
    moves = [OLD * 104 // 100, OLD * 96 // 100]

    def move(i: int) -> Any:
        return pricing_rate_set(currency="USD", minor_per_btc=moves[i], actor=None)

    results = run_threads(2, move)
    refused = [r for r in results if isinstance(r, RateJumpNeedsFourEyes)]
    made = [r for r in results if isinstance(r, PricingRate)]
    assert (len(made), len(refused)) == (1, 1), results
    assert PricingRate.objects.filter(currency="USD").count() == 2
