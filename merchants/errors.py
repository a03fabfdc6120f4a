"""Errors of the merchant API, each with a stable code."""

from __future__ import annotations

from core.errors import ApplicationError, Conflict, InvalidState, NotFound, ValidationFailed


class MerchantNotFound(NotFound):
    """The store does not exist or is not yours."""

    code = "store_not_found"


class InvoiceNotFound(NotFound):
    """The invoice does not exist or is not yours."""

    code = "invoice_not_found"


class WebhookNotFound(NotFound):
    """The webhook does not exist or is not yours."""

    code = "webhook_not_found"


class DeliveryNotFound(NotFound):
    """The webhook delivery does not exist or is not yours."""

    code = "webhookdelivery_not_found"


class MerchantSuspended(ApplicationError):
    """The merchant is suspended."""

    code = "merchant_suspended"
    http_status = 403


class InvoiceNotPayable(InvalidState):
    """The invoice cannot be paid now."""

    code = "invoice_not_payable"


class InvoiceAlreadyPaid(Conflict):
    """The invoice was already paid."""

    code = "invoice_already_paid"


class InvoiceStatusInvalid(InvalidState):
    """The invoice cannot be marked with this status."""

    code = "invoice_status_invalid"


class WebhookUrlInvalid(ValidationFailed):
    """The webhook URL must be an absolute http(s) URL."""

    code = "webhook_url_invalid"


class QuoteUnavailable(ApplicationError):
    """No BTC/KZT quote is available right now."""

    code = "quote_unavailable"
    http_status = 503


class IdempotencyInProgress(Conflict):
    """A request with this idempotency key is still being processed."""

    code = "idempotency_in_progress"


class RefundNotAllowed(InvalidState):
    """The invoice cannot be refunded this way."""

    code = "refund_not_allowed"
