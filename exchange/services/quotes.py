"""Quotes: a firm BTC/KZT offer to one customer, executed once as two ledger transfers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, AccountKind, TransferCode
from accounts.selectors import customer_account
from accounts.services.accounts import system_account
from accounts.services.posting import accounts_lock
from accounts.services.transfers import transfer_create
from core.errors import NotFound, ValidationFailed
from core.money import Currency, check_minor
from exchange.errors import QuoteExpired, QuoteUsed
from exchange.models import Quote, QuoteDirection
from exchange.services.conversion import convert
from exchange.services.rates import exchange_rate_fresh


def quote_create(*, user: Any, direction: str, amount_in_minor: int) -> Quote:
    """Offer the customer a firm conversion valid for ``EXCHANGE_QUOTE_TTL_S`` seconds."""
    if direction not in QuoteDirection.values:
        raise ValidationFailed("Unknown direction", fields={"direction": ["Choose a direction."]})
    currency_in = Currency.BTC if direction == QuoteDirection.BTC_TO_KZT else Currency.KZT
    check_minor(amount_in_minor, currency_in)
    rate = exchange_rate_fresh()
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
        exchange_in = system_account(AccountKind.EXCHANGE, quote.currency_in)
        exchange_out = system_account(AccountKind.EXCHANGE, quote.currency_out)
        # All four accounts in one ordered lock, before the audit chain head: an exchange
        # the other way round waits here instead of deadlocking.
        accounts_lock([source.pk, target.pk, exchange_in.pk, exchange_out.pk])
        group = uuid.uuid4()
        # The trade's KZT value is its KZT leg, exactly.
        kzt_value = quote.amount_out_minor if quote.currency_in == "BTC" else quote.amount_in_minor
        for debit, credit, amount, leg in (
            (source, exchange_in, quote.amount_in_minor, "in"),
            (exchange_out, target, quote.amount_out_minor, "out"),
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
