"""The Celery application. Tasks are thin wrappers around services."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_failure

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bank.settings")

app = Celery("alatau")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_failure.connect
def _count_failure(sender: Any = None, **kwargs: Any) -> None:
    """Count failed task runs for ``/metrics`` (``alatau_celery_task_failures``)."""
    from bank.metrics import task_failure_count

    task_failure_count(getattr(sender, "name", "unknown"))
