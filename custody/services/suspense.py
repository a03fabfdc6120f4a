"""Why a deposit goes to suspense instead of its address's account."""

from __future__ import annotations

from accounts.models import Account, AccountStatus
from custody.models import SuspenseReason


def suspense_reason(account: Account | None, sanctioned: list[str]) -> str:
    """The reason a deposit to ``account`` is held in suspense ("" if it is not).

    A sanctioned source wins over every other reason: that money is never the
    owner's until compliance decides, even if the account is also frozen.
    """
    if sanctioned:
        return SuspenseReason.SANCTIONED_SOURCE
    if account is None:
        return SuspenseReason.UNKNOWN_ADDRESS
    if account.status == AccountStatus.FROZEN:
        return SuspenseReason.ACCOUNT_FROZEN
    if account.status == AccountStatus.CLOSED:
        return SuspenseReason.ACCOUNT_CLOSED
    return ""
