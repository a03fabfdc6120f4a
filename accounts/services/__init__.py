"""Every write to customers and the ledger. Split by concept, re-exported here."""

from accounts.services.accounts import (
    account_freeze,
    account_open,
    account_unfreeze,
    system_account,
)
from accounts.services.holds import hold_create, hold_expire_due, hold_post, hold_void
from accounts.services.posting import accounts_lock
from accounts.services.transfers import transfer_create, transfer_reverse

__all__ = [
    "account_freeze",
    "account_open",
    "account_unfreeze",
    "accounts_lock",
    "hold_create",
    "hold_expire_due",
    "hold_post",
    "hold_void",
    "system_account",
    "transfer_create",
    "transfer_reverse",
]
