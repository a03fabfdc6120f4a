"""Random public identifiers in the style of BTCPay (base58, no look-alike characters)."""

from __future__ import annotations

import secrets

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def random_id(length: int) -> str:
    """Return ``length`` base58 characters from the OS random source."""
    return "".join(secrets.choice(BASE58) for _ in range(length))


def store_id_new() -> str:
    return random_id(44)


def invoice_id_new() -> str:
    return random_id(22)


def webhook_id_new() -> str:
    return random_id(22)


def delivery_id_new() -> str:
    return random_id(22)
