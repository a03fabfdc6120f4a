"""Errors of the merchant API, each with a stable code."""

from __future__ import annotations

from enum import StrEnum

from core.errors import ApplicationError, Conflict, InvalidState, NotFound, ValidationFailed


class MerchantErrorCode(StrEnum):
    """Codes of the merchant API errors."""

    STORE_NOT_FOUND = "store_not_found"
    PAYMENT_REQUEST_CLOSED = "payment_request_closed"
    INVOICE_NOT_FOUND = "invoice_not_found"
    WEBHOOK_NOT_FOUND = "webhook_not_found"
    WEBHOOKDELIVERY_NOT_FOUND = "webhookdelivery_not_found"
    MERCHANT_SUSPENDED = "merchant_suspended"
    INVOICE_NOT_PAYABLE = "invoice_not_payable"
    INVOICE_ALREADY_PAID = "invoice_already_paid"
    INVOICE_STATUS_INVALID = "invoice_status_invalid"
    WEBHOOK_URL_INVALID = "webhook_url_invalid"
    QUOTE_UNAVAILABLE = "quote_unavailable"
    IDEMPOTENCY_IN_PROGRESS = "idempotency_in_progress"
    REFUND_NOT_ALLOWED = "refund_not_allowed"
    BODY_TOO_LARGE = "body_too_large"
    ALREADY_UNARCHIVED = "already_unarchived"
    PAYMENTMETHOD_NOT_FOUND = "paymentmethod_not_found"
    NON_REFUNDABLE = "non_refundable"
    AUTHORIZE_REQUEST_INVALID = "authorize_request_invalid"
    PAYOUT_NOT_FOUND = "payout_not_found"
    PULLPAYMENT_NOT_FOUND = "pullpayment_not_found"
    FUNDS_UNCONFIRMED = "funds_unconfirmed"
    OLD_REVISION = "old_revision"
    OVERDRAFT = "overdraft"
    DUPLICATE_DESTINATION = "duplicate_destination"
    ARCHIVED = "archived"
    EXPIRED = "expired"
    NOT_STARTED = "not_started"
    PAYMENT_METHOD_NOT_SUPPORTED = "payment_method_not_supported"


class MerchantNotFound(NotFound):
    """The store does not exist or is not yours."""

    code = MerchantErrorCode.STORE_NOT_FOUND


class InvoiceNotFound(NotFound):
    """The invoice does not exist or is not yours."""

    code = MerchantErrorCode.INVOICE_NOT_FOUND


class WebhookNotFound(NotFound):
    """The webhook does not exist or is not yours."""

    code = MerchantErrorCode.WEBHOOK_NOT_FOUND


class DeliveryNotFound(NotFound):
    """The webhook delivery does not exist or is not yours."""

    code = MerchantErrorCode.WEBHOOKDELIVERY_NOT_FOUND


class FundsUnconfirmed(ApplicationError):
    """Part of the balance is an unconfirmed deposit: it cannot leave the account yet."""

    code = MerchantErrorCode.FUNDS_UNCONFIRMED
    http_status = 422


class MerchantSuspended(ApplicationError):
    """The merchant is suspended."""

    code = MerchantErrorCode.MERCHANT_SUSPENDED
    http_status = 403


class InvoiceNotPayable(InvalidState):
    """The invoice cannot be paid now."""

    code = MerchantErrorCode.INVOICE_NOT_PAYABLE


class InvoiceAlreadyPaid(Conflict):
    """The invoice was already paid."""

    code = MerchantErrorCode.INVOICE_ALREADY_PAID


class InvoiceStatusInvalid(ValidationFailed):
    """Status can only be marked to invalid or settled within certain conditions."""

    code = MerchantErrorCode.INVOICE_STATUS_INVALID


class InvoiceAlreadyUnarchived(ApplicationError):
    """Invoice is already unarchived"""

    code = MerchantErrorCode.ALREADY_UNARCHIVED
    http_status = 400


class PaymentMethodUnknown(NotFound):
    """The payment method does not exist."""

    code = MerchantErrorCode.PAYMENTMETHOD_NOT_FOUND


class NotRefundable(ApplicationError):
    """Cannot refund this invoice."""

    code = MerchantErrorCode.NON_REFUNDABLE
    http_status = 400


class WebhookUrlInvalid(ValidationFailed):
    """The webhook URL must be an absolute http(s) URL."""

    code = MerchantErrorCode.WEBHOOK_URL_INVALID


class QuoteUnavailable(ApplicationError):
    """No BTC/KZT quote is available right now."""

    code = MerchantErrorCode.QUOTE_UNAVAILABLE
    http_status = 503


class IdempotencyInProgress(Conflict):
    """A request with this idempotency key is still being processed."""

    code = MerchantErrorCode.IDEMPOTENCY_IN_PROGRESS


class RefundNotAllowed(InvalidState):
    """The invoice cannot be refunded this way."""

    code = MerchantErrorCode.REFUND_NOT_ALLOWED


class PaymentRequestClosed(InvalidState):
    """The payment request cannot be paid (archived, paid, expired)."""

    code = MerchantErrorCode.PAYMENT_REQUEST_CLOSED


class PayoutInvalidState(InvalidState):
    """The payout is not in a state that allows this (BTCPay's 400 ``invalid-state``)."""

    http_status = 400


class PayoutOldRevision(ApplicationError):
    """The payout changed since the revision given."""

    code = MerchantErrorCode.OLD_REVISION


class ClaimOverdraft(ApplicationError):
    """The claim is more than what is left of the pull payment."""

    code = MerchantErrorCode.OVERDRAFT


class DuplicateDestination(ApplicationError):
    """This address is already used for another payout"""

    # BTCPay's code and message (``ClaimResult.Duplicate``): the destination has a
    # payout that is neither completed nor cancelled.
    code = MerchantErrorCode.DUPLICATE_DESTINATION


class PullPaymentArchived(ApplicationError):
    """The pull payment is archived."""

    code = MerchantErrorCode.ARCHIVED


class PullPaymentExpired(ApplicationError):
    """The pull payment has expired."""

    code = MerchantErrorCode.EXPIRED


class PullPaymentNotStarted(ApplicationError):
    """The pull payment has not started yet."""

    code = MerchantErrorCode.NOT_STARTED


class PayoutMethodNotSupported(ApplicationError):
    """Alatau pays out on-chain bitcoin only (BTC-CHAIN)."""

    code = MerchantErrorCode.PAYMENT_METHOD_NOT_SUPPORTED
