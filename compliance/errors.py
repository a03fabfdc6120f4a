"""Compliance errors with stable codes."""

from core.errors import ApplicationError, PermissionDenied, ValidationFailed


class LimitExceeded(ApplicationError):
    """The amount is over a limit of your verification tier."""

    code = "limit_exceeded"
    http_status = 422


class FourEyesViolation(PermissionDenied):
    """The same person cannot both propose and approve an action."""

    code = "four_eyes"


class TravelRuleMissing(ValidationFailed):
    """Beneficiary details are required for a withdrawal of this size."""

    code = "travel_rule_required"


class UnknownAction(ValidationFailed):
    """This action cannot be proposed for approval."""

    code = "unknown_action"
