"""Compliance errors with stable codes."""

from __future__ import annotations

from enum import StrEnum

from core.errors import ApplicationError, PermissionDenied, ValidationFailed


class ComplianceErrorCode(StrEnum):
    """Codes of the compliance errors."""

    LIMIT_EXCEEDED = "limit_exceeded"
    FOUR_EYES = "four_eyes"
    TRAVEL_RULE_REQUIRED = "travel_rule_required"
    UNKNOWN_ACTION = "unknown_action"


class LimitExceeded(ApplicationError):
    """The amount is over a limit of your verification tier."""

    code = ComplianceErrorCode.LIMIT_EXCEEDED
    http_status = 422


class FourEyesViolation(PermissionDenied):
    """The same person cannot both propose and approve an action."""

    code = ComplianceErrorCode.FOUR_EYES


class TravelRuleMissing(ValidationFailed):
    """Beneficiary details are required for a withdrawal of this size."""

    code = ComplianceErrorCode.TRAVEL_RULE_REQUIRED


class UnknownAction(ValidationFailed):
    """This action cannot be proposed for approval."""

    code = ComplianceErrorCode.UNKNOWN_ACTION
