"""``/metrics``: Prometheus text for operators (prometheus-client).

Two kinds of figure:
- counted in the process: request latency (``RequestLogMiddleware`` observes it); with
  several gunicorn workers set ``PROMETHEUS_MULTIPROC_DIR`` (``make run`` does) so each
  scrape sums every worker's figures;
- read at scrape time from the bank's own state: Celery queue depth on the broker, task
  failures (counted by the workers in Redis), node height and lag, hot and cold balances
  in the ledger, the last reconciliation's reserve ratio, open cases, signed but unsent
  withdrawal batches, and the webhook backlog. Each read is bounded (timeouts, counts)
  and a failing source drops its own figures only.

The alerts an operator should set on these are in ``docs/operations.md``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from kombu import Connection
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from accounts.models import Account, AccountKind
from compliance.models import Case, CaseStatus
from custody.models import BatchStatus, ListenerCall, WithdrawalBatch
from custody.node import node_client
from merchants.models import DeliveryStatus, WebhookDelivery
from treasury.models import ReconciliationRun, ReconciliationStatus

logger = logging.getLogger("alatau.metrics")

QUEUES = ("default", "deposits", "withdrawals", "webhooks", "reports")
TASK_FAILURES_KEY = "alatau:metrics:task_failures"

REQUEST_SECONDS = Histogram(
    "alatau_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def request_observe(*, method: str, status: int, seconds: float) -> None:
    """Count one answered request (called by the request middleware)."""
    REQUEST_SECONDS.labels(method=method, status=str(status)).observe(seconds)


def _redis() -> redis.Redis:
    url = settings.CACHES["default"]["LOCATION"]
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def task_failure_count(task_name: str) -> None:
    """Count a failed task (Celery's ``task_failure`` signal, in the worker)."""
    try:
        _redis().hincrby(TASK_FAILURES_KEY, task_name[:200], 1)
    except redis.RedisError:
        logger.warning("could not count a task failure", extra={"task": task_name})


def _gauge(name: str, doc: str, value: float | None, **labels: str) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=list(labels))
    if value is not None:
        family.add_metric(list(labels.values()), value)
    return family


class BankCollector(Collector):
    """Reads the bank's state at scrape time; a failing source skips only its figures."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for source in (self._queues, self._failures, self._node, self._ledger,
                       self._reconciliation, self._work):  # fmt: skip
            try:
                yield from source()
            except Exception as exc:
                logger.warning("metrics source failed", extra={"source": source.__name__,
                                                               "error": type(exc).__name__})  # fmt: skip

    def _queues(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("alatau_celery_queue_depth", "Messages waiting per queue",
                                   labels=["queue"])  # fmt: skip
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            channel: Any = conn.default_channel  # kombu's typing omits queue_declare
            for queue in QUEUES:
                # Declared as Celery declares its queues (durable): idempotent, and a queue
                # no worker has declared yet simply counts 0.
                declared = channel.queue_declare(queue=queue, durable=True, auto_delete=False)
                family.add_metric([queue], declared.message_count)
        yield family

    def _failures(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("alatau_celery_task_failures", "Failed task runs since reset",
                                   labels=["task"])  # fmt: skip
        for task, count in _redis().hgetall(TASK_FAILURES_KEY).items():
            name = task.decode() if isinstance(task, bytes) else str(task)
            family.add_metric([name], int(count))
        yield family

    def _node(self) -> Iterator[GaugeMetricFamily]:
        info: dict[str, Any] = node_client(timeout_s=3).call("getblockchaininfo")
        yield _gauge("alatau_node_height_blocks", "Blocks the node has validated", info["blocks"])
        yield _gauge("alatau_node_lag_blocks", "Headers known but not validated",
                     int(info["headers"]) - int(info["blocks"]))  # fmt: skip
        yield _gauge("alatau_node_tip_time_seconds", "Time of the node's best block",
                     int(info.get("time") or info.get("mediantime") or 0))  # fmt: skip

    def _ledger(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("alatau_custody_ledger_sats",
                                   "BTC the ledger says is held, per wallet", labels=["wallet"])  # fmt: skip
        kinds = {AccountKind.CUSTODY_HOT: "hot", AccountKind.CUSTODY_COLD: "cold"}
        rows = Account.objects.filter(owner=None, currency="BTC", kind__in=list(kinds))
        for kind, posted in rows.values_list("kind", "posted_minor"):
            family.add_metric([kinds[AccountKind(kind)]], -posted)  # custody mirrors are negative
        yield family

    def _reconciliation(self) -> Iterator[GaugeMetricFamily]:
        run = ReconciliationRun.objects.order_by("-pk").first()
        if run is None:
            return
        ratio = (run.figures or {}).get("reserve", {}).get("ratio_bp")
        yield _gauge("alatau_reserve_ratio_bp", "Reserve ratio of the last reconciliation", ratio)
        yield _gauge("alatau_reconciliation_ok", "1 if the last reconciliation matched",
                     1 if run.status == ReconciliationStatus.OK else 0)  # fmt: skip
        yield _gauge("alatau_reconciliation_time_seconds", "When the last reconciliation ran",
                     run.created_at.timestamp())  # fmt: skip

    def _work(self) -> Iterator[GaugeMetricFamily]:
        yield _gauge("alatau_cases_open", "Compliance cases not closed",
                     Case.objects.exclude(status=CaseStatus.CLOSED).count())  # fmt: skip
        yield _gauge("alatau_withdrawal_batches_unsent", "Signed batches not yet broadcast",
                     WithdrawalBatch.objects.filter(status=BatchStatus.SIGNED).count())  # fmt: skip
        yield _gauge("alatau_deposit_listener_backlog", "Deposit listener calls owed (outbox)",
                     ListenerCall.objects.count())  # fmt: skip
        yield _gauge("alatau_webhook_backlog", "Webhook deliveries waiting",
                     WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).count())  # fmt: skip


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_SECONDS)
    registry.register(BankCollector())
    return registry


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Serve the figures in Prometheus text format."""
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
