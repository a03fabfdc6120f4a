"""Withdrawals requested and cancelled by their owner (review is ``custody.services.review``).

A request places a hold for amount + the bank's fee and is screened in the same
transaction by compliance (``compliance.services.withdrawal_screen``: the one decision,
which opens the case); custody acts on the decision. It never waits on the node: the
address is checked locally (network and checksum) and, when the node answers within a
short timeout, by ``validateaddress`` too. The node is asked before any transaction is
opened, so no row lock is held while it answers: a caller that wraps the request in its
own transaction checks the address first (``withdrawal_address_checked``) and passes the
``CheckedAddress``.
Sending is in ``custody.services.batches``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.actor import Actor
from accounts.errors import AccountClosed, AccountFrozen
from accounts.models import OWNED_KINDS, Account, AccountStatus
from accounts.services import hold_create, hold_void
from accounts.services.posting import check_key, check_replay, request_hash
from audit.chain import audit_record
from compliance.rules import Decision
from compliance.services import withdrawal_screen
from core.errors import (
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from custody.addresses import address_parse
from custody.errors import AddressInvalid, AmountInvalid, NodeError, WithdrawalStateError
from custody.models import Withdrawal, WithdrawalStatus
from custody.node import node_client
from custody.services.review import withdrawal_decide

logger = logging.getLogger("alatau.custody.withdrawals")

CANCELLABLE = (
    WithdrawalStatus.REQUESTED, WithdrawalStatus.PENDING_REVIEW, WithdrawalStatus.APPROVED,
)  # fmt: skip
KEY_CONSTRAINT = "withdrawal_key_per_user"
STATUS_BY_DECISION = {
    Decision.ALLOW: WithdrawalStatus.APPROVED,
    Decision.REVIEW: WithdrawalStatus.PENDING_REVIEW,
    Decision.BLOCK: WithdrawalStatus.REJECTED,
}


@dataclass(frozen=True)
class CheckedAddress:
    """A destination address checked locally and (when it answered) by the node."""

    given: str  # as the requester wrote it: the idempotency fingerprint uses it
    address: str  # normalised


def withdrawal_address_checked(address: str) -> CheckedAddress:
    """Check a destination address; call it before opening a transaction."""
    return CheckedAddress(given=str(address), address=withdrawal_address_check(address))


def withdrawal_address_check(address: str) -> str:
    """Validate a destination address; return it normalised. Never blocks on the node."""
    parsed = address_parse(address)
    timeout = int(settings.WITHDRAWAL_NODE_CHECK_TIMEOUT_S)
    try:
        reply = (
            node_client(timeout_s=timeout)
            .with_timeout(timeout, attempts_max=1)
            .call("validateaddress", parsed.address)
        )
    except (ServiceUnavailable, NodeError) as exc:
        logger.info("validateaddress skipped (%s); the local check passed", type(exc).__name__)
        return parsed.address
    if not reply.get("isvalid"):
        raise AddressInvalid(
            "The node says this address is not valid",
            fields={"address": [str(reply.get("error") or "Not a valid address.")]},
        )
    return parsed.address


def _check_amount(amount_sats: int) -> None:
    if isinstance(amount_sats, bool) or not isinstance(amount_sats, int):
        raise AmountInvalid(
            "Amount must be an integer of satoshis", fields={"amount": ["Not an integer."]}
        )
    low, high = int(settings.WITHDRAWAL_MIN_SATS), int(settings.WITHDRAWAL_MAX_SATS)
    if amount_sats <= 0:
        raise AmountInvalid("Amount must be positive", fields={"amount": ["Must be more than 0."]})
    if amount_sats < low:
        raise AmountInvalid(
            "Amount below the dust limit", fields={"amount": [f"At least {low} satoshis."]}
        )
    if amount_sats > high:
        raise AmountInvalid(
            "Amount above the withdrawal limit", fields={"amount": [f"At most {high} satoshis."]}
        )


def _check_account(account: Account, requested_by: Any) -> None:
    if account.owner_id != getattr(requested_by, "pk", None) or account.kind not in OWNED_KINDS:
        raise NotFound("Account not found", fields={"account": ["Not one of your accounts."]})
    if account.currency != "BTC":
        raise ValidationFailed("Only BTC accounts can withdraw bitcoin")
    if account.status == AccountStatus.FROZEN:
        raise AccountFrozen(f"Account {account.number} is frozen")
    if account.status == AccountStatus.CLOSED:
        raise AccountClosed(f"Account {account.number} is closed")


def _replay(requested_by: Any, key: str, fingerprint: str) -> Withdrawal | None:
    found = Withdrawal.objects.filter(requested_by=requested_by, idempotency_key=key).first()
    return None if found is None else check_replay(found, fingerprint)


def withdrawal_request(
    *,
    account: Account,
    address: str | CheckedAddress,
    amount_sats: int,
    requested_by: Any,
    idempotency_key: str,
    travel_rule: dict[str, Any] | None = None,
    client_address: str | None = None,
) -> Withdrawal:
    """Request a withdrawal: validate, hold amount + fee, screen; once per key.

    The same key with the same request returns the first withdrawal; with a different
    request it raises ``IdempotencyConflict``. Nothing is written when anything fails.
    ``address`` given as text is checked with the node here, before the transaction;
    inside a caller's transaction, pass a ``CheckedAddress`` instead.
    """
    if not idempotency_key:
        raise ValidationFailed(
            "An idempotency key is required", fields={"idempotency_key": ["Required."]}
        )
    check_key(idempotency_key)
    given = address.given if isinstance(address, CheckedAddress) else address
    fingerprint = request_hash({
        "account": account.pk, "address": str(given).strip(), "amount": amount_sats,
        "travel_rule": travel_rule,
    })  # fmt: skip
    if (found := _replay(requested_by, idempotency_key, fingerprint)) is not None:
        return found
    _check_account(account, requested_by)
    _check_amount(amount_sats)
    if isinstance(address, CheckedAddress):
        normalised = address.address
    else:
        normalised = withdrawal_address_check(address)
    try:
        return _create(account, normalised, amount_sats, requested_by, idempotency_key,
                       fingerprint, travel_rule, client_address)  # fmt: skip
    except IntegrityError as exc:
        if KEY_CONSTRAINT not in str(exc):
            raise
        found = _replay(requested_by, idempotency_key, fingerprint)
        if found is None:
            raise
        return found


def _create(account: Account, address: str, amount_sats: int, requested_by: Any, key: str,
            fingerprint: str, travel_rule: dict[str, Any] | None,
            client_address: str | None) -> Withdrawal:  # fmt: skip
    fee_sats = int(settings.WITHDRAWAL_FEE_SATS)
    with transaction.atomic():
        withdrawal = Withdrawal.objects.create(
            account=account, address=address, amount_sats=amount_sats, fee_sats=fee_sats,
            requested_by=requested_by, idempotency_key=key, request_hash=fingerprint,
            travel_rule=travel_rule,
        )  # fmt: skip
        hold = hold_create(
            account_id=account.pk, amount_minor=amount_sats + fee_sats, code="withdrawal",
            initiator=requested_by, memo=f"withdrawal W{withdrawal.pk} to {address}",
            source=withdrawal, client_address=client_address,
        )  # fmt: skip
        withdrawal.hold = hold
        result = withdrawal_screen(withdrawal)  # opens the case when flagged
        withdrawal.screening = {"decision": result.decision, "findings": result.findings}
        withdrawal.status = STATUS_BY_DECISION[result.decision]
        withdrawal.save(update_fields=["hold", "screening", "status", "updated_at"])
        audit_record(
            actor=requested_by, action="withdrawal.request", obj=withdrawal,
            data={"account": account.pk, "address": address, "amount_sats": amount_sats,
                  "fee_sats": fee_sats, "decision": result.decision},
            client_address=client_address,
        )  # fmt: skip
        if result.decision == Decision.BLOCK:
            hold_void(hold_id=hold.pk, actor=None, reason="blocked by screening")
    return withdrawal


def _lock(withdrawal_id: int) -> Withdrawal:
    withdrawal = Withdrawal.objects.select_for_update().filter(pk=withdrawal_id).first()
    if withdrawal is None:
        raise NotFound("Withdrawal not found")
    return withdrawal


def withdrawal_cancel(*, withdrawal_id: int, actor: Actor,
                      client_address: str | None = None) -> Withdrawal:  # fmt: skip
    """Cancel one's own withdrawal until it is batched; the hold is released."""
    with transaction.atomic():
        withdrawal = _lock(withdrawal_id)
        if getattr(actor, "pk", None) != withdrawal.requested_by_id:
            raise NotFound("Withdrawal not found")
        if withdrawal.status not in CANCELLABLE:
            raise WithdrawalStateError(f"Withdrawal is {withdrawal.status}; it cannot be cancelled")
        withdrawal_decide(withdrawal, WithdrawalStatus.CANCELLED, actor, "cancelled by customer",
                          client_address, review=False)  # fmt: skip
    return withdrawal
