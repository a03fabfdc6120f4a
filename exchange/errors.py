"""Exchange errors with stable codes."""

from __future__ import annotations

from enum import StrEnum

from core.errors import Conflict, InvalidState, PermissionDenied, ServiceUnavailable


class ExchangeErrorCode(StrEnum):
    """Codes of the exchange errors."""

    QUOTE_EXPIRED = "quote_expired"
    QUOTE_USED = "quote_used"
    RATE_UNAVAILABLE = "rate_unavailable"
    RATE_STALE = "rate_stale"
    RATE_JUMP_FOUR_EYES = "rate_jump_four_eyes"


class RateUnavailable(ServiceUnavailable):
    """No BTC/KZT rate is set."""

    code = ExchangeErrorCode.RATE_UNAVAILABLE


class RateStale(ServiceUnavailable):
    """The rate in force is older than the bank allows to price with."""

    code = ExchangeErrorCode.RATE_STALE


class RateJumpNeedsFourEyes(PermissionDenied):
    """A rate that jumps over the bound needs a second staff member."""

    code = ExchangeErrorCode.RATE_JUMP_FOUR_EYES


class QuoteExpired(InvalidState):
    """The quote has expired; ask for a new one."""

    code = ExchangeErrorCode.QUOTE_EXPIRED


class QuoteUsed(Conflict):
    """The quote was already used."""

    code = ExchangeErrorCode.QUOTE_USED
