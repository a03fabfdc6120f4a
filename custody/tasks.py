"""Celery tasks: thin wrappers that call one service each and hold the retry policy.

Every service is idempotent, so a broker delivering a task twice is harmless.
"""

from __future__ import annotations

from celery import shared_task

from custody import services
from custody.errors import NodeUnavailable

# Retry only when the node is unreachable, with exponential backoff, bounded.
RETRY_ON = (NodeUnavailable,)
BACKOFF_S = 5
BACKOFF_MAX_S = 300
RETRIES_MAX = 10


@shared_task(
    autoretry_for=RETRY_ON, retry_backoff=BACKOFF_S, retry_backoff_max=BACKOFF_MAX_S,
    retry_jitter=True, max_retries=RETRIES_MAX,
)  # fmt: skip
def deposit_scan() -> dict[str, int]:
    """Scan the hot wallet for deposits and credit what is final."""
    report = services.deposit_scan()
    return {"seen": report.seen, "recorded": report.recorded, "credited": report.credited,
            "reorged": report.reorged}  # fmt: skip


@shared_task(
    autoretry_for=RETRY_ON, retry_backoff=BACKOFF_S, retry_backoff_max=BACKOFF_MAX_S,
    retry_jitter=True, max_retries=RETRIES_MAX,
)  # fmt: skip
def withdrawal_batch() -> int | None:
    """Build, sign and commit one batch of approved withdrawals, then broadcast it."""
    batch = services.withdrawal_batch_create()
    services.withdrawal_batch_broadcast()
    return None if batch is None else batch.pk


@shared_task(
    autoretry_for=RETRY_ON, retry_backoff=BACKOFF_S, retry_backoff_max=BACKOFF_MAX_S,
    retry_jitter=True, max_retries=RETRIES_MAX,
)  # fmt: skip
def withdrawal_broadcast() -> int:
    """(Re-)broadcast committed batches."""
    return services.withdrawal_batch_broadcast()


@shared_task(
    autoretry_for=RETRY_ON, retry_backoff=BACKOFF_S, retry_backoff_max=BACKOFF_MAX_S,
    retry_jitter=True, max_retries=RETRIES_MAX,
)  # fmt: skip
def withdrawal_confirm() -> int:
    """Post the holds of confirmed batches."""
    return services.withdrawal_batch_confirm()
