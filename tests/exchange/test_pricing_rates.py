"""Fiat pricing rates (USD, EUR) obey the BTC/KZT rate's controls (issue 14: fiat currencies).

History rows never change, every set is audited, a stale rate prices nothing, and a
jump over the bound needs a second staff member: no insider, and no feed, jumps it alone.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from compliance.errors import FourEyesViolation
from compliance.models import ApprovalRequest, ApprovalStatus
from compliance.roles import COMPLIANCE_OFFICER, SUPPORT
from compliance.services import approval_approve
from compliance.services.rates import pricing_rate_change
from core.errors import PermissionDenied, ValidationFailed
from exchange.errors import RateJumpNeedsFourEyes, RateStale, RateUnavailable
from exchange.models import ExchangeRate, PricingRate, RateSource
from exchange.services import (
    exchange_rate_current,
    pricing_rate_current,
    pricing_rate_fresh,
    pricing_rate_set,
)
from tests.compliance.conftest import otp_client

pytestmark = [pytest.mark.django_db, pytest.mark.insider]

USD = 64_392_23  # cents per BTC: 64 392.23 USD


@pytest.fixture
def officers(staff: Callable[..., User]) -> tuple[User, User]:
    return staff(COMPLIANCE_OFFICER), staff(COMPLIANCE_OFFICER)


@pytest.fixture
def usd(officers: tuple[User, User]) -> PricingRate:
    return pricing_rate_set(currency="USD", minor_per_btc=USD, actor=officers[0])


def _age(rate: PricingRate, seconds: int) -> None:
    PricingRate.objects.filter(pk=rate.pk).update(
        created_at=timezone.now() - dt.timedelta(seconds=seconds)
    )


def test_a_rate_is_a_new_audited_row_per_currency(
    usd: PricingRate, officers: tuple[User, User]
) -> None:
    newer = pricing_rate_set(currency="USD", minor_per_btc=USD + 100, actor=officers[1])
    eur = pricing_rate_set(currency="EUR", minor_per_btc=59_310_05, actor=officers[1])
    assert pricing_rate_current(currency="USD") == newer
    assert pricing_rate_current(currency="EUR") == eur
    usd.refresh_from_db()
    assert usd.minor_per_btc == USD  # the old row is history, unchanged
    event = AuditEvent.objects.filter(action="pricing_rate.set").order_by("-id")[1]
    assert event.data["before"] == USD and event.data["after"] == USD + 100
    assert event.data["currency"] == "USD"
    # The BTC/KZT exchange rate is another thing: no pricing rate sets or shows it.
    assert exchange_rate_current() is None and not ExchangeRate.objects.exists()


def test_a_stale_rate_prices_nothing(usd: PricingRate) -> None:
    _age(usd, 24 * 3600 - 60)
    assert pricing_rate_fresh(currency="USD") == usd
    _age(usd, 24 * 3600 + 60)
    with pytest.raises(RateStale):
        pricing_rate_fresh(currency="USD")
    with pytest.raises(RateUnavailable):
        pricing_rate_fresh(currency="EUR")


@pytest.mark.parametrize(
    ("currency", "rate", "field"),
    [
        ("KZT", 45_000_000_00, "currency"),  # the exchange rate's, not a pricing rate
        ("BTC", 1, "currency"),
        ("GBP", 5_000_000, "currency"),  # not in PRICING_FIAT_CURRENCIES
        ("usd", USD, "currency"),
        ("USD", 0, "minor_per_btc"),
        ("USD", -1, "minor_per_btc"),
        ("USD", 10**15 + 1, "minor_per_btc"),
        ("USD", True, "minor_per_btc"),
    ],
)
def test_bad_rates_are_refused(
    officers: tuple[User, User], currency: str, rate: Any, field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        pricing_rate_set(currency=currency, minor_per_btc=rate, actor=officers[0])
    assert field in caught.value.fields
    assert not PricingRate.objects.exists()


def test_one_officer_cannot_jump_the_rate_alone(
    usd: PricingRate, officers: tuple[User, User]
) -> None:
    first, _ = officers
    with pytest.raises(RateJumpNeedsFourEyes):
        pricing_rate_set(currency="USD", minor_per_btc=USD * 2, actor=first)
    proposal = pricing_rate_change(actor=first, currency="USD", minor_per_btc=USD * 2)
    assert isinstance(proposal, ApprovalRequest)
    assert pricing_rate_current(currency="USD") == usd  # nothing changed on the proposal
    with pytest.raises(FourEyesViolation):
        approval_approve(actor=first, request_id=proposal.pk)
    # A forged approval (not the request being executed) does not open the door either.
    with pytest.raises(RateJumpNeedsFourEyes):
        pricing_rate_set(currency="USD", minor_per_btc=USD * 2, actor=first, approval=proposal)
    assert pricing_rate_current(currency="USD") == usd


def test_an_approval_sets_only_what_was_approved(
    usd: PricingRate, officers: tuple[User, User]
) -> None:
    first, second = officers
    proposal = pricing_rate_change(actor=first, currency="USD", minor_per_btc=USD * 2)
    assert isinstance(proposal, ApprovalRequest)
    approval_approve(actor=second, request_id=proposal.pk, reason="market moved")
    proposal.refresh_from_db()
    # The executed request, replayed by its approver for another value, is refused.
    with pytest.raises(RateJumpNeedsFourEyes):
        pricing_rate_set(currency="USD", minor_per_btc=USD * 4, actor=second, approval=proposal)
    pricing_rate_set(currency="EUR", minor_per_btc=59_310_05, actor=second)
    with pytest.raises(RateJumpNeedsFourEyes):  # nor for another currency's jump
        pricing_rate_set(currency="EUR", minor_per_btc=1, actor=second, approval=proposal)


def test_two_officers_set_a_jump(usd: PricingRate, officers: tuple[User, User]) -> None:
    first, second = officers
    proposal = pricing_rate_change(actor=first, currency="USD", minor_per_btc=USD * 2)
    assert isinstance(proposal, ApprovalRequest)
    done = approval_approve(actor=second, request_id=proposal.pk, reason="market moved")
    assert done.status == ApprovalStatus.EXECUTED
    current = pricing_rate_current(currency="USD")
    assert current is not None and current.minor_per_btc == USD * 2 and current.set_by == second
    assert done.result == {"pricing_rate_id": current.pk}


def test_a_small_move_needs_one(usd: PricingRate, officers: tuple[User, User]) -> None:
    moved = pricing_rate_change(actor=officers[0], currency="USD", minor_per_btc=USD + USD // 20)
    assert isinstance(moved, PricingRate)  # 5% is the bound: within it
    jumped = pricing_rate_change(
        actor=officers[0], currency="USD", minor_per_btc=moved.minor_per_btc * 106 // 100
    )
    assert isinstance(jumped, ApprovalRequest)


def test_staff_without_the_permission_cannot_set(staff: Callable[..., User]) -> None:
    with pytest.raises(PermissionDenied):
        pricing_rate_set(currency="USD", minor_per_btc=USD, actor=staff(SUPPORT))
    assert not PricingRate.objects.exists()


def test_the_admin_sets_a_rate_and_sends_a_jump_to_four_eyes(
    usd: PricingRate, officers: tuple[User, User]
) -> None:
    client: Client = otp_client(officers[0])
    url = "/admin/exchange/pricingrate/add/"
    response = client.post(url, {"currency": "EUR", "minor_per_btc": "5931005"}, follow=True)
    assert response.status_code == 200
    eur = pricing_rate_current(currency="EUR")
    assert eur is not None and eur.minor_per_btc == 59_310_05 and eur.set_by == officers[0]
    response = client.post(url, {"currency": "USD", "minor_per_btc": str(USD * 3)}, follow=True)
    assert response.status_code == 200
    assert pricing_rate_current(currency="USD") == usd
    pending = ApprovalRequest.objects.filter(action="pricing_rate_set", status="pending")
    assert pending.count() == 1
    # History is never edited or deleted from the admin.
    assert client.post(f"/admin/exchange/pricingrate/{usd.pk}/delete/").status_code == 403


def _feed(payload: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    stdin = io.StringIO(json.dumps(payload))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", stdin)
        try:
            call_command("pricing_rates_feed", "-", stdout=out, stderr=err)
        except CommandError as exc:
            err.write(f"\nERROR {exc}")
    return out.getvalue(), err.getvalue()


def test_the_feed_sets_rates_but_never_a_jump(usd: PricingRate) -> None:
    out, err = _feed({"EUR": "59310.05", "USD": "64400.00"})
    assert "EUR: set" in out and "USD: set" in out and not err
    eur = pricing_rate_current(currency="EUR")
    assert eur is not None and (eur.minor_per_btc, eur.source, eur.set_by) == (
        59_310_05,
        RateSource.FEED,
        None,
    )
    out, err = _feed({"USD": "128800.00", "EUR": "59400.00"})
    assert "USD: refused" in err and "ERROR Refused: USD" in err and "EUR: set" in out
    current = pricing_rate_current(currency="USD")
    assert current is not None and current.minor_per_btc == 64_400_00  # the jump was refused


@pytest.mark.parametrize(
    "payload",
    [{"USD": "64392.234"}, {"USD": 64392.23}, {"USD": "1e5"}, {"XYZ": "1.00"}, [], {}],
)
def test_the_feed_refuses_bad_input(payload: Any) -> None:
    _, err = _feed(payload)
    assert "ERROR" in err
    assert not PricingRate.objects.exists()
