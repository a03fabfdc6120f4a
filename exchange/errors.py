"""Exchange errors with stable codes."""

from __future__ import annotations

from core.errors import Conflict, InvalidState, PermissionDenied, ServiceUnavailable


class RateUnavailable(ServiceUnavailable):
    """No BTC/KZT rate is set."""

    code = "rate_unavailable"


class RateStale(ServiceUnavailable):
    """The rate in force is older than the bank allows to price with."""

    code = "rate_stale"


class RateJumpNeedsFourEyes(PermissionDenied):
    """A rate that jumps over the bound needs a second staff member."""

    code = "rate_jump_four_eyes"


class QuoteExpired(InvalidState):
    """The quote has expired; ask for a new one."""

    code = "quote_expired"


class QuoteUsed(Conflict):
    """The quote was already used."""

    code = "quote_used"
