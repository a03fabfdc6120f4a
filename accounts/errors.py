"""Ledger errors with stable codes."""

from __future__ import annotations

from enum import StrEnum

from core.errors import ApplicationError, Conflict, InvalidState, NotFound, ValidationFailed


class AccountErrorCode(StrEnum):
    """Codes of the ledger errors."""

    INSUFFICIENT_FUNDS = "insufficient_funds"
    ACCOUNT_FROZEN = "account_frozen"
    ACCOUNT_CLOSED = "account_closed"
    ACCOUNT_NOT_FOUND = "account_not_found"
    CURRENCY_MISMATCH = "currency_mismatch"
    SAME_ACCOUNT = "same_account"
    ALREADY_REVERSED = "already_reversed"


class InsufficientFunds(ApplicationError):
    """The account does not have enough available funds."""

    code = AccountErrorCode.INSUFFICIENT_FUNDS
    http_status = 422


class AccountFrozen(InvalidState):
    """The account is frozen."""

    code = AccountErrorCode.ACCOUNT_FROZEN


class AccountClosed(InvalidState):
    """The account is closed."""

    code = AccountErrorCode.ACCOUNT_CLOSED


class AccountNotFound(NotFound):
    """The account does not exist."""

    code = AccountErrorCode.ACCOUNT_NOT_FOUND


class CurrencyMismatch(ValidationFailed):
    """The two accounts hold different currencies."""

    code = AccountErrorCode.CURRENCY_MISMATCH


class SameAccount(ValidationFailed):
    """Debit and credit account are the same."""

    code = AccountErrorCode.SAME_ACCOUNT


class AlreadyReversed(Conflict):
    """The transfer was already reversed."""

    code = AccountErrorCode.ALREADY_REVERSED
