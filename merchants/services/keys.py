"""API keys: created with scopes, shown once, stored as a sha256, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.models import User
from accounts.services.twofactor import twofactor_check, twofactor_enabled
from audit.chain import audit_record
from core.errors import NotFound, PermissionDenied, ValidationFailed
from merchants.models import ApiKey, Merchant
from merchants.services import key_cache

SCOPE_VIEW_INVOICES = "btcpay.store.canviewinvoices"
SCOPE_CREATE_INVOICE = "btcpay.store.cancreateinvoice"
SCOPE_MODIFY_INVOICES = "btcpay.store.canmodifyinvoices"
SCOPE_WEBHOOKS = "btcpay.store.webhooks.canmodifywebhooks"
SCOPE_VIEW_STORE = "btcpay.store.canviewstoresettings"
SCOPE_PAYOUT = "alatau.store.canpayout"
SCOPE_REFUND = "alatau.store.canrefund"
SCOPE_VIEW_PAYMENT_REQUESTS = "btcpay.store.canviewpaymentrequests"
SCOPE_MODIFY_PAYMENT_REQUESTS = "btcpay.store.canmodifypaymentrequests"
SCOPE_CREATE_REFUND_PULL = "btcpay.store.cancreatenonapprovedpullpayments"
SCOPE_VIEW_PULL_PAYMENTS = "btcpay.store.canviewpullpayments"
SCOPE_MANAGE_PAYOUTS = "btcpay.store.canmanagepayouts"
SCOPE_VIEW_PAYOUTS = "btcpay.store.canviewpayouts"
SCOPE_CREATE_PULL = "btcpay.store.cancreatepullpayments"
SCOPE_ARCHIVE_PULL = "btcpay.store.canarchivepullpayments"
SCOPE_MANAGE_PULL = "btcpay.store.canmanagepullpayments"

SCOPES: dict[str, str] = {
    SCOPE_VIEW_INVOICES: "View invoices",
    SCOPE_CREATE_INVOICE: "Create invoices",
    SCOPE_MODIFY_INVOICES: "Modify invoices (mark, archive; implies view and create)",
    SCOPE_WEBHOOKS: "Manage webhooks",
    SCOPE_VIEW_STORE: "View the store, its balance and transactions",
    SCOPE_REFUND: "Refund settled invoices",
    SCOPE_PAYOUT: "Pay out and convert the store's bitcoin",
    SCOPE_VIEW_PAYMENT_REQUESTS: "View payment requests (and make invoices to pay them)",
    SCOPE_MODIFY_PAYMENT_REQUESTS: "Create, change and archive payment requests",
    SCOPE_CREATE_REFUND_PULL: "Refund invoices as pull payments (the payer claims, you approve)",
    SCOPE_VIEW_PULL_PAYMENTS: "View pull payments",
    SCOPE_MANAGE_PAYOUTS: "Approve, cancel and mark payouts paid (approval sends bitcoin)",
    SCOPE_VIEW_PAYOUTS: "View payouts",
    SCOPE_CREATE_PULL: "Create pull payments and approved payouts (approval sends bitcoin)",
    SCOPE_ARCHIVE_PULL: "Archive pull payments",
    SCOPE_MANAGE_PULL: "Manage pull payments and payouts (implies the pull-payment permissions)",
}
# As in BTCPay: a broader permission includes narrower ones.
# Keys with these can move the store's money: creating one needs the owner's second factor.
MONEY_SCOPES = frozenset(
    {
        SCOPE_PAYOUT,
        SCOPE_REFUND,
        SCOPE_MANAGE_PAYOUTS,
        SCOPE_CREATE_REFUND_PULL,
        SCOPE_CREATE_PULL,
        SCOPE_MANAGE_PULL,
    }
)

IMPLIED: dict[str, tuple[str, ...]] = {
    SCOPE_MODIFY_INVOICES: (SCOPE_VIEW_INVOICES, SCOPE_CREATE_INVOICE),
    SCOPE_MODIFY_PAYMENT_REQUESTS: (SCOPE_VIEW_PAYMENT_REQUESTS,),
    SCOPE_MANAGE_PAYOUTS: (SCOPE_VIEW_PAYOUTS,),
    SCOPE_CREATE_REFUND_PULL: (SCOPE_VIEW_PULL_PAYMENTS,),
    SCOPE_CREATE_PULL: (SCOPE_CREATE_REFUND_PULL, SCOPE_VIEW_PULL_PAYMENTS),
    SCOPE_MANAGE_PULL: (
        SCOPE_CREATE_PULL,
        SCOPE_CREATE_REFUND_PULL,
        SCOPE_ARCHIVE_PULL,
        SCOPE_VIEW_PULL_PAYMENTS,
        SCOPE_MANAGE_PAYOUTS,
        SCOPE_VIEW_PAYOUTS,
    ),
}
# 20 random bytes = 160 bits, 40 hex characters like a BTCPay key. The first
# PREFIX_LEN characters are stored in clear to find the row; the rest is secret.
TOKEN_BYTES = 20
PREFIX_LEN = 10
KEYS_PER_MERCHANT_MAX = 50


def token_hash(token: str) -> str:
    """Return the sha256 hex of a token. A fast hash is right: the token has 160 random bits."""
    return hashlib.sha256(token.encode()).hexdigest()


def scopes_effective(scopes: Iterable[str]) -> set[str]:
    out = set(scopes)
    for scope in list(out):
        out.update(IMPLIED.get(scope, ()))
    return out


def api_key_create(
    *, merchant: Merchant, label: str, scopes: list[str], actor: Actor, otp_code: str = ""
) -> tuple[ApiKey, str]:
    """Create a key and return it with its token; the token is never stored or shown again.

    Only the store's owner creates keys; a key that can move money (``MONEY_SCOPES``)
    also needs the owner's second factor now, whichever door asks (keys page, the
    plugins' authorize page). Keys are never widened: a new key is made instead.
    """
    if actor is None or actor.pk != merchant.owner_id:
        raise PermissionDenied("Only the store's owner creates its keys")
    if set(scopes) & MONEY_SCOPES:
        if not twofactor_enabled(actor):
            raise ValidationFailed(
                "Two-factor required",
                fields={"otp_code": ["Turn on two-factor authentication to create a key "
                                     "that can move money."]},
            )  # fmt: skip
        twofactor_check(user=actor, code=otp_code)
    return api_key_issue(merchant=merchant, label=label, scopes=scopes, actor=actor)


def api_key_issue(
    *, merchant: Merchant, label: str, scopes: list[str], actor: User
) -> tuple[ApiKey, str]:
    """Write a key after the door's checks (``api_key_create``); also for tests and benches."""
    label = label.strip()
    if not label or len(label) > 100:
        raise ValidationFailed("A label is required", fields={"label": ["1 to 100 characters."]})
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValidationFailed(
            "Choose at least one known scope",
            fields={
                "scopes": [f"Unknown: {', '.join(unknown)}"]
                if unknown
                else ["Choose at least one."]
            },
        )
    if merchant.api_keys.filter(revoked_at__isnull=True).count() >= KEYS_PER_MERCHANT_MAX:
        raise ValidationFailed("Too many keys", fields={"label": ["Revoke an unused key first."]})
    for _ in range(3):
        token = secrets.token_hex(TOKEN_BYTES)
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    merchant=merchant,
                    label=label,
                    prefix=token[:PREFIX_LEN],
                    key_hash=token_hash(token),
                    scopes=sorted(set(scopes)),
                    created_by=actor,
                )
                audit_record(
                    actor=actor,
                    action="merchant.api_key.create",
                    obj=key,
                    data={"merchant": merchant.pk, "prefix": key.prefix, "scopes": key.scopes},
                )
            return key, token
        except IntegrityError:
            continue  # a prefix collision (one in 2^40): draw again
    raise RuntimeError("could not draw a unique API key prefix")


