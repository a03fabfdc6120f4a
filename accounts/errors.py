"""Ledger errors with stable codes."""

from core.errors import ApplicationError, Conflict, InvalidState, NotFound, ValidationFailed


class InsufficientFunds(ApplicationError):
    """The account does not have enough available funds."""

    code = "insufficient_funds"
    http_status = 422


class AccountFrozen(InvalidState):
    """The account is frozen."""

    code = "account_frozen"


class AccountClosed(InvalidState):
    """The account is closed."""

    code = "account_closed"


class AccountNotFound(NotFound):
    """The account does not exist."""

    code = "account_not_found"


class CurrencyMismatch(ValidationFailed):
    """The two accounts hold different currencies."""

    code = "currency_mismatch"


class SameAccount(ValidationFailed):
    """Debit and credit account are the same."""

    code = "same_account"


class AlreadyReversed(Conflict):
    """The transfer was already reversed."""

    code = "already_reversed"
