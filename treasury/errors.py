"""Treasury errors with stable codes."""

from __future__ import annotations

from compliance.errors import FourEyesViolation
from core.errors import InvalidState, ValidationFailed


class DescriptorInvalid(ValidationFailed):
    """The descriptor is not a public, ranged descriptor the node accepts."""

    code = "descriptor_invalid"


class ColdMoveState(InvalidState):
    """The cold-to-hot move is not in a state that allows this action."""

    code = "cold_move_state"


class PsbtRefused(ValidationFailed):
    """The signed PSBT does not pay exactly what was approved."""

    code = "psbt_refused"


class ColdFourEyes(FourEyesViolation):
    """The requester and the two approvers of a cold move must be three different people."""

    code = "four_eyes"
