"""What every treasury service shares: the cold wallet client and the system accounts."""

from __future__ import annotations

from django.conf import settings

from accounts.models import Account, AccountKind
from accounts.services import system_account
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
