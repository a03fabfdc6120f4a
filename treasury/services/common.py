"""What every treasury service shares: the cold wallet client and the system accounts."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from accounts.models import Account, AccountKind
from accounts.services import system_account, transfer_reverse
from custody.node import NodeClient, node_client

COLD_MOVE_PERMISSION = "compliance.approve_cold_move"


def cold_wallet_name() -> str:
    return str(settings.TREASURY_COLD_WALLET)


def cold_wallet() -> NodeClient:
    """Return a client scoped to the watch-only cold wallet."""
    return node_client().wallet(cold_wallet_name())


def ledger(kind: str) -> Account:
    """Return the bank's BTC system account of ``kind``."""
    return system_account(kind, "BTC")


def custody_accounts() -> tuple[Account, Account, Account, Account]:
    """Return (custody_hot, custody_cold, in_transit, fees), BTC."""
    return (
        ledger(AccountKind.CUSTODY_HOT), ledger(AccountKind.CUSTODY_COLD),
        ledger(AccountKind.IN_TRANSIT), ledger(AccountKind.FEES),
    )  # fmt: skip


def transit_legs_reverse(spend: Any, reason: str) -> list[str]:
    """A spend via in_transit failed: reverse what its broadcast booked (nothing if none).

    The ``on_fail`` hook of sweeps and cold moves alike (``custody.hotwallet.kinds``).
    """
    for transfer_id in (spend.transit_transfer_id, spend.fee_transfer_id):
        if transfer_id is not None:
            transfer_reverse(transfer_id=transfer_id, actor=None, reason=reason)
    return []
