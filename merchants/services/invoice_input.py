"""Invoice input as Greenfield sends it: checkout options, metadata, currency, amount.

Each parser returns plain values for ``invoice_create`` or raises a field error
(``ValidationFailed``) naming the JSON path, as BTCPay's 422 answers do.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from core.errors import ValidationFailed
from core.money import PRICE_DECIMALS, Currency
from exchange.services import pricing_currencies
from merchants.models import MONITORING_MINUTES_DEFAULT, PaymentMethod, SpeedPolicy

EXPIRATION_MINUTES_DEFAULT = 15
EXPIRATION_MINUTES_MAX = 7 * 24 * 60
MONITORING_MINUTES_MAX = 30 * 24 * 60
METADATA_BYTES_MAX = 16 * 1024
ORDER_ID_MAX = 200
# Fiat currencies Greenfield clients price in: those not in PRICING_FIAT_CURRENCIES are
# refused with a message that says the bank has no rate for them.
FIAT_WITHOUT_RATE = tuple(PRICE_DECIMALS)


def parse_checkout(checkout: dict[str, Any]) -> dict[str, Any]:
    speed = checkout.get("speedPolicy") or SpeedPolicy.MEDIUM
    if speed not in SpeedPolicy.values:
        raise ValidationFailed(
            "Unknown speed policy",
            fields={"checkout.speedPolicy": [f"One of {', '.join(SpeedPolicy.values)}."]},
        )
    minutes = checkout.get("expirationMinutes")
    minutes = EXPIRATION_MINUTES_DEFAULT if minutes is None else minutes
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int | Decimal)
        or minutes != int(minutes)
        or not 1 <= minutes <= EXPIRATION_MINUTES_MAX
    ):
        raise ValidationFailed(
            "Bad expiration",
            fields={
                "checkout.expirationMinutes": [
                    f"A whole number from 1 to {EXPIRATION_MINUTES_MAX}."
                ]
            },
        )
    tolerance = checkout.get("paymentTolerance")
    try:
        tol = Decimal(0) if tolerance is None else Decimal(str(tolerance))
    except InvalidOperation:
        tol = Decimal(-1)
    if (
        isinstance(tolerance, bool)
        or not tol.is_finite()
        or not 0 <= tol <= 100
        or (tol * 100) != (tol * 100).to_integral_value()
    ):
        raise ValidationFailed(
            "Bad tolerance",
            fields={
                "checkout.paymentTolerance": ["A percentage from 0 to 100, at most 2 decimals."]
            },
        )
    methods, default = _payment_methods(checkout)
    monitoring = _monitoring_minutes(checkout)
    redirect = checkout.get("redirectURL") or ""
    if redirect:
        parts = urlsplit(str(redirect))
        if parts.scheme not in ("http", "https") or not parts.netloc or len(redirect) > 2000:
            raise ValidationFailed(
                "Bad redirect URL", fields={"checkout.redirectURL": ["An absolute http(s) URL."]}
            )
    return {
        "speed": speed,
        "minutes": int(minutes),
        "monitoring": monitoring,
        "tolerance_bp": int(tol * 100),
        "redirect": str(redirect),
        "methods": methods,
        "default": default,
    }


def _payment_methods(checkout: dict[str, Any]) -> tuple[list[str], str]:
    """``paymentMethods`` (a subset of Alatau's, in their order) and ``defaultPaymentMethod``."""
    methods = checkout.get("paymentMethods") or []
    if not isinstance(methods, list) or not set(methods) <= set(PaymentMethod.values):
        raise ValidationFailed(
            "Invalid PaymentMethodId",
            fields={"checkout.paymentMethods": [f"Some of {', '.join(PaymentMethod.values)}."]},
        )
    default = checkout.get("defaultPaymentMethod") or ""
    if default and (default not in PaymentMethod.values or (methods and default not in methods)):
        raise ValidationFailed(
            "Invalid default payment method",
            fields={"checkout.defaultPaymentMethod": ["One of the invoice's payment methods."]},
        )
    return sorted(set(methods), key=PaymentMethod.values.index), str(default)


def _monitoring_minutes(checkout: dict[str, Any]) -> int:
    monitoring = checkout.get("monitoringMinutes")
    monitoring = MONITORING_MINUTES_DEFAULT if monitoring is None else monitoring
    if (
        isinstance(monitoring, bool)
        or not isinstance(monitoring, int)
        or not 0 <= monitoring <= MONITORING_MINUTES_MAX
    ):
        raise ValidationFailed(
            "Bad monitoring time",
            fields={
                "checkout.monitoringMinutes": [
                    f"A whole number from 0 to {MONITORING_MINUTES_MAX}."
                ]
            },
        )
    return int(monitoring)


def parse_metadata(metadata: Any) -> tuple[dict[str, Any], str]:
    metadata = metadata or {}
    if not isinstance(metadata, dict):
        raise ValidationFailed(
            "Metadata must be an object", fields={"metadata": ["A JSON object."]}
        )
    if len(json.dumps(metadata, default=str)) > METADATA_BYTES_MAX:
        raise ValidationFailed("Metadata too large", fields={"metadata": ["At most 16 KiB."]})
    order_id = metadata.get("orderId")
    if order_id is not None and (not isinstance(order_id, str) or len(order_id) > ORDER_ID_MAX):
        raise ValidationFailed(
            "Bad orderId",
            fields={"metadata.orderId": [f"A string of at most {ORDER_ID_MAX} characters."]},
        )
    return _plain_json(metadata), order_id or ""


def _plain_json(value: Any) -> Any:
    """Return metadata as plain JSON, numbers as the merchant sent them.

    The API parses fractions as ``Decimal``; metadata is the merchant's opaque
    data (never an amount the bank uses), so its numbers go back to JSON numbers.
    """
    if isinstance(value, dict):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_json(v) for v in value]
    if isinstance(value, Decimal):
        return json.loads(str(value)) if value.is_finite() else str(value)
    return value


