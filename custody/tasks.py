"""Celery tasks: thin wrappers that call one service each and hold the retry policy.

Every service is idempotent, so a broker delivering a task twice is harmless.
"""

from __future__ import annotations

from core.tasks import retrying_task
from custody import services
from custody.errors import NodeUnavailable
from custody.services import fee_bumps
from custody.services.listeners import listeners_run

# Retry only when the node is unreachable (core's bounded backoff).
RETRY_ON = (NodeUnavailable,)


@retrying_task(*RETRY_ON)
def deposit_scan() -> dict[str, int]:
    """Scan the hot wallet for deposits and credit what is final."""
    report = services.deposit_scan()
    return {"seen": report.seen, "recorded": report.recorded, "credited": report.credited,
            "reorged": report.reorged}  # fmt: skip


@retrying_task(*RETRY_ON)
def deposit_listeners() -> int:
    """Run the deposit listener calls that are owed (the outbox); return how many succeeded."""
    return listeners_run()


@retrying_task(*RETRY_ON)
def withdrawal_batch() -> int | None:
    """Build, sign and commit one batch of approved withdrawals, then broadcast it."""
    batch = services.withdrawal_batch_create()
    services.withdrawal_batch_broadcast()
    return None if batch is None else batch.pk


@retrying_task(*RETRY_ON)
def withdrawal_broadcast() -> int:
    """(Re-)broadcast committed batches."""
    return services.withdrawal_batch_broadcast()


@retrying_task(*RETRY_ON)
def withdrawal_confirm() -> int:
    """Post the holds of confirmed batches."""
    return services.withdrawal_batch_confirm()


@retrying_task(*RETRY_ON)
def withdrawal_fee_bumps() -> int:
    """Apply the automatic fee-bump rule, build approved bumps, send and confirm them."""
    fee_bumps.fee_bumps_auto()
    built = fee_bumps.fee_bumps_build()
    fee_bumps.fee_bumps_broadcast()
    fee_bumps.fee_bumps_confirm()
    return built
