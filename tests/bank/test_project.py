"""Project-level behaviour: production refuses unsafe settings; /healthz reports each dependency."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def _load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "ALATAU_ENV", "AUDIT_HMAC_KEY"}
    }
    return subprocess.run(
        [sys.executable, "-c", "import bank.settings"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_refuses_default_secret_and_debug() -> None:
    assert "SECRET_KEY must be set" in _load_settings(ALATAU_ENV="production").stderr
    # Anything but an explicit development or test environment is production.
    assert "SECRET_KEY must be set" in _load_settings(ALATAU_ENV="").stderr
    assert "SECRET_KEY must be set" in _load_settings(ALATAU_ENV="staging").stderr
    strong = "x" * 50
    prod = {"ALATAU_ENV": "production", "SECRET_KEY": strong, "DEBUG": "false"}
    # The audit anchors' key must be set too (audit/anchors.py).
    assert "AUDIT_HMAC_KEY must be set" in _load_settings(**prod).stderr
    prod["AUDIT_HMAC_KEY"] = "y" * 40
    assert "DEBUG must be off" in _load_settings(**{**prod, "DEBUG": "true"}).stderr
    assert _load_settings(**prod).returncode == 0
    assert _load_settings(ALATAU_ENV="development").returncode == 0


@pytest.mark.django_db
@pytest.mark.node
def test_healthz_reports_each_dependency(client: Client, bitcoind: str) -> None:
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    for name in ("database", "broker", "cache"):
        assert body["checks"][name]["status"] == "ok"
    assert "bitcoind" in body["checks"]
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_healthz_degraded_when_broker_is_down(client: Client, settings) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["broker"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.django_db
def test_healthz_degraded_not_down_when_the_node_is_unreachable(client: Client, settings) -> None:
    settings.BITCOIND_RPC_URL = "http://u:p@127.0.0.1:1"  # nothing listens on port 1
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200  # the web still serves
    assert body["status"] == "degraded"
    assert body["checks"]["bitcoind"]["status"] == "down"


@pytest.mark.django_db
def test_healthz_degraded_after_a_failed_reconciliation(client: Client, settings) -> None:
    from treasury.models import ReconciliationRun, ReconciliationStatus

    settings.BITCOIND_RPC_URL = "http://u:p@127.0.0.1:1"
    ReconciliationRun.objects.create(status=ReconciliationStatus.MISMATCH)
    body = client.get("/healthz").json()
    assert body["checks"]["reconciliation"]["status"] == "degraded"
    assert "did not match" in body["checks"]["reconciliation"]["detail"]


@pytest.mark.django_db
@pytest.mark.node
def test_metrics_serve_prometheus_text(client: Client, bitcoind: str) -> None:
    from treasury.models import ReconciliationRun, ReconciliationStatus

    ReconciliationRun.objects.create(
        status=ReconciliationStatus.OK, figures={"reserve": {"ratio_bp": 10_250}}
    )
    client.get("/healthz")  # one request observed
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert response["Content-Type"].startswith("text/plain")
    for name in (
        "alatau_http_request_duration_seconds_bucket",
        'alatau_celery_queue_depth{queue="deposits"}',
        "alatau_node_height_blocks",
        "alatau_node_lag_blocks 0.0",
        'alatau_custody_ledger_sats{wallet="hot"}',
        "alatau_reserve_ratio_bp 10250.0",
        "alatau_reconciliation_ok 1.0",
        "alatau_cases_open 0.0",
        "alatau_withdrawal_batches_unsent 0.0",
        "alatau_webhook_backlog 0.0",
    ):
        assert name in text, name
