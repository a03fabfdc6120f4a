"""Treasury reads: the latest reconciliation and reserve snapshot, a customer's proof."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from treasury.models import ReconciliationRun, ReserveLeaf, ReserveSnapshot


def reconciliation_latest() -> ReconciliationRun | None:
    """Return the newest reconciliation run (``status``, ``created_at``), or None."""
    return ReconciliationRun.objects.order_by("-pk").first()


def reserve_snapshot_latest() -> ReserveSnapshot | None:
    """Return the newest proof-of-reserves snapshot, or None."""
    return ReserveSnapshot.objects.order_by("-pk").first()


def reserve_accounts_for(*, user: Any, snapshot: ReserveSnapshot) -> list[Account]:
    """Return the user's accounts that have a leaf in ``snapshot``."""
    ids = ReserveLeaf.objects.filter(snapshot=snapshot, account__owner=user).values_list(
        "account_id", flat=True
    )
    return list(Account.objects.filter(pk__in=list(ids)).order_by("pk"))


def reconciliation_last_text() -> str:
    """Return the last reconciliation run's status and time, or "none yet"."""
    run = ReconciliationRun.objects.order_by("-pk").first()
    if run is None:
        return str(_("none yet"))
    when = timezone.localtime(run.created_at)
    return f"{run.status} ({when:%Y-%m-%d %H:%M})"
