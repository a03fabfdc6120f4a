"""Errors of the merchant API, each with a stable code."""

from __future__ import annotations

from bank.errors import ApplicationError, Conflict, InvalidState, NotFound, ValidationFailed


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


class InvoiceStatusInvalid(ValidationFailed):
    """Status can only be marked to invalid or settled within certain conditions."""

    code = "invoice_status_invalid"


class InvoiceAlreadyUnarchived(ApplicationError):
    """Invoice is already unarchived"""

    code = "already_unarchived"
    http_status = 400


class PaymentMethodUnknown(NotFound):
    """The payment method does not exist."""

    code = "paymentmethod_not_found"


class NotRefundable(ApplicationError):
    """Cannot refund this invoice."""

    code = "non_refundable"
    http_status = 400


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
