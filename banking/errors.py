"""Errors of the customer door with stable codes."""

from __future__ import annotations

from enum import StrEnum

from core.errors import ValidationFailed


class BankingErrorCode(StrEnum):
    """Codes of the web-banking errors."""

    EMAIL_TAKEN = "email_taken"


class EmailTaken(ValidationFailed):
    """The email already has an account (the door must not tell the visitor so)."""

    code = BankingErrorCode.EMAIL_TAKEN
