"""Exchange: integer arithmetic in the bank's favour, quotes that work once and expire."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import given
from hypothesis import strategies as st

from accounts.errors import InsufficientFunds
from accounts.models import AccountKind, Transfer, User
from accounts.selectors import ledger_check
from accounts.services.accounts import system_account
from audit.models import AuditEvent
from core.errors import NotFound, ServiceUnavailable, ValidationFailed
from exchange.models import ExchangeRate, Quote
from exchange.services import (
    QuoteExpired,
    QuoteUsed,
    ask_rate,
    bid_rate,
    btc_for_kzt,
    convert,
    exchange_rate_current,
    exchange_rate_set,
    kzt_for_btc,
    quote_create,
    quote_execute,
)
from tests.banking.conftest import account_of
from tests.conftest import fund

SATS = st.integers(min_value=1, max_value=21_000_000 * 100_000_000)
TIYN = st.integers(min_value=1, max_value=10**15)
RATES = st.integers(min_value=1, max_value=10**13)
SPREADS = st.integers(min_value=0, max_value=4_999)


def test_known_values() -> None:
    assert kzt_for_btc(100_000_000, 45_000_000_00) == 45_000_000_00
    assert kzt_for_btc(1, 45_000_000_00) == 45  # one satoshi is worth 45 tiyn
    assert btc_for_kzt(45_000_000_00, 45_000_000_00) == 100_000_000
    assert btc_for_kzt(1, 45_000_000_00) == 0
    assert btc_for_kzt(1, 45_000_000_00, rounding="up") == 1
    assert bid_rate(10_000, 100) == 9_900
    assert ask_rate(10_000, 100) == 10_100
    assert ask_rate(10_001, 1) == 10_003  # 10002.0001 rounds up


@given(SATS, RATES)
def test_kzt_for_btc_down_never_exceeds_exact_value(sats: int, rate: int) -> None:
    down = kzt_for_btc(sats, rate)
    up = kzt_for_btc(sats, rate, rounding="up")
    assert down * 100_000_000 <= sats * rate < (down + 1) * 100_000_000
    assert up - down in (0, 1)
    assert up * 100_000_000 >= sats * rate


@given(TIYN, RATES)
def test_btc_for_kzt_rounds_both_ways_exactly(tiyn: int, rate: int) -> None:
    down = btc_for_kzt(tiyn, rate)
    up = btc_for_kzt(tiyn, rate, rounding="up")
    assert down * rate <= tiyn * 100_000_000 < (down + 1) * rate
    assert up * rate >= tiyn * 100_000_000
    assert up - down in (0, 1)
    assert isinstance(down, int) and isinstance(up, int)


@given(st.integers(min_value=1, max_value=10**13), SPREADS)
def test_bid_never_above_mid_ask_never_below(mid: int, spread: int) -> None:
    assert bid_rate(mid, spread) <= mid <= ask_rate(mid, spread)


@given(SATS, st.integers(min_value=1_000_000_00, max_value=10**12), SPREADS)
def test_round_trip_never_profits_the_customer(sats: int, mid: int, spread: int) -> None:
    """Selling BTC for KZT and buying back never returns more BTC than sold."""
    kzt = convert(direction="btc_kzt", amount_in_minor=sats, mid_tiyn_per_btc=mid, spread_bp=spread)
    back = convert(
        direction="kzt_btc",
        amount_in_minor=kzt.amount_out_minor,
        mid_tiyn_per_btc=mid,
        spread_bp=spread,
    )
    assert back.amount_out_minor <= sats


def test_rate_changes_are_new_rows_and_audited(rate: Any) -> None:
    staff = rate.set_by
    newer = exchange_rate_set(mid_tiyn_per_btc=46_000_000_00, spread_bp=50, actor=staff)
    assert exchange_rate_current() == newer
    events = AuditEvent.objects.filter(action="exchange_rate.set").order_by("seq")
    assert events.count() == 2
    assert events.last().data["before"]["mid_tiyn_per_btc"] == 45_000_000_00  # type: ignore[union-attr]


@pytest.mark.parametrize(("mid", "spread"), [(0, 10), (-5, 10), (100, 5000), (100, -1)])
def test_invalid_rates_are_refused(db: None, mid: int, spread: int) -> None:
    with pytest.raises(ValidationFailed):
        exchange_rate_set(mid_tiyn_per_btc=mid, spread_bp=spread, actor=None)


def test_no_rate_no_quote(customer: User) -> None:
    with pytest.raises(ServiceUnavailable):
        quote_create(user=customer, direction="btc_kzt", amount_in_minor=1000)


def test_quote_execute_moves_both_legs_in_one_group(customer: User, rate: Any) -> None:
    btc, kzt = account_of(customer, "BTC"), account_of(customer, "KZT")
    fund(btc, 10_000_000)  # 0.1 BTC
    quote = quote_create(user=customer, direction="btc_kzt", amount_in_minor=10_000_000)
    # bid = 45 000 000.00 * 0.99 = 44 550 000.00 KZT; 0.1 BTC -> 4 455 000.00 KZT
    assert quote.rate_tiyn_per_btc == 44_550_000_00
    assert quote.amount_out_minor == 4_455_000_00
    quote_execute(user=customer, quote_id=quote.pk)
    btc.refresh_from_db()
    kzt.refresh_from_db()
    assert btc.posted_minor == 0
    assert kzt.posted_minor == 4_455_000_00
    legs = Transfer.objects.filter(code="exchange", initiator=customer)
    assert legs.count() == 2
    assert len({t.group_id for t in legs}) == 1
    ex_btc = system_account(AccountKind.EXCHANGE, "BTC")
    ex_kzt = system_account(AccountKind.EXCHANGE, "KZT")
    assert ex_btc.posted_minor == 10_000_000
    assert ex_kzt.posted_minor == -4_455_000_00
    assert ledger_check() == []


def test_kzt_to_btc(customer: User, rate: Any) -> None:
    kzt = account_of(customer, "KZT")
    fund(kzt, 1_000_000_00)
    quote = quote_create(user=customer, direction="kzt_btc", amount_in_minor=1_000_000_00)
    # ask = 45 450 000.00; 1 000 000.00 KZT -> floor(10^8 * 10^8 / 4 545 000 000) sats
    assert quote.amount_out_minor == (1_000_000_00 * 100_000_000) // 45_450_000_00
    quote_execute(user=customer, quote_id=quote.pk)
    assert account_of(customer, "BTC").posted_minor == quote.amount_out_minor
    assert account_of(customer, "KZT").posted_minor == 0


def test_a_quote_is_used_once(customer: User, rate: Any) -> None:
    fund(account_of(customer, "BTC"), 20_000_000)
    quote = quote_create(user=customer, direction="btc_kzt", amount_in_minor=10_000_000)
    quote_execute(user=customer, quote_id=quote.pk)
    with pytest.raises(QuoteUsed):
        quote_execute(user=customer, quote_id=quote.pk)
    assert account_of(customer, "BTC").posted_minor == 10_000_000
    assert Transfer.objects.filter(code="exchange").count() == 2


def test_an_expired_quote_is_refused(customer: User, rate: Any) -> None:
    fund(account_of(customer, "BTC"), 20_000_000)
    quote = quote_create(user=customer, direction="btc_kzt", amount_in_minor=10_000_000)
    Quote.objects.filter(pk=quote.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(QuoteExpired):
        quote_execute(user=customer, quote_id=quote.pk)
    assert Transfer.objects.filter(code="exchange").count() == 0


def test_another_customers_quote_is_not_found(
    customer: User, make_customer: Any, rate: Any
) -> None:
    other = make_customer()
    fund(account_of(customer, "BTC"), 20_000_000)
    quote = quote_create(user=customer, direction="btc_kzt", amount_in_minor=10_000_000)
    with pytest.raises(NotFound):
        quote_execute(user=other, quote_id=quote.pk)


def test_insufficient_funds_leaves_the_quote_unused(customer: User, rate: Any) -> None:
    quote = quote_create(user=customer, direction="btc_kzt", amount_in_minor=10_000_000)
    with pytest.raises(InsufficientFunds) as exc:
        quote_execute(user=customer, quote_id=quote.pk)
    assert exc.value.code == "insufficient_funds"
    quote.refresh_from_db()
    assert quote.used_at is None
    assert ledger_check() == []


def test_dust_is_refused(customer: User, rate: Any) -> None:
    with pytest.raises(ValidationFailed):
        quote_create(user=customer, direction="kzt_btc", amount_in_minor=1)


def test_staff_set_the_rate_in_the_admin(db: None) -> None:
    staff = User.objects.create_superuser(email="treasury@alatau.kz", password="Long-Enough-Pass-1")
    client = Client()
    client.force_login(staff)
    device = TOTPDevice.objects.create(user=staff, name="admin", confirmed=True)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    response = client.post(
        "/admin/exchange/exchangerate/add/", {"mid_tiyn_per_btc": "4600000000", "spread_bp": "5000"}
    )
    assert response.status_code == 200  # spread out of bounds: shown on the form
    assert ExchangeRate.objects.count() == 0
    response = client.post(
        "/admin/exchange/exchangerate/add/", {"mid_tiyn_per_btc": "4600000000", "spread_bp": "75"}
    )
    assert response.status_code == 302, response.content[:2000]
    rate = exchange_rate_current()
    assert rate is not None and rate.mid_tiyn_per_btc == 46_000_000_00 and rate.set_by == staff
    assert AuditEvent.objects.filter(action="exchange_rate.set", actor_id=staff.pk).count() == 1
    # Old rates cannot be edited or deleted.
    page = client.get(f"/admin/exchange/exchangerate/{rate.pk}/change/")
    assert b'name="mid_tiyn_per_btc"' not in page.content
    assert (
        client.post(f"/admin/exchange/exchangerate/{rate.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )


@pytest.mark.django_db(transaction=True)
def test_one_quote_from_many_threads_executes_once(customer: User, rate: Any) -> None:
    from exchange.errors import QuoteUsed
    from tests.conftest import run_threads

    btc, kzt = account_of(customer, "BTC"), account_of(customer, "KZT")
    fund(btc, 10_000_000)
    quote = quote_create(user=customer, direction="btc_kzt", amount_in_minor=10_000_000)

    def execute(_: int) -> object:
        return quote_execute(user=customer, quote_id=quote.pk)

    results = run_threads(10, execute)
    done = [r for r in results if isinstance(r, Quote)]
    refused = [r for r in results if not isinstance(r, Quote)]
    assert len(done) == 1, results
    assert all(isinstance(r, QuoteUsed) for r in refused), refused
    assert Transfer.objects.filter(code="exchange", initiator=customer).count() == 2
    btc.refresh_from_db()
    kzt.refresh_from_db()
    assert (btc.posted_minor, kzt.posted_minor) == (0, 4_455_000_00)
    assert ledger_check() == []
