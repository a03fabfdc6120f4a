"""Webhooks: configuration, events, signed deliveries with retries, redelivery.

An event becomes one ``WebhookDelivery`` per interested webhook inside the
transaction that caused it; the Celery task is enqueued on commit, so a
rolled-back change never sends anything. The body is fixed at creation and
signed at send time: ``BTCPay-Sig: sha256=<hex HMAC-SHA256(secret, body)>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.actor import Actor
from audit.chain import audit_record
from core.errors import ValidationFailed
from core.tasks import enqueue_or_leave
from merchants.errors import DeliveryNotFound, WebhookNotFound, WebhookUrlInvalid
from merchants.ids import delivery_id_new, webhook_id_new
from merchants.models import (
    GREENFIELD_EVENTS,
    DeliveryStatus,
    Invoice,
    Merchant,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)
from merchants.selectors import webhooks_enabled
from merchants.services.webhook_http import SendResult, webhook_send

logger = logging.getLogger(__name__)

# Automatic redelivery as in BTCPay: after 10 s, 1 min, then 6 times every 10 min.
RETRY_DELAYS_S: tuple[int, ...] = (10, 60, 600, 600, 600, 600, 600, 600)
ATTEMPTS_MAX = len(RETRY_DELAYS_S) + 1
WEBHOOKS_PER_MERCHANT_MAX = 10
# How long a claimed attempt is this worker's: above the send's deadline, with room.
CLAIM_LEASE_S = 60


def signature(secret: str, body: bytes) -> str:
    """Return the ``BTCPay-Sig`` header value for a body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _check_url(url: Any) -> str:
    if not isinstance(url, str) or len(url) > 2000:
        raise WebhookUrlInvalid("The URL is not valid", fields={"url": ["An http(s) URL."]})
    parts = urlsplit(url.strip())
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise WebhookUrlInvalid(
            "The URL's port is not a number", fields={"url": ["Use a numeric port."]}
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookUrlInvalid(
            "Only absolute http and https URLs are accepted",
            fields={"url": ["Use an absolute http:// or https:// URL."]},
        )
    return url.strip()


def _check_events(everything: bool, events: Any) -> list[str]:
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise ValidationFailed(
            "Events must be a list of names",
            fields={"authorizedEvents.specificEvents": ["A list of names."]},
        )
    unknown = sorted(set(events) - set(GREENFIELD_EVENTS))
    if unknown:
        raise ValidationFailed(
            "Unknown events",
            fields={"authorizedEvents.specificEvents": [f"Unknown: {', '.join(unknown)}"]},
        )
    if not everything and not events:
        raise ValidationFailed(
            "Choose events or everything",
            fields={"authorizedEvents.specificEvents": ["Name at least one event."]},
        )
    return sorted(set(events))


def webhook_create(
    *,
    merchant: Merchant,
    url: str,
    secret: str | None,
    enabled: bool = True,
    automatic_redelivery: bool = True,
    everything: bool = True,
    specific_events: list[str] | None = None,
    actor: Actor,
) -> Webhook:
    """Register a webhook; a missing secret is generated (returned once by the API)."""
    url = _check_url(url)
    events = _check_events(everything, specific_events or [])
    if secret is not None and len(secret) > 200:
        raise ValidationFailed("Secret too long", fields={"secret": ["At most 200 characters."]})
    with transaction.atomic():
        Merchant.objects.select_for_update().filter(pk=merchant.pk).first()
        if Webhook.objects.filter(merchant=merchant).count() >= WEBHOOKS_PER_MERCHANT_MAX:
            raise ValidationFailed("Too many webhooks", fields={"url": ["Delete one first."]})
        webhook = Webhook.objects.create(
            id=webhook_id_new(),
            merchant=merchant,
            url=url,
            secret=secret or secrets.token_urlsafe(24),
            enabled=enabled,
            automatic_redelivery=automatic_redelivery,
            everything=everything,
            specific_events=events,
        )
        audit_record(
            actor=actor,
            action="merchant.webhook.create",
            obj=webhook,
            data={"merchant": merchant.pk, "url": url},
        )
    return webhook


def webhook_update(
    *,
    merchant: Merchant,
    webhook_id: str,
    url: str,
    secret: str | None,
    enabled: bool,
    automatic_redelivery: bool,
    everything: bool,
    specific_events: list[str],
    actor: Actor,
) -> Webhook:
    """Replace a webhook's settings; an empty secret keeps the old one (as in BTCPay)."""
    url = _check_url(url)
    events = _check_events(everything, specific_events)
    with transaction.atomic():
        webhook = (
            Webhook.objects.select_for_update().filter(pk=webhook_id, merchant=merchant).first()
        )
        if webhook is None:
            raise WebhookNotFound()
        webhook.url, webhook.enabled = url, enabled
        webhook.automatic_redelivery, webhook.everything = automatic_redelivery, everything
        webhook.specific_events = events
        fields = ["url", "enabled", "automatic_redelivery", "everything", "specific_events"]
        if secret:
            webhook.secret = secret
            fields.append("secret")
        webhook.save(update_fields=fields)
        audit_record(
            actor=actor,
            action="merchant.webhook.update",
            obj=webhook,
            data={"url": url, "enabled": enabled, "secret_changed": bool(secret)},
        )
    return webhook


def webhook_delete(*, merchant: Merchant, webhook_id: str, actor: Actor) -> None:
    with transaction.atomic():
        webhook = (
            Webhook.objects.select_for_update().filter(pk=webhook_id, merchant=merchant).first()
        )
        if webhook is None:
            raise WebhookNotFound()
        audit_record(
            actor=actor, action="merchant.webhook.delete", obj=webhook, data={"url": webhook.url}
        )
        webhook.delete()


def _enqueue(delivery_id: str) -> None:
    """Send the delivery task; with the broker down the delivery stays pending for the sweep."""
    from merchants.tasks import webhook_deliver

    enqueue_or_leave(webhook_deliver, delivery_id)


def _body_bytes(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def webhooks_wanting(*, merchant_id: int, event_type: str) -> list[Webhook]:
    """The merchant's enabled webhooks that want ``event_type``, oldest first."""
    return [w for w in webhooks_enabled(merchant_id=merchant_id) if w.wants(event_type)]


def invoice_event_extra(invoice: Invoice, extra: dict[str, Any]) -> dict[str, Any]:
    """An invoice event's fields besides the envelope (Greenfield's invoice webhook body)."""
    return {"invoiceId": invoice.id, "metadata": invoice.metadata, **extra}


def webhook_event_emit(*, invoice: Invoice, event_type: str, extra: dict[str, Any]) -> int:
    """Create a delivery for every webhook of the invoice's merchant that wants this event.

    Call inside the transaction that changed the invoice; sending starts after commit.
    """
    return webhook_store_event_emit(
        merchant=invoice.merchant,
        event_type=event_type,
        extra=invoice_event_extra(invoice, extra),
        invoice=invoice,
    )


def webhook_deliveries_new(
    *,
    merchant: Merchant,
    event_type: str,
    extra: dict[str, Any],
    webhooks: list[Webhook],
    invoice: Invoice | None = None,
) -> list[WebhookDelivery]:
    """Unsaved deliveries of a store event, one per webhook. The caller INSERTs them, then
    calls ``webhook_deliveries_enqueue`` (sending starts after commit)."""
    now = int(time.time())
    deliveries = []
    for webhook in webhooks:
        delivery_id = delivery_id_new()
        body = {
            "deliveryId": delivery_id,
            "webhookId": webhook.id,
            "originalDeliveryId": delivery_id,
            "isRedelivery": False,
            "type": event_type,
            "timestamp": now,
            "storeId": merchant.store_id,
            **extra,
        }
        deliveries.append(
            WebhookDelivery(
                id=delivery_id,
                webhook=webhook,
                event_type=event_type,
                invoice=invoice,
                body=_body_bytes(body),
                next_attempt_at=timezone.now(),
            )
        )
    return deliveries


def webhook_deliveries_enqueue(deliveries: list[WebhookDelivery]) -> None:
    """Send each written delivery's task once its transaction commits (at once outside one)."""
    for delivery in deliveries:
        transaction.on_commit(partial(_enqueue, delivery.id))


def webhook_store_event_emit(
    *, merchant: Merchant, event_type: str, extra: dict[str, Any], invoice: Invoice | None = None
) -> int:
    """Create a delivery of a store event (invoice or payout) for every webhook that wants it."""
    deliveries = webhook_deliveries_new(
        merchant=merchant, event_type=event_type, extra=extra, invoice=invoice,
        webhooks=webhooks_wanting(merchant_id=merchant.pk, event_type=event_type),
    )  # fmt: skip
    for delivery in deliveries:
        delivery.save(force_insert=True)
    webhook_deliveries_enqueue(deliveries)
    return len(deliveries)


def webhook_redeliver(
    *, merchant: Merchant, webhook_id: str, delivery_id: str, actor: Actor
) -> str:
    """Send a delivery's event again as a new delivery; return the new delivery id."""
    with transaction.atomic():
        original = (
            WebhookDelivery.objects.select_related("webhook")
            .filter(pk=delivery_id, webhook_id=webhook_id, webhook__merchant=merchant)
            .first()
        )
        if original is None:
            raise DeliveryNotFound()
        new_id = delivery_id_new()
        body = json.loads(original.body)
        body.update(
            deliveryId=new_id,
            isRedelivery=True,
            originalDeliveryId=body.get("originalDeliveryId") or original.id,
            timestamp=int(time.time()),
        )
        WebhookDelivery.objects.create(
            id=new_id,
            webhook=original.webhook,
            event_type=original.event_type,
            invoice_id=original.invoice_id,
            body=_body_bytes(body),
            original=original.original or original,
            next_attempt_at=timezone.now(),
        )
        audit_record(
            actor=actor,
            action="merchant.webhook.redeliver",
            obj=original,
            data={"new_delivery": new_id},
        )
        transaction.on_commit(partial(_enqueue, new_id))
    return new_id


def _claim(delivery_id: str) -> tuple[WebhookDelivery, int] | None:
    """Take the next attempt of a pending, due delivery for this worker; None if not ours.

    The claim is committed before the HTTP call: ``claimed_until`` gives this worker a
    lease, so another worker (a duplicate task, the overdue sweep) leaves it alone until
    then, and no row lock is held while the merchant's server answers. A worker that dies
    mid-call leaves the lease to expire; the overdue sweep then picks the delivery up.
    """
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("webhook")
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING)
            .first()
        )
        if delivery is None:
            return None
        if delivery.claimed_until is not None and delivery.claimed_until > now:
            return None  # another worker is sending this attempt
        number = delivery.attempt_count + 1
        delivery.attempt_count = number
        delivery.claimed_until = now + timedelta(seconds=CLAIM_LEASE_S)
        delivery.save(update_fields=["attempt_count", "claimed_until"])
    return delivery, number


