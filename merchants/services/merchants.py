"""Onboarding merchants: the store, its ledger accounts, an audit event."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.actor import Actor
from accounts.models import AccountKind
from accounts.services import account_open
from audit.chain import audit_record
from core.errors import ValidationFailed
from merchants.ids import store_id_new
from merchants.models import Merchant, MerchantStatus
from merchants.services.invoice_input import parse_currency


def merchant_onboard(*, name: str, owner: Any, actor: Actor, with_kzt: bool = False) -> Merchant:
    """Create a merchant with a BTC merchant account (and a KZT one when asked)."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationFailed(
            "A business name is required", fields={"name": ["1 to 200 characters."]}
        )
    if owner is None or not owner.is_active:
        raise ValidationFailed("The owner must be an active user", fields={"owner": ["Inactive."]})
    with transaction.atomic():
        btc = account_open(
            owner=owner, currency="BTC", kind=AccountKind.MERCHANT, name=name, actor=actor
        )
        kzt = None
        if with_kzt:
            kzt = account_open(
                owner=owner, currency="KZT", kind=AccountKind.MERCHANT, name=name, actor=actor
            )
        merchant = Merchant.objects.create(
            name=name, owner=owner, store_id=store_id_new(), btc_account=btc, kzt_account=kzt
        )
        audit_record(
            actor=actor,
            action="merchant.onboard",
            obj=merchant,
            data={
                "name": name,
                "owner": owner.pk,
                "store_id": merchant.store_id,
                "btc_account": btc.number,
                "kzt_account": kzt.number if kzt else None,
            },
        )
    return merchant


def merchant_set_status(*, merchant_id: int, status: str, actor: Actor, reason: str) -> Merchant:
    """Suspend or reactivate a merchant (its keys stop working while suspended)."""
    if status not in MerchantStatus.values:
        raise ValidationFailed("Unknown status", fields={"status": ["active or suspended."]})
    if not reason.strip():
        raise ValidationFailed("A reason is required", fields={"reason": ["Say why."]})
    with transaction.atomic():
        merchant = Merchant.objects.select_for_update().get(pk=merchant_id)
        before = merchant.status
        merchant.status = status
        merchant.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action="merchant.status",
            obj=merchant,
            data={"before": before, "after": status, "reason": reason},
        )
    return merchant


def merchant_default_currency_set(*, merchant_id: int, currency: Any, actor: Actor) -> Merchant:
    """Set the store's ``defaultCurrency``: what an invoice created without one is priced in.

    BTC, KZT or a fiat pricing currency; a missing rate is refused only when an invoice
    is priced (a rate may be set later).
    """
    if currency is None:
        raise ValidationFailed("A currency is required", fields={"currency": ["Required."]})
    code = parse_currency(currency)
    with transaction.atomic():
        merchant = Merchant.objects.select_for_update().get(pk=merchant_id)
        before = merchant.default_currency
        merchant.default_currency = code
        merchant.save(update_fields=["default_currency"])
        audit_record(
            actor=actor,
            action="merchant.default_currency",
            obj=merchant,
            data={"before": before, "after": code},
        )
    return merchant
