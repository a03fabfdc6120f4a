"""Treasury errors with stable codes."""

from __future__ import annotations

from enum import StrEnum

from compliance.errors import FourEyesViolation
from core.errors import InvalidState, ValidationFailed


class TreasuryErrorCode(StrEnum):
    """Codes of the treasury errors (a cold-move four-eyes breach keeps compliance's)."""

    DESCRIPTOR_INVALID = "descriptor_invalid"
    COLD_MOVE_STATE = "cold_move_state"
    PSBT_REFUSED = "psbt_refused"
    DESCRIPTOR_UNAPPROVED = "descriptor_unapproved"


class DescriptorInvalid(ValidationFailed):
    """The descriptor is not a public, ranged descriptor the node accepts."""

    code = TreasuryErrorCode.DESCRIPTOR_INVALID


class DescriptorUnapproved(InvalidState):
    """The cold address is not on a descriptor two staff members approved."""

    code = TreasuryErrorCode.DESCRIPTOR_UNAPPROVED


class ColdMoveState(InvalidState):
    """The cold-to-hot move is not in a state that allows this action."""

    code = TreasuryErrorCode.COLD_MOVE_STATE


class PsbtRefused(ValidationFailed):
    """The signed PSBT does not pay exactly what was approved."""

    code = TreasuryErrorCode.PSBT_REFUSED


class ColdFourEyes(FourEyesViolation):
    """The requester and the two approvers of a cold move must be three different people.

    The same meaning as compliance's ``FourEyesViolation``, so the same code.
    """
