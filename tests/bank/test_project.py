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
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "ALATAU_ENV"}}
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
    assert "DEBUG must be off" in _load_settings(**{**prod, "DEBUG": "true"}).stderr
    assert _load_settings(**prod).returncode == 0
    assert _load_settings(ALATAU_ENV="development").returncode == 0


@pytest.mark.django_db
def test_healthz_reports_each_dependency(client: Client) -> None:
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
