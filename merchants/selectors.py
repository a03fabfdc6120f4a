"""Reads for the merchant API and pages. Every read is scoped to one merchant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, router
from django.db.models import Prefetch, QuerySet

from accounts.selectors import Statement, account_statement
from core.db_rows import rows_as_models
from merchants.errors import DeliveryNotFound, InvoiceNotFound, MerchantNotFound, WebhookNotFound
from merchants.models import (
    ApiKey,
    Invoice,
    InvoicePayment,
    Merchant,
    Webhook,
    WebhookDelivery,
)

PAGE_MAX = 100
DELIVERIES_MAX = 100


def merchant_for_store(*, store_id: str, key: ApiKey) -> Merchant:
    """Return the key's merchant if ``store_id`` is its store; 404 otherwise (never 403)."""
    if key.merchant.store_id != store_id:
        raise MerchantNotFound()
    return key.merchant


def merchants_for_user(user: Any) -> QuerySet[Merchant]:
    return Merchant.objects.filter(owner=user).order_by("name")


def _with_payments(query: QuerySet[Invoice]) -> QuerySet[Invoice]:
    payments = InvoicePayment.objects.select_related("invoice__merchant__btc_account")
    return query.select_related("merchant").prefetch_related(Prefetch("payments", payments))


def invoice_get(*, merchant: Merchant | None, invoice_id: str, payments: bool = False) -> Invoice:
    if merchant is not None and not payments:
        found = _invoice_by_id(merchant, invoice_id)
        if found is None:
            raise InvoiceNotFound()
        return found
    query = Invoice.objects.select_related("merchant")
    if payments:
        query = _with_payments(query)
    if merchant is not None:
        query = query.filter(merchant=merchant)
    invoice = query.filter(pk=invoice_id).first()
    if invoice is None:
        raise InvoiceNotFound()
    return invoice


def _invoice_by_id(merchant: Merchant, invoice_id: str) -> Invoice | None:
    """One merchant's invoice by id, in one fixed-shape query (the API's hottest read)."""
    alias = router.db_for_read(Invoice) or DEFAULT_DB_ALIAS
    found = rows_as_models(
        Invoice, '"id" = %s AND "merchant_id" = %s', [invoice_id, merchant.pk], alias=alias
    )
    if not found:
        return None
    invoice = found[0]
    invoice.merchant = merchant
    return invoice


def webhooks_enabled(*, merchant_id: int) -> list[Webhook]:
    """The merchant's enabled webhooks, oldest first, from the primary (the fan-out's read).

    Read inside the transaction that emits the event, so it runs on the primary.
    """
    return rows_as_models(
        Webhook,
        '"merchant_id" = %s AND "enabled" ORDER BY "created_at"',
        [merchant_id],
        alias=router.db_for_write(Webhook) or DEFAULT_DB_ALIAS,
    )


def invoice_list(
    *,
    merchant: Merchant,
    order_ids: list[str] | None = None,
    statuses: list[str] | None = None,
    start: int | None = None,
    end: int | None = None,
    skip: int = 0,
    take: int = PAGE_MAX,
    include_archived: bool = False,
    text: str = "",
    payments: bool = False,
) -> list[Invoice]:
    """Return the merchant's invoices, newest first, filtered as Greenfield's list."""
    query = Invoice.objects.filter(merchant=merchant).select_related("merchant")
    if payments:
        query = _with_payments(query)
    if not include_archived:
        query = query.filter(archived=False)
    if order_ids:
        query = query.filter(order_id__in=order_ids)
    if statuses:
        query = query.filter(status__in=statuses)
    if start is not None:
        query = query.filter(created_at__gte=datetime.fromtimestamp(start, tz=UTC))
    if end is not None:
        query = query.filter(created_at__lte=datetime.fromtimestamp(end, tz=UTC))
    if text:
        query = query.filter(pk=text) | query.filter(order_id=text)
    take = max(0, min(take, PAGE_MAX))
    return list(query.order_by("-created_at", "-pk")[skip : skip + take])


def webhook_get(*, merchant: Merchant, webhook_id: str) -> Webhook:
    webhook = Webhook.objects.filter(merchant=merchant, pk=webhook_id).first()
    if webhook is None:
        raise WebhookNotFound()
    return webhook


def webhook_list(*, merchant: Merchant) -> list[Webhook]:
    return list(Webhook.objects.filter(merchant=merchant).order_by("created_at"))


def delivery_list(*, merchant: Merchant, webhook_id: str, count: int = 50) -> list[WebhookDelivery]:
    webhook = webhook_get(merchant=merchant, webhook_id=webhook_id)
    count = max(1, min(count, DELIVERIES_MAX))
    return list(webhook.deliveries.prefetch_related("attempts").order_by("-created_at")[:count])


def delivery_get(*, merchant: Merchant, webhook_id: str, delivery_id: str) -> WebhookDelivery:
    delivery = (
        WebhookDelivery.objects.prefetch_related("attempts")
        .filter(pk=delivery_id, webhook_id=webhook_id, webhook__merchant=merchant)
        .first()
    )
    if delivery is None:
        raise DeliveryNotFound()
    return delivery


def merchant_statement(
    *, merchant: Merchant, currency: str, after_id: int, limit: int
) -> Statement:
    account = merchant.btc_account if currency == "BTC" else merchant.kzt_account
    if account is None:
        raise MerchantNotFound("This store has no KZT account.")
    return account_statement(account=account, after_id=after_id, limit=limit)
