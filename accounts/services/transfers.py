"""Transfers between ledger accounts: create (idempotent) and reverse."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, models, transaction

from accounts.errors import AlreadyReversed
from accounts.models import Transfer, TransferCode
from accounts.services.posting import (
    check_debit,
    check_key,
    check_pair,
    check_replay,
    lock_accounts,
    post_locked,
    request_hash,
)
from bank.errors import NotFound, ValidationFailed
from compliance.audit import audit_record

IDEMPOTENCY_CONSTRAINT = "transfer_idempotency_key_per_initiator"


def _find_by_key(initiator: Any | None, key: str) -> Transfer | None:
    initiator_id = getattr(initiator, "pk", None)
    return Transfer.objects.filter(initiator_id=initiator_id, idempotency_key=key).first()


def _check_code(code: str) -> None:
    if code not in TransferCode.values:
        raise ValidationFailed(f"Unknown transfer code {code!r}", fields={"code": ["Unknown code."]})


def transfer_create(
    *,
    debit_account_id: int,
    credit_account_id: int,
    amount_minor: int,
    code: str,
    initiator: Any | None = None,
    idempotency_key: str | None = None,
    memo: str = "",
    source: models.Model | None = None,
    group_id: uuid.UUID | None = None,
    allow_frozen_debit: bool = False,
    kzt_value_tiyn: int | None = None,
    client_address: str | None = None,
) -> Transfer:
    """Move ``amount_minor`` from one account to another, once per idempotency key.

    Locks both accounts in id order, checks status, currency and available
    funds, writes the transfer, both balances and an audit event in one
    transaction. The same key with the same request returns the first
    transfer; with a different request it raises ``IdempotencyConflict``.
    """
    _check_code(code)
    check_key(idempotency_key)
    fingerprint = request_hash(
        {
            "debit": debit_account_id,
            "credit": credit_account_id,
            "amount": amount_minor,
            "code": code,
            "source": None if source is None else f"{source._meta.label_lower}:{source.pk}",
        }
    )
    if idempotency_key is not None:
        existing = _find_by_key(initiator, idempotency_key)
        if existing is not None:
            return check_replay(existing, fingerprint)
    try:
        with transaction.atomic():
            accounts = lock_accounts([debit_account_id, credit_account_id])
            if idempotency_key is not None:
                # A concurrent request with the same key may have committed while
                # we waited for the locks: replay it instead of moving money again.
                existing = _find_by_key(initiator, idempotency_key)
                if existing is not None:
                    return check_replay(existing, fingerprint)
            debit, credit = accounts[debit_account_id], accounts[credit_account_id]
            check_pair(debit, credit, amount_minor)
            check_debit(debit, amount_minor, allow_frozen=allow_frozen_debit)
            transfer = post_locked(
                debit=debit,
                credit=credit,
                amount_minor=amount_minor,
                code=code,
                group_id=group_id or uuid.uuid4(),
                initiator=initiator,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
                memo=memo,
                source=source,
                kzt_value_tiyn=kzt_value_tiyn,
            )
            audit_record(
                actor=initiator,
                action="transfer.create",
                obj=transfer,
                data=_transfer_data(transfer),
                client_address=client_address,
            )
            return transfer
    except IntegrityError as exc:
        if idempotency_key is None or IDEMPOTENCY_CONSTRAINT not in str(exc):
            raise
        existing = _find_by_key(initiator, idempotency_key)
        if existing is None:
            raise
        return check_replay(existing, fingerprint)


def transfer_reverse(
    *,
    transfer_id: int,
    actor: Any | None,
    reason: str,
    client_address: str | None = None,
) -> Transfer:
    """Post the mirror image of a transfer. A transfer is reversed at most once.

    The reversal may take the account below what a customer could spend
    (posting is checked like any debit), so callers that must recover money
    regardless (a reorged deposit) freeze the account first and handle
    ``InsufficientFunds`` themselves.
    """
    if not reason.strip():
        raise ValidationFailed("A reason is required", fields={"reason": ["Say why."]})
    with transaction.atomic():
        original = Transfer.objects.filter(pk=transfer_id).first()
        if original is None:
            raise NotFound("Transfer not found")
        accounts = lock_accounts([original.debit_account_id, original.credit_account_id])
        if Transfer.objects.filter(reverses_id=original.pk).exists():
            raise AlreadyReversed(f"Transfer {original.pk} was already reversed")
        debit = accounts[original.credit_account_id]
        credit = accounts[original.debit_account_id]
        check_debit(debit, original.amount_minor, allow_frozen=True)
        reversal = post_locked(
            debit=debit,
            credit=credit,
            amount_minor=original.amount_minor,
            code=TransferCode.REVERSAL,
            group_id=original.group_id,
            initiator=actor,
            memo=reason,
            reverses=original,
            kzt_value_tiyn=original.kzt_value_tiyn,
        )
        audit_record(
            actor=actor,
            action="transfer.reverse",
            obj=reversal,
            data={**_transfer_data(reversal), "reverses": original.pk, "reason": reason},
            client_address=client_address,
        )
        return reversal


def _transfer_data(transfer: Transfer) -> dict[str, Any]:
    return {
        "debit": transfer.debit_account_id,
        "credit": transfer.credit_account_id,
        "amount_minor": transfer.amount_minor,
        "currency": transfer.currency,
        "code": transfer.code,
        "group_id": str(transfer.group_id),
    }
