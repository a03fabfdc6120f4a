"""An invoice's own on-chain address, from custody's hot wallet."""

from __future__ import annotations

import logging

from django.conf import settings

from core.errors import ServiceUnavailable
from custody.models import AddressPurpose
from custody.services.addresses import deposit_address_new
from merchants.models import Merchant

logger = logging.getLogger(__name__)


def address_for_invoice(
    *, merchant: Merchant, invoice_id: str, required_confirmations: int
) -> tuple[int, str] | None:
    """Return (deposit address id, address) for a new invoice, or ``None`` without a node.

    Called before the invoice's transaction is opened (the node is never asked while a
    row is locked); an address whose invoice then fails to be written is never paid.

    The address credits the merchant's BTC account after the speed policy's
    confirmations. When the node is unreachable the invoice is still created and
    can be paid in-bank; ``MERCHANT_INVOICE_ONCHAIN`` off skips the node entirely.
    """
    if not getattr(settings, "MERCHANT_INVOICE_ONCHAIN", True):
        return None
    try:
        row = deposit_address_new(
            account=merchant.btc_account,
            purpose=AddressPurpose.INVOICE,
            required_confirmations=required_confirmations,
            label=f"invoice {invoice_id}",
        )
    except ServiceUnavailable as exc:
        logger.warning("no on-chain address for invoice %s: %s", invoice_id, exc)
        return None
    return row.pk, row.address
