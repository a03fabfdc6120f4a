"""The one retry policy of the Celery tasks: retry a named failure, back off, give up.

Tasks are thin and idempotent (each calls one service), so a retry is harmless. A task
retries only on the errors it names (a dependency that is down, such as the node), with
exponential backoff and jitter, and a bounded number of attempts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import shared_task
from kombu.exceptions import OperationalError

logger = logging.getLogger("alatau.tasks")

# Publishing a task while the broker is down: a few short tries, then give up (bounded).
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.5}
OPERATIONAL_ERRORS = (OperationalError, ConnectionError, OSError)

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


def enqueue_or_leave(task: Any, *args: Any) -> bool:
    """Send ``task`` now if the broker answers; else log and leave it to the periodic sweep.

    For work whose state is already committed (a pending webhook delivery): a broker that
    is down must not turn a finished request into an error, and the work is not lost,
    because a periodic task picks up what is still pending once the broker is back.
    Publishing is bounded (``CELERY_BROKER_PUBLISH_RETRY``): it never hangs a request.
    """
    try:
        task.apply_async(args=args, retry=True, retry_policy=PUBLISH_RETRY)
    except OPERATIONAL_ERRORS as exc:
        logger.warning("broker unavailable, left for the sweep",
                       extra={"task": getattr(task, "name", str(task)), "error": str(exc)[:200]})  # fmt: skip
        return False
    return True
