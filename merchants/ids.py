"""Random public identifiers in the style of BTCPay (base58, no look-alike characters)."""

from __future__ import annotations

import secrets

from django.urls import register_converter

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


class PublicIdConverter:
    """URL converter for public ids (store, invoice, webhook, delivery, payment method).

    Only printable ASCII letters, digits and ``-_.``: a path with NUL, a lone
    surrogate or any other odd character simply matches no route (a 404, never
    a database error).
    """

    regex = r"[A-Za-z0-9_.\-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(PublicIdConverter, "pid")