def invoice_currencies() -> tuple[str, ...]:
    """Return what an invoice may be priced in: BTC, KZT and ``PRICING_FIAT_CURRENCIES``."""
    return (*Currency, *pricing_currencies())


def parse_currency(currency: Any, *, default: str = Currency.BTC) -> str:
    """Return the invoice currency: ``None`` is the store's default, as in Greenfield.

    Codes are matched case-insensitively, never trimmed (``"usd "`` is refused); ``""``
    is refused. Whether a rate is in force is the pricing's question (``quotes``).
    """
    offered = invoice_currencies()
    if currency is None:
        return default
    if not isinstance(currency, str) or not currency.strip():
        raise ValidationFailed(
            "A currency is required", fields={"currency": [f"One of {', '.join(offered)}."]}
        )
    cur = currency.upper()
    if cur in offered:
        return cur
    if cur in FIAT_WITHOUT_RATE:
        raise ValidationFailed(
            f"No {cur} rate is set at the bank",
            fields={"currency": [f"The bank has no {cur} rate; price in {', '.join(offered)}."]},
        )
    raise ValidationFailed(
        "Unsupported currency", fields={"currency": [f"Use one of {', '.join(offered)}."]}
    )


def amount_text(amount: Any) -> str:
    """An amount as plain decimal text: a string without whitespace, or a JSON number."""
    if isinstance(amount, bool):
        amount = None
    if isinstance(amount, int):
        return str(amount)
    if isinstance(amount, Decimal) and amount.is_finite() and abs(amount.adjusted()) <= 30:
        return format(amount, "f")
    if isinstance(amount, str) and amount and amount == "".join(amount.split()):
        return amount
    raise ValidationFailed(
        "Invalid amount", fields={"amount": ["A decimal string or number, no spaces."]}
    )
