"""BTC <-> KZT exchange at the bank's quote.

Integer arithmetic only. Rates are tiyn per whole BTC. Every rounding favours
the bank: the customer receives the floor and pays the ceiling.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.models import Account, AccountKind, TransferCode
from accounts.selectors import customer_account
from accounts.services.accounts import system_account
from accounts.services.transfers import transfer_create
from audit.chain import audit_record
from core.errors import NotFound, ServiceUnavailable, ValidationFailed
from core.money import SATS_PER_BTC, Currency, check_minor
from exchange.errors import QuoteExpired, QuoteUsed
from exchange.models import ExchangeRate, Quote, QuoteDirection

BP = 10_000
SPREAD_BP_MAX = 4_999
RATE_MAX_TIYN_PER_BTC = 10**15

Rounding = Literal["down", "up"]


def _div(numerator: int, denominator: int, rounding: Rounding) -> int:
    if rounding == "down":
        return numerator // denominator
    return -(-numerator // denominator)


def kzt_for_btc(sats: int, rate_tiyn_per_btc: int, *, rounding: Rounding = "down") -> int:
    """Return the tiyn worth ``sats`` at ``rate``.

    ``down`` (default) for what a customer receives, ``up`` for what one pays.
    """
    return _div(sats * rate_tiyn_per_btc, SATS_PER_BTC, rounding)


def btc_for_kzt(tiyn: int, rate_tiyn_per_btc: int, *, rounding: Rounding = "down") -> int:
    """Return the satoshis worth ``tiyn`` at ``rate``.

    ``down`` (default) for what a customer receives; ``up`` for what a payer
    must send to cover a KZT price (a KZT-priced invoice).
    """
    if rate_tiyn_per_btc <= 0:
        raise ValueError("rate must be positive")
    return _div(tiyn * SATS_PER_BTC, rate_tiyn_per_btc, rounding)


def bid_rate(mid_tiyn_per_btc: int, spread_bp: int) -> int:
    """Return the rate at which the bank buys BTC (mid less the spread, rounded down)."""
    return (mid_tiyn_per_btc * (BP - spread_bp)) // BP


def ask_rate(mid_tiyn_per_btc: int, spread_bp: int) -> int:
    """Return the rate at which the bank sells BTC (mid plus the spread, rounded up)."""
    return -(-(mid_tiyn_per_btc * (BP + spread_bp)) // BP)


@dataclass(frozen=True)
class Conversion:
    amount_out_minor: int
    rate_tiyn_per_btc: int


def convert(
    *, direction: str, amount_in_minor: int, mid_tiyn_per_btc: int, spread_bp: int
) -> Conversion:
    """Return what the customer receives for ``amount_in_minor`` in ``direction``."""
    if direction == QuoteDirection.BTC_TO_KZT:
        rate = bid_rate(mid_tiyn_per_btc, spread_bp)
        return Conversion(kzt_for_btc(amount_in_minor, rate), rate)
    if direction == QuoteDirection.KZT_TO_BTC:
        rate = ask_rate(mid_tiyn_per_btc, spread_bp)
        return Conversion(btc_for_kzt(amount_in_minor, rate), rate)
    raise ValidationFailed("Unknown direction", fields={"direction": ["Choose a direction."]})


def exchange_rate_current() -> ExchangeRate | None:
    """Return the rate in force (the newest one), or None if staff never set one."""
    return ExchangeRate.objects.order_by("-created_at", "-id").first()


def exchange_rate_check(*, mid_tiyn_per_btc: int, spread_bp: int) -> None:
    """Raise ``ValidationFailed`` unless the mid rate and spread are within bounds."""
    errors: dict[str, list[str]] = {}
    if not 0 < mid_tiyn_per_btc <= RATE_MAX_TIYN_PER_BTC:
        errors["mid_tiyn_per_btc"] = ["Must be a positive amount of tiyn per BTC."]
    if not 0 <= spread_bp <= SPREAD_BP_MAX:
        errors["spread_bp"] = [f"Must be between 0 and {SPREAD_BP_MAX} basis points."]
    if errors:
        raise ValidationFailed("Invalid rate", fields=errors)


def exchange_rate_set(
    *, mid_tiyn_per_btc: int, spread_bp: int, actor: Actor, client_address: str | None = None
) -> ExchangeRate:
    """Set a new mid rate and spread (a new row; the old ones stay as history)."""
    exchange_rate_check(mid_tiyn_per_btc=mid_tiyn_per_btc, spread_bp=spread_bp)
    with transaction.atomic():
        before = exchange_rate_current()
        rate = ExchangeRate.objects.create(
            mid_tiyn_per_btc=mid_tiyn_per_btc, spread_bp=spread_bp, set_by=actor
        )
        audit_record(
            actor=actor,
            action="exchange_rate.set",
            obj=rate,
            data={
                "before": None
                if before is None
                else {"mid_tiyn_per_btc": before.mid_tiyn_per_btc, "spread_bp": before.spread_bp},
                "after": {"mid_tiyn_per_btc": mid_tiyn_per_btc, "spread_bp": spread_bp},
            },
            client_address=client_address,
        )
    return rate


def quote_create(*, user: Any, direction: str, amount_in_minor: int) -> Quote:
    """Offer the customer a firm conversion valid for ``EXCHANGE_QUOTE_TTL_S`` seconds."""
    if direction not in QuoteDirection.values:
        raise ValidationFailed("Unknown direction", fields={"direction": ["Choose a direction."]})
    currency_in = Currency.BTC if direction == QuoteDirection.BTC_TO_KZT else Currency.KZT
    check_minor(amount_in_minor, currency_in)
    rate = exchange_rate_current()
    if rate is None:
        raise ServiceUnavailable("Exchange is not available right now.")
    conversion = convert(
        direction=direction,
        amount_in_minor=amount_in_minor,
        mid_tiyn_per_btc=rate.mid_tiyn_per_btc,
        spread_bp=rate.spread_bp,
    )
    if conversion.amount_out_minor <= 0:
        raise ValidationFailed(
            "Amount too small", fields={"amount": ["This amount is too small to exchange."]}
        )
    return Quote.objects.create(
        user=user,
        direction=direction,
        amount_in_minor=amount_in_minor,
        amount_out_minor=conversion.amount_out_minor,
        rate_tiyn_per_btc=conversion.rate_tiyn_per_btc,
        rate=rate,
        expires_at=timezone.now() + dt.timedelta(seconds=settings.EXCHANGE_QUOTE_TTL_S),
    )


def _customer_account(user: Any, currency: str) -> Account:
    return customer_account(owner=user, currency=currency)


def quote_execute(*, user: Any, quote_id: int, client_address: str | None = None) -> Quote:
    """Execute a quote once: two transfers in one group through the exchange accounts.

    Customer -> exchange in the currency given, exchange -> customer in the
    currency received. A used or expired quote is refused, so a double submit
    moves money once.
    """
    with transaction.atomic():
        quote = Quote.objects.select_for_update().filter(pk=quote_id, user=user).first()
        if quote is None:
            raise NotFound("Quote not found")
        if quote.used_at is not None:
            raise QuoteUsed("This quote was already used.")
        if quote.expires_at <= timezone.now():
            raise QuoteExpired("This quote has expired. Please get a new one.")
        source = _customer_account(user, quote.currency_in)
        target = _customer_account(user, quote.currency_out)
        group = uuid.uuid4()
        # The trade's KZT value is its KZT leg, exactly.
        kzt_value = quote.amount_out_minor if quote.currency_in == "BTC" else quote.amount_in_minor
        for debit, credit, amount, leg in (
            (
                source,
                system_account(AccountKind.EXCHANGE, quote.currency_in),
                quote.amount_in_minor,
                "in",
            ),
            (
                system_account(AccountKind.EXCHANGE, quote.currency_out),
                target,
                quote.amount_out_minor,
                "out",
            ),
        ):
            transfer_create(
                debit_account_id=debit.pk,
                credit_account_id=credit.pk,
                amount_minor=amount,
                code=TransferCode.EXCHANGE,
                initiator=user,
                idempotency_key=f"quote:{quote.pk}:{leg}",
                memo=f"Exchange {quote.get_direction_display()} (quote {quote.pk})",
                source=quote,
                group_id=group,
                kzt_value_tiyn=kzt_value,
                client_address=client_address,
            )
        quote.used_at = timezone.now()
        quote.group_id = group
        quote.save(update_fields=["used_at", "group_id"])
    return quote
