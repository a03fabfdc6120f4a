"""Application errors with stable codes.

Services raise these and never HTTP exceptions. One handler maps them to
``{"code", "message", "fields"}`` in the API (``bank.api_errors``) and the web
views turn them into form errors.
"""

from __future__ import annotations


class ApplicationError(Exception):
    """Base of every error a user may read. ``code`` is stable for clients."""

    code = "error"
    http_status = 400

    def __init__(self, message: str = "", *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        self.fields = fields or {}

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "fields": self.fields}


class ValidationFailed(ApplicationError):
    """The input is not valid."""

    code = "validation_error"
    http_status = 422


class NotFound(ApplicationError):
    """The object does not exist or is not yours."""

    code = "not_found"
    http_status = 404


class PermissionDenied(ApplicationError):
    """You are not allowed to do this."""

    code = "permission_denied"
    http_status = 403


class Conflict(ApplicationError):
    """The request conflicts with the current state."""

    code = "conflict"
    http_status = 409


class IdempotencyConflict(Conflict):
    """This idempotency key was already used for a different request."""

    code = "idempotency_conflict"


class InvalidState(Conflict):
    """The object is not in a state that allows this action."""

    code = "invalid_state"


class ServiceUnavailable(ApplicationError):
    """A dependency is not reachable; try again later."""

    code = "service_unavailable"
    http_status = 503


class InvariantViolation(RuntimeError):
    """An internal invariant failed: a bug, never a user error."""


def invariant(condition: object, message: str) -> None:
    """Assert an invariant that stays on under ``python -O`` (unlike ``assert``)."""
    if not condition:
        raise InvariantViolation(message)
