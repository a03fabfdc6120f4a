"""Custody facts shown on the dashboard: the deposit address and open withdrawals."""

from __future__ import annotations

from typing import Any

from accounts.selectors import customer_accounts
from custody.models import Withdrawal
from custody.selectors import OPEN_STATUSES, deposit_address_current

PENDING_MAX = 10


def dashboard_panels(user: Any) -> dict[str, Any]:
    btc = customer_accounts(owner=user).filter(currency="BTC").first()
    if btc is None:
        return {}
    pending = Withdrawal.objects.filter(account=btc, status__in=OPEN_STATUSES).order_by("-id")
    return {
        "deposit_address": deposit_address_current(account=btc),
        "pending_withdrawals": list(pending[:PENDING_MAX]),
    }
