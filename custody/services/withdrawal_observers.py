"""Tell upper apps, after commit, which withdrawals changed status.

Merchants follows the withdrawals behind its payouts (``PayoutUpdated`` webhooks), and
custody must not import it: merchants registers a callable here at startup
(``AppConfig.ready``). Custody calls ``withdrawals_changed`` in the transaction that
moved the withdrawals; the observers run after that commit, with no custody lock held,
and a failure never reaches custody (``robust``). This is a shortcut, not an outbox:
each observer must also catch up on its own (merchants' periodic ``payouts_observe``),
and must be idempotent, since it may hear of one change twice or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial

from django.db import transaction

logger = logging.getLogger("alatau.custody.withdrawals")

_OBSERVERS: dict[str, Callable[[list[int]], object]] = {}


def withdrawal_observer_register(name: str, observer: Callable[[list[int]], object]) -> None:
    """Register (or replace) an observer called with the ids of changed withdrawals."""
    _OBSERVERS[name] = observer


def withdrawals_changed(withdrawal_ids: Iterable[int]) -> None:
    """Call every observer with these ids once the current transaction commits."""
    ids = sorted(set(withdrawal_ids))
    if not ids or not _OBSERVERS:
        return
    for name, observer in list(_OBSERVERS.items()):
        transaction.on_commit(partial(_call, name, observer, ids), robust=True)


def _call(name: str, observer: Callable[[list[int]], object], ids: list[int]) -> None:
    try:
        observer(ids)
    except Exception:  # the observer catches up on its own schedule
        logger.exception("withdrawal observer %s failed for %s", name, ids)
