"""Deposit listeners through an outbox: retried until they succeed, once in effect.

``CUSTODY_DEPOSIT_LISTENERS`` are callables of the upper apps (merchants follows its
invoices). Custody never calls them inside its own transaction: ``listeners_enqueue``
writes one ``ListenerCall`` row per (deposit, listener) in the transaction that changed
the deposit; after commit, and from the periodic task ``custody.tasks.deposit_listeners``,
``listeners_run`` calls each listener in a transaction that also deletes its rows. A
listener that fails leaves its rows with a backoff; nothing is dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from custody.models import AddressPurpose, Deposit, ListenerCall

logger = logging.getLogger("alatau.custody.deposits")

RUN_MAX = 500
BACKOFF_MAX_S = 600


def _paths() -> list[str]:
    return [str(p) for p in (getattr(settings, "CUSTODY_DEPOSIT_LISTENERS", []) or [])]


def listeners_enqueue(deposit_ids: Iterable[int]) -> int:
    """Owe every listener a call for these (invoice) deposits; run them after commit."""
    paths = _paths()
    ids = list(
        Deposit.objects.filter(
            pk__in=list(deposit_ids), deposit_address__purpose=AddressPurpose.INVOICE
        ).values_list("pk", flat=True)
    )
    if not paths or not ids:
        return 0
    now = timezone.now()
    ListenerCall.objects.bulk_create(
        [ListenerCall(deposit_id=i, listener=p, next_at=now) for i in ids for p in paths],
        batch_size=1_000,
    )
    # robust: a failure here never reaches the caller whose change already committed;
    # the rows stay and the periodic task runs them.
    transaction.on_commit(lambda: listeners_run(deposit_ids=ids), robust=True)
    return len(ids) * len(paths)


def listeners_run(*, deposit_ids: list[int] | None = None, limit: int = RUN_MAX) -> int:
    """Call the listeners owed (due now, or for ``deposit_ids``); return how many succeeded."""
    due = ListenerCall.objects.order_by("next_at", "pk")
    due = (
        due.filter(deposit_id__in=deposit_ids)
        if deposit_ids is not None
        else due.filter(next_at__lte=timezone.now())
    )
    pairs = list(dict.fromkeys(due.values_list("deposit_id", "listener")[:limit]))
    done = 0
    for deposit_id, listener in pairs:
        try:
            done += int(_run_one(deposit_id, listener))
        except Exception:  # the outbox itself failed (e.g. the database): next run retries
            logger.exception("deposit listener outbox failed for %s", deposit_id)
    return done


def _run_one(deposit_id: int, listener: str) -> bool:
    with transaction.atomic():
        rows = list(
            ListenerCall.objects.select_for_update(skip_locked=True)
            .filter(deposit_id=deposit_id, listener=listener).order_by("pk")
        )  # fmt: skip
        if not rows:
            return False  # done meanwhile, or another worker has them
        deposit = Deposit.objects.select_related("deposit_address").get(pk=deposit_id)
        try:
            with transaction.atomic():
                import_string(listener)(deposit)
        except Exception as exc:
            logger.exception("deposit listener %s failed for %s", listener, deposit_id)
            attempts = max(r.attempts for r in rows) + 1
            delay = min(BACKOFF_MAX_S, 2**attempts)
            ListenerCall.objects.filter(pk__in=[r.pk for r in rows]).update(
                attempts=attempts, last_error=repr(exc)[:500],
                next_at=timezone.now() + dt.timedelta(seconds=delay),
            )  # fmt: skip
            return False
        ListenerCall.objects.filter(pk__in=[r.pk for r in rows]).delete()
        return True
