"""Celery tasks: thin wrappers around the treasury services, idempotent, bounded retries."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from custody.errors import NodeUnavailable
from treasury import services

RETRY_ON = (NodeUnavailable,)  # only when the node is unreachable, with bounded backoff


@shared_task(
    autoretry_for=RETRY_ON,
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=10,
)
def treasury_rebalance() -> dict[str, Any]:
    """Settle moves in flight, then sweep the hot excess or raise a refill request."""
    services.sweeps_broadcast()
    services.sweeps_confirm()
    services.cold_moves_broadcast()
    services.cold_moves_confirm()
    report = services.treasury_rebalance()
    return {"hot_trusted_sats": report.hot_trusted_sats,
            "sweep": report.sweep.pk if report.sweep else None,
            "cold_move": report.cold_move.pk if report.cold_move else None}  # fmt: skip


@shared_task(
    autoretry_for=RETRY_ON,
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=10,
)
def treasury_reconcile() -> dict[str, Any]:
    """Reconcile the node's wallets with the ledger and store the run."""
    run = services.reconcile(trigger="periodic")
    return {"run": run.pk, "status": run.status}


@shared_task(
    autoretry_for=RETRY_ON,
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=10,
)
def treasury_reserves_snapshot() -> int:
    """Take a proof-of-reserves snapshot."""
    return services.reserves_snapshot().pk
