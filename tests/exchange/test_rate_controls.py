"""The rate is a control: a stale rate prices nothing, a jump needs two people (issue: rates)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import User
from compliance.errors import FourEyesViolation
from compliance.models import ApprovalRequest, ApprovalStatus
from compliance.roles import COMPLIANCE_OFFICER
from compliance.services import approval_approve
from compliance.services.rates import exchange_rate_change
from core.errors import PermissionDenied
from exchange.errors import RateJumpNeedsFourEyes, RateStale
from exchange.models import ExchangeRate, Quote
from exchange.rates import kzt_value_tiyn
from exchange.services import exchange_rate_current, exchange_rate_set, quote_create
from merchants.errors import QuoteUnavailable
from merchants.services.quotes import sats_for_tiyn
from tests.compliance.conftest import otp_client

pytestmark = [pytest.mark.django_db, pytest.mark.insider]

MID = 45_000_000_00


@pytest.fixture
def officers(staff: Callable[..., User]) -> tuple[User, User]:
    return staff(COMPLIANCE_OFFICER), staff(COMPLIANCE_OFFICER)


@pytest.fixture
def rate(officers: tuple[User, User]) -> ExchangeRate:
    return exchange_rate_set(mid_tiyn_per_btc=MID, spread_bp=100, actor=officers[0])


def _age(rate: ExchangeRate, seconds: int) -> None:
    ExchangeRate.objects.filter(pk=rate.pk).update(
        created_at=timezone.now() - dt.timedelta(seconds=seconds)
    )


def test_a_stale_rate_prices_nothing_through_any_door(
    rate: ExchangeRate, make_user: Callable[..., User]
) -> None:
    _age(rate, 24 * 3600 + 60)
    customer = make_user()
    with pytest.raises(RateStale):  # the customer's exchange (web banking's service)
        quote_create(user=customer, direction="btc_kzt", amount_in_minor=100_000)
    with pytest.raises(QuoteUnavailable):  # KZT-priced merchant invoices (API)
        sats_for_tiyn(1_000_00)
    with pytest.raises(RateStale):  # limit valuations
        kzt_value_tiyn(amount_minor=100_000, currency="BTC")
    assert not Quote.objects.exists()


def test_a_fresh_rate_prices(rate: ExchangeRate, make_user: Callable[..., User]) -> None:
    _age(rate, 60)
    quote = quote_create(user=make_user(), direction="btc_kzt", amount_in_minor=100_000)
    assert quote.rate_id == rate.pk


def test_one_officer_cannot_jump_the_rate_alone(
    rate: ExchangeRate, officers: tuple[User, User]
) -> None:
    first, _ = officers
    with pytest.raises(RateJumpNeedsFourEyes):
        exchange_rate_set(mid_tiyn_per_btc=MID * 2, spread_bp=100, actor=first)
    proposal = exchange_rate_change(actor=first, mid_tiyn_per_btc=MID * 2, spread_bp=100)
    assert isinstance(proposal, ApprovalRequest)
    assert exchange_rate_current() == rate  # nothing changed on the proposal
    with pytest.raises(FourEyesViolation):
        approval_approve(actor=first, request_id=proposal.pk)
    assert exchange_rate_current() == rate
    # A forged approval (not the request being executed) does not open the door either.
    with pytest.raises(RateJumpNeedsFourEyes):
        exchange_rate_set(mid_tiyn_per_btc=MID * 2, spread_bp=100, actor=first, approval=proposal)


def test_two_officers_set_a_jump(rate: ExchangeRate, officers: tuple[User, User]) -> None:
    first, second = officers
    proposal = exchange_rate_change(actor=first, mid_tiyn_per_btc=MID * 2, spread_bp=100)
    assert isinstance(proposal, ApprovalRequest)
    done = approval_approve(actor=second, request_id=proposal.pk, reason="market moved")
    assert done.status == ApprovalStatus.EXECUTED
    current = exchange_rate_current()
    assert current is not None and current.mid_tiyn_per_btc == MID * 2
    assert current.set_by == second
    call_command("ledger_check")


def test_a_small_move_needs_one(rate: ExchangeRate, officers: tuple[User, User]) -> None:
    moved = exchange_rate_change(
        actor=officers[0], mid_tiyn_per_btc=MID + MID // 100, spread_bp=100
    )
    assert isinstance(moved, ExchangeRate)


def test_the_admin_sends_a_jump_to_four_eyes(
    rate: ExchangeRate, officers: tuple[User, User]
) -> None:
    client: Client = otp_client(officers[0])
    response = client.post(
        "/admin/exchange/exchangerate/add/",
        {"mid_tiyn_per_btc": str(MID * 3), "spread_bp": "100"},
        follow=True,
    )
    assert response.status_code == 200
    assert exchange_rate_current() == rate
    assert ApprovalRequest.objects.filter(action="exchange_rate_set", status="pending").count() == 1


def test_staff_without_the_permission_cannot_set(
    rate: ExchangeRate, staff: Callable[..., User]
) -> None:
    with pytest.raises(PermissionDenied):
        exchange_rate_set(mid_tiyn_per_btc=MID, spread_bp=100, actor=staff())
