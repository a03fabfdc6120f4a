"""The Celery application. Tasks are thin wrappers around services."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bank.settings")

app = Celery("alatau")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
