"""``/healthz``: is each dependency reachable? 200 when all are, 503 otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_broker() -> None:
    from django.conf import settings
    from kombu import Connection

    # A fresh connection to the configured URL, not Celery's pooled one: the check
    # must see the broker as it is now.
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def _check_cache() -> None:
    from django.core.cache import cache

    cache.set("healthz", "ok", timeout=5)


def _check_bitcoind() -> None:
    from custody.node import node_client

    node_client().call("getblockchaininfo")


CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "broker": _check_broker,
    "cache": _check_cache,
}
# Optional: the node being down degrades deposits/withdrawals but not reads.
OPTIONAL_CHECKS: dict[str, Callable[[], None]] = {"bitcoind": _check_bitcoind}


def _run(check: Callable[[], None]) -> dict[str, object]:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    results = {name: _run(check) for name, check in CHECKS.items()}
    optional = {name: _run(check) for name, check in OPTIONAL_CHECKS.items()}
    healthy = all(r["status"] == "ok" for r in results.values())
    body = {"status": "ok" if healthy else "degraded", "checks": {**results, **optional}}
    return JsonResponse(body, status=200 if healthy else 503)
