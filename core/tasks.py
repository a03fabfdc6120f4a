"""The one retry policy of the Celery tasks: retry a named failure, back off, give up.

Tasks are thin and idempotent (each calls one service), so a retry is harmless. A task
retries only on the errors it names (a dependency that is down, such as the node), with
exponential backoff and jitter, and a bounded number of attempts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import shared_task

BACKOFF_S = 5
BACKOFF_MAX_S = 300
RETRIES_MAX = 10


def retrying_task(
    *retry_on: type[Exception], **options: Any
) -> Callable[[Callable[..., Any]], Any]:
    """Return ``shared_task`` that retries on ``retry_on`` only, with bounded backoff."""
    if not retry_on:
        raise ValueError("name the errors to retry on")
    return shared_task(
        autoretry_for=retry_on,
        retry_backoff=BACKOFF_S,
        retry_backoff_max=BACKOFF_MAX_S,
        retry_jitter=True,
        max_retries=RETRIES_MAX,
        **options,
    )