def _send(delivery: WebhookDelivery) -> SendResult:
    webhook = delivery.webhook
    if not webhook.enabled:
        return SendResult(None, "The webhook is disabled.", 0, final=True)
    data = delivery.body.encode()
    headers = {"Content-Type": "application/json", "BTCPay-Sig": signature(webhook.secret, data)}
    return webhook_send(webhook.url, data, headers)


def webhook_delivery_attempt(*, delivery_id: str) -> int | None:
    """Make one attempt of a pending delivery and log it.

    Return the seconds to wait before the next attempt, or ``None`` when the
    delivery is finished (success, final failure, or handled by another worker).
    Claim (committed), send (no transaction, bounded in time and size), record.
    """
    claimed = _claim(delivery_id)
    if claimed is None:
        return None
    delivery, number = claimed
    started_at = timezone.now()
    result = _send(delivery)
    return _record(delivery_id, number, started_at, result)


def _record(delivery_id: str, number: int, started_at: Any, result: SendResult) -> int | None:
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("webhook")
            .get(pk=delivery_id)
        )
        if delivery.attempt_count != number or delivery.status != DeliveryStatus.PENDING:
            return None  # the lease ran out and another worker took over: its record wins
        WebhookAttempt.objects.create(
            delivery=delivery, number=number, started_at=started_at,
            status_code=result.status_code, response_ms=result.elapsed_ms, error=result.error,
        )  # fmt: skip
        code = result.status_code
        delivery.http_code = code
        delivery.delivered_at = started_at
        retry_in: int | None = None
        if code is not None and 200 <= code < 300:
            delivery.status, delivery.error_message = DeliveryStatus.HTTP_SUCCESS, ""
        else:
            delivery.error_message = result.error or f"The endpoint answered HTTP {code}."
            webhook = delivery.webhook
            may_retry = webhook.enabled and webhook.automatic_redelivery and not result.final
            if may_retry and number < ATTEMPTS_MAX:
                retry_in = RETRY_DELAYS_S[number - 1]
            else:
                delivery.status = (
                    DeliveryStatus.FAILED if code is None else DeliveryStatus.HTTP_ERROR
                )
        delivery.next_attempt_at = (
            started_at + timedelta(seconds=retry_in) if retry_in is not None else None
        )
        delivery.claimed_until = None
        delivery.save(update_fields=["http_code", "delivered_at", "status", "error_message",
                                     "next_attempt_at", "claimed_until"])  # fmt: skip
    if retry_in is not None:
        logger.info(
            "webhook delivery failed, will retry",
            extra={"delivery": delivery_id, "attempt": number, "retry_in_s": retry_in},
        )
    return retry_in


def webhook_deliveries_due(*, limit: int = 200, grace_s: int = 120) -> list[str]:
    """Return pending deliveries whose next attempt is overdue (a lost task), oldest first."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=grace_s)
    return list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=cutoff)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
