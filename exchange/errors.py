"""Exchange errors with stable codes."""

from __future__ import annotations

from enum import StrEnum

from core.errors import Conflict, InvalidState


class ExchangeErrorCode(StrEnum):
    """Codes of the exchange errors."""

    QUOTE_EXPIRED = "quote_expired"
    QUOTE_USED = "quote_used"


class QuoteExpired(InvalidState):
    """The quote has expired; ask for a new one."""

    code = ExchangeErrorCode.QUOTE_EXPIRED


class QuoteUsed(Conflict):
    """The quote was already used."""

    code = ExchangeErrorCode.QUOTE_USED
