"""The controls every rate the bank sets obeys, whatever its currency.

- A rate older than ``EXCHANGE_RATE_MAX_AGE_S`` prices nothing.
- A new rate moving more than ``EXCHANGE_RATE_JUMP_MAX_BP`` from the one in force is a
  four-eyes change: set only with the approval compliance's engine is executing.
- Only active staff with the rate's permission, or the system (a feed, ``actor=None``,
  never a jump), set a rate.

The BTC/KZT rate (``rates``) and the fiat pricing rates (``pricing_rates``) both call
these; compliance's ``services.rates`` proposes the jumps.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.actor import Actor
from core.errors import PermissionDenied
from exchange.errors import RateJumpNeedsFourEyes

BP = 10_000


def rate_max_age() -> dt.timedelta:
    return dt.timedelta(seconds=int(settings.EXCHANGE_RATE_MAX_AGE_S))


def rate_is_stale(created_at: dt.datetime, *, at: dt.datetime | None = None) -> bool:
    """Return whether a rate set at ``created_at`` was too old to price with at ``at``."""
    return created_at < (at or timezone.now()) - rate_max_age()


def rate_jump_bp(*, before_tiyn: int, after_tiyn: int) -> int:
    """Return how far a new rate moves from the old one, in basis points (rounded up).

    The names say tiyn for history; any minor unit per BTC works the same.
    """
    return -(-abs(after_tiyn - before_tiyn) * BP // before_tiyn)


def rate_jump_over_bound(*, before: int | None, after: int) -> bool:
    """Return whether moving from ``before`` (None: no rate yet) to ``after`` needs four eyes."""
    if before is None:
        return False
    return rate_jump_bp(before_tiyn=before, after_tiyn=after) > int(
        settings.EXCHANGE_RATE_JUMP_MAX_BP
    )


def rate_setter_check(
    *,
    actor: Actor,
    approval: Any | None,
    needs_four_eyes: bool,
    action: str,
    permission: str,
    params: dict[str, Any],
) -> None:
    """Refuse a setter who may not set this rate, and a jump without a second person.

    ``approval`` must be the four-eyes request compliance is executing now: its action,
    approved by ``actor``, proposed by someone else, for exactly ``params``.
    """
    # ``None`` is the system (a rate feed); a person must be staff with the permission.
    if actor is not None and not (actor.is_active and actor.is_staff):
        raise PermissionDenied("Only active staff may set a rate")
    if actor is not None and not actor.has_perm(permission):
        raise PermissionDenied(f"You lack the permission {permission}")
    if not needs_four_eyes:
        return
    if (
        approval is None
        or getattr(approval, "action", None) != action
        or actor is None
        or approval.approved_by_id != actor.pk
        or approval.proposed_by_id in (None, actor.pk)
        or {k: approval.params.get(k) for k in params} != params
    ):
        raise RateJumpNeedsFourEyes(
            "This rate moves more than the bound from the one in force: one staff member "
            "proposes it, another approves"
        )
