"""``/healthz``: is each dependency reachable, and is the bank's picture sound?

503 when a required dependency (database, broker, cache) is down. 200 with
``"status": "degraded"`` when the web can serve but operators must act: the node is
down or lags behind the headers it knows, or the last reconciliation did not match.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from custody.node import node_client
from treasury.models import ReconciliationStatus
from treasury.selectors import reconciliation_latest


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_broker() -> None:
    from kombu import Connection

    # A fresh connection to the configured URL, not Celery's pooled one: the check
    # must see the broker as it is now.
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def _check_cache() -> None:
    from django.core.cache import cache

    cache.set("healthz", "ok", timeout=5)


def _check_bitcoind() -> None:
    info = node_client(timeout_s=3).call("getblockchaininfo")
    lag = int(info["headers"]) - int(info["blocks"])
    if info.get("initialblockdownload") and settings.BITCOIN_NETWORK != "regtest":
        raise NodeLagging("the node is still in initial block download")
    if lag > int(settings.NODE_LAG_MAX_BLOCKS):
        raise NodeLagging(f"the node is {lag} blocks behind its headers")


def _check_reconciliation() -> None:
    run = reconciliation_latest()
    if run is not None and run.status != ReconciliationStatus.OK:
        raise ReconciliationFailed(f"the last reconciliation (#{run.pk}) did not match")


class NodeLagging(Exception):
    """The node is behind the chain it knows of."""


class ReconciliationFailed(Exception):
    """The last reconciliation found a difference."""


CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "broker": _check_broker,
    "cache": _check_cache,
}
# Soft: the node down or lagging, or a failed reconciliation, degrade the bank (operators
# must act) but the web still serves reads and requests.
OPTIONAL_CHECKS: dict[str, Callable[[], None]] = {
    "bitcoind": _check_bitcoind,
    "reconciliation": _check_reconciliation,
}


def _run(check: Callable[[], None]) -> dict[str, object]:
    started = time.perf_counter()
    try:
        check()
    except (NodeLagging, ReconciliationFailed) as exc:
        return {"status": "degraded", "detail": str(exc)}
    except Exception as exc:
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    results = {name: _run(check) for name, check in CHECKS.items()}
    optional = {name: _run(check) for name, check in OPTIONAL_CHECKS.items()}
    healthy = all(r["status"] == "ok" for r in results.values())
    sound = all(r["status"] == "ok" for r in optional.values())
    status = "ok" if healthy and sound else "degraded"
    body = {"status": status, "checks": {**results, **optional}}
    return JsonResponse(body, status=200 if healthy else 503)
