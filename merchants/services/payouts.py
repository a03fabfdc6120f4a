"""Merchant money out: BTC to an address (custody's withdrawal flow) or BTC to KZT."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.actor import Actor
from accounts.models import AccountKind, TransferCode
from accounts.services import account_open, accounts_lock, system_account, transfer_create
from audit.chain import audit_record
from compliance.errors import TravelRuleMissing
from compliance.services import limits_check, travel_rule_required, travel_rule_validate
from core.errors import ServiceUnavailable, ValidationFailed, invariant
from core.money import check_minor
from custody.errors import AddressInvalid
from custody.selectors import withdrawal_fee_sats
from custody.services.withdrawals import (
    CheckedAddress,
    withdrawal_address_checked,
    withdrawal_request,
)
from exchange.rates import kzt_value_tiyn
from exchange.services import bid_rate, exchange_rate_fresh, kzt_for_btc
from merchants.errors import MerchantSuspended, QuoteUnavailable
from merchants.ids import random_id
from merchants.models import (
    Merchant,
    Payout,
    PayoutAddress,
    PayoutKind,
    PayoutState,
    PullPaymentPayout,
    WebhookEvent,
)
from merchants.services.spendable import merchant_spendable_check
from merchants.services.webhooks import webhook_store_event_emit


def payout_event(row: PullPaymentPayout, event_type: str) -> None:
    """Send the store's webhooks a Payout* event for the Greenfield payout ``row``."""
    webhook_store_event_emit(
        merchant=row.merchant,
        event_type=event_type,
        extra={
            "payoutId": row.id,
            "pullPaymentId": row.pull_payment_id,
            "payoutState": row.state,
        },
    )


def payout_address_allowed(*, merchant: Merchant, address: str) -> PayoutAddress:
    """Return the store's allow-listed entry for ``address`` if it is usable now, or refuse.

    Addresses are added with the owner's second factor and usable only after the
    cool-down (``merchants.services.payout_addresses``), as a customer's are: a stolen
    API key can pay only to addresses the owner listed a day before.
    """
    saved = PayoutAddress.objects.filter(
        merchant=merchant, address=address, removed_at__isnull=True
    ).first()
    if saved is None:
        raise ValidationFailed(
            "Not on the allow-list",
            fields={"destination": ["Pay out only to an address on the store's allow-list "
                                    "(added by the owner with 2FA in the merchant web)."]},
        )  # fmt: skip
    if saved.usable_from > timezone.now():
        raise ValidationFailed(
            "Address cooling down",
            fields={"destination": [f"Usable from {saved.usable_from.isoformat()}."]},
        )
    return saved


# The API's names of the travel-rule fields (``travelRule`` of a claim or store payout).
TRAVEL_RULE_PATHS = {
    "beneficiary_name": "travelRule.beneficiaryName",
    "wallet": "travelRule.wallet",
    "provider_name": "travelRule.providerName",
}


def payout_travel_rule_needed(*, amount_sats: int) -> bool:
    """Whether a claim or store payout of ``amount_sats`` needs the beneficiary data.

    Valued as at approval: the amount plus the bank's fee, in KZT at today's rate (a
    missing or stale rate raises, as it does for the claim).
    """
    kzt = kzt_value_tiyn(amount_minor=amount_sats + withdrawal_fee_sats(), currency="BTC")
    return travel_rule_required(kzt)


def payout_travel_rule_checked(*, amount_sats: int, travel_rule: Any) -> dict[str, str] | None:
    """The cleaned beneficiary data of a claim or store payout, checked as the web's are.

    At or above the travel-rule threshold (``payout_travel_rule_needed``) it is required
    (422 at ``travelRule``); given, it is checked with the web withdrawal's rules (422 at
    ``travelRule.<field>``) whatever the amount. Messages are in the active language.
    """
    if not travel_rule:
        if payout_travel_rule_needed(amount_sats=amount_sats):
            raise TravelRuleMissing(
                _("Beneficiary details are required"),
                fields={"travelRule": [_("Required at or above the travel-rule threshold.")]},
            )
        return None
    try:
        return travel_rule_validate(travel_rule)
    except ValidationFailed as exc:
        fields = {TRAVEL_RULE_PATHS.get(k, f"travelRule.{k}"): v for k, v in exc.fields.items()}
        raise type(exc)(exc.message, fields=fields) from None


def _payout_rules(merchant: Merchant, amount_sats: int, travel_rule: Any) -> Any:
    """Tier limits and the travel rule, as for a customer's withdrawal; return cleaned data."""
    kzt = kzt_value_tiyn(amount_minor=amount_sats + withdrawal_fee_sats(), currency="BTC")
    limits_check(user=merchant.owner, kind="withdrawal", amount_kzt_tiyn=kzt)
    return travel_rule_validate(travel_rule or {}) if travel_rule_required(kzt) else None


