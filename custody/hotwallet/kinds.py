"""What the lifecycle needs to know about one kind of spend, and the hot-wallet registry.

A kind's model stores the committed transaction (``txid``, ``raw_tx``, ``inputs``,
``status``, ``confirmations``, ``last_error``, ``broadcast_at``, ``confirmed_at``; and
``broadcast_attempts`` where it counts them). Its hooks book the kind's own ledger legs
inside the lifecycle's transaction, with the row locked, and return the names of the
fields they set on it.

Custody registers its withdrawal batches and treasury its sweeps (from ``AppConfig.ready``):
the builder of any hot-wallet spend asks every registered kind whether a committed
spend is still unsent, without custody knowing treasury's models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models


@dataclass(frozen=True)
class SpendKind:
    """One kind of committed spend: its model, its four states and its ledger hooks."""

    name: str  # audit actions are "<name>.broadcast", "<name>.confirm", "<name>.fail"
    model: type[models.Model]
    signed: str
    broadcast: str
    confirmed: str
    failed: str
    confirmations_needed: Callable[[], int]
    on_broadcast: Callable[[Any], Sequence[str]]
    on_confirm: Callable[[Any], Sequence[str]]
    on_fail: Callable[[Any, str], Sequence[str]]
    broadcast_max: int = 20
    confirm_max: int = 50
    # Why a committed spend must not be sent now ("" to send): a frozen account's money.
    hold_reason: Callable[[Any], str] = lambda spend: ""

    def rows(self) -> models.QuerySet[Any]:
        return self.model._default_manager.all()

    def unsent(self) -> models.QuerySet[Any]:
        """Committed, not yet accepted by the node."""
        return self.rows().filter(status=self.signed)


_HOT_SPENDS: dict[str, SpendKind] = {}


def hot_spend_register(kind: SpendKind) -> None:
    """Register (or replace) a kind of spend that pays out of the hot wallet."""
    _HOT_SPENDS[kind.name] = kind


def hot_spends_registered() -> Iterable[SpendKind]:
    return tuple(_HOT_SPENDS.values())
