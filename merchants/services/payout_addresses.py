"""A store's payout allow-list: addresses added with the owner's 2FA, usable after a cool-down.

Payouts from the merchant web door go only to these addresses (the customer
door's rule for withdrawal addresses, applied to the store).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.chain import audit_record
from core.errors import NotFound, ValidationFailed
from core.money import check_minor
from custody.services.withdrawal_addresses import address_syntax_check
from merchants.models import Merchant, Payout, PayoutAddress
from merchants.services.owner_actions import (
    funds_check,
    owner_second_factor,
    withdrawal_bounds_check,
)
from merchants.services.payouts import merchant_payout_request

ADDRESSES_PER_STORE_MAX = 20


def payout_address_add(
    *,
    merchant: Merchant,
    label: str,
    address: str,
    otp_code: str,
    actor: Any,
    client_address: str | None = None,
) -> PayoutAddress:
    """Add an address to the store's allow-list after the owner's 2FA; usable after the cool-down."""
    label = " ".join((label or "").split())[:60]
    if not label:
        raise ValidationFailed("Label required", fields={"label": ["Give the address a name."]})
    address = address_syntax_check(address)
    active = PayoutAddress.objects.filter(merchant=merchant, removed_at__isnull=True)
    if active.filter(address=address).exists():
        raise ValidationFailed("Duplicate", fields={"address": ["This address is already listed."]})
    if active.count() >= ADDRESSES_PER_STORE_MAX:
        raise ValidationFailed("Too many addresses", fields={"address": ["Remove one first."]})
    owner_second_factor(merchant, actor, otp_code)
    cooldown = dt.timedelta(seconds=int(settings.WITHDRAWAL_ADDRESS_COOLDOWN_S))
    usable_from = timezone.now() + cooldown
    try:
        with transaction.atomic():
            saved = PayoutAddress.objects.create(
                merchant=merchant, label=label, address=address, usable_from=usable_from,
                created_by=actor,
            )  # fmt: skip
            audit_record(
                actor=actor,
                action="merchant.payout_address.add",
                obj=saved,
                data={"address": address, "usable_from": usable_from.isoformat()},
                client_address=client_address,
            )
    except IntegrityError:
        raise ValidationFailed(
            "Duplicate", fields={"address": ["This address is already listed."]}
        ) from None
    return saved


def payout_address_remove(
    *, merchant: Merchant, address_id: int, actor: Any, client_address: str | None = None
) -> None:
    """Take an address off the allow-list (kept for the record)."""
    with transaction.atomic():
        saved = (
            PayoutAddress.objects.select_for_update()
            .filter(pk=address_id, merchant=merchant, removed_at__isnull=True)
            .first()
        )
        if saved is None:
            raise NotFound("Address not found")
        saved.removed_at = timezone.now()
        saved.save(update_fields=["removed_at"])
        audit_record(
            actor=actor, action="merchant.payout_address.remove", obj=saved,
            client_address=client_address,
        )  # fmt: skip


def payout_to_listed_address(
    *,
    merchant: Merchant,
    address_id: int,
    amount_sats: int,
    otp_code: str,
    actor: Any,
    client_address: str | None = None,
) -> Payout:
    """Pay out to an allow-listed address past its cool-down, with the owner's 2FA."""
    check_minor(amount_sats, "BTC")
    saved = PayoutAddress.objects.filter(
        pk=address_id, merchant=merchant, removed_at__isnull=True
    ).first()
    if saved is None:
        raise ValidationFailed(
            "Unknown address", fields={"address": ["Choose an address from the allow-list."]}
        )
    if saved.usable_from > timezone.now():
        when = timezone.localtime(saved.usable_from).strftime("%d.%m.%Y %H:%M")
        raise ValidationFailed(
            "Address cooling down", fields={"address": [f"This address is usable from {when}."]}
        )
    withdrawal_bounds_check(amount_sats)
    funds_check(merchant, amount_sats, fee_sats=int(settings.WITHDRAWAL_FEE_SATS))
    owner_second_factor(merchant, actor, otp_code)
    return merchant_payout_request(
        merchant=merchant,
        amount_sats=amount_sats,
        address=saved.address,
        actor=actor,
        client_address=client_address,
    )