def merchant_payout_request(
    *,
    merchant: Merchant,
    amount_sats: int,
    address: str,
    actor: Actor,
    client_address: str | None = None,
    travel_rule: Any = None,
    refund_claim: bool = False,
    checked: CheckedAddress | None = None,
    greenfield_payout: PullPaymentPayout | None = None,
) -> Payout:
    """Send the merchant's bitcoin to an allow-listed address through the withdrawal flow.

    Whichever door asks (the API key, the merchant web, a pull payment's approval), the
    customer door's rules hold: allow-list and cool-down, tier limits, travel rule, then
    custody's screening and review. The address is checked with the node first.
    Every on-chain payout has a Greenfield payout row (``PayoutData``): the one being
    approved (``greenfield_payout``, which the caller updates), or one made here.
    """
    if not merchant.is_active:
        raise MerchantSuspended()
    check_minor(amount_sats, "BTC")
    if not refund_claim:
        # A refund pull payment's claim goes to the payer's own address, bounded by the
        # invoice's refund cap (``pull_payments``); the store's own payouts go only to
        # the store's allow-list.
        payout_address_allowed(merchant=merchant, address=address.strip())
    merchant_spendable_check(account_id=merchant.btc_account_id, amount_minor=amount_sats)
    try:
        # A caller inside its own transaction checked the address first (``checked``).
        destination = checked or withdrawal_address_checked(address.strip())
    except AddressInvalid as exc:  # the API calls the field "destination"
        raise AddressInvalid(
            exc.message, fields={"destination": exc.fields.get("address", [])}
        ) from None
    with transaction.atomic():
        cleaned_travel = _payout_rules(merchant, amount_sats, travel_rule)
        payout = Payout.objects.create(
            merchant=merchant,
            kind=PayoutKind.ON_CHAIN,
            amount_sats=amount_sats,
            address=address.strip(),
            created_by=actor,
        )
        withdrawal = withdrawal_request(
            account=merchant.btc_account,
            address=destination,
            amount_sats=amount_sats,
            requested_by=merchant.owner,
            idempotency_key=f"payout:{payout.pk}",
            travel_rule=cleaned_travel,
            client_address=client_address,
        )
        payout.withdrawal_id, payout.status = withdrawal.pk, withdrawal.status
        payout.save(update_fields=["withdrawal_id", "status"])
        audit_record(
            actor=actor,
            action="merchant.payout",
            obj=payout,
            data={
                "amount_sats": amount_sats,
                "address": payout.address,
                "withdrawal": withdrawal.pk,
            },
            client_address=client_address,
        )
        if greenfield_payout is None:
            _greenfield_payout_record(payout)
    return payout


def _greenfield_payout_record(payout: Payout) -> PullPaymentPayout:
    """The Greenfield row of a payout sent at once (the web door's, or an approved one)."""
    row = PullPaymentPayout.objects.create(
        id=random_id(22),
        merchant=payout.merchant,
        destination=payout.address,
        amount_sats=payout.amount_sats,
        state=PayoutState.AWAITING_PAYMENT,
        notified_state=PayoutState.AWAITING_PAYMENT,
        payout=payout,
    )
    payout_event(row, WebhookEvent.PAYOUT_CREATED)
    payout_event(row, WebhookEvent.PAYOUT_APPROVED)
    return row


def merchant_convert_to_kzt(
    *, merchant: Merchant, amount_sats: int, actor: Actor, client_address: str | None = None
) -> Payout:
    """Sell the merchant's BTC to the bank at the bid rate; credit its KZT account.

    Two transfers in one group through the exchange accounts, like a
    customer's exchange; the KZT account is opened on first use.
    """
    if not merchant.is_active:
        raise MerchantSuspended()
    check_minor(amount_sats, "BTC")
    merchant_spendable_check(account_id=merchant.btc_account_id, amount_minor=amount_sats)
    try:
        rate = exchange_rate_fresh()
    except ServiceUnavailable as exc:  # none set, or too old to price with
        raise QuoteUnavailable(exc.message) from exc
    bid = bid_rate(int(rate.mid_tiyn_per_btc), int(rate.spread_bp))
    tiyn = kzt_for_btc(amount_sats, bid)
    if tiyn <= 0:
        raise ValidationFailed("Amount too small", fields={"amount": ["Too small to convert."]})
    # Opened (and audited) in its own transaction first, so the movement below takes
    # its account locks before the audit chain head.
    kzt_account_id = merchant_kzt_account(merchant=merchant, actor=actor)
    with transaction.atomic():
        legs = (
            (merchant.btc_account_id, system_account(AccountKind.EXCHANGE, "BTC").pk, amount_sats),
            (system_account(AccountKind.EXCHANGE, "KZT").pk, kzt_account_id, tiyn),
        )
        # Every account of both legs at once, in id order, before the audit chain head.
        accounts_lock([account for leg in legs for account in leg[:2]])
        payout = Payout.objects.create(
            merchant=merchant,
            kind=PayoutKind.CONVERSION,
            amount_sats=amount_sats,
            kzt_tiyn=tiyn,
            status="completed",
            created_by=actor,
        )
        group = uuid.uuid4()
        for n, (debit, credit, amount) in enumerate(legs):
            transfer_create(
                debit_account_id=debit,
                credit_account_id=credit,
                amount_minor=amount,
                code=TransferCode.EXCHANGE,
                initiator=actor,
                idempotency_key=f"merchant-convert:{payout.pk}:{n}",
                source=payout,
                memo=f"Merchant conversion {payout.pk} at {bid} tiyn/BTC",
                group_id=group,
                kzt_value_tiyn=tiyn,
                client_address=client_address,
            )
        audit_record(
            actor=actor,
            action="merchant.convert",
            obj=payout,
            data={"amount_sats": amount_sats, "kzt_tiyn": tiyn, "rate": bid},
            client_address=client_address,
        )
    return payout


def merchant_kzt_account(*, merchant: Merchant, actor: Actor) -> int:
    """Return the store's KZT account id, opening it on first use (store row locked)."""
    if merchant.kzt_account_id is not None:
        return int(merchant.kzt_account_id)
    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if locked.kzt_account_id is None:
            locked.kzt_account = account_open(
                owner=locked.owner,
                currency="KZT",
                kind=AccountKind.MERCHANT,
                name=locked.name,
                actor=actor,
            )
            locked.save(update_fields=["kzt_account"])
    kzt_account_id = locked.kzt_account_id
    invariant(kzt_account_id is not None, "the merchant has a KZT account by now")
    merchant.kzt_account_id = kzt_account_id
    return int(kzt_account_id or 0)
