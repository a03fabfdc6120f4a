"""Saved withdrawal addresses: add (second factor, cool-down) and remove."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.services.twofactor import twofactor_check, twofactor_enabled
from audit.chain import audit_record
from core.errors import NotFound, ValidationFailed
from custody.addresses import address_parse
from custody.models import WithdrawalAddress
from custody.selectors import withdrawal_addresses_active

ADDRESSES_PER_USER_MAX = 20


def address_syntax_check(address: str) -> str:
    """Return the address normalised if it is valid on the configured network (no node call)."""
    return address_parse(address).address


def withdrawal_address_add(
    *, user: Any, label: str, address: str, otp_code: str, client_address: str | None = None
) -> WithdrawalAddress:
    """Save a withdrawal address after a second-factor check; usable after the cool-down."""
    label = " ".join(label.split())[:60]
    if not label:
        raise ValidationFailed("Label required", fields={"label": ["Give the address a name."]})
    if not twofactor_enabled(user):
        raise ValidationFailed(
            "Two-factor required",
            fields={"otp_code": ["Turn on two-factor authentication to add an address."]},
        )
    address = address_syntax_check(address)
    active = withdrawal_addresses_active(user=user)
    if active.filter(address=address).exists():
        raise ValidationFailed("Duplicate", fields={"address": ["You already saved this address."]})
    if active.count() >= ADDRESSES_PER_USER_MAX:
        raise ValidationFailed(
            "Too many addresses", fields={"address": ["Remove an address first."]}
        )
    twofactor_check(user=user, code=otp_code)
    usable_from = timezone.now() + dt.timedelta(seconds=settings.WITHDRAWAL_ADDRESS_COOLDOWN_S)
    try:
        with transaction.atomic():
            saved = WithdrawalAddress.objects.create(
                user=user, label=label, address=address, usable_from=usable_from
            )
            audit_record(
                actor=user,
                action="withdrawal_address.add",
                obj=saved,
                data={"address": address, "usable_from": usable_from.isoformat()},
                client_address=client_address,
            )
    except IntegrityError:
        raise ValidationFailed(
            "Duplicate", fields={"address": ["You already saved this address."]}
        ) from None
    return saved


def withdrawal_address_remove(
    *, user: Any, address_id: int, client_address: str | None = None
) -> None:
    """Remove one of the user's saved addresses (kept for the record, no longer usable)."""
    with transaction.atomic():
        active = withdrawal_addresses_active(user=user).select_for_update()
        saved = active.filter(pk=address_id).first()
        if saved is None:
            raise NotFound("Address not found")
        saved.removed_at = timezone.now()
        saved.save(update_fields=["removed_at"])
        audit_record(
            actor=user, action="withdrawal_address.remove", obj=saved, client_address=client_address
        )


def withdrawal_address_usable(*, user: Any, address_id: int) -> WithdrawalAddress:
    """Return a saved address the user may withdraw to now, or raise a field error."""
    saved = withdrawal_addresses_active(user=user).filter(pk=address_id).first()
    if saved is None:
        raise ValidationFailed(
            "Unknown address", fields={"address": ["Choose one of your addresses."]}
        )
    if saved.usable_from > timezone.now():
        raise ValidationFailed(
            "Address cooling down",
            fields={"address": ["This address becomes usable at its cool-down time shown below."]},
        )
    return saved
