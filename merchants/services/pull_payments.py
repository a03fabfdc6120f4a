"""Pull payments (Greenfield refunds and general ones) and claims on them (payouts).

Creating a pull payment or claiming it moves no money. Approval does
(``payout_states``): it starts a withdrawal from the merchant's BTC account through
custody (screening, review and limits as for any payout), so the bank's controls hold
whichever door asked.
An invoice's refunds (instant ones and pull payments together) never exceed what it
received; each service locks the row it counts against (invoice, pull payment, payout).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.chain import audit_record
from core.errors import InvariantViolation, NotFound, ServiceUnavailable, ValidationFailed
from core.money import format_amount, parse_amount
from custody.addresses import address_parse
from custody.errors import AddressInvalid
from custody.models import Withdrawal, WithdrawalStatus
from exchange.services import btc_for_kzt, exchange_rate_current, pricing_rate_fresh
from merchants.errors import (
    ClaimOverdraft,
    DuplicateDestination,
    MerchantErrorCode,
    NotRefundable,
    PayoutMethodNotSupported,
    PullPaymentArchived,
    PullPaymentExpired,
    PullPaymentNotStarted,
    QuoteUnavailable,
)
from merchants.ids import random_id
from merchants.models import (
    Invoice,
    InvoiceStatus,
    Merchant,
    PayoutState,
    PullPayment,
    PullPaymentPayout,
    WebhookEvent,
)
from merchants.services.invoices import invoice_lock
from merchants.services.payouts import payout_event, payout_travel_rule_checked

REFUND_VARIANTS = ("RateThen", "CurrentRate", "OverpaidAmount", "Fiat", "Custom")
REFUNDABLE = (InvoiceStatus.SETTLED, InvoiceStatus.INVALID, InvoiceStatus.EXPIRED)
PAYOUT_METHOD = "BTC-CHAIN"
# ``BTC`` is the older name of on-chain bitcoin in Greenfield clients.
PAYOUT_METHODS = (PAYOUT_METHOD, "BTC")
PULL_AMOUNT_MAX_SATS = 21_000_000 * 100_000_000


class PullPaymentNotFound(NotFound):
    """The pull payment does not exist."""

    code = MerchantErrorCode.PULLPAYMENT_NOT_FOUND


def invoice_refund_reserved_sats(invoice: Invoice) -> int:
    """What an invoice has already given back or promised: instant refunds + pull payments.

    A live pull payment reserves its whole amount; an archived one what its
    payouts took (those not cancelled).
    """
    # An on-chain refund whose withdrawal was rejected, cancelled or failed returned its
    # hold to the merchant: it frees the cap again.
    undone = Withdrawal.objects.filter(
        pk__in=invoice.refunds.exclude(withdrawal_id=None).values("withdrawal_id"),
        status__in=(WithdrawalStatus.REJECTED, WithdrawalStatus.CANCELLED, WithdrawalStatus.FAILED),
    ).values("pk")
    counted = invoice.refunds.exclude(withdrawal_id__in=undone)
    instant = counted.aggregate(total=Sum("amount_sats"))["total"] or 0
    live = invoice.pull_payments.filter(archived=False).aggregate(t=Sum("amount_sats"))["t"] or 0
    spent = (
        PullPaymentPayout.objects.filter(pull_payment__invoice=invoice, pull_payment__archived=True)
        .exclude(state=PayoutState.CANCELLED)
        .aggregate(t=Sum("amount_sats"))["t"]
        or 0
    )
    return int(instant) + int(live) + int(spent)


def _percentage(text: Any) -> Decimal:
    try:
        value = Decimal(str(text if text not in (None, "") else "0"))
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or not 0 <= value <= 100:
        raise ValidationFailed(
            "Bad percentage", fields={"subtractPercentage": ["A percentage from 0 to 100."]}
        )
    return value


def _current_sats_for_tiyn(tiyn: int) -> int:
    rate = exchange_rate_current()
    if rate is None or rate.mid_tiyn_per_btc <= 0:
        raise QuoteUnavailable("No BTC/KZT rate is set; refund at the rate then.")
    return btc_for_kzt(tiyn, int(rate.mid_tiyn_per_btc), rounding="down")


def _current_sats_for_fiat(minor: int, currency: str) -> int:
    try:
        rate = pricing_rate_fresh(currency=currency)
    except ServiceUnavailable as exc:
        raise QuoteUnavailable(f"{exc.message} Refund at the rate then.") from exc
    return btc_for_kzt(minor, int(rate.minor_per_btc), rounding="down")


def _variant_sats(invoice: Invoice, variant: str, custom: dict[str, Any]) -> int:
    """The refund before the subtracted percentage, in satoshis, per ``refundVariant``."""
    price = invoice.paid_sats if invoice.is_topup else min(invoice.amount_sats, invoice.paid_sats)
    if variant == "RateThen":
        return price
    if variant == "CurrentRate":
        if invoice.currency == "BTC" or invoice.is_topup:
            return price
        if invoice.currency != "KZT":  # USD/EUR: the price at today's pricing rate
            return _current_sats_for_fiat(invoice.amount_minor, invoice.currency)
        return _current_sats_for_tiyn(invoice.amount_minor)
    if variant == "OverpaidAmount":
        over = invoice.paid_sats - invoice.amount_sats
        if invoice.is_topup or over <= 0:
            raise ValidationFailed(
                "Not overpaid", fields={"refundVariant": ["This invoice was not overpaid."]}
            )
        return over
    if variant == "Custom":
        currency = str(custom.get("customCurrency") or "").upper()
        if currency not in ("BTC", "KZT"):
            raise ValidationFailed(
                "Bad custom currency", fields={"customCurrency": ["BTC or KZT."]}
            )
        minor = parse_amount(str(custom.get("customAmount") or ""), currency, field="customAmount")
        return minor if currency == "BTC" else _current_sats_for_tiyn(minor)
    raise ValidationFailed(
        "Unsupported refund variant",
        fields={"refundVariant": ["Fiat refunds are not offered: Alatau refunds bitcoin."]},
    )


def invoice_refund_pull_payment(
    *,
    merchant: Merchant,
    invoice_id: str,
    variant: str,
    subtract_percentage: Any = None,
    custom: dict[str, Any] | None = None,
    name: str | None = None,
    description: str = "",
    actor: Any,
) -> PullPayment:
    """Create a pull payment that refunds an invoice (Greenfield's ``Invoices_Refund``)."""
    if variant not in REFUND_VARIANTS:
        raise ValidationFailed(
            "Unknown refund variant",
            fields={"refundVariant": [f"One of {', '.join(REFUND_VARIANTS)}."]},
        )
    percentage = _percentage(subtract_percentage)
    with transaction.atomic():
        invoice = invoice_lock(merchant=merchant, invoice_id=invoice_id)
        if invoice.status not in REFUNDABLE or invoice.paid_sats == 0:
            raise NotRefundable()
        gross = _variant_sats(invoice, variant, custom or {})
        amount = int(Decimal(gross) * (100 - percentage) / 100)
        left = invoice.paid_sats - invoice_refund_reserved_sats(invoice)
        if amount <= 0 or amount > left:
            raise ValidationFailed(
                "Refund amount out of range",
                fields={
                    "refundVariant": [f"At most {format_amount(max(left, 0), 'BTC')} BTC is left."]
                },
            )
        pull = PullPayment.objects.create(
            id=random_id(22),
            merchant=merchant,
            invoice=invoice,
            name=(name or f"Refund {invoice.id}")[:200],
            description=(description or "")[:2000],
            amount_sats=amount,
            created_by=actor,
        )
        audit_record(
            actor=actor,
            action="invoice.refund.pull_payment",
            obj=pull,
            data={"invoice": invoice.id, "variant": variant, "amount_sats": amount},
        )
    return pull


def payout_methods_check(methods: Any, field: str = "payoutMethods") -> None:
    """Refuse payout methods other than on-chain bitcoin (422 on ``field``)."""
    if methods is None:
        return
    for n, method in enumerate(methods if isinstance(methods, list) else [methods]):
        if method not in PAYOUT_METHODS:
            raise ValidationFailed(
                "Unsupported payout method",
                fields={f"{field}[{n}]": ["Alatau pays out on-chain bitcoin only: BTC-CHAIN."]},
            )


def pull_payment_create(
    *,
    merchant: Merchant,
    name: str | None,
    description: str | None,
    amount: Any,
    currency: Any,
    starts_at: dt.datetime | None,
    expires_at: dt.datetime | None,
    payout_methods: Any,
    actor: Any,
) -> PullPayment:
    """A general pull payment of the store's bitcoin (``PullPayments_CreatePullPayment``).

    It moves no money: its claims are approved by the store one by one, each through
    the payout controls, the allow-list included (``payout_states``).
    """
    if str(currency or "").upper() != "BTC":
        raise ValidationFailed(
            "Unsupported currency", fields={"currency": ["Pull payments are in BTC."]}
        )
    sats = parse_amount(str(amount if amount is not None else ""), "BTC", field="amount")
    if sats <= 0:
        raise ValidationFailed(_("Amount too small"), fields={"amount": [_("More than zero.")]})
    if starts_at and expires_at and expires_at <= starts_at:
        raise ValidationFailed(
            "Expires before it starts", fields={"expiresAt": ["Later than startsAt."]}
        )
    payout_methods_check(payout_methods)
    with transaction.atomic():
        pull = PullPayment.objects.create(
            id=random_id(22),
            merchant=merchant,
            name=(name or "")[:200],
            description=(description or "")[:2000],
            amount_sats=sats,
            starts_at=starts_at,
            expires_at=expires_at,
            created_by=actor,
        )
        audit_record(actor=actor, action="pull_payment.create", obj=pull,
                     data={"amount_sats": sats})  # fmt: skip
    return pull


def pull_payment_lock(*, merchant: Merchant | None, pull_payment_id: str) -> PullPayment:
    """Lock a pull payment (of ``merchant`` when given), or 404 ``pullpayment-not-found``."""
    query = PullPayment.objects.select_for_update().filter(pk=pull_payment_id)
    pull = query.filter(merchant=merchant).first() if merchant else query.first()
    if pull is None:
        raise PullPaymentNotFound()
    return pull


def pull_payment_claimed_sats(pull: PullPayment) -> int:
    """What the claims not cancelled take of the pull payment."""
    taken = pull.payouts.exclude(state=PayoutState.CANCELLED).aggregate(t=Sum("amount_sats"))
    return int(taken["t"] or 0)


def pull_payment_claimable(pull: PullPayment) -> None:
    """Refuse a claim on an archived, not yet started or expired pull payment (400).

    The messages are the payee's, in the active language (the API's is English).
    """
    now = timezone.now()
    if pull.archived:
        raise PullPaymentArchived(_("The pull payment is archived."))
    if pull.starts_at and now < pull.starts_at:
        raise PullPaymentNotStarted(_("The pull payment has not started yet."))
    if pull.expires_at and now >= pull.expires_at:
        raise PullPaymentExpired(_("The pull payment has expired."))


def address_checked(destination: Any) -> str:
    """The destination as a bitcoin address of this chain (422 ``destination`` if not)."""
    try:
        return address_parse(destination if isinstance(destination, str) else "").address
    except AddressInvalid as exc:
        raise ValidationFailed(exc.message, fields={"destination": [exc.message]}) from None


def _claim_sats(amount: Any) -> int | None:
    if amount in (None, ""):
        return None
    sats = parse_amount(str(amount), "BTC", field="amount")
    if sats <= 0:
        raise ValidationFailed(_("Amount too small"), fields={"amount": [_("More than zero.")]})
    return sats


# A payout's withdrawal ended so: the payout is Completed or Cancelled, its address free.
WITHDRAWAL_DONE = (
    WithdrawalStatus.CONFIRMED,
    WithdrawalStatus.REJECTED,
    WithdrawalStatus.CANCELLED,
    WithdrawalStatus.FAILED,
)


def destination_free_check(*, merchant: Merchant, address: str) -> None:
    """Refuse a payout to an address with one of the store's payouts still active (400).

    BTCPay's ``duplicate-destination``. Called inside the creating transaction: a
    transaction-scoped advisory lock on (store, address) makes concurrent creations to
    one address take turns, so the second sees the first's row and is refused.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"payout-destination:{merchant.pk}:{address}"],
        )
    rows = list(
        PullPaymentPayout.objects.filter(
            merchant=merchant,
            destination=address,
            state__in=(PayoutState.AWAITING_APPROVAL, PayoutState.AWAITING_PAYMENT),
        ).values_list("state", "payout__withdrawal_id")
    )
    if any(state == PayoutState.AWAITING_APPROVAL or wid is None for state, wid in rows):
        raise DuplicateDestination(_("This address is already used for another payout"))
    approved = [int(wid) for _state, wid in rows if wid is not None]
    if (
        len(approved)
        > Withdrawal.objects.filter(pk__in=approved, status__in=WITHDRAWAL_DONE).count()
    ):
        raise DuplicateDestination(_("This address is already used for another payout"))


def payout_create(
    *,
    pull_payment_id: str | None,
    merchant: Merchant | None,
    destination: Any,
    amount: Any,
    payout_method: Any,
    metadata: dict[str, Any] | None = None,
    travel_rule: Any = None,
    actor: Any = None,
) -> PullPaymentPayout:
    """A payout awaiting approval: a claim on a pull payment, or the store's own (no pull).

    The pull payment is locked while its claims are counted, so concurrent claims never
    take more than its amount. Claims by whoever holds the id pass no ``merchant``.
    ``travel_rule`` is the beneficiary data (``beneficiary_name``, ``wallet``,
    ``provider_name``), required at or above the travel-rule threshold; it is stored
    cleaned and handed to the withdrawal's screening at approval.
    """
    if payout_method not in (None, "", *PAYOUT_METHODS):
        if not isinstance(payout_method, str) or not payout_method.replace("-", "").isalnum():
            raise ValidationFailed(
                "Invalid payout method", fields={"payoutMethodId": ["Invalid payout method."]}
            )
        raise PayoutMethodNotSupported()
    address = address_checked(destination)
    sats = _claim_sats(amount)
    with transaction.atomic():
        pull = None
        if pull_payment_id is not None:
            pull = pull_payment_lock(merchant=merchant, pull_payment_id=pull_payment_id)
            pull_payment_claimable(pull)
            left = pull.amount_sats - pull_payment_claimed_sats(pull)
            sats = left if sats is None else sats
            if sats > left or left <= 0:
                left_text = format_amount(max(left, 0), "BTC")
                raise ClaimOverdraft(_("At most %(left)s BTC is left.") % {"left": left_text})
        owner = pull.merchant if pull is not None else merchant
        if owner is None or sats is None:
            raise InvariantViolation("a payout has a store and an amount")
        destination_free_check(merchant=owner, address=address)
        cleaned_travel = payout_travel_rule_checked(amount_sats=sats, travel_rule=travel_rule)
        row = PullPaymentPayout.objects.create(
            id=random_id(22),
            merchant=owner,
            pull_payment=pull,
            destination=address,
            amount_sats=sats,
            metadata=metadata or {},
            travel_rule=cleaned_travel,
        )
        audit_record(actor=actor, action="payout.create", obj=row, data={"amount_sats": sats})
        payout_event(row, WebhookEvent.PAYOUT_CREATED)
    return row


def pull_payment_archive(*, merchant: Merchant, pull_payment_id: str, actor: Any) -> PullPayment:
    """Archive a pull payment: no more claims; its payouts awaiting approval are cancelled.

    Approved ones stay with the bank's withdrawal (cancel them one by one while custody
    still can: ``payout_cancel``).
    """
    with transaction.atomic():
        pull = pull_payment_lock(merchant=merchant, pull_payment_id=pull_payment_id)
        if not pull.archived:
            pull.archived = True
            pull.save(update_fields=["archived"])
            waiting = list(pull.payouts.filter(state=PayoutState.AWAITING_APPROVAL))
            for row in waiting:
                row.state = row.notified_state = PayoutState.CANCELLED
                row.save(update_fields=["state", "notified_state", "updated_at"])
                payout_event(row, WebhookEvent.PAYOUT_UPDATED)
            audit_record(actor=actor, action="pull_payment.archive", obj=pull,
                         data={"cancelled": [r.id for r in waiting]})  # fmt: skip
    return pull
