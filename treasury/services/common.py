"""What every treasury service shares: the cold wallet client and the system accounts."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from accounts.models import Account, AccountKind
from accounts.services import system_account, transfer_create, transfer_reverse
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


def transit_legs_book(spend: Any, *, source: Account, key: str, memo: str) -> list[str]:
    """A spend via in_transit was broadcast: book source -> in_transit and the miner fee.

    The ``on_broadcast`` half shared by sweeps (hot -> cold) and cold moves (cold -> hot);
    ``key`` is the spend's idempotency prefix, so a re-sent broadcast books nothing twice.
    """
    transit, fees = ledger(AccountKind.IN_TRANSIT), ledger(AccountKind.FEES)
    spend.transit_transfer = transfer_create(
        debit_account_id=transit.pk, credit_account_id=source.pk,
        amount_minor=spend.amount_sats, code="sweep", source=spend,
        idempotency_key=f"{key}:transit", memo=f"{memo} {spend.txid}",
    )  # fmt: skip
    if spend.fee_sats:
        spend.fee_transfer = transfer_create(
            debit_account_id=fees.pk, credit_account_id=source.pk,
            amount_minor=int(spend.fee_sats), code="fee", source=spend,
            idempotency_key=f"{key}:fee", memo=f"miner fee {spend.txid}",
        )  # fmt: skip
    return ["transit_transfer", "fee_transfer"]


def transit_settle_book(spend: Any, *, target: Account, key: str, memo: str) -> list[str]:
    """The spend confirmed: book in_transit -> its target (the ``on_confirm`` half)."""
    spend.settle_transfer = transfer_create(
        debit_account_id=target.pk, credit_account_id=ledger(AccountKind.IN_TRANSIT).pk,
        amount_minor=spend.amount_sats, code="sweep", source=spend,
        idempotency_key=f"{key}:settle", memo=f"{memo} {spend.txid}",
    )  # fmt: skip
    return ["settle_transfer"]
