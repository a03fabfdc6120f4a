"""``Idempotency-Key`` for API POSTs: the first response is stored and replayed.

Same key and same request: the stored response again (no second effect).
Same key, different request: ``409 idempotency_conflict``. A request still
running under the key: ``409 idempotency_in_progress``, until it has run
longer than any request may (``IN_PROGRESS_MAX_S``): then the worker that held
it is taken to have died and the next request with the key runs. Server errors (5xx)
are not stored, so the client can retry them with the same key. Keys are
kept for 24 hours (``idempotency_purge``, daily).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import IdempotencyConflict, ValidationFailed
from merchants.errors import IdempotencyInProgress
from merchants.models import IdempotencyRecord, Merchant

KEY_LEN_MAX = 128
# Longer than a request can run (the web server kills workers long before): a claim
# older than this was left by a crashed worker and is taken over.
IN_PROGRESS_MAX_S = 300


def idempotency_begin(
    *, merchant: Merchant, key: str, request_hash: str
) -> tuple[IdempotencyRecord, bool]:
    """Claim a key. Return (record, replay): ``replay`` means answer with the stored response."""
    if not key or len(key) > KEY_LEN_MAX or not key.isprintable():
        raise ValidationFailed(
            "Invalid Idempotency-Key",
            fields={"Idempotency-Key": ["1 to 128 printable characters."]},
        )
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                merchant=merchant, key=key, request_hash=request_hash
            )
        return record, False
    except IntegrityError:
        record = IdempotencyRecord.objects.get(merchant=merchant, key=key)
    if record.request_hash != request_hash:
        raise IdempotencyConflict(
            "This Idempotency-Key was already used for a different request.",
            fields={"Idempotency-Key": ["Already used for a different request."]},
        )
    if record.status_code is None:
        if _reclaim(record):
            return record, False
        raise IdempotencyInProgress("A request with this Idempotency-Key is still running.")
    return record, True


def _reclaim(record: IdempotencyRecord) -> bool:
    """Take over a claim abandoned by a crashed worker; only one caller can win."""
    now = timezone.now()
    taken = IdempotencyRecord.objects.filter(
        pk=record.pk,
        status_code__isnull=True,
        created_at__lt=now - timedelta(seconds=IN_PROGRESS_MAX_S),
    ).update(created_at=now)
    if taken:
        record.created_at = now
    return bool(taken)


def idempotency_finish(*, record: IdempotencyRecord, status_code: int, body: Any) -> None:
    """Store the response, or release the key after a server error."""
    if status_code >= 500:
        record.delete()
        return
    record.status_code, record.response_body = status_code, body
    record.save(update_fields=["status_code", "response_body"])


def idempotency_derived_key(*, merchant: Merchant, request_hash: str) -> str:
    """Return the key for a money-moving request sent without one: the request itself.

    The same request (path, body) from the same store within
    ``MERCHANT_DERIVED_IDEMPOTENCY_S`` is the same request retried: it is answered
    from the first one and moves money once. After the window the derived key is free
    again, and so is a request whose first answer was a refusal (nothing moved then); a
    merchant that means two identical payouts in a row sends its own keys.
    """
    key = f"derived:{request_hash}"[:KEY_LEN_MAX]
    window = timedelta(seconds=int(settings.MERCHANT_DERIVED_IDEMPOTENCY_S))
    stored = IdempotencyRecord.objects.filter(merchant=merchant, key=key).exclude(status_code=None)
    # Out of the window, or a refusal (nothing moved): the request is judged again.
    stored.filter(Q(created_at__lt=timezone.now() - window) | Q(status_code__gte=300)).delete()
    return key


def idempotency_purge(*, max_age_h: int = 24, limit: int = 10_000) -> int:
    """Forget keys older than ``max_age_h`` hours (Stripe keeps them a day); bounded per run."""
    cutoff = timezone.now() - timedelta(hours=max_age_h)
    ids = list(
        IdempotencyRecord.objects.filter(created_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    IdempotencyRecord.objects.filter(pk__in=ids).delete()
    return len(ids)
