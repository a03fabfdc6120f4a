"""Why a deposit goes to suspense instead of its address's account."""

from __future__ import annotations

from accounts.models import Account, AccountStatus
from custody.models import SuspenseReason


def suspense_reason(account: Account | None, sanctioned: list[str]) -> str:
    """The reason a deposit to ``account`` is held in suspense ("" if it is not).

    A sanctioned source wins over every other reason: that money is never the
    owner's until compliance decides, even if the account is also frozen.
    """
    return suspense_reason_for(None if account is None else str(account.status), sanctioned)


def suspense_reason_for(account_status: str | None, sanctioned: list[str]) -> str:
    """``suspense_reason`` from the account's status alone (None: no account)."""
    if sanctioned:
        return SuspenseReason.SANCTIONED_SOURCE
    if account_status is None:
        return SuspenseReason.UNKNOWN_ADDRESS
    if account_status == AccountStatus.FROZEN:
        return SuspenseReason.ACCOUNT_FROZEN
    if account_status == AccountStatus.CLOSED:
        return SuspenseReason.ACCOUNT_CLOSED
    return ""
