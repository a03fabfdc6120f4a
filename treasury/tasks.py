"""Celery tasks: thin wrappers around the treasury services, idempotent, bounded retries."""

from __future__ import annotations

from typing import Any

from core.tasks import retrying_task
from custody.errors import NodeUnavailable
from treasury import services

RETRY_ON = (NodeUnavailable,)  # only when the node is unreachable (core's bounded backoff)


@retrying_task(*RETRY_ON)
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


@retrying_task(*RETRY_ON)
def treasury_reconcile() -> dict[str, Any]:
    """Reconcile the node's wallets with the ledger and store the run."""
    run = services.reconcile(trigger="periodic")
    return {"run": run.pk, "status": run.status}


@retrying_task(*RETRY_ON)
def treasury_reserves_snapshot() -> int:
    """Take a proof-of-reserves snapshot."""
    return services.reserves_snapshot().pk
