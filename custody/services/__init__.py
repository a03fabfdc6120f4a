"""Every write of custody. Split by concept, re-exported here."""

from custody.services.addresses import deposit_address_new, internal_address_new
from custody.services.batches import (
    withdrawal_batch_broadcast,
    withdrawal_batch_confirm,
    withdrawal_batch_create,
    withdrawal_batch_fail,
)
from custody.services.deposits import ScanReport, deposit_scan
from custody.services.reorg import deposit_lose
from custody.services.review import (
    withdrawal_approve,
    withdrawal_reject,
    withdrawal_review_approve,
    withdrawal_review_reject,
)
from custody.services.wallets import wallet_load_or_create, wallets_setup
from custody.services.withdrawals import (
    withdrawal_address_check,
    withdrawal_cancel,
    withdrawal_request,
)

__all__ = [
    "ScanReport",
    "deposit_address_new",
    "deposit_lose",
    "deposit_scan",
    "internal_address_new",
    "wallet_load_or_create",
    "wallets_setup",
    "withdrawal_address_check",
    "withdrawal_approve",
    "withdrawal_batch_broadcast",
    "withdrawal_batch_confirm",
    "withdrawal_batch_create",
    "withdrawal_batch_fail",
    "withdrawal_cancel",
    "withdrawal_reject",
    "withdrawal_request",
    "withdrawal_review_approve",
    "withdrawal_review_reject",
]
