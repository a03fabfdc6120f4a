"""Application errors with stable codes.

Services raise these and never HTTP exceptions. One handler maps them to
``{"code", "message", "fields"}`` in the API (``bank.api_errors``) and the web
views turn them into form errors.

Codes are an enumeration per app (``CoreErrorCode`` here, ``AccountErrorCode`` in
``accounts.errors``, ...): a ``StrEnum``, so a code compares equal to its string and
serialises as it. Every ``ApplicationError`` subclass takes its ``code`` from its
app's enum; a code names one meaning only (``tests/core/test_error_codes.py``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class CoreErrorCode(StrEnum):
    """The codes of the generic errors below, shared by every app."""

    ERROR = "error"
    VALIDATION_ERROR = "validation_error"
    NOT_FOUND = "not_found"
    PERMISSION_DENIED = "permission_denied"
    CONFLICT = "conflict"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    INVALID_STATE = "invalid_state"
    SERVICE_UNAVAILABLE = "service_unavailable"


class ApplicationError(Exception):
    """Base of every error a user may read. ``code`` is stable for clients."""

    code: ClassVar[StrEnum] = CoreErrorCode.ERROR
    http_status = 400

    def __init__(self, message: str = "", *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        self.fields = fields or {}

    def as_dict(self) -> dict[str, object]:
        return {"code": str(self.code), "message": self.message, "fields": self.fields}


class ValidationFailed(ApplicationError):
    """The input is not valid."""

    code: ClassVar[StrEnum] = CoreErrorCode.VALIDATION_ERROR
    http_status = 422


class NotFound(ApplicationError):
    """The object does not exist or is not yours."""

    code: ClassVar[StrEnum] = CoreErrorCode.NOT_FOUND
    http_status = 404


class PermissionDenied(ApplicationError):
    """You are not allowed to do this."""

    code: ClassVar[StrEnum] = CoreErrorCode.PERMISSION_DENIED
    http_status = 403


class Conflict(ApplicationError):
    """The request conflicts with the current state."""

    code: ClassVar[StrEnum] = CoreErrorCode.CONFLICT
    http_status = 409


class IdempotencyConflict(Conflict):
    """This idempotency key was already used for a different request."""

    code: ClassVar[StrEnum] = CoreErrorCode.IDEMPOTENCY_CONFLICT


class InvalidState(Conflict):
    """The object is not in a state that allows this action."""

    code: ClassVar[StrEnum] = CoreErrorCode.INVALID_STATE


class ServiceUnavailable(ApplicationError):
    """A dependency is not reachable; try again later."""

    code: ClassVar[StrEnum] = CoreErrorCode.SERVICE_UNAVAILABLE
    http_status = 503


class InvariantViolation(RuntimeError):
    """An internal invariant failed: a bug, never a user error."""


def invariant(condition: object, message: str) -> None:
    """Assert an invariant that stays on under ``python -O`` (unlike ``assert``)."""
    if not condition:
        raise InvariantViolation(message)