def api_key_revoke(*, merchant: Merchant, key_id: int, actor: Actor) -> ApiKey:
    """Revoke a key at once. Revoking twice keeps the first time."""
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().filter(pk=key_id, merchant=merchant).first()
        if key is None:
            raise NotFound("API key not found")
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            audit_record(
                actor=actor,
                action="merchant.api_key.revoke",
                obj=key,
                data={"merchant": merchant.pk, "prefix": key.prefix},
            )
    return key


def api_key_authenticate(token: str, *, generation: int | None = None) -> ApiKey | None:
    """Return the active key for a token (with its merchant and owner), or ``None``.

    Keys already checked come from this process's cache while nothing changed
    (``merchants.services.key_cache``: any save of a key, merchant or user drops it
    everywhere). Records the last use at most once a minute so a busy key does not
    write every request. ``generation`` is the cache generation if the caller already
    read it from Redis (in the round trip that also counts the request's rate).
    """
    if len(token) != TOKEN_BYTES * 2 or not all(c in "0123456789abcdef" for c in token):
        return None
    digest = token_hash(token)
    current = key_cache.generation() if generation is None else generation
    key = key_cache.cached(digest, current)
    if key is None:
        key = (
            ApiKey.objects.select_related("merchant", "merchant__owner")
            .filter(prefix=token[:PREFIX_LEN], revoked_at__isnull=True)
            .first()
        )
        if key is None or not hmac.compare_digest(key.key_hash, digest):
            return None
        key_cache.remember(digest, current, key)
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
        key_cache.remember(digest, current, key)
    return key
